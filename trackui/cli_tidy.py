"""Keeping a store tidy from the command line: ``rm`` (to the store's trash),
``restore``, ``tag RUN… +x -y``, ``rename RUN NEW_NAME``, and ``cache ls|prune``.

The work is done on the run directories by ``store.tidy``; this module
names the runs (as ``show`` does), refuses what must not be changed (a
running run for ``rm``, runs imported from other tools for all of them) and
says in one line what it did. Any refusal is one line and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trackui.cli_output import Table, emit_json, emit_table, line
from trackui.cli_resolve import UsageError, open_stores, resolve, sources
from trackui.store import fmt


class _TagParser(argparse.ArgumentParser):
    """``tag``: ``-x`` removes tag x, ``+x`` adds it; only ``-d``/``--store``
    and ``-h`` (and ``--add``/``--remove``) are options."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {line(message)} (see {self.prog} --help)\n")

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:
        # Options (with their values) first, then the runs: argparse takes a
        # positional list in one piece, so runs after an option would be lost.
        options: list[str] = []
        runs: list[str] = []
        tokens = list(args or [])
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if token == "--":
                runs += tokens[i + 1 :]
                break
            if token in ("-d", "--store", "--add", "--remove"):
                options += tokens[i : i + 2]
                i += 2
                continue
            if token in ("-h", "--help") or token.startswith(("--store=", "--add=", "--remove=")):
                options.append(token)
            elif token.startswith("+"):
                options.append(f"--add={token[1:]}")
            elif token.startswith("-") and token != "-":
                options.append(f"--remove={token[1:]}")
            else:
                runs.append(token)
            i += 1
        return super().parse_known_args([*options, "--", *runs], namespace)


def add_parsers(sub: argparse._SubParsersAction, sources_arg: Any) -> None:
    rm = sub.add_parser(
        "rm",
        help="move runs to the store's trash (.trash; trackui restore brings them back)",
    )
    sources_arg(rm)
    rm.add_argument("runs", nargs="+", metavar="RUN", help="id, id prefix, project/name or name")
    rm.set_defaults(handler=cmd_rm)

    restore = sub.add_parser("restore", help="bring runs back from the trash")
    sources_arg(restore)
    restore.add_argument("runs", nargs="*", metavar="RUN", help="id, project/name or name")
    restore.add_argument("--list", "-l", action="store_true", help="list the runs in the trash")
    restore.add_argument("--json", action="store_true", help="--list as JSON")
    restore.set_defaults(handler=cmd_restore)

    parser_class = sub._parser_class
    sub._parser_class = _TagParser
    try:
        tag = sub.add_parser(
            "tag",
            help="add (+x) and remove (-x) tags of runs",
            description="trackui tag RUN… +x -y: add tag x and remove tag y (a tag that "
            "looks like an option: --add=TAG / --remove=TAG).",
        )
    finally:
        sub._parser_class = parser_class
    sources_arg(tag)
    tag.add_argument("items", nargs="*", metavar="RUN | +TAG | -TAG")
    tag.add_argument("--add", action="append", default=[], metavar="TAG", help="add TAG")
    tag.add_argument("--remove", action="append", default=[], metavar="TAG", help="remove TAG")
    tag.set_defaults(handler=cmd_tag)

    rename = sub.add_parser("rename", help="give a run a new name (its id stays)")
    sources_arg(rename)
    rename.add_argument("run", help="id, id prefix, project/name or name")
    rename.add_argument("name", metavar="NEW_NAME")
    rename.set_defaults(handler=cmd_rename)

    cache = sub.add_parser("cache", help="the catalogs trackui keeps: list them, prune them")
    what = cache.add_subparsers(dest="cache_command", metavar="ls|prune")
    ls = what.add_parser(
        "ls",
        help="catalogs, sessions of several sources, remote mirrors and imported stores: "
        "what each stands for, its size and last use",
    )
    ls.add_argument("--json", action="store_true", help="JSON output")
    prune = what.add_parser(
        "prune", help="remove the catalogs of stores that are gone (rebuilt if ever needed)"
    )
    prune.add_argument("--dry-run", "-n", action="store_true", help="only say what would go")
    prune.add_argument(
        "--older-than",
        type=float,
        metavar="DAYS",
        help="also catalogs and sessions not used for DAYS days (read again when opened)",
    )
    prune.add_argument(
        "--imported",
        action="store_true",
        help="also the private copies of other tools' runs whose folder is gone",
    )
    cache.set_defaults(handler=cmd_cache)


