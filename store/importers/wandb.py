"""Read W&B run directories (``wandb/offline-run-*``, ``wandb/run-*``) as foreign runs.

The ``.wandb`` log is decoded in ``_wandb_log``; this module turns its
records into runs.

What becomes what: ``run`` -> id, project, display name, config (``_wandb``
dropped), tags, notes, group, start time; ``config`` records -> later config
changes; ``history`` -> points (``_step`` is the step, ``_timestamp`` the
time; ``_runtime`` and non-numeric values such as media are left out; a
nested key is joined with ``.`` as W&B displays it); ``summary`` deltas ->
``extra["summary"]``; ``stats`` -> system metrics under trackui's names
(``_system``); ``output_raw``/``output`` or ``files/output.log``
(whichever got further: after ``kill -9`` the records hold more) ->
console; ``artifact`` manifest entries -> artifacts by reference, the file
found under the import root by the longest tail of its recorded
``local_path`` (the absolute path in the file is the writer's machine's).
Telemetry and metric definitions are not imported.

One run per run id: a run resumed (``resume="allow"``, ``id=...``) writes a
second ``offline-run-<time>-<id>/run-<id>.wandb``. The directories of one id
are read in the order of their start and make one run: its history in
order, the points of an earlier directory at or past the first step of the
next one dropped (a resume rewinds to its checkpoint, W&B keeps the later
values), config merged (later wins), status, name and project from the last
one, console and system metrics one after the other. ``source_path`` is the
first directory, so the run keeps its identity as it is resumed.

Status: an ``exit`` record with exit code 0 -> ``finished``; any other code
-> ``failed`` ("exit code N"); no ``exit`` record (the process was killed,
or is still going) -> ``running`` when the last record time is less than
``stale_after`` (default ``STALE_AFTER_S``) before ``now``, else
``crashed`` ("no exit record", with "n of N epochs" when the config plans
more epochs than the history's ``epoch`` reached).

Damage: a chunk whose CRC does not match, that runs past the end of the
file or of its block, or of an unknown type ends the reading of the file;
everything before it is kept and one ``problems`` line names the file and
byte. A record that passes its CRC but does not decode is skipped and
counted (one line for the file).
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from trackui.store.importers import _read, _system
from trackui.store.importers._evidence import epochs_short
from trackui.store.importers._wandb_log import (  # noqa: F401 - re-exported for readers of the log
    LogDamage,
    LogEnd,
    _decode_record,
    _RunState,
    iter_records,
)
from trackui.store.importers.base import Artifact, ForeignRun, Point, find_runs

KIND = "wandb"

#: Without an exit record, a run whose last record is younger than this is
#: taken as still running (wandb writes history as it is logged).
STALE_AFTER_S = 900.0


def _find_run_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root] if root.suffix == ".wandb" else []
    found: list[Path] = []
    # os.walk does not follow the ``latest-run`` symlink: no run twice.
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            if name.startswith("run-") and name.endswith(".wandb"):
                found.append(Path(dirpath, name))
    return found


def detect(path: Path) -> bool:
    try:
        return bool(_find_run_files(Path(path)))
    except OSError:
        return False


# -- assembling a run -------------------------------------------------------


def resolve_recorded_path(recorded: str, root: Path, size: int | None = None) -> Path | None:
    """Find a file recorded by absolute path on another machine under ``root``.

    Tries the longest tail of ``recorded`` that exists below ``root`` (and,
    when known, has the recorded size); never follows the path itself.
    """
    parts = [p for p in PurePosixPath(recorded).parts if p not in ("/", "", ".", "..")]
    base = root.absolute()
    for i in range(len(parts)):
        candidate = base.joinpath(*parts[i:])
        try:
            if candidate.is_file() and (size is None or candidate.stat().st_size == size):
                return candidate
        except OSError:
            continue
    return None


def _artifacts(st: _RunState, root: Path) -> tuple[list[Artifact], list[str]]:
    found: list[Artifact] = []
    missing: list[str] = []
    names: set[str] = set()
    for art in st.artifacts:
        for e in art["entries"]:
            name = e["path"]
            if name in names:
                name = f"{art['name']}/{name}"
            local = e["local_path"]
            path = resolve_recorded_path(local, root, e["size"]) if local else None
            if path is None:
                missing.append(name)
                continue
            names.add(name)
            found.append(Artifact(name=name, path=str(path), size=e["size"]))
    return found, missing


def _media(st: _RunState, run_dir: Path, root: Path) -> list[Artifact]:
    """Images logged with ``wandb.Image`` (a history value ``{"_type":
    "image-file", "path": "media/images/…"}``), by reference, named
    ``media/<key>/<step>.<ext>`` as trackui's own ``log_image`` names them, so
    they are listed with their key and step and open in the image viewer."""
    out: list[Artifact] = []
    files = run_dir / "files"
    for key, step, rel in st.media:
        parts = Path(rel).parts
        if not parts or Path(rel).is_absolute() or ".." in parts:
            continue  # never a path out of the run's files
        path = files / rel
        try:
            size = _read.stat_regular(path, root=root)
        except OSError:
            continue
        ext = Path(rel).suffix.lower() or ".png"
        out.append(Artifact(name=f"media/{key}/{step}{ext}", path=str(path), size=size))
    return out


def _console(st: _RunState, run_dir: Path, root: Path, problems: list[str]) -> str | None:
    from_records = "".join(st.console)
    log = run_dir / "files" / "output.log"
    from_file = ""
    if log.is_file():
        try:
            from_file = _read.read_text(log, root=root)
        except OSError as exc:
            problems.append(f"{log}: unreadable ({_read.why(exc)})")
    text = from_records if len(from_records) >= len(from_file) else from_file
    return text or None


def read_run_file(
    wandb_file: Path, root: Path, problems: list[str], *, stale_after: float, now: float
) -> ForeignRun | None:
    """One run from one ``run-<id>.wandb``. Never raises for bad content."""
    st = _RunState()
    end = LogEnd()
    bad_records: list[int] = []
    try:
        with _read.open_regular(wandb_file, root=root) as f:
            for offset, payload in iter_records(f, end):
                try:
                    _decode_record(payload, st)
                except (ValueError, TypeError, struct.error):  # DecodeError is a ValueError
                    bad_records.append(offset)
    except OSError as exc:
        problems.append(f"{wandb_file}: unreadable ({_read.why(exc)})")
        return None
    _read.note_end(wandb_file, end.resume_at)
    if end.damage is not None and end.damage.offset == 0:
        problems.append(f"{wandb_file}: {end.damage.reason}")
        return None

    if st.exit_code is not None:
        status, reason = (
            ("finished", None) if st.exit_code == 0 else ("failed", f"exit code {st.exit_code}")
        )
    elif st.last_t is not None and now - st.last_t < stale_after:
        status, reason = "running", None
    else:
        status, reason = "crashed", "no exit record"
        short = epochs_short(st.config, st.points)
        if short is not None:
            reason = f"{reason}; {short}"

    if end.damage is not None:
        problems.append(f"{wandb_file}: {end.damage.reason} at byte {end.damage.offset}")
    elif end.partial_record_at is not None and status != "running":
        problems.append(
            f"{wandb_file}: truncated at byte {end.partial_record_at} (last record incomplete)"
        )
    if bad_records:
        problems.append(
            f"{wandb_file}: {len(bad_records)} record(s) could not be decoded and were skipped, "
            f"first at byte {bad_records[0]}; their framing is intact, so the layout is one this "
            "reader does not know. Installing the optional wandb extra "
            "(pip install 'trackui[wandb]') would not help: this reader does not use it."
        )

    run_dir = wandb_file.parent
    run_id = st.run_id or wandb_file.stem.removeprefix("run-")
    artifacts, missing = _artifacts(st, root)
    artifacts.extend(_media(st, run_dir, root))
    extra: dict[str, Any] = {
        k: v
        for k, v in {
            "entity": st.entity,
            "job_type": st.job_type,
            "host": st.host,
            "wandb_version": st.version,
            "exit_code": st.exit_code,
            "runtime_s": st.runtime,
            "summary": {k: v for k, v in st.summary.items() if not k.startswith("_wandb")},
            "artifacts_not_found": missing,
        }.items()
        if v not in (None, [], {})
    }
    return ForeignRun(
        kind=KIND,
        source_path=str(run_dir.absolute()),
        source_id=run_id,
        project=st.project or "uncategorized",
        name=st.name or run_id,
        params={k: v for k, v in st.config.items() if k != "_wandb"},
        points=st.points,
        status=status,
        status_reason=reason,
        created=st.start_time,
        ended=st.last_t if status != "running" else None,
        last_activity=st.last_t,
        tags=st.tags,
        notes=st.notes,
        group=st.group,
        artifacts=artifacts,
        console=_console(st, run_dir, root, problems),
        system=_system.from_wandb(st.stats, cpu_count=st.cpu_count, memory_total=st.memory_total),
        extra=extra,
    )


def _file_run_id(wandb_file: Path) -> str:
    return wandb_file.name[len("run-") : -len(".wandb")]


def merge_resumed(segments: list[ForeignRun]) -> ForeignRun:
    """One run from the directories of one run id, in the order they started
    (rules in the module doc)."""
    segments = sorted(segments, key=lambda r: (r.created or 0.0, r.source_path))
    first, last = segments[0], segments[-1]
    points: list[Point] = []
    system: list[Point] = []
    params: dict[str, Any] = {}
    console: list[str] = []
    artifacts: list[Artifact] = []
    for seg in segments:
        if seg.points:
            start = min(p.step for p in seg.points)
            points = [p for p in points if p.step < start]
        points.extend(seg.points)
        offset = (system[-1].step + 1) if system else 0
        system.extend(Point(p.key, p.step + offset, p.value, p.t) for p in seg.system)
        params.update(seg.params)
        if seg.console:
            console.append(seg.console)
        known = {a.path for a in artifacts}
        artifacts.extend(a for a in seg.artifacts if a.path not in known)
    extra = dict(last.extra)
    extra["resumed_dirs"] = [os.path.basename(seg.source_path) for seg in segments]
    return ForeignRun(
        kind=KIND,
        source_path=first.source_path,
        source_id=first.source_id,
        project=next((s.project for s in reversed(segments) if s.project), first.project),
        name=next((s.name for s in reversed(segments) if s.name), first.name),
        params=params,
        points=points,
        status=last.status,
        status_reason=last.status_reason,
        created=first.created,
        ended=last.ended,
        last_activity=max((s.last_activity for s in segments if s.last_activity), default=None),
        tags=last.tags or first.tags,
        notes=last.notes or first.notes,
        group=last.group or first.group,
        artifacts=artifacts,
        console="".join(console) or None,
        system=system,
        extra=extra,
    )


def read(
    path: Path,
    problems: list[str],
    *,
    stale_after: float = STALE_AFTER_S,
    now: float | None = None,
) -> Iterator[ForeignRun]:
    """Yield one run per W&B run id under ``path`` (see the module doc).

    A run with no news for ``stale_after`` seconds before ``now`` (default:
    the current time) is no longer taken as running.
    Artifacts are looked up under ``path``: pass the directory that holds
    both ``wandb/`` and the W&B data dir to get the staged files.
    """
    root = Path(path)
    now = time.time() if now is None else now
    files = find_runs(root, problems, _find_run_files)
    if files is None:
        return
    base = root.parent if root.is_file() else root
    by_id: dict[str, list[Path]] = {}
    for wandb_file in files:
        by_id.setdefault(_file_run_id(wandb_file), []).append(wandb_file)
    for run_files in by_id.values():
        segments: list[ForeignRun] = []
        for wandb_file in run_files:
            try:
                run = read_run_file(wandb_file, base, problems, stale_after=stale_after, now=now)
            except Exception as exc:  # one bad run must not stop the import
                problems.append(f"{wandb_file}: skipped: {type(exc).__name__}: {exc}")
                continue
            if run is not None:
                segments.append(run)
        if len(segments) == 1:
            yield segments[0]
        elif segments:
            yield merge_resumed(segments)
