"""``trackui sql QUERY`` over the documented views (docs/sql.md), and
``trackui export``: the rows of ``ls`` or of ``diff`` as CSV, Markdown,
LaTeX or Parquet, for a paper or a spreadsheet.

Both read sources as ``ls`` does (positional SOURCEs and ``-d``). A query is
checked and run by ``store.views`` on read-only attached catalogs; anything
it refuses is one line and exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import decimal
import io
import json
import math
import os
import sys
from collections.abc import Sequence
from typing import Any

from trackui.cli_output import Table, cell, emit_json, emit_table, is_terminal
from trackui.cli_resolve import UsageError, sources
from trackui.store import fmt

#: A float in a table: at most this many cells and significant digits.
FLOAT_WIDTH = 14
FLOAT_DIGITS = 12
_NUMERIC_TYPES = (
    *("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE"),
    *("UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"),
)
#: A table on a terminal shows at most this many rows (a pipe gets them all).
MAX_TERMINAL_ROWS = 1000
EXPORT_FORMATS = ("csv", "md", "latex", "parquet")
_SUFFIXES = {".csv": "csv", ".md": "md", ".tex": "latex", ".parquet": "parquet"}


def add_parsers(sub: argparse._SubParsersAction, sources_arg: Any) -> None:
    """``sql`` and ``export``; ``sources_arg`` adds the repeatable ``-d``."""
    sql = sub.add_parser(
        "sql",
        help="SQL over the runs (views: runs, params, metrics, summaries, artifacts)",
        description="Run one read-only query over the views documented in docs/sql.md: "
        "runs, params, metrics, summaries, artifacts.",
    )
    sql.add_argument("query", help="one SELECT (or WITH/FROM/DESCRIBE/SHOW); '-' reads stdin")
    sql.add_argument(
        "sources",
        nargs="*",
        metavar="SOURCE",
        help="stores or folders of other tools' runs (default: the default store)",
    )
    sources_arg(sql)
    group = sql.add_mutually_exclusive_group()
    for flag, what in (("json", "JSON output"), ("csv", "CSV output"), ("md", "Markdown table")):
        group.add_argument(f"--{flag}", dest="fmt", action="store_const", const=flag, help=what)
    group.add_argument("--parquet", metavar="FILE", help="write the rows to a Parquet file")
    sql.set_defaults(handler=cmd_sql)

    export = sub.add_parser(
        "export",
        help="write the run list (or a diff) as CSV, Markdown, LaTeX or Parquet",
        description="trackui export [options] [SOURCE…] writes the rows `ls` would list; "
        "trackui export [options] diff RUN RUN… writes the rows of `diff`.",
    )
    export.add_argument(
        "items",
        nargs="*",
        metavar="SOURCE | diff RUN",
        help="sources as for ls, or 'diff' and two or more runs",
    )
    sources_arg(export)
    export.add_argument(
        "--format",
        "-f",
        choices=EXPORT_FORMATS,
        help="output format (default: from the -o suffix, else csv)",
    )
    export.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    export.add_argument("--project", "-p", help="only this project")
    export.add_argument("--status", "-s", action="append", help="only runs with this status")
    export.add_argument("--where", "-w", help="filter, e.g. 'lr0<0.01 and optimizer=AdamW'")
    export.add_argument("--sort", default="-created", help="column to sort on ('-' descending)")
    export.add_argument("--limit", "-n", type=int, help="at most N runs")
    export.add_argument(
        "--column",
        "-c",
        action="append",
        default=[],
        metavar="SPEC",
        help="extra column: a param (lr0) or last(K)/min(K)/max(K) of a metric",
    )
    export.add_argument("--all", action="store_true", help="diff: every param, not only differing")
    export.set_defaults(handler=cmd_export)


# -- sql -----------------------------------------------------------------------------


def cmd_sql(args: argparse.Namespace) -> int:
    from trackui.store.views import check_query

    query = sys.stdin.read() if args.query == "-" else args.query
    check_query(query)  # before any catalog is built
    if args.parquet is not None and not args.parquet.strip():
        raise UsageError("--parquet: empty file name")
    found = sources([*(args.sources or []), *(args.store or [])])
    with contextlib.ExitStack() as stack:
        space = _workspace(stack, found)
        if args.parquet is not None:
            count = space.to_parquet(query, os.path.abspath(args.parquet))
            print(f"wrote {count} rows to {cell(args.parquet)}", file=sys.stderr)
            return 0
        result = space.query(query)
    if args.fmt == "json":
        json_cols = [i for i, t in enumerate(result.types) if t == "JSON"]
        names = _distinct(result.columns)
        emit_json([_json_row(names, row, json_cols) for row in result.rows])
        return 0
    raw = args.fmt == "csv"
    numeric = frozenset(
        i for i, t in enumerate(result.types) if t in _NUMERIC_TYPES or t.startswith("DECIMAL(")
    )
    shown = result.rows
    if args.fmt is None and is_terminal() and len(shown) > MAX_TERMINAL_ROWS:
        shown = shown[:MAX_TERMINAL_ROWS]
    rows = [[sql_text(v, raw) for v in row] for row in shown]
    emit_table(Table(list(result.columns), rows, numeric=numeric), args.fmt)
    if len(shown) < len(result.rows):
        print(
            f"({len(result.rows) - len(shown)} more rows not shown; "
            "a pipe, --csv or --json gives every row)",
            file=sys.stderr,
        )
    return 0


def _workspace(stack: contextlib.ExitStack, found: Sequence[Any]) -> Any:
    """The views over every source, each catalog brought up to date first."""
    from trackui.store.catalog import Catalog
    from trackui.store.views import Workspace

    space = None
    for src in found:
        if not src.exists:  # the default store before anything was logged
            os.makedirs(src.root, exist_ok=True)
        catalog = stack.enter_context(Catalog(src.root))
        catalog.refresh()
        if space is None:
            space = stack.enter_context(Workspace(catalog, src.name))
        else:
            space.add(catalog, src.name)
    return space


def sql_text(value: Any, raw: bool = False) -> str:
    """One value of a query's answer as text: NULL as ``NULL`` (empty in CSV),
    ints whole, floats by ``number_fit`` (exact in CSV), the rest as DuckDB
    would print it."""
    if value is None:
        return "" if raw else "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if raw else fmt.number_fit(value, FLOAT_WIDTH, FLOAT_DIGITS)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(_plain(value), default=str, ensure_ascii=False)
    return str(value)


def _plain(value: Any) -> Any:
    """A DuckDB value as JSON can hold it: decimals as numbers, non-finite
    floats as text (as ``emit_json`` writes them), bytes as hex."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _distinct(columns: Sequence[str]) -> list[str]:
    """Column names as JSON keys: a repeated one gets ``_1``, ``_2`` (as DuckDB does)."""
    out: list[str] = []
    for name in columns:
        new, n = name, 0
        while new in out:
            n += 1
            new = f"{name}_{n}"
        out.append(new)
    return out


