"""What the command line names: sources (stores, folders of other tools' runs)
and runs (an id, a unique id prefix, ``project/name``, or a plain name when
only one run has it). Anything that names nothing is a ``UsageError``: one
line, exit 2."""

from __future__ import annotations

import glob
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trackui.cli_output import line
from trackui.store import fmt, paths

#: How many entries ``_holds_files`` looks at before deciding.
_SCAN_LIMIT = 5000


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit code 2."""


@dataclass(frozen=True)
class Source:
    """A source as named on the command line, and the store that holds its runs
    (``session``: a catalog of its own over several sources, remote ones among
    them, whose runs each carry their box and location)."""

    name: str
    root: Path
    exists: bool = True
    session: bool = False


def source(text: str | os.PathLike[str], *, default: bool = False) -> Source:
    """The store for one SOURCE: a trackui store as it is; a folder (or file)
    of other tools' runs read through by a catalog of its own (never writing
    into the source); an empty or not yet written folder as an empty store.

    A file that no importer reads, or a folder holding files but no runs,
    is a ``UsageError``. A missing path is one too, unless it is the default
    store (nothing logged yet)."""
    from trackui.store.sources.session import looks_native

    name = fmt.repair(os.fspath(text), path=True)
    path = checked_path(text)
    if not path.exists():
        if default:
            return Source(name, path, exists=False)
        raise UsageError(f"no such store or directory: {line(name)}")
    if path.is_dir() and looks_native(path):
        return Source(name, path)  # a store: the importers are not loaded to open it
    if path.is_dir() and _read_through_before(path):
        # read through before, so not a store (a store has its run files
        # near the top, ``looks_native``): the importers are not loaded either
        return Source(name, read_through(path))
    from trackui.store.importers import detect_kinds, is_trackui_store

    if path.is_dir() and is_trackui_store(path):
        return Source(name, path)
    kinds = detect_kinds(path)
    if kinds:
        return Source(name, read_through(path))
    if not path.is_dir():
        raise UsageError(
            f"{line(name)} is a file, not a trackui store or a folder of runs "
            "(trackui reads stores, and runs of Ultralytics, MLflow, TensorBoard, "
            "dvclive, W&B and Trackio)"
        )
    if _holds_files(path):
        raise UsageError(
            f"{line(name)} holds no runs trackui reads (a trackui store, or runs of "
            "Ultralytics, MLflow, TensorBoard, dvclive, W&B or Trackio)"
        )
    return Source(name, path)


def _read_through_before(path: Path) -> bool:
    """Whether an earlier ``trackui PATH`` found other tools' runs in the
    folder and made its read-through store (``read_through``): its kinds are
    not detected again, which loads every importer (NumPy with MLflow's) on
    the way to the first frame. Runs removed since then show as gone."""
    from trackui.store.sources import SOURCES_FILE

    real = os.path.realpath(path)
    made = paths.cache_dir() / "sources"
    bound = {"sources": [{"path": real, "kind": None, "box": "local"}]}
    pattern = glob.escape(paths.safe_segment(os.path.basename(real))) + "-*"
    for root in made.glob(pattern):
        try:
            if json.loads((root / SOURCES_FILE).read_text(encoding="utf-8")) == bound:
                return True
        except (OSError, ValueError):
            continue
    return False


def checked_path(text: str | os.PathLike[str]) -> Path:
    """``text`` as a path the store can hold: one whose name is not UTF-8
    (from ``$TRACKUI_DIR``, say) is a ``UsageError``, not a traceback later."""
    raw = os.fspath(text)
    if fmt.repair(raw) != raw:
        raise UsageError(
            f"{line(fmt.repair(raw, path=True))}: a store path that is not UTF-8 is not "
            "supported (rename it, or point TRACKUI_DIR elsewhere)"
        )
    return Path(raw).expanduser()


def _holds_files(path: Path) -> bool:
    """Whether a folder (down to three levels) holds any visible file."""
    seen = 0
    stack = [(str(path), 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > _SCAN_LIMIT:
                return True
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_file(follow_symlinks=False):
                    return True
                if entry.is_dir(follow_symlinks=False) and depth < 2:
                    stack.append((entry.path, depth + 1))
            except OSError:
                continue
    return False


def read_through(path: Path) -> Path:
    """The store ``trackui PATH`` browses for a folder of other tools' runs:
    an empty store under the cache dir whose catalog reads PATH through (its
    files stay the truth; nothing is copied, nothing written into PATH)."""
    from trackui.store.sources import read_through_store

    return read_through_store(path)


def imported_store(path: Path) -> Path:
    """The private store ``trackui PATH`` browses for a folder of other
    tools' runs, brought up to date (the import line goes to stderr)."""
    from trackui.store.importers import private_store_for

    root = private_store_for(path)
    report = run_import(root, path, kind=None, project=None)
    print(line(report.line()), file=sys.stderr)
    return root


def run_import(root: Path, src: Path, *, kind: str | None, project: str | None) -> Any:
    """Import ``src`` into ``root``, with a spinner on a terminal."""
    from trackui.store.importers import import_path

    if not sys.stderr.isatty():
        return import_path(root, src, kind=kind, project=project)
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from trackui.cli_output import console

    shown = line(src)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        TimeElapsedColumn(),
        transient=True,
        console=console(stderr=True),
    ) as progress:
        task = progress.add_task(f"importing {shown}", total=None)
        count = 0

        def tick(run: Any) -> None:
            nonlocal count
            count += 1
            progress.update(task, description=f"importing {shown}: {count} runs ({line(run.kind)})")

        return import_path(root, src, kind=kind, project=project, on_run=tick)


