"""What the Run screen shows, as plain functions of the data: the overview of
a run, its status reason, the tail of its console log, and a metric's row
in the summary table."""

from __future__ import annotations

import os
from collections.abc import Sequence

from rich.text import Text
from textual.content import Content

from trackui.store import fmt
from trackui.store.models import MetricSummary, RunDetail
from trackui.store.opener import Opener, UnsafeFile

from .safe import clean, literal

CONSOLE_TAIL_BYTES = 256 * 1024
#: the Overview scrolls (j/k, G, PgDn), so a traceback is shown whole up to this
TRACEBACK_LINES = 400
STATUS_STYLES = {
    "running": "bold $accent",
    "finished": "bold $success",
    "failed": "bold $error",
    "killed": "bold $warning",
    "crashed": "bold $error",
}


def read_console(
    path: str | os.PathLike[str], offset: int | None, *, whole: bool = False
) -> tuple[list[str], int, bool]:
    """Lines appended to a console log since ``offset`` (``None``: the last
    ``CONSOLE_TAIL_BYTES``), the new offset, and whether reading started over.

    Only complete lines are taken unless ``whole`` (the run has ended), so a
    line being written is read once it is done. Each line shows what a terminal
    would: the text after its last carriage return, escape sequences removed."""
    # Through the one bounded opener, like every reader: a console.log that
    # became a FIFO, a device or a link out of its run is never opened.
    opener = Opener(os.path.dirname(os.fspath(path)) or ".")
    name = os.path.basename(os.fspath(path))
    try:
        st = opener.stat(name)
    except (OSError, UnsafeFile):
        return [], offset or 0, False
    if st is None:
        return [], offset or 0, False
    size = st.size
    reset = offset is None or size < offset  # first read, or the file was replaced
    start = max(0, size - CONSOLE_TAIL_BYTES) if reset else offset
    assert start is not None
    if start >= size:
        return [], start, reset
    # A log that grew by more than the tail since the last look: show its
    # tail, as a terminal scrolled that far would.
    if size - start > CONSOLE_TAIL_BYTES:
        start, reset = size - CONSOLE_TAIL_BYTES, True
    try:
        data, _ = opener.read_range(name, start, size - start)
    except (OSError, UnsafeFile):
        return [], offset or 0, False
    if reset and start > 0:  # began mid-file: drop the partial first line
        cut = data.find(b"\n") + 1
        data, start = data[cut:], start + cut
    if not whole:
        data = data[: data.rfind(b"\n") + 1]
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    shown = [clean(line.rstrip("\r").rsplit("\r", 1)[-1], console=True) for line in lines]
    return shown, start + len(data), reset


def status_reason(detail: RunDetail) -> str | None:
    if detail.run.status_reason:
        return detail.run.status_reason
    if detail.exception_type:
        return f"{detail.exception_type}: {detail.exception_message or ''}".rstrip(": ")
    if detail.signal:
        return f"signal {detail.signal}"
    if detail.exit_code not in (None, 0):
        return f"exit code {detail.exit_code}"
    return None


def overview(detail: RunDetail, now: float) -> Content:
    """The Overview tab: one labelled line per fact, user text literal."""
    run, meta = detail.run, detail.meta
    rows: list[tuple[str, Content]] = []

    def add(label: str, value: object, style: str = "") -> None:
        if value not in (None, "", [], ()):
            rows.append(
                (label, Content.styled(clean(value), style) if style else Content(clean(value)))
            )

    status = fmt.status(run.status)
    reason = status_reason(detail)
    rows.append(
        (
            "status",
            Content.assemble(
                (status, STATUS_STYLES.get(run.status, "bold")),
                *((" — ", ""), (clean(reason), "")) if reason else (),
            ),
        )
    )
    add("run", f"{run.project}/{run.name}")
    add("id", run.id)
    add(
        "created",
        f"{fmt.timestamp(run.created)} ({fmt.ago(run.created, now)})" if run.created else None,
    )
    add("duration", fmt.duration(run.duration))
    add("group", run.group)
    add("tags", ", ".join(run.tags))
    add("notes", detail.notes or meta.get("notes"))
    who = [run.host or meta.get("host"), f"pid {meta['pid']}" if meta.get("pid") else None]
    add("host", " · ".join(str(w) for w in who if w))
    add("user", meta.get("user"))
    git = meta.get("git") if isinstance(meta.get("git"), dict) else None
    if git:
        described = str(git.get("commit") or "")[:12]
        if git.get("branch"):
            described += f" on {git['branch']}"
        described += " · dirty (code.diff saved)" if git.get("dirty") else " · clean"
        add("git", described)
        add("remote", git.get("remote"))
    argv = meta.get("argv")
    add("argv", " ".join(str(a) for a in argv) if isinstance(argv, list) else argv)
    add("cwd", meta.get("cwd"))
    add("python", " ".join(str(p) for p in (meta.get("python"), meta.get("executable")) if p))
    if detail.source_kind:
        add(
            "source",
            f"imported from {detail.source_kind} · {detail.source_path or ''}".rstrip(" ·"),
        )
    add("resumed", f"from {detail.parent_id}" if detail.parent_id else None)
    if detail.dropped:
        add("dropped", f"{detail.dropped} points could not be written", "$warning")
    if detail.summary:
        add("summary", ", ".join(f"{k}={fmt.value(v)}" for k, v in detail.summary.items()))
    add("metrics", f"{len(detail.metrics)} logged" if detail.metrics else None)
    width = max(len(label) for label, _ in rows) + 2
    parts: list[Content | tuple[str, str] | str] = []
    for label, value in rows:
        parts += [(label.ljust(width), "bold $text-muted"), value, "\n"]
    if detail.exception_traceback:
        tail = clean(detail.exception_traceback, keep_newlines=True).rstrip("\n").split("\n")
        parts += ["\n", ("traceback".ljust(width), "bold $text-muted"), "\n"]
        parts += [("\n".join(tail[-TRACEBACK_LINES:]), "$text-muted")]
    return Content.assemble(*parts)


def find_metric(metrics: Sequence[MetricSummary], key: str) -> MetricSummary | None:
    return next((m for m in metrics if m.key == key), None)


def summary_cells(m: MetricSummary) -> tuple[Text, ...]:
    """A metric's row in the summary table: Text, not str (a str cell is
    parsed as markup, and its emoji codes imported, on the way to the first
    chart)."""
    numbers = (m.last, m.min, m.step_min, m.max, m.step_max, m.first, m.count)
    return (literal(m.key), *(Text(fmt.number(v), no_wrap=True) for v in numbers))