def _json_row(columns: Sequence[str], row: Sequence[Any], json_cols: list[int]) -> dict[str, Any]:
    out = {}
    for i, (name, value) in enumerate(zip(columns, row)):
        if i in json_cols and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        out[name] = _plain(value)
    return out


# -- export --------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    style = _export_format(args)
    items = list(args.items or [])
    if items and items[0] == "diff":
        for option in ("project", "status", "where", "limit"):
            if getattr(args, option):
                raise UsageError(f"export diff: --{option} applies to the run list, not to diff")
        table, typed = _diff_rows(items[1:], args, raw=style == "csv")
    else:
        if args.all:
            raise UsageError("export: --all applies to diff")
        table, typed = _ls_rows(items, args, raw=style == "csv")
    if style == "parquet":
        _write_parquet(table.headers, typed, args.output)
        print(f"wrote {len(typed)} rows to {cell(args.output)}", file=sys.stderr)
        return 0
    text = io.StringIO()
    if style == "latex":
        text.write(latex_table(table))
    else:
        with contextlib.redirect_stdout(text):
            emit_table(table, style)
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as fh:
            fh.write(text.getvalue())
        print(f"wrote {len(table.rows)} rows to {cell(args.output)}", file=sys.stderr)
    else:
        sys.stdout.write(text.getvalue())
    return 0


def _export_format(args: argparse.Namespace) -> str:
    if args.output is not None and not args.output.strip():
        raise UsageError("-o: empty file name")
    style = args.format
    if style is None and args.output:
        style = _SUFFIXES.get(os.path.splitext(args.output)[1].lower(), "csv")
    style = style or "csv"
    if style == "parquet" and not args.output:
        raise UsageError("export --format parquet needs -o FILE (Parquet is not text)")
    return style


def _ls_rows(
    names: list[str], args: argparse.Namespace, *, raw: bool
) -> tuple[Table, list[list[Any]]]:
    from trackui.cli_commands import _merge, check_column, check_filter, check_statuses
    from trackui.cli_resolve import open_stores

    statuses = check_statuses(args.status)
    if args.limit is not None and args.limit < 0:
        raise UsageError(f"--limit {args.limit}: must be 0 or more")
    columns = [check_column(spec, "-c/--column") for spec in args.column]
    sort = check_column(args.sort, "--sort")
    descending = None
    if sort.startswith("-"):
        sort, descending = check_column(sort[1:], "--sort"), True
    check_filter(args.where)
    found = sources([*names, *(args.store or [])])
    runs: list[tuple[Any, Any]] = []
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
    if len(found) > 1:
        runs = _merge(runs, sort, descending, args.limit)
    headers = ["id", "status", "project", "name", "created", "duration", "tags", *columns]
    many = len(found) > 1
    if many:
        headers.append("source")
    typed = []
    for src, r in runs:
        row = [r.id, r.status, r.project, r.name, r.created, r.duration, ", ".join(r.tags)]
        row += [r.columns.get(spec) for spec in columns]
        if many:
            row.append(src.name)
        typed.append(row)
    rows = []
    for row in typed:
        shown = [*row[:4], fmt.timestamp(row[4]) if row[4] is not None else ""]
        shown.append(_number(row[5], raw))
        shown += [_value(v, raw) for v in row[6:]]
        rows.append(shown)
    numeric = frozenset(i for i in range(5, len(headers)) if _numbers([r[i] for r in typed]))
    return Table(headers, rows, numeric=numeric), typed


