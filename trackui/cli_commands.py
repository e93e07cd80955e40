"""The read-only commands: ``ls``, ``show`` and ``diff``. Each checks its
option values first (a malformed one is a ``UsageError``: one line, exit 2),
asks the store(s), and hands rows of text to ``cli_output``."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from trackui.cli_output import Table, emit_json, emit_table, empty_store_hint, is_terminal, line
from trackui.cli_resolve import UsageError, open_stores, report_unreachable, sources, unreachable
from trackui.store import fmt

#: A number in a table takes at most this many cells (fewer digits, exponent kept).
NUMBER_WIDTH = 10
#: Narrowest a shortened run name gets before columns are left out instead.
MIN_NAME_WIDTH = 14
#: What a run name keeps before less important columns leave.
NAME_WANTED = 32
_CALL = re.compile(r"^([A-Za-z_]\w*)\((.*)\)$", re.S)
_BUILTIN_ATTRS = {
    "id": "id",
    "project": "project",
    "name": "name",
    "status": "status",
    "created": "created",
    "ended": "ended",
    "duration": "duration",
    "group": "group",
    "host": "host",
    "source": "source_kind",
}


# -- checking option values ----------------------------------------------------------


def check_column(spec: str, option: str) -> str:
    """A column spec as ``--sort``/``-c`` take it, or a ``UsageError``."""
    from trackui.store.queries import STATS

    text = spec.strip()
    if not text:
        raise UsageError(f"{option}: empty column name (a param like lr0, or max(KEY) of a metric)")
    call = _CALL.match(text)
    if call and not text.startswith("param:"):
        stat, key = call.group(1), call.group(2).strip()
        if stat not in STATS:
            raise UsageError(
                f"{option} {line(text)}: unknown summary {line(stat)!r}; use "
                f"{', '.join(s + '(KEY)' for s in STATS)}, or param:{line(text)} for a param"
            )
        if not key:
            raise UsageError(f"{option} {line(text)}: {stat}() needs a metric key")
    if text.startswith("param:") and not text[len("param:") :].strip():
        raise UsageError(f"{option} {line(text)}: param: needs a key")
    return text


def check_statuses(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    known = tuple(fmt.STATUS_GLYPHS)
    out = []
    for value in values:
        for word in value.split(","):
            word = word.strip().lower()
            if word not in known:
                raise UsageError(
                    f"--status {line(value)!r}: unknown status; one of {', '.join(known)}"
                )
            out.append(word)
    return out


def check_filter(where: str | None) -> None:
    if where is None:
        return
    from trackui.store.filters import compile_filter

    compile_filter(where)  # a FilterError is reported as "bad filter: …"


# -- ls ---------------------------------------------------------------------------------


def cmd_ls(args: argparse.Namespace) -> int:
    statuses = check_statuses(args.status)
    if args.limit is not None and args.limit < 0:
        raise UsageError(f"--limit {args.limit}: must be 0 or more")
    if args.project is not None and not args.project.strip():
        raise UsageError("--project: empty project name")
    columns = [check_column(spec, "-c/--column") for spec in args.column]
    sort = check_column(args.sort, "--sort")
    descending = None
    if sort.startswith("-"):
        sort, descending = check_column(sort[1:], "--sort"), True
    check_filter(args.where)

    named = [*(args.sources or []), *(args.store or [])]
    found = sources(named)
    runs: list[tuple[Any, Any]] = []  # (source, RunSummary)
    now = None
    with open_stores(found) as stores:
        for src, store in stores:
            listed = store.list_runs(
                project=args.project,
                status=statuses,
                where=args.where,
                sort=sort,
                descending=descending,
                limit=args.limit,
                columns=[*columns, sort] if len(stores) > 1 else columns,
            )
            runs.extend((src, r) for r in listed)
            now = store.clock()
        down = unreachable(stores)
    if len(found) > 1:
        runs = _merge(runs, sort, descending, args.limit)
    filtered = bool(args.where or statuses or args.project)
    if not runs and not filtered and not down and args.fmt != "json":
        print(empty_store_hint(", ".join(s.name for s in found)), file=sys.stderr)
        if is_terminal() and args.fmt is None:
            return 0
    if args.fmt == "json":
        emit_json([_ls_record(src, r, columns) for src, r in runs])
        return report_unreachable(down)
    if not runs and down:
        return report_unreachable(down)  # no list to head: only why
    raw = args.fmt == "csv"
    headers = ["id", "status", "project", "name", "created", "duration", *columns]
    boxes = len({run_box(r) for _, r in runs}) > 1
    many = len({location(src, r) for src, r in runs}) > 1 or len(found) > 1
    if boxes:
        headers.append("box")
    if many:
        headers.append("source")
    rows = []
    for src, r in runs:
        row = [
            r.id,
            r.status,
            r.project,
            r.name,
            fmt.timestamp(r.created) if raw else fmt.ago(r.created, now),
            ("" if r.duration is None else f"{r.duration:.3f}")
            if raw
            else fmt.duration(r.duration),
            *[value_text(r.columns.get(spec), raw) for spec in columns],
        ]
        if boxes:
            row.append(run_box(r))
        if many:
            row.append(location(src, r))
        rows.append(row)
    numeric = frozenset(
        6 + i for i, spec in enumerate(columns) if _numeric([r.columns.get(spec) for _, r in runs])
    )
    table = Table(headers, rows, numeric=numeric | {5}, status_col=1)
    if args.fmt is None and is_terminal() and not args.wide:
        from trackui.cli_output import terminal_width

        table, left_out = fit_run_list(table, terminal_width())
        if left_out:
            print(
                f"(left out at this width: {', '.join(line(h) for h in left_out)}; "
                "--wide shows every column)",
                file=sys.stderr,
            )
    emit_table(table, args.fmt if not (args.wide and args.fmt is None) else "wide")
    return report_unreachable(down)


def run_box(run: Any) -> str:
    """The box a run is on: its ssh alias as typed, ``local`` here."""
    return getattr(run, "box", None) or "local"


def location(src: Any, run: Any) -> str:
    """Where a run was read from, as the user named it (``gpu1:~/runs``)."""
    return getattr(run, "location", None) or src.name


def _ls_record(src: Any, r: Any, columns: list[str]) -> dict[str, Any]:
    return {
        "id": r.id,
        "project": r.project,
        "name": r.name,
        "status": r.status,
        "status_reason": r.status_reason,
        "created": r.created,
        "ended": r.ended,
        "duration": r.duration,
        "tags": list(r.tags),
        "group": r.group,
        "source": r.source_kind,
        "host": r.host,
        "box": run_box(r),
        "location": location(src, r),
        "store": str(src.root),
        **{spec: r.columns.get(spec) for spec in columns},
    }


def _merge(runs: list[tuple[Any, Any]], sort: str, descending: bool | None, limit: int | None):
    """Runs of several stores in one order, as ``list_runs`` orders one store's."""
    if descending is None:
        descending = sort in ("created", "ended", "duration")
    attr = _BUILTIN_ATTRS.get(sort)

    def value(item: tuple[Any, Any]) -> Any:
        run = item[1]
        return getattr(run, attr) if attr else run.columns.get(sort)

    present = [r for r in runs if value(r) is not None]
    absent = [r for r in runs if value(r) is None]
    numbers = [r for r in present if isinstance(value(r), (int, float))]
    texts = [r for r in present if not isinstance(value(r), (int, float))]
    numbers.sort(key=lambda r: value(r), reverse=descending)
    texts.sort(key=lambda r: str(value(r)), reverse=descending)
    merged = numbers + texts + absent
    return merged if limit is None else merged[:limit]


