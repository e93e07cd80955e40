"""The ``trackui`` command: the TUI, and headless ``ls / show / diff / reindex /
import / demo`` for scripts. Bad input gets one line on stderr and exit 2."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trackui.store import fmt, paths

COMMANDS = ("ls", "show", "diff", "reindex", "import", "demo", "tui")
EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit code 2."""


def _store_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        "-d",
        metavar="PATH",
        help="store root (default: $TRACKUI_DIR or ~/.local/share/trackui)",
    )


def _format_args(parser: argparse.ArgumentParser, *, csv: bool = True) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--json", dest="fmt", action="store_const", const="json", help="JSON output")
    if csv:
        group.add_argument(
            "--csv", dest="fmt", action="store_const", const="csv", help="CSV output"
        )
    group.add_argument("--md", dest="fmt", action="store_const", const="md", help="Markdown table")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="trackui",
        description="Experiment tracker for the terminal. `trackui [PATH]` opens the TUI.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    ls = sub.add_parser("ls", help="list runs")
    _store_arg(ls)
    ls.add_argument("--project", "-p", help="only this project")
    ls.add_argument(
        "--status", "-s", action="append", help="only runs with this status (repeatable)"
    )
    ls.add_argument("--where", "-w", help="filter, e.g. 'lr0<0.01 and optimizer=AdamW'")
    ls.add_argument(
        "--sort",
        default="-created",
        help="column to sort on; '-' in front for descending: --sort=-max(metrics/mAP50-95(B))",
    )
    ls.add_argument("--limit", "-n", type=int, help="at most N runs")
    ls.add_argument(
        "--column",
        "-c",
        action="append",
        default=[],
        metavar="SPEC",
        help="extra column: a param (lr0) or last(K)/min(K)/max(K) of a metric (repeatable)",
    )
    _format_args(ls)

    show = sub.add_parser("show", help="one run: overview, params, metrics, artifacts")
    _store_arg(show)
    show.add_argument("run", help="run id, unique id prefix, or project/name")
    _format_args(show, csv=False)

    diff = sub.add_parser("diff", help="compare the params (and metrics) of runs")
    _store_arg(diff)
    diff.add_argument("runs", nargs="+", help="two or more runs (id, id prefix, or project/name)")
    diff.add_argument(
        "--all", action="store_true", help="show every param, not only differing ones"
    )
    _format_args(diff)

    reindex = sub.add_parser("reindex", help="rebuild the catalog from the run files")
    _store_arg(reindex)

    imp = sub.add_parser("import", help="import runs of other tools (Ultralytics, MLflow, ...)")
    _store_arg(imp)
    imp.add_argument("path", help="directory (or file) holding the foreign runs")
    imp.add_argument(
        "--kind", "-k", help="ultralytics, mlflow, tensorboard, dvclive, wandb, trackio"
    )
    imp.add_argument("--project", "-p", help="put every imported run in this project")

    demo = sub.add_parser("demo", help="write a demo store and browse it")
    demo.add_argument(
        "--live", action="store_true", help="keep a few runs training in the background"
    )
    demo.add_argument("--fresh", action="store_true", help="rewrite the demo store")
    demo.add_argument("--dir", metavar="PATH", help="where to write the demo store")
    demo.add_argument("--no-tui", action="store_true", help="write it and print how to browse it")

    tui = sub.add_parser("tui", help="open the TUI (the default command)")
    tui.add_argument("path", nargs="?", help="a store, or a directory of other tools' runs")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (args_list[0] not in COMMANDS and not args_list[0].startswith("-")):
        args_list.insert(0, "tui")
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(_dispatch(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line
        message = _one_line(exc)
        if message is None:
            raise
        print(f"trackui: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _one_line(exc: Exception) -> str | None:
    """The user-facing line for an expected failure, or None for a bug."""
    from trackui.store.catalog import CatalogError
    from trackui.store.filters import FilterError
    from trackui.store.importers import ImportError_

    if isinstance(exc, (UsageError, CatalogError, ImportError_)):
        return str(exc)
    if isinstance(exc, FilterError):
        return f"bad filter: {exc}"
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    return None


def _root(args: argparse.Namespace) -> Path:
    root = Path(args.store).expanduser() if getattr(args, "store", None) else paths.default_root()
    if not root.is_dir():
        raise UsageError(f"no trackui store at {root} (log a run, or try `trackui demo`)")
    return root


def _open(root: Path) -> Any:
    from trackui.store.queries import Store

    return Store(root)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "ls":
        return cmd_ls(args)
    if args.command == "show":
        return cmd_show(args)
    if args.command == "diff":
        return cmd_diff(args)
    if args.command == "reindex":
        return cmd_reindex(args)
    if args.command == "import":
        return cmd_import(args)
    if args.command == "demo":
        return cmd_demo(args)
    return cmd_tui(args)


# -- ls ----------------------------------------------------------------------


def cmd_ls(args: argparse.Namespace) -> int:
    from trackui.store.queries import Column

    with _open(_root(args)) as store:
        if args.limit is not None and args.limit < 0:
            raise UsageError("--limit must be 0 or more")
        for spec in args.column:
            Column.parse(spec)
        runs = store.list_runs(
            project=args.project,
            status=args.status,
            where=args.where,
            sort=args.sort,
            limit=args.limit,
            columns=args.column,
        )
        now = store.clock()
    headers = ["id", "status", "project", "name", "created", "duration", *args.column]
    if args.fmt == "json":
        records = [
            {
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
                **{spec: r.columns.get(spec) for spec in args.column},
            }
            for r in runs
        ]
        _emit_json(records)
        return 0
    raw = args.fmt in ("csv",)
    rows = [
        [
            r.id,
            r.status,
            r.project,
            r.name,
            fmt.timestamp(r.created) if raw else fmt.ago(r.created, now),
            ("" if r.duration is None else f"{r.duration:.3f}")
            if raw
            else fmt.duration(r.duration),
            *[_cell(r.columns.get(spec), raw) for spec in args.column],
        ]
        for r in runs
    ]
    _emit_table(headers, rows, args.fmt, title=None, status_col=1)
    return 0


def _cell(value: Any, raw: bool = False) -> str:
    if value is None:
        return ""
    if raw and isinstance(value, float):
        return repr(value)
    return fmt.value(value)


# -- show --------------------------------------------------------------------


def cmd_show(args: argparse.Namespace) -> int:
    with _open(_root(args)) as store:
        detail = store.get_run(args.run)
        now = store.clock()
    run = detail.run
    if args.fmt == "json":
        _emit_json(
            {
                "id": run.id,
                "project": run.project,
                "name": run.name,
                "status": run.status,
                "status_reason": run.status_reason,
                "created": run.created,
                "ended": run.ended,
                "duration": run.duration,
                "tags": list(run.tags),
                "group": run.group,
                "notes": detail.notes,
                "dir": detail.dir,
                "host": detail.meta.get("host"),
                "pid": detail.meta.get("pid"),
                "argv": detail.meta.get("argv"),
                "git": detail.meta.get("git"),
                "exit_code": detail.exit_code,
                "signal": detail.signal,
                "exception": (
                    {"type": detail.exception_type, "message": detail.exception_message}
                    if detail.exception_type
                    else None
                ),
                "source": (
                    {"kind": detail.source_kind, "path": detail.source_path, "id": detail.source_id}
                    if detail.source_kind
                    else None
                ),
                "params": dict(detail.params),
                "summary": detail.summary,
                "metrics": {
                    m.key: {
                        "first": m.first,
                        "last": m.last,
                        "min": m.min,
                        "max": m.max,
                        "count": m.count,
                        "step_min": m.step_min,
                        "step_max": m.step_max,
                        "last_step": m.last_step,
                    }
                    for m in detail.metrics
                },
                "artifacts": [
                    {"name": a.name, "path": a.path, "size": a.size, "sha256": a.sha256}
                    for a in detail.artifacts
                ],
            }
        )
        return 0
    git = detail.meta.get("git") or {}
    overview = [
        ["id", run.id],
        ["run", f"{run.project}/{run.name}"],
        [
            "status",
            fmt.status(run.status) + (f" ({run.status_reason})" if run.status_reason else ""),
        ],
        ["created", f"{fmt.timestamp(run.created)} ({fmt.ago(run.created, now)})"],
        ["duration", fmt.duration(run.duration)],
        ["host", f"{detail.meta.get('host') or ''} pid {detail.meta.get('pid') or ''}".strip()],
        ["command", " ".join(str(a) for a in detail.meta.get("argv") or [])],
    ]
    if git:
        dirty = " (dirty)" if git.get("dirty") else ""
        overview.append(
            ["git", f"{(git.get('commit') or '')[:12]} {git.get('branch') or ''}{dirty}"]
        )
    if run.tags:
        overview.append(["tags", ", ".join(run.tags)])
    if detail.source_kind:
        overview.append(["source", f"{detail.source_kind}: {detail.source_path}"])
    overview.append(["dir", detail.dir])
    _emit_table(["field", "value"], overview, args.fmt, title="run")
    _emit_table(
        ["param", "value"], [[k, fmt.value(v)] for k, v in detail.params], args.fmt, title="params"
    )
    _emit_table(
        ["metric", "last", "min", "max", "count", "last step"],
        [
            [
                m.key,
                fmt.number(m.last),
                fmt.number(m.min),
                fmt.number(m.max),
                str(m.count),
                str(m.last_step),
            ]
            for m in detail.metrics
        ],
        args.fmt,
        title="metrics",
    )
    if detail.summary:
        _emit_table(
            ["summary", "value"],
            [[k, fmt.value(v)] for k, v in detail.summary.items()],
            args.fmt,
            title="summary",
        )
    if detail.artifacts:
        _emit_table(
            ["artifact", "size", "sha256", "path"],
            [[a.name, fmt.size(a.size), (a.sha256 or "")[:12], a.path] for a in detail.artifacts],
            args.fmt,
            title="artifacts",
        )
    return 0


# -- diff --------------------------------------------------------------------


def cmd_diff(args: argparse.Namespace) -> int:
    if len(args.runs) < 2:
        raise UsageError("diff needs at least two runs")
    from trackui.store.models import MISSING

    with _open(_root(args)) as store:
        ids = [store.resolve(ref) for ref in args.runs]
        if len(set(ids)) != len(ids):
            raise UsageError("diff: the same run was named twice")
        diff = store.diff_params(ids, only_changed=not args.all)
        metrics = store.compare_metrics(ids)
    names = [f"{r.project}/{r.name}" for r in diff.runs]
    if args.fmt == "json":
        _emit_json(
            {
                "runs": [{"id": r.id, "project": r.project, "name": r.name} for r in diff.runs],
                "params": [
                    {
                        "key": row.key,
                        "differs": row.differs,
                        "values": [None if v is MISSING else v for v in row.values],
                        "missing": [v is MISSING for v in row.values],
                    }
                    for row in diff.rows
                ],
                "params_total": diff.total_keys,
                "metrics": [
                    {
                        "key": row.key,
                        "direction": row.direction,
                        "last": list(row.last),
                        "best": list(row.best),
                        "best_run": None if row.best_run is None else diff.runs[row.best_run].id,
                    }
                    for row in metrics.rows
                ],
            }
        )
        return 0

    def show(v: Any) -> str:
        return "—" if v is MISSING else fmt.value(v)

    what = "all" if args.all else "differing"
    _emit_table(
        ["param", *names],
        [[row.key, *[show(v) for v in row.values]] for row in diff.rows],
        args.fmt,
        title=f"params ({what}: {len(diff.rows)} of {diff.total_keys})",
    )
    rows = []
    for row in metrics.rows:
        cells = []
        for i, (last, best) in enumerate(zip(row.last, row.best)):
            mark = " ★" if i == row.best_run else ""
            cells.append(
                "" if last is None else f"{fmt.number(last)} (best {fmt.number(best)}){mark}"
            )
        rows.append([f"{row.key} {'↓' if row.direction == 'min' else '↑'}", *cells])
    _emit_table(["metric (last, best)", *names], rows, args.fmt, title="metrics")
    return 0


# -- reindex / import ----------------------------------------------------------


def cmd_reindex(args: argparse.Namespace) -> int:
    from trackui.store.queries import Store

    root = _root(args)
    for suffix in ("", ".wal"):
        Path(str(paths.catalog_path(root)) + suffix).unlink(missing_ok=True)
    with Store(root, refresh=False) as store:
        stats = store.reindex()
        private = store.catalog.private
    note = " (another trackui holds the catalog; rebuilt a private copy)" if private else ""
    print(
        f"reindexed {stats.runs_seen} runs, {stats.points:,} points in {stats.seconds:.2f} s{note}"
    )
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    root = Path(args.store).expanduser() if args.store else paths.default_root()
    source = Path(args.path).expanduser()
    if source.resolve() == root.resolve():
        raise UsageError("cannot import a store into itself")
    report = _run_import(root, source, kind=args.kind, project=args.project)
    print(report.line())
    return 0


def _run_import(root: Path, source: Path, *, kind: str | None, project: str | None) -> Any:
    from trackui.store.importers import import_path

    if not sys.stderr.isatty():
        return import_path(root, source, kind=kind, project=project)
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        transient=True,
        console=_console(stderr=True),
    ) as progress:
        task = progress.add_task(f"importing {source}", total=None)
        count = 0

        def tick(run: Any) -> None:
            nonlocal count
            count += 1
            progress.update(task, description=f"importing {source}: {count} runs ({run.kind})")

        return import_path(root, source, kind=kind, project=project, on_run=tick)


# -- demo / tui ----------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from trackui import demo

    root = Path(args.dir).expanduser() if args.dir else demo.default_dir()
    made = demo.ensure(root, fresh=args.fresh)
    live = demo.start_live(root) if args.live else 0
    if args.no_tui or not (sys.stdin.isatty() and sys.stdout.isatty()):
        from trackui.store.queries import Store

        with Store(root) as store:
            runs = store.list_runs()
        counts: dict[str, int] = {}
        for run in runs:
            counts[run.status] = counts.get(run.status, 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        verb = "wrote" if made else "found"
        print(f"{verb} the demo store at {root}: {len(runs)} runs ({summary})")
        if live:
            print(f"{live} runs are training in the background and will finish in a few minutes")
        print("browse it with:")
        print(f"  trackui {root}")
        print(f"  trackui ls --store {root}")
        print(
            f"  trackui diff --store {root} detect/yolo26n-sgd-lr0.01 detect/yolo26n-adamw-lr0.002"
        )
        return 0
    return _run_tui(root)


def cmd_tui(args: argparse.Namespace) -> int:
    if args.path:
        root = browse_root(Path(args.path).expanduser())
    else:
        root = paths.default_root()
        root.mkdir(parents=True, exist_ok=True)
    return _run_tui(root)


def browse_root(path: Path) -> Path:
    """The store to browse for ``trackui PATH``: PATH itself when it is a
    trackui store, else a private store (outside PATH) that the foreign runs
    under PATH were imported into."""
    from trackui.store.importers import detect_kinds, is_trackui_store, private_store_for

    if not path.exists():
        raise UsageError(f"no such directory: {path}")
    if path.is_dir() and is_trackui_store(path):
        return path
    kinds = detect_kinds(path)
    if not kinds:
        if path.is_dir():
            return path  # an empty store, or one still to be written
        raise UsageError(f"{path} is neither a trackui store nor runs of a known tool")
    root = private_store_for(path)
    report = _run_import(root, path, kind=None, project=None)
    print(report.line(), file=sys.stderr)
    return root


def _run_tui(root: Path) -> int:
    from trackui.store.queries import Store
    from trackui.tui.app import make_app

    # The app paints from the catalog as it stands and refreshes behind it.
    with Store(root, refresh=False) as store:
        make_app(store, refresh_on_start=True).run()
    return 0


# -- output --------------------------------------------------------------------


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def _emit_json(obj: Any) -> None:
    import json
    import math

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    sys.stdout.write(json.dumps(clean(obj), indent=1, ensure_ascii=False, default=str) + "\n")


def _emit_table(
    headers: list[str],
    rows: list[list[str]],
    style: str | None,
    *,
    title: str | None,
    status_col: int | None = None,
) -> None:
    """A rich table on a terminal, plain tab-separated text when piped,
    CSV or Markdown when asked."""
    if style == "csv":
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(rows)
        return
    if style == "md":
        if title:
            sys.stdout.write(f"\n**{_md(title)}**\n\n")
        sys.stdout.write("| " + " | ".join(_md(h) for h in headers) + " |\n")
        sys.stdout.write("|" + "|".join("---" for _ in headers) + "|\n")
        for row in rows:
            sys.stdout.write("| " + " | ".join(_md(c) for c in row) + " |\n")
        return
    if not sys.stdout.isatty() and os.environ.get("TRACKUI_FORCE_RICH") != "1":
        if title:
            sys.stdout.write(f"# {title}\n")
        sys.stdout.write("\t".join(headers) + "\n")
        for row in rows:
            sys.stdout.write("\t".join(_plain(c) for c in row) + "\n")
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left", header_style="bold")
    for header in headers:
        table.add_column(Text(header), overflow="fold")
    for row in rows:
        cells = [Text(_plain(c)) for c in row]
        if status_col is not None:
            word = row[status_col]
            cells[status_col] = Text(fmt.status(word), style=_STATUS_STYLE.get(word, ""))
        table.add_row(*cells)
    _console().print(table)


_STATUS_STYLE = {
    "running": "bold cyan",
    "finished": "green",
    "failed": "bold red",
    "killed": "yellow",
    "crashed": "red",
}


def _plain(text: str) -> str:
    return fmt.printable(text)


def _md(text: str) -> str:
    return _plain(text).replace("|", "\\|")