def _diff_rows(
    refs: list[str], args: argparse.Namespace, *, raw: bool
) -> tuple[Table, list[list[Any]]]:
    from trackui.cli_detail import _compare
    from trackui.cli_resolve import open_stores, resolve
    from trackui.store.models import MISSING

    if len(refs) < 2:
        raise UsageError("export diff needs at least two runs")
    with open_stores(sources(args.store or [])) as stores:
        found = [resolve(stores, ref) for ref in refs]
        if len({(id(f.store), f.run_id) for f in found}) != len(found):
            raise UsageError("export diff: the same run was named twice")
        diff, metrics = _compare(found, only_changed=not args.all)
    headers = ["section", "key", *[f"{r.project}/{r.name}" for r in diff.runs]]
    if len(set(headers[2:])) != len(headers) - 2:
        headers = [*headers[:2], *[f"{r.project}/{r.name} ({r.id})" for r in diff.runs]]
    typed: list[list[Any]] = []
    for row in diff.rows:
        typed.append(["param", row.key, *[None if v is MISSING else v for v in row.values]])
    for row in metrics.rows:
        typed.append(["last", row.key, *row.last])
    for row in metrics.rows:
        typed.append(["best", row.key, *row.best])
    rows = [[r[0], r[1], *[_value(v, raw) for v in r[2:]]] for r in typed]
    return Table(headers, rows, pinned=2), typed


def _number(value: Any, raw: bool) -> str:
    if value is None:
        return ""
    return repr(value) if raw else fmt.number_fit(value, 10)


def _value(value: Any, raw: bool) -> str:
    from trackui.cli_commands import value_text

    return value_text(value, raw)


def _numbers(values: list[Any]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in present
    )


# -- LaTeX and Parquet -------------------------------------------------------------------

_LATEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}


def latex_escape(text: object) -> str:
    """User text for a LaTeX cell: sanitized (``cell``), every special escaped."""
    return "".join(_LATEX.get(ch, ch) for ch in cell(text))


def latex_table(table: Table) -> str:
    """A booktabs ``tabular``; number columns right-aligned."""
    spec = "".join("r" if i in table.numeric else "l" for i in range(len(table.headers)))
    lines = [
        "% written by trackui export; needs \\usepackage{booktabs}",
        f"\\begin{{tabular}}{{{spec}}}",
        "\\toprule",
        " & ".join(latex_escape(h) for h in table.headers) + " \\\\",
        "\\midrule",
    ]
    lines += [" & ".join(latex_escape(c) for c in row) + " \\\\" for row in table.rows]
    lines += ["\\bottomrule", "\\end{tabular}", ""]
    return "\n".join(lines)


def _write_parquet(headers: Sequence[str], rows: list[list[Any]], path: str) -> None:
    """Rows to Parquet through DuckDB: a column of numbers is DOUBLE, any
    other column text (JSON for lists and objects)."""
    import duckdb

    from trackui.store.views import literal

    kinds = []
    for i in range(len(headers)):
        kinds.append("DOUBLE" if _numbers([r[i] for r in rows]) else "VARCHAR")
    con = duckdb.connect(":memory:")
    try:
        names = [f'"{h.replace(chr(34), chr(34) * 2)}"' for h in headers]
        unique = [f"c{i}" for i in range(len(headers))]
        con.execute("CREATE TABLE t (" + ", ".join(f"{u} {k}" for u, k in zip(unique, kinds)) + ")")
        values = [
            [
                (float(v) if v is not None else None)
                if k == "DOUBLE"
                else (None if v is None else v if isinstance(v, str) else fmt.value(v))
                for v, k in zip(row, kinds)
            ]
            for row in rows
        ]
        if values:
            marks = ", ".join("?" for _ in headers)
            con.executemany(f"INSERT INTO t VALUES ({marks})", values)
        select = ", ".join(f"{u} AS {n}" for u, n in zip(unique, names))
        con.execute(
            f"COPY (SELECT {select} FROM t) TO {literal(os.path.abspath(path))} (FORMAT parquet)"
        )
    except duckdb.Error as exc:
        raise UsageError(f"cannot write {cell(path)}: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