def sources(names: Sequence[str]) -> list[Source]:
    """The sources named (each once), or the default store plus the
    ``sources`` of config.toml. Where any is remote (``host:path``), all of
    them are read by one session catalog (``session``); else each local
    store is opened as it is."""
    if not names:
        extra = configured()
        if not extra:
            return [source(paths.default_root(), default=True)]
        default = checked_path(paths.default_root())
        names = [str(default), *extra] if default.is_dir() else extra
    names = list(dict.fromkeys(names))
    if any(is_remote(n) for n in names):
        return [session(names)]
    out: list[Source] = []
    for name in dict.fromkeys(names):
        found = source(name)
        if all(s.root != found.root for s in out):
            out.append(found)
    return out


def is_remote(text: str) -> bool:
    """Whether a SOURCE names another host (``gpu1:~/runs``); a local path
    that exists wins, as with scp and rsync (``./a:b``)."""
    from trackui.store.remote.spec import is_remote as remote

    return remote(text) and not os.path.exists(os.path.expanduser(text))


def configured() -> list[str]:
    """The ``sources = [...]`` of config.toml (none when absent)."""
    from trackui.store.sources.session import configured_sources

    return list(configured_sources())


def session(names: Sequence[str]) -> Source:
    """One store whose catalog reads every SOURCE in ``names`` (local stores,
    folders of other tools' runs, ``host:path``). A local one that names
    nothing is a one-line error here, before any box is asked."""
    from trackui.store.sources.session import parse_specs, session_root

    for name in names:
        if not is_remote(name):
            source(name)  # today's checks and messages for a local path
    root = session_root(parse_specs(list(names)))
    return Source(", ".join(fmt.repair(n, path=True) for n in names), root, session=True)


def tui_root(names: Sequence[str]) -> Path:
    """The store ``trackui SOURCE…`` browses: one local source as today
    (a store as it is, a folder of other tools' runs read through), else a
    session over them all."""
    names = list(dict.fromkeys(names))
    if len(names) == 1 and not is_remote(names[0]):
        return source(names[0]).root
    return session(names).root


def unreachable(stores: Sequence[tuple[Source, Any]]) -> list[Any]:
    """The sources of ``stores`` that did not answer their last refresh."""
    out = []
    for _, store in stores:
        states = getattr(store, "sources", None)
        out += [s for s in (states() if states else []) if s.state == "unreachable"]
    return out


def report_unreachable(down: Sequence[Any]) -> int:
    """A line on stderr for each box that did not answer, naming it and the
    ssh error. The exit status, as ``ls`` and ``rsync`` give one: 2 when a
    source gave nothing at all (a missing path, a host that does not resolve,
    a password asked: the runs listed are only the others'), 1 when a box is
    down but its runs were listed as last read, 0 when every source answered."""
    status = 0
    for s in down:
        runs = getattr(s, "runs", 0) or 0
        where = s.location or s.box
        error = s.error or "unreachable"
        said = error if error.startswith((where, f"{s.box}:")) else f"{where}: {error}"
        if runs:
            note = f" (its {runs} run{'' if runs == 1 else 's'} listed as last read)"
            status = max(status, 1)
        else:
            note = ""
            status = 2
        print(f"trackui: {line(said)}{note}", file=sys.stderr)
    return status