# -- naming runs --------------------------------------------------------------------


def _runs(stores: list[tuple[Any, Any]], refs: Sequence[str], verb: str) -> list[dict[str, Any]]:
    """Each run named, with what deciding a change needs; a UsageError for
    one ``verb`` must leave alone (``tidy.refusal``), or one named twice."""
    from trackui.store import tidy

    out: list[dict[str, Any]] = []
    seen = set()
    for ref in refs:
        found = resolve(stores, ref)
        if (id(found.store), found.run_id) in seen:
            raise UsageError(f"{verb}: run '{line(ref)}' named twice")
        seen.add((id(found.store), found.run_id))
        run = tidy.run_rows(found.store.catalog, [found.run_id])[found.run_id]
        why = tidy.refusal(verb, run, found.store.root)
        if why is not None:
            raise UsageError(why)
        run["store"] = found.store
        out.append(run)
    return out


def _dir(run: dict[str, Any]) -> Path:
    from trackui.store.tidy import TidyError, run_dir

    try:
        return run_dir(run["store"].root, run["dir"] or "")
    except TidyError as exc:
        raise UsageError(str(exc)) from None


def _tidy(call: Any, *args: Any) -> Any:
    """A ``store.tidy`` call; its refusal (or an OS error) as a UsageError."""
    from trackui.store.tidy import TidyError

    try:
        return call(*args)
    except TidyError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{exc.strerror or exc}: {line(exc.filename or '')}") from None


# -- rm / restore ------------------------------------------------------------------------


