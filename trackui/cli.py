"""The ``trackui`` command: the TUI, and headless ``ls / show / diff / reindex /
import / demo`` for scripts. Bad input gets one line on stderr and exit 2.

This module parses the command line and dispatches; the commands live in
``cli_commands`` (ls), ``cli_detail`` (show, diff), sources and run names are
read by ``cli_resolve``, and everything printed goes through ``cli_output``.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trackui.cli_output import line
from trackui.cli_resolve import UsageError, checked_path, run_import, source, tui_root
from trackui.store import fmt, paths

COMMANDS = ("ls", "show", "diff", "reindex", "import", "demo", "tui")
#: Commands whose parsers and handlers live in their own modules (handler= default).
COMMANDS += ("sql", "export", "rm", "restore", "tag", "rename", "cache")
EXIT_BAD_INPUT = 2

__all__ = ["COMMANDS", "EXIT_BAD_INPUT", "UsageError", "build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one sanitized line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {line(message)} (see {self.prog} --help)\n")


def _store_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        "-d",
        metavar="PATH",
        help="store root (default: $TRACKUI_DIR or ~/.local/share/trackui)",
    )


def _sources_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        "-d",
        metavar="SOURCE",
        action="append",
        help="where the runs are: a store, or a folder of other tools' runs "
        "(repeatable; default: $TRACKUI_DIR or ~/.local/share/trackui)",
    )


def _format_args(parser: argparse.ArgumentParser, *, csv: bool = True) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--json", dest="fmt", action="store_const", const="json", help="JSON output")
    if csv:
        group.add_argument(
            "--csv", dest="fmt", action="store_const", const="csv", help="CSV output"
        )
    group.add_argument("--md", dest="fmt", action="store_const", const="md", help="Markdown table")


def _add_ls(sub: argparse._SubParsersAction) -> None:
    ls = sub.add_parser("ls", help="list runs")
    ls.add_argument(
        "sources",
        nargs="*",
        metavar="SOURCE",
        help="stores or folders of other tools' runs (default: the default store)",
    )
    _sources_arg(ls)
    ls.add_argument("--project", "-p", help="only this project")
    ls.add_argument(
        "--status",
        "-s",
        action="append",
        help="only runs with this status (repeatable, or comma-separated): "
        + ", ".join(fmt.STATUS_GLYPHS),
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
    ls.add_argument("--wide", action="store_true", help="every column, however wide the terminal")
    _format_args(ls)


def _add_show(sub: argparse._SubParsersAction) -> None:
    show = sub.add_parser("show", help="one run: overview, params, metrics, artifacts")
    _sources_arg(show)
    show.add_argument("run", help="run id, unique id prefix, project/name, or a unique name")
    _format_args(show, csv=False)


def _add_diff(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """``diff``; returned so that further options (grouping, say) are added
    next to these and read in ``cli_detail.cmd_diff``."""
    diff = sub.add_parser("diff", help="compare the params (and metrics) of runs")
    _sources_arg(diff)
    diff.add_argument(
        "runs", nargs="+", help="two or more runs (id, id prefix, project/name, or a unique name)"
    )
    diff.add_argument(
        "--all", action="store_true", help="show every param, not only differing ones"
    )
    _format_args(diff)
    from trackui.cli_groups import add_group_options

    add_group_options(diff)
    return diff


def build_parser(*, tui_only: bool = False) -> argparse.ArgumentParser:
    """The command line's parser; ``tui_only``: with the ``tui`` command alone
    (what ``trackui [SOURCE…]`` parses: the other commands' parsers, and the
    modules that add their options, are not built at each launch)."""
    parser = _Parser(
        prog="trackui",
        description="Experiment tracker for the terminal. `trackui [SOURCE ...]` opens the TUI "
        "(a SOURCE is a store, a folder of other tools' runs, or host:path on a box you ssh to; "
        "`trackui --last` reopens the last set).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    if tui_only:
        _add_tui(sub)
        return parser
    _add_ls(sub)
    _add_show(sub)
    _add_diff(sub)
    from trackui import cli_sql, cli_tidy

    cli_sql.add_parsers(sub, _sources_arg)
    cli_tidy.add_parsers(sub, _sources_arg)

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
        "--live", action="store_true", help="keep a few runs training while the TUI is open"
    )
    demo.add_argument("--fresh", action="store_true", help="rewrite the demo store")
    demo.add_argument("--dir", metavar="PATH", help="where to write the demo store")
    demo.add_argument("--no-tui", action="store_true", help="write it and print how to browse it")
    _add_tui(sub)
    return parser


def _add_tui(sub: argparse._SubParsersAction) -> None:
    tui = sub.add_parser("tui", help="open the TUI (the default command)")
    tui.add_argument(
        "specs",
        nargs="*",
        metavar="SOURCE",
        help="stores, folders of other tools' runs, or host:path on a box you ssh to "
        "(default: the default store plus the sources of config.toml)",
    )
    tui.add_argument("--last", action="store_true", help="reopen the sources last opened")


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    # Undecodable bytes of the command line arrive as lone surrogates; they
    # become visible \xNN text here, so nothing downstream meets them.
    args_list = [fmt.repair(a, path=True) for a in raw]
    if not args_list or (args_list[0] not in COMMANDS and not args_list[0].startswith("-")):
        args_list.insert(0, "tui")
    elif args_list[0] == "--last":
        args_list.insert(0, "tui")
    parser = build_parser(tui_only=args_list[0] == "tui")
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
    except Exception as exc:  # noqa: BLE001 - every expected failure becomes one line
        message = _one_line(exc)
        if message is None:
            raise
        print(f"trackui: {line(message)}", file=sys.stderr)
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


def _dispatch(args: argparse.Namespace) -> int:
    handler = getattr(args, "handler", None)
    if handler is not None:
        return handler(args)
    if args.command == "ls":
        from trackui.cli_commands import cmd_ls

        return cmd_ls(args)
    if args.command == "show":
        from trackui.cli_detail import cmd_show

        return cmd_show(args)
    if args.command == "diff":
        from trackui.cli_detail import cmd_diff

        return cmd_diff(args)
    if args.command == "reindex":
        return cmd_reindex(args)
    if args.command == "import":
        return cmd_import(args)
    if args.command == "demo":
        return cmd_demo(args)
    return cmd_tui(args)


# -- reindex / import ----------------------------------------------------------------


def _root(args: argparse.Namespace) -> Path:
    root = checked_path(args.store if args.store else paths.default_root())
    if not root.is_dir():
        raise UsageError(f"no trackui store at {line(root)} (log a run, or try `trackui demo`)")
    return root


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
    root = checked_path(args.store if args.store else paths.default_root())
    src = Path(args.path).expanduser()
    if args.kind is not None and not args.kind.strip():
        raise UsageError("--kind: empty kind")
    if args.project is not None and not args.project.strip():
        raise UsageError("--project: empty project name")
    if src.exists() and src.resolve() == root.resolve():
        raise UsageError("cannot import a store into itself")
    if not src.exists() and _remote_spec(args.path):
        src = _fetched(args.path)  # the runs of host:path, brought over first
    report = run_import(root, src, kind=args.kind, project=args.project)
    print(line(report.line()))
    return 0


def _remote_spec(text: str) -> bool:
    from trackui.store.remote.spec import SpecError, parse

    try:
        return parse(text) is not None
    except SpecError:
        return False


def _fetched(spec: str) -> Path:
    """The local mirror of ``host:path`` (``docs/remote.md``), brought up to
    date: what ``import`` copies from. A box that does not answer is one line."""
    from trackui.store.queries import Store
    from trackui.store.sources.session import session_root

    with Store(session_root([spec])) as store:
        remote = [s for s in store.catalog.sources if getattr(s, "is_remote", False)]
        for state in store.sources():
            if state.state == "unreachable":
                raise UsageError(f"{spec}: {state.error or 'unreachable'}")
        if not remote:
            raise UsageError(f"{spec}: not a remote source")
        return remote[0]._read_root


# -- demo / tui ------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from trackui import demo

    root = checked_path(args.dir if args.dir else demo.default_dir())
    made = demo.ensure(root, fresh=args.fresh)
    if args.no_tui or not (sys.stdin.isatty() and sys.stdout.isatty()):
        live = demo.start_live(root) if args.live else []
        print(demo.describe(root, made=made, live=len(live)))
        return 0
    live = demo.start_live(root) if args.live else []
    try:
        return _run_tui(root)
    finally:
        stopped = demo.stop_live(live)
        note = f" ({stopped} live trainings stopped)" if stopped else ""
        print(
            f"the demo store is at {line(root)}{note}; browse it again with: trackui {line(root)}"
        )


def cmd_tui(args: argparse.Namespace) -> int:
    from trackui.store.sources.session import last_specs

    specs = list(args.specs)
    if args.last:
        if specs:
            raise UsageError("--last reopens the last set; name no SOURCE with it")
        specs = list(last_specs() or [])
        if not specs:
            raise UsageError("--last: no sources opened yet (open some: trackui SOURCE ...)")
    elif specs:
        root = tui_root(specs)
        return _run_tui(root, remember=[_as_typed_elsewhere(s) for s in specs])
    if not specs:
        from trackui.cli_resolve import configured

        extra = configured()
        default = checked_path(paths.default_root())
        default.mkdir(parents=True, exist_ok=True)
        if not extra:
            return _run_tui(default)
        specs = [str(default), *extra]
    return _run_tui(tui_root(specs))


def _as_typed_elsewhere(spec: str) -> str:
    """A SOURCE as ``--last`` can reopen it from any directory: a local path
    made absolute, ``host:path`` as typed."""
    from trackui.cli_resolve import is_remote

    return spec if is_remote(spec) else os.path.abspath(os.path.expanduser(spec))


def _run_tui(root: Path, remember: list[str] | None = None) -> int:
    """The TUI on ``root``; ``remember``: the sources to note for ``--last``
    once they answered."""
    # Imports and the first screens make many objects and few cycles: the
    # cycle collector waits GC_PAUSE_S (a tenth of the CPU to the first chart).
    # The catalog opens in a child process while this one imports the app
    # (``store/child_store.py``), forked first, before any thread exists here;
    # where it cannot, the store is opened here, as before.
    from trackui.store.child_store import ChildStore

    child = ChildStore.start(root)
    collect = gc.isenabled()
    gc.disable()
    resume = threading.Timer(GC_PAUSE_S, gc.enable if collect else gc.disable)
    resume.daemon = True
    resume.start()
    try:
        return _open_tui(root, remember, child)
    finally:
        resume.cancel()
        if child is not None:
            child.close()  # once: the app closed it already unless it failed to start
        if collect:
            gc.enable()


#: Seconds after ``trackui`` starts before the cycle collector runs again.
GC_PAUSE_S = 5.0
#: The GIL's switch interval in the app (Python's default is 0.005 s).
SWITCH_INTERVAL_S = 0.0005
#: Textual's frame cap in the app (Textual's default is 60).
TEXTUAL_FPS = 120


def _open_tui(root: Path, remember: list[str] | None, child: Any = None) -> int:
    # Textual draws a frame at most every 1/FPS s, on a fixed beat: a change
    # that lands just after a frame waits for the next. At 120 it waits 8 ms,
    # not 17 (three such waits lie between launch and the first chart). Frames
    # are only drawn when something changed (animations are off by default);
    # TEXTUAL_FPS set by the user wins.
    os.environ.setdefault("TEXTUAL_FPS", str(TEXTUAL_FPS))
    from trackui.store.paths import cache_dir
    from trackui.tui import css_cache
    from trackui.tui.app import make_app

    css_cache.install(cache_dir())  # the CSS parsed at the last launch, not parsed again

    store: Any
    if child is not None and child.ready():  # no remote box to reach first
        store, catalog_path = child, child.catalog_path
    else:
        from trackui.store.queries import Store

        store = Store(root, refresh=False)
        catalog_path = store.catalog.path
        if not _first_contact(store):
            store.close()
            return EXIT_BAD_INPUT
    # The app paints from the catalog as it stands and refreshes behind it.
    with store:
        from trackui.store.cache import note_use

        note_use(catalog_path)  # `trackui cache ls` shows when; prune --older-than
        if remember:
            from trackui.store.sources.session import remember_last

            remember_last(remember)
        # Workers read the catalog in short DuckDB calls, each giving up the
        # GIL and waiting to take it back from the UI thread: at the default
        # 5 ms a turn, a read of 15 ms took 0.1 s beside a layout.
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        make_app(store, refresh_on_start=True).run()
    css_cache.save()
    return 0


def _first_contact(store: object) -> bool:
    """Reach each remote box this catalog has never read, side by side,
    before the TUI opens: a typo, a missing path, a host that does not
    resolve or a password asked is one line each and exit 2 (the connection
    made stays open for the app). A box read before that is down now opens
    as unreachable instead, its runs browsable as last read."""
    from concurrent.futures import ThreadPoolExecutor

    from trackui.store.remote import RemoteError

    sources = getattr(getattr(store, "catalog", None), "sources", None) or []
    fresh = [s for s in sources if getattr(s, "is_remote", False) and s.heard is None]
    if not fresh:
        return True

    def reach(src: object) -> str | None:
        try:
            src.remote.connect()  # type: ignore[attr-defined]
        except (RemoteError, OSError) as exc:
            return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None

    with ThreadPoolExecutor(max_workers=len(fresh)) as pool:
        failed = [error for error in pool.map(reach, fresh) if error is not None]
    for error in failed:
        print(f"trackui: {line(error)}", file=sys.stderr)
    return not failed


def browse_root(path: Path) -> Path:
    """The store ``trackui PATH`` browses: PATH itself when it is a store,
    else the private store its foreign runs were imported into."""
    return source(path).root
