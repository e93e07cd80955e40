"""The DuckDB catalog: a derived, rebuildable index of a store's run files.

Only the browsing process opens it. Ingest is incremental: per file it keeps
the inode, size and byte offset already read, and reads only what was
appended (complete lines only: a torn last line waits for its newline).
Every byte comes through the bounded opener (``opener.py``); metric lines go
to ``ingest.py``, the small files to ``run_sync.py``.

One bad run never costs the list: a refresh commits its runs in one batch,
and when that fails, retries with the failing run's metrics parsed in
Python, then run by run (``catalog_retry.py``); a run that still fails, or one with a file the
opener refuses (a FIFO, a device, a link out of the store, a file over the
cap, a document nested too deep), is listed with status ``unreadable`` and
the reason.

The catalog is a cache: a file DuckDB reports damaged (at open or at any
query) is rebuilt from the run files, once, with a one-line notice; where the
cache directory cannot be written (unwritable, full) the catalog lives in
memory, with a notice. DuckDB lets one process hold a database file; a
second ``trackui`` on the same store gets a private in-memory catalog.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
import tempfile
import threading
import time
import weakref
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

# DuckDB's client looks for pandas on every call with parameters, and a failed
# import is not remembered: where pandas is not installed that lookup was
# ~40 % of a refresh. Marking it absent makes the failure immediate, and
# changes nothing for anyone else (it cannot be imported here anyway).
if "pandas" not in sys.modules and importlib.util.find_spec("pandas") is None:
    sys.modules["pandas"] = None  # type: ignore[assignment]

from . import paths
from .catalog_db import claim, close_quietly, is_damage, lock_held, unwritable, why
from .catalog_retry import Retries
from .catalog_schema import (
    FOLDER,
    SCHEMA,
    SCHEMA_VERSION,
    TABLES,
    CatalogError,
    FileState,
    RefreshStats,
    RunState,
)
from .catalog_sources import SourceRuns
from .catalog_status import Statuses
from .catalog_sync import RunSync, problems_of
from .cold_batches import ColdBatches, collections_paused
from .fmt import repair
from .ingest import SMALL_CHUNK_BYTES, MetricIngest
from .opener import Opener
from .quiet_runs import Folders
from .run_dirs import INIT_GRACE_S, RunDir, RunDirs
from .sources import sources_of
from .sources.native import RootsOpener

__all__ = [
    "ROTATION",
    "SMALL_CHUNK_BYTES",
    "Catalog",
    "CatalogError",
    "FileState",
    "INIT_GRACE_S",
    "RefreshStats",
    "RunState",
    "open_catalog",
]

#: A live refresh checks one in this many finished runs (see ``refresh``).
ROTATION = 16
#: Metric bytes held before they are written out, within one refresh.
FLUSH_BYTES = 256 * 1024 * 1024
#: Metric bytes read into one transaction at most (the run that passes it
#: ends it; the rest of the batch goes in the next): DuckDB keeps what a
#: transaction inserted until its commit (750 long runs, 75 M points, in one
#: held 8 GB). 500 runs x 100 k points, max RSS: 2574 MB uncapped, 1810 MB
#: at 512 MiB, 1414 at 256, 1312 at 128 (the rest is DuckDB's block cache).
TXN_BYTES = 256 * 1024 * 1024
#: Runs per committed batch when a refresh has many to read (a cold
#: catalog): the first batch small so the run list fills soon, then bigger.
BATCH_RUNS = (250, 1000, 4000)
#: Called after each committed batch but the last, with (runs read, runs to read).
Progress = Callable[[int, int], None]
#: Runs whose file states load only in part (``_load_state``): finished, found
#: quiet (a ``FOLDER`` row), not written by an importer (it may append to them).
_WATCHED = (
    "SELECT run_id FROM runs WHERE finish_status IS NOT NULL AND rel_dir IS NOT NULL "
    "AND run_id IN (SELECT run_id FROM files WHERE name = ?) "
    "AND run_id NOT IN (SELECT run_id FROM files WHERE name = ?)"
)


class Catalog(SourceRuns, RunDirs, RunSync, Retries, Statuses, ColdBatches):
    """The catalog of one store. Thread-safe for reads through ``cursor()``."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        path: str | os.PathLike[str] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        private: bool = False,
        notify: Callable[[str], None] | None = None,
    ):
        # Absolute: run paths are made by joining onto it, and the opener
        # joins a relative path onto its root again ("store/store/…").
        self.root = Path(os.path.abspath(Path(root).expanduser()))
        if not self.root.is_dir():
            raise CatalogError(f"no trackui store at {repair(str(self.root), path=True)}")
        self.clock = clock
        self.path = Path(path) if path is not None else paths.catalog_path(self.root)
        self.private = private
        self.opener = RootsOpener(Opener(self.root))
        #: What is read beside the run directories: folders of other tools'
        #: runs, other trackui stores, remote boxes (``sources/session.py``).
        self.sources = sources_of(self.root, clock)
        for source in self.sources:
            if getattr(source, "native_root", None) is not None:
                self.opener.add(source.native_root)
        #: One-line notices (a rebuilt or in-memory catalog), newest last.
        self.notices: list[str] = []
        self._notify = notify
        self._lock = threading.RLock()
        self._tmp = tempfile.TemporaryDirectory(prefix="trackui-ingest-")
        self._ingest = MetricIngest(self._tmp.name)
        self._host = socket.gethostname()
        #: What was read of each run's files; None: not loaded yet (``_state``).
        self._states: dict[str, RunState] | None = None
        self._bad: dict[str, tuple[Any, ...]] = {}  # key -> its files when it failed
        self._round = 0
        self._recovered = False
        self._unclaim: weakref.finalize | None = None
        self.con = self._connect()

    # -- connection --------------------------------------------------------

    def notice(self, message: str) -> None:
        """Say something the user should know, once, on one line."""
        self.notices.append(message)
        if self._notify is not None:
            self._notify(message)
        else:
            print(f"trackui: {message}", file=sys.stderr)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        self._unclaim = claim(self) if not self.private else None
        if not self.private and self._unclaim is None:
            # This process already has the catalog open: DuckDB would hand
            # back the same database, and two ingest states over one database
            # would read the same appended bytes twice.
            self.private = True
        if self.private:
            return self._open_memory()
        shown = repair(str(self.path), path=True)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return self._open_file()
        except (duckdb.Error, OSError) as exc:
            if lock_held(exc):
                # Another trackui holds the catalog: work from a private one.
                return self._to_memory(None)
            if isinstance(exc, OSError) or unwritable(exc):
                return self._to_memory(f"cannot use the catalog cache {shown} ({why(exc)})")
            # A corrupt or foreign file: the catalog is derived, so rebuild it.
            self.notice(
                f"catalog {shown} was damaged ({why(exc)}); rebuilding it from the run files"
            )
            self._recovered = True
            try:
                self._remove_files()
                return self._open_file()
            except (duckdb.Error, OSError) as again:
                return self._to_memory(f"cannot rebuild the catalog {shown} ({why(again)})")

    def _open_file(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(str(self.path))
        try:
            self._prepare(con)
        except BaseException:
            close_quietly(con)
            raise
        return con

    def _open_memory(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(":memory:")
        self._prepare(con)
        return con

    def _to_memory(self, message: str | None) -> duckdb.DuckDBPyConnection:
        if message:
            self.notice(f"{message}; using an in-memory catalog")
        if self._unclaim is not None:
            self._unclaim()
            self._unclaim = None
        self.private = True
        self._states = None
        return self._open_memory()

    def _remove_files(self) -> None:
        for suffix in ("", ".wal"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)

    def _prepare(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute("SET preserve_insertion_order = true")
        con.execute(SCHEMA)
        version = con.execute("SELECT value FROM catalog_info WHERE key = 'schema'").fetchall()
        if not version or version[0][0] != SCHEMA_VERSION:
            for table in (*TABLES, "catalog_info"):
                con.execute(f"DROP TABLE IF EXISTS {table}")
            con.execute(SCHEMA)
            con.execute("INSERT INTO catalog_info VALUES ('schema', ?)", [SCHEMA_VERSION])
        # Which source a run came from (filled after each refresh, ``_label_runs``).
        con.execute("ALTER TABLE runs ADD COLUMN IF NOT EXISTS box VARCHAR")
        con.execute("ALTER TABLE runs ADD COLUMN IF NOT EXISTS location VARCHAR")
        self._states = None  # loaded when a refresh first needs it
        #: Statuses derived after every refresh that read, removed or may
        #: see a run change with time alone (a running one, a source's),
        #: and after the first: a refresh of finished runs found quiet skips it.
        self._statuses_due = True

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for one call; DuckDB connections are not shared across threads."""
        return self.con.cursor()

    def query(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        """Rows of one query; a damaged catalog is rebuilt (once) and asked again."""
        try:
            return self.cursor().execute(sql, params).fetchall()
        except duckdb.Error as exc:
            if not is_damage(exc) or not self._recover(exc):
                raise
        return self.cursor().execute(sql, params).fetchall()

    def _recover(self, exc: BaseException) -> bool:
        """Rebuild a catalog found damaged, once per process; False when that
        was done already (the caller raises)."""
        with self._lock:
            if self._recovered:
                return False
            self._recovered = True
            shown = repair(str(self.path), path=True)
            if self.private:
                self.notice(f"in-memory catalog failed ({why(exc)}); rebuilding it")
            else:
                self.notice(
                    f"catalog {shown} was damaged ({why(exc)}); rebuilding it from the run files"
                )
            close_quietly(self.con)
            self._bad.clear()
            for source in self.sources:
                source.forget()
            try:
                if self.private:
                    raise OSError("in memory")
                self._remove_files()
                self.con = self._open_file()
                self._refresh(full=True)
            except (duckdb.Error, OSError) as again:
                close_quietly(getattr(self, "con", None))
                self.con = self._to_memory(
                    None if self.private else f"cannot rebuild the catalog {shown} ({why(again)})"
                )
                self._refresh(full=True)
            return True

    def close(self) -> None:
        with self._lock:
            try:
                self.con.close()
            finally:
                self._tmp.cleanup()
                if self._unclaim is not None:
                    self._unclaim()
                for source in self.sources:  # a remote box's ssh
                    getattr(source, "close", lambda: None)()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def _state(self) -> dict[str, RunState]:
        """What was read of each run's files, loaded from the catalog when
        first needed rather than at open: at 100 k runs that takes seconds,
        which the first paint (a query of one page) need not wait for."""
        if self._states is None:
            with self._lock:
                if self._states is None:
                    self._states = self._load_state()
        return self._states

    def _load_state(self) -> dict[str, RunState]:
        """Every run's state; of a finished run found quiet only the files a
        refresh checks it by (``_quiet``), the rest when it is read
        (``_complete``): at 100 k runs all file states take seconds to load."""
        states: dict[str, RunState] = {}
        cur = self.cursor()
        for run_id, finished, hb, run_dir, problems, watched in cur.execute(
            f"WITH watched AS ({_WATCHED}) "
            "SELECT run_id, finish_status IS NOT NULL, heartbeat_mtime, dir, problems, "
            "run_id IN (SELECT run_id FROM watched) FROM runs "
            "WHERE rel_dir IS NOT NULL",  # the rest are read through by a source
            [FOLDER, paths.SOURCE],
        ).fetchall():
            states[run_id] = RunState(
                finished=finished,
                heartbeat_mtime=hb,
                dir=run_dir or "",
                problems=problems_of(problems),
                partial=watched,
            )
        for run_id, name, ino, size, mtime_ns, offset, lines in cur.execute(
            f"WITH watched AS ({_WATCHED}) "
            'SELECT run_id, name, ino, size, mtime_ns, "offset", lines FROM files '
            "WHERE name IN (?, ?) OR run_id NOT IN (SELECT run_id FROM watched)",
            [FOLDER, paths.SOURCE, FOLDER, paths.META],
        ).fetchall():
            if run_id in states:
                states[run_id].files[name] = FileState(ino, size, mtime_ns, offset, lines)
        return states

    def _reload_state(self) -> None:
        self._states = None

    # -- finding runs ------------------------------------------------------

    # -- refresh -----------------------------------------------------------

    def refresh(self, *, full: bool = True, progress: Progress | None = None) -> RefreshStats:
        """Read what was appended since the last refresh; derive statuses.

        Many runs to read (a cold catalog) are read and committed in batches
        (``BATCH_RUNS``), each listed with its status once committed;
        ``progress(done, total)`` is called after each but the last (the
        TUI shows the run list filling).

        A live refresh (``full=False``, what the TUI does every few seconds)
        looks at every unfinished run and at new run directories, but at only
        one in ``ROTATION`` finished runs, in turn: a finished run rarely
        changes, and stat-ing every file of 10 k runs each time costs far
        more than the budget of a refresh that finds nothing.

        A finished run found quiet before is looked at by one ``lstat`` of
        its directory and of its ``meta.json`` (see ``quiet_runs``), and
        the store root and project folders are listed again only when their
        mtime moved (``run_dirs``): a refresh that finds nothing new costs a
        stat per folder, not a stat per file, and no catalog statement."""
        with self._lock:
            try:
                return self._refresh(full=full, progress=progress)
            except duckdb.Error as exc:
                if not is_damage(exc) or not self._recover(exc):
                    raise CatalogError(f"catalog failed: {why(exc)}") from None
                return RefreshStats(len(self._state), len(self._state), 0, 0.0)

    def reindex(self) -> RefreshStats:
        """Forget everything and rebuild from the run files."""
        with self._lock:
            try:
                cur = self.cursor()
                for table in TABLES:
                    cur.execute(f"DELETE FROM {table}")
            except duckdb.Error as exc:
                if not is_damage(exc) or not self._recover(exc):
                    raise CatalogError(f"catalog failed: {why(exc)}") from None
            self._state.clear()
            self._bad.clear()
            for source in self.sources:
                source.forget()
            return self.refresh()

    def _refresh(self, *, full: bool = True, progress: Progress | None = None) -> RefreshStats:
        started = time.perf_counter()
        now = self.clock()
        self._round += 1
        turn = None if full else self._round % ROTATION
        self._prepare_sources()
        # 100 k states and run dirs: nothing to free yet (0.3 of 0.75 s of loading
        # the states of 100 k runs went to collections)
        with collections_paused():
            found = self._scan()
            seen = {r.key for r in found}
            todo, moved = self._to_read(found, turn)
        gone = [key for key in self._state if key not in seen] + moved
        if gone:
            self._transaction(lambda cur: [self._delete_run(cur, key) for key in gone])
            for key in gone:
                self._state.pop(key, None)
                self._bad.pop(key, None)
        if todo:
            self._complete([run.key for run in todo])
        changed, points = self._sync_parts(_batches(todo), now, progress) if todo else (0, 0)
        self._note_new_runs(changed)
        for source in self.sources:
            source.on_batch = progress  # a first read shows its runs batch by batch
            more, added = source.refresh(self)
            changed, points = changed + more, points + added
            seen.update(source.runs)
        # Statuses change with time alone only for unfinished runs (always in
        # ``todo``) and a source's runs.
        if todo or gone or self.sources or self._statuses_due:
            self._statuses_due = True  # until committed
            self._transaction(lambda cur: (self._label_runs(cur), self._derive_statuses(cur, now)))
            self._unlabelled = self._statuses_due = False  # committed
        return RefreshStats(len(seen), changed + len(gone), points, time.perf_counter() - started)

    def _to_read(self, found: list[RunDir], turn: int | None) -> tuple[list[RunDir], list[str]]:
        """The runs of ``found`` to read, and the keys now naming another directory."""
        todo: list[RunDir] = []
        moved: list[str] = []
        # Remote boxes' mirrors: their runs' files are appended to as on the box.
        remotes = [s.native_root for s in self.sources if getattr(s, "is_remote", False)]
        mirrors = tuple(str(root) + os.sep for root in remotes if root is not None)
        with Folders() as folders:
            for run in found:
                state = self._state.get(run.key)
                if state is not None and state.dir and state.dir != run.shown:
                    moved.append(run.key)  # the key now names another directory
                elif state is not None and state.finished:
                    if turn is not None:
                        if state.slot is None:
                            state.slot = zlib.crc32(run.key.encode()) % ROTATION
                        if state.slot != turn:
                            continue
                    if self._quiet(run, state, folders, mirrors):
                        continue  # its directory and watched files as its quiet look left them
                todo.append(run)
        return todo, moved

    def _transaction(self, work: Callable[[Any], Any]) -> Any:
        cur = self.cursor()
        cur.execute("BEGIN TRANSACTION")
        try:
            result = work(cur)
            cur.execute("COMMIT")
        except BaseException:
            try:
                cur.execute("ROLLBACK")
            except duckdb.Error:
                pass  # a failed commit may leave nothing to roll back
            raise
        return result


def _batches(runs: list[RunDir]) -> list[list[RunDir]]:
    """``runs`` cut as ``BATCH_RUNS`` says (the last size repeats)."""
    out: list[list[RunDir]] = []
    start = 0
    while start < len(runs) or not out:
        size = BATCH_RUNS[min(len(out), len(BATCH_RUNS) - 1)]
        out.append(runs[start : start + size])
        start += size
    return out


def open_catalog(root: str | os.PathLike[str] | None = None, **kwargs: Any) -> Catalog:
    """Open (or build) the catalog of a store and bring it up to date."""
    catalog = Catalog(root if root is not None else paths.default_root(), **kwargs)
    catalog.refresh()
    return catalog