def fit_run_list(table: Table, width: int) -> tuple[Table, list[str]]:
    """The run list at ``width`` cells, each run on one line: the id, then
    durations, projects, creation times leave first while the names keep up
    to ``NAME_WANTED`` cells; then names shorten (kept distinct) down to
    ``MIN_NAME_WIDTH``; then user columns leave, the last first."""
    from trackui.cli_output import table_width
    from trackui.tui.names import distinct

    table = _short_headers(table)
    name_col = table.headers.index("name")
    widths = table.widths()
    keep = list(range(len(table.headers)))
    left_out: list[str] = []
    extras = [i for i in keep if i > 5 and i != name_col]

    def room() -> int:
        """Cells left for the name column with the columns kept now."""
        return width - table_width([0 if i == name_col else widths[i] for i in keep])

    full = widths[name_col]
    name_width = None
    for wanted, victims in (
        (min(full, NAME_WANTED), [0, 5, 2, 4]),
        (min(full, MIN_NAME_WIDTH), list(reversed(extras))),
    ):
        if room() >= wanted:
            name_width = min(full, room())
            break
        for victim in victims:
            keep.remove(victim)
            left_out.append(table.headers[victim])
            if room() >= wanted:
                name_width = min(full, room())
                break
        if name_width is not None:
            break
    if name_width is None:
        name_width = min(full, MIN_NAME_WIDTH)
    fitted = table.select(keep)
    col = keep.index(name_col)
    names = distinct([row[col] for row in fitted.rows], name_width)
    for row, name in zip(fitted.rows, names):
        row[col] = name
    return fitted, left_out


def _short_headers(table: Table) -> Table:
    """``max(metrics/mAP50-95(B))`` headed ``max mAP50-95`` on a terminal,
    while the headers stay distinct (piped output keeps the spec)."""
    from trackui.store.primary import short_header
    from trackui.store.queries import Column

    headers = list(table.headers)
    for i, spec in enumerate(headers[6:], start=6):
        col = Column.parse(spec)
        if col.kind == "stat":
            headers[i] = f"{col.stat} {short_header(col.key)}"
    if len(set(headers)) != len(headers):
        return table
    return Table(headers, table.rows, table.title, table.numeric, table.status_col, table.pinned)


# -- values ------------------------------------------------------------------------------


def value_text(value: Any, raw: bool = False) -> str:
    """A param, summary or metric value for a cell: numbers by ``number_fit``
    (or exact, ``raw``, for CSV), text as it is (sanitized when written)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return fmt.value(value)
    if isinstance(value, (int, float)):
        return (
            repr(value) if raw and isinstance(value, float) else fmt.number_fit(value, NUMBER_WIDTH)
        )
    return fmt.value(value)


def number_text(value: float | int | None) -> str:
    return fmt.number_fit(value, NUMBER_WIDTH)


def _numeric(values: list[Any]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in present
    )


# -- show and diff: see cli_detail ---------------------------------------------------------