def cmd_rm(args: argparse.Namespace) -> int:
    from trackui.store import tidy

    with open_stores(sources(args.store or [])) as stores:
        runs = _runs(stores, args.runs, "rm")
        moved = [(run, _tidy(tidy.trash, run["store"].root, _dir(run))) for run in runs]
    for run, _ in moved:
        print(f"trashed {line(run['project'])}/{line(run['name'])} ({line(run['id'])})")
    roots = {str(run["store"].root) for run, _ in moved}
    print(
        f"{len(moved)} run{'s' if len(moved) != 1 else ''} moved to "
        f"{', '.join(line(Path(r) / tidy.TRASH) for r in sorted(roots))}; "
        "`trackui restore RUN` brings one back",
        file=sys.stderr,
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from trackui.store import tidy

    found = [s for s in sources(args.store or []) if s.exists]
    if args.list:
        if args.runs:
            raise UsageError("restore --list takes no runs")
        items = [(s, t) for s in found for t in tidy.trashed(s.root)]
        if args.json:
            emit_json(
                [
                    {
                        "id": t.id,
                        "project": t.project,
                        "name": t.name,
                        "trashed": t.trashed,
                        "path": str(t.path),
                        "store": str(s.root),
                    }
                    for s, t in items
                ]
            )
            return 0
        rows = [[t.id, t.project, t.name, fmt.ago(t.trashed)] for _, t in items]
        emit_table(Table(["id", "project", "name", "trashed"], rows, title="trash"), None)
        return 0
    if args.json:
        raise UsageError("restore: --json goes with --list")
    if not args.runs:
        raise UsageError("restore: name runs to restore, or --list the trash")
    picked = []
    for ref in args.runs:
        hits = []
        errors = []
        for src in found:
            try:
                hits.append((src, tidy.find_trashed(src.root, ref)))
            except tidy.TidyError as exc:
                errors.append(str(exc))
        if len(hits) != 1:
            raise UsageError(errors[0] if not hits and errors else f"'{line(ref)}' is ambiguous")
        picked.append(hits[0])
    for src, item in picked:
        _tidy(tidy.restore, src.root, item)
        print(f"restored {line(item.project)}/{line(item.name)} ({line(item.id)})")
    return 0


# -- tag / rename ------------------------------------------------------------------------------


def cmd_tag(args: argparse.Namespace) -> int:
    from trackui.store import tidy

    add = list(args.add)
    remove = list(args.remove)
    refs = list(args.items)
    for tag in [*add, *remove]:
        _tidy(tidy.check_text, "tag", tag)
    if not refs:
        raise UsageError("tag: name one or more runs")
    if not add and not remove:
        raise UsageError("tag: nothing to change (+TAG adds, -TAG removes)")
    with open_stores(sources(args.store or [])) as stores:
        runs = _runs(stores, refs, "tag")
        changed = [
            (run, _tidy(tidy.retag, run["store"].root, _dir(run), add, remove)) for run in runs
        ]
    for run, tags in changed:
        shown = ", ".join(line(t) for t in tags) or "(no tags)"
        print(f"{line(run['project'])}/{line(run['name'])}: {shown}")
    return 0


def cmd_rename(args: argparse.Namespace) -> int:
    from trackui.store import tidy

    name = _tidy(tidy.check_text, "name", args.name)
    with open_stores(sources(args.store or [])) as stores:
        (run,) = _runs(stores, [args.run], "rename")
        old = _tidy(tidy.rename, run["store"].root, _dir(run), name)
    print(f"renamed {line(run['project'])}/{line(old)} to {line(name)} ({line(run['id'])})")
    return 0


# -- cache ---------------------------------------------------------------------------------------


def cmd_cache(args: argparse.Namespace) -> int:
    from trackui.store import cache

    if args.cache_command is None:
        raise UsageError("cache: say ls or prune")
    entries = cache.cache_entries()
    if args.cache_command == "ls":
        if args.json:
            emit_json([_entry_record(e) for e in entries])
            return 0
        rows = [
            [
                e.kind,
                e.store or "(unknown)",
                _state(e),
                "" if e.runs is None else str(e.runs),
                fmt.size(e.size),
                fmt.ago(e.last_use) if e.last_use else "",
                str(e.path),
            ]
            for e in entries
        ]
        headers = ["kind", "store", "state", "runs", "size", "used", "path"]
        emit_table(Table(headers, rows, numeric=frozenset({3, 4})), None)
        return 0
    if args.older_than is not None and args.older_than < 0:
        raise UsageError(f"--older-than {args.older_than}: must be 0 or more days")
    older = None if args.older_than is None else args.older_than * 86400
    doomed = cache.prune_plan(entries, imported=args.imported, older_than=older)
    freed = 0
    for entry in doomed:
        if not args.dry_run:
            _tidy(cache.remove, entry)
        freed += entry.size
        verb = "would remove" if args.dry_run else "removed"
        what = entry.store or ("read by no source" if entry.kind == "mirror" else "no runs")
        print(f"{verb} {entry.kind} {line(entry.path)} ({line(what)})")
    kept = len(entries) - len(doomed)
    print(
        f"{'would free' if args.dry_run else 'freed'} {fmt.size(freed)}; kept {kept} "
        f"(in use or of a store that exists)",
        file=sys.stderr,
    )
    return 0


def _state(entry: Any) -> str:
    if entry.in_use:
        return "in use"
    if entry.present is None:
        if entry.kind == "session":
            return "remote"  # whether a box still has its runs is not asked here
        return "empty" if entry.runs == 0 else "unknown"
    return "present" if entry.present else "gone"


def _entry_record(entry: Any) -> dict[str, Any]:
    return {
        "kind": entry.kind,
        "path": str(entry.path),
        "store": entry.store,
        "state": _state(entry),
        "runs": entry.runs,
        "bytes": entry.size,
        "modified": entry.modified,
        "used": entry.last_use,
    }