@contextmanager
def open_stores(found: Sequence[Source]) -> Iterator[list[tuple[Source, Any]]]:
    """A ``Store`` per source that exists (a missing default store has no runs)."""
    from trackui.store.queries import Store

    with ExitStack() as stack:
        opened = []
        for s in found:
            if s.exists:
                store = stack.enter_context(Store(s.root, refresh=False))
                _first_read(s, store)
                opened.append((s, store))
        yield opened


def _first_read(src: Source, store: Any) -> None:
    """Bring a store up to date; where its catalog reads other tools' runs
    through, with a spinner saying how far the read got (on a terminal)."""
    sources = store.catalog.sources
    if not sources or not sys.stderr.isatty():
        store.refresh()
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from trackui.cli_output import console

    shown = line(src.name)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        TimeElapsedColumn(),
        transient=True,
        console=console(stderr=True),
    ) as progress:
        task = progress.add_task(f"reading {shown}", total=None)
        for source in sources:
            source.on_progress = lambda p: progress.update(
                task, description=f"reading {shown}: {p.runs_done} runs"
            )
        try:
            store.refresh()
        finally:
            for source in sources:
                source.on_progress = None


# -- runs ---------------------------------------------------------------------------

#: How a reference is tried, in order; the first way that names runs decides.
_WAYS = (
    ("id", "run_id = ?"),
    ("project/name", "project || '/' || name = ?"),
    ("name", "name = ?"),
    ("id prefix", "starts_with(run_id, ?)"),
)
_SHOWN_CANDIDATES = 8


@dataclass(frozen=True)
class Found:
    """The run a reference named, and the store that holds it."""

    store: Any
    run_id: str


def resolve(stores: Sequence[tuple[Source, Any]], ref: str) -> Found:
    """The one run ``ref`` names across ``stores``; a ``UsageError`` naming
    the candidates when several match, or saying where it looked when none does."""
    text = ref.strip()
    if not text:
        raise UsageError("empty run name")
    for _, sql in _WAYS:
        hits: list[tuple[Any, str, str, str]] = []
        for _, store in stores:
            rows = (
                store.catalog.cursor()
                .execute(
                    f"SELECT run_id, project, name FROM runs WHERE {sql} "
                    "ORDER BY created DESC NULLS LAST, run_id LIMIT ?",
                    [text, _SHOWN_CANDIDATES + 1],
                )
                .fetchall()
            )
            hits.extend((store, *row) for row in rows)
        if len(hits) == 1:
            return Found(hits[0][0], hits[0][1])
        if hits:
            shown = ", ".join(
                f"{line(project)}/{line(name)} ({run_id})"
                for _, run_id, project, name in hits[:_SHOWN_CANDIDATES]
            )
            more = ", …" if len(hits) > _SHOWN_CANDIDATES else ""
            raise UsageError(
                f"run '{line(text)}' is ambiguous, it names {len(hits)}"
                f"{'+' if more else ''} runs: {shown}{more} (use an id)"
            )
    where = ", ".join(line(s.name) for s, _ in stores) or "the default store (no runs yet)"
    raise UsageError(f"no run '{line(text)}' in {where}{_near(stores, text)}")


def _near(stores: Sequence[tuple[Source, Any]], text: str) -> str:
    """Names that contain ``text``, as a hint after "no run"."""
    names: list[str] = []
    for _, store in stores:
        rows = (
            store.catalog.cursor()
            .execute(
                "SELECT DISTINCT project || '/' || name FROM runs "
                "WHERE contains(lower(name), lower(?)) ORDER BY 1 LIMIT 6",
                [text],
            )
            .fetchall()
        )
        names.extend(row[0] for row in rows)
    if not names:
        return ""
    more = ", …" if len(names) > 5 else ""
    return f"; names containing it: {', '.join(line(n) for n in names[:5])}{more}"
