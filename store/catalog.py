"""The DuckDB catalog: a derived, rebuildable index of a store's run files.

Only the browsing process opens it. Ingest is incremental: per file it keeps
the inode, size and byte offset already read, and reads only what was
appended (complete lines only: a torn last line waits for its newline).
Every byte comes through the bounded opener (``opener.py``); metric lines go
to ``ingest.py``, the small files to ``run_sync.py``.

One bad run never costs the list: a refresh commits its runs in one batch,
and when that fails, retries with the failing run's metrics parsed in
Python, then run by run; a run that still fails, or one with a file the
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
import json
import os
import socket
import sys
import tempfile
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

# DuckDB's client looks for pandas on every call with parameters, and a failed
# import is not remembered: where pandas is not installed that lookup was
# ~40 % of a refresh. Marking it absent makes the failure immediate, and
# changes nothing for anyone else (it cannot be imported here anyway).
if "pandas" not in sys.modules and importlib.util.find_spec("pandas") is None:
    sys.modules["pandas"] = None  # type: ignore[assignment]

from . import bounded_json, paths, run_sync
from .catalog_schema import (
    FILE_COLUMNS,
    SCHEMA,
    SCHEMA_VERSION,
    TABLES,
    CatalogError,
    FileState,
    RefreshStats,
    RunState,
)
from .fmt import repair
from .ingest import SMALL_CHUNK_BYTES, Chunk, MetricIngest, temp_table
from .opener import Opener, UnsafeFile
from .status import derive

__all__ = [
    "ROTATION",
    "SMALL_CHUNK_BYTES",
    "Catalog",
    "CatalogError",
    "FileState",
    "RefreshStats",
    "RunState",
    "open_catalog",
]

#: A live refresh checks one in this many finished runs (see ``refresh``).
ROTATION = 16
#: A run directory without meta.json younger than this may be one being made.
INIT_GRACE_S = 60.0
#: Metric bytes held before they are written out, within one refresh.
FLUSH_BYTES = 256 * 1024 * 1024
_WHOLE_FILES = (paths.META, paths.CONFIG, paths.SUMMARY, paths.SOURCE)
_LINE_FILES = (paths.METRICS, paths.EVENTS, paths.ARTIFACTS)
_SHOWN_FILES = (paths.CONSOLE, paths.CODE_DIFF)
_MISSING_META = "missing: the run died while starting, or this is not a run"
_DAMAGE_WORDS = (
    "checksum",
    "corrupt",
    "invalidated",
    "not a valid duckdb",
    "serializ",
    "failed to read",
    "no space",
    "could not write",
    "read-only",
    "permission denied",
    "fatal",
)


@dataclass(frozen=True)
class RunDir:
    """A run directory found in the store, under the key the catalog gives it."""

    key: str
    path: str  # as the file system spells it
    rel: str  # relative to the store root
    shown: str  # the path as valid UTF-8
    has_meta: bool


def is_damage(exc: BaseException) -> bool:
    """Whether a DuckDB error means the catalog file (or its disk) is bad,
    rather than the query or the data it was given."""
    if not isinstance(exc, duckdb.Error):
        return False
    text = str(exc).lower()
    if _lock_held(exc):
        return False
    if isinstance(
        exc,
        (
            duckdb.InternalException,
            duckdb.FatalException,
            duckdb.SerializationException,
            duckdb.IOException,
        ),
    ):
        return True
    return any(word in text for word in _DAMAGE_WORDS)


class Catalog:
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
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise CatalogError(f"no trackui store at {repair(str(self.root), path=True)}")
        self.clock = clock
        self.path = Path(path) if path is not None else paths.catalog_path(self.root)
        self.private = private
        self.opener = Opener(self.root)
        #: One-line notices (a rebuilt or in-memory catalog), newest last.
        self.notices: list[str] = []
        self._notify = notify
        self._lock = threading.RLock()
        self._tmp = tempfile.TemporaryDirectory(prefix="trackui-ingest-")
        self._ingest = MetricIngest(self._tmp.name)
        self._host = socket.gethostname()
        self._state: dict[str, RunState] = {}
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
        self._unclaim = _claim(self) if not self.private else None
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
            if _lock_held(exc):
                # Another trackui holds the catalog: work from a private one.
                return self._to_memory(None)
            if isinstance(exc, OSError) or _unwritable(exc):
                return self._to_memory(f"cannot use the catalog cache {shown} ({_why(exc)})")
            # A corrupt or foreign file: the catalog is derived, so rebuild it.
            self.notice(
                f"catalog {shown} was damaged ({_why(exc)}); rebuilding it from the run files"
            )
            self._recovered = True
            try:
                self._remove_files()
                return self._open_file()
            except (duckdb.Error, OSError) as again:
                return self._to_memory(f"cannot rebuild the catalog {shown} ({_why(again)})")

    def _open_file(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(str(self.path))
        try:
            self._prepare(con)
        except BaseException:
            _close_quietly(con)
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
        self._state.clear()
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
        self._state.clear()
        self._load_state(con)

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
                self.notice(f"in-memory catalog failed ({_why(exc)}); rebuilding it")
            else:
                self.notice(
                    f"catalog {shown} was damaged ({_why(exc)}); rebuilding it from the run files"
                )
            _close_quietly(self.con)
            self._bad.clear()
            try:
                if self.private:
                    raise OSError("in memory")
                self._remove_files()
                self.con = self._open_file()
                self._refresh(full=True)
            except (duckdb.Error, OSError) as again:
                _close_quietly(getattr(self, "con", None))
                self.con = self._to_memory(
                    None if self.private else f"cannot rebuild the catalog {shown} ({_why(again)})"
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

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _load_state(self, con: Any = None) -> None:
        cur = (con or self.con).cursor()
        for run_id, finished, hb, run_dir, problems in cur.execute(
            "SELECT run_id, finish_status IS NOT NULL, heartbeat_mtime, dir, problems FROM runs"
        ).fetchall():
            self._state[run_id] = RunState(
                finished=finished,
                heartbeat_mtime=hb,
                dir=run_dir or "",
                problems=_problems(problems),
            )
        for run_id, name, ino, size, mtime_ns, offset, lines in cur.execute(
            'SELECT run_id, name, ino, size, mtime_ns, "offset", lines FROM files'
        ).fetchall():
            if run_id in self._state:
                self._state[run_id].files[name] = FileState(ino, size, mtime_ns, offset, lines)

    def _reload_state(self) -> None:
        self._state.clear()
        self._load_state()

    # -- finding runs ------------------------------------------------------

    def run_dirs(self) -> Iterable[tuple[str, str]]:
        """``(key, directory path)`` of every run in the store."""
        return [(r.key, r.path) for r in self._scan()]

    def _scan(self) -> list[RunDir]:
        """Every run directory, keyed (see ``catalog_schema``). A directory
        not seen before counts once it has its ``meta.json``, or once it is
        ``INIT_GRACE_S`` old without one (then it is listed ``unreadable``)."""
        known = self._state
        by_dir = {state.dir: key for key, state in known.items()}
        try:
            projects = list(os.scandir(self.root))
        except OSError as exc:
            raise CatalogError(
                f"cannot read store {repair(str(self.root), path=True)}: {exc.strerror}"
            ) from None
        found: list[tuple[str, str, str, bool]] = []
        names: dict[str, int] = {}
        old = self.clock() - INIT_GRACE_S
        for project in projects:
            if project.name.startswith(".") or not _is_dir(project):
                continue
            try:
                entries = list(os.scandir(project.path))
            except OSError:
                continue
            for entry in entries:
                if entry.name.startswith(".") or not _is_dir(entry):
                    continue
                shown = repair(entry.path, path=True)
                if shown in by_dir:
                    has_meta = True  # checked when it is read
                elif os.path.lexists(os.path.join(entry.path, paths.META)):
                    has_meta = True
                else:
                    has_meta = False
                    try:
                        if entry.stat(follow_symlinks=False).st_mtime > old:
                            continue  # maybe being made right now
                    except OSError:
                        continue
                found.append((project.name, entry.name, entry.path, has_meta))
                names[entry.name] = names.get(entry.name, 0) + 1
        runs = []
        for project_name, name, path, has_meta in found:
            shown = repair(path, path=True)
            key = repair(name, path=True)
            if names[name] > 1 and not self._owns_name(key, shown, project_name, name, found):
                key = repair(f"{project_name}/{name}", path=True)
            rel = repair(f"{project_name}/{name}", path=True)
            runs.append(RunDir(key, path, rel, shown, has_meta))
        return runs

    def _owns_name(
        self,
        key: str,
        shown: str,
        project_name: str,
        name: str,
        found: list[tuple[str, str, str, bool]],
    ) -> bool:
        """Of several directories called ``name``, the one keyed by the bare
        name: the one already keyed so, else the one in the project its
        meta.json names (the original of a copy), else the first by project."""
        state = self._state.get(key)
        twins = sorted(f for f in found if f[1] == name)
        paths_ = {repair(f[2], path=True) for f in twins}
        if state is not None and state.dir in paths_:
            return state.dir == shown
        homes = [f for f in twins if self._home(f[0], f[2])]
        pick = homes[0] if homes else twins[0]
        return pick[0] == project_name

    def _home(self, project_name: str, path: str) -> bool:
        try:
            data, _ = self.opener.read(os.path.join(path, paths.META), limit=1 << 20)
            meta = bounded_json.loads_object(data)
        except (OSError, UnsafeFile, ValueError):
            return False
        project = meta.get("project")
        return isinstance(project, str) and paths.safe_segment(project) == project_name

    # -- refresh -----------------------------------------------------------

    def refresh(self, *, full: bool = True) -> RefreshStats:
        """Read what was appended since the last refresh; derive statuses.

        A live refresh (``full=False``, what the TUI does every few seconds)
        looks at every unfinished run and at new run directories, but at only
        one in ``ROTATION`` finished runs, in turn: a finished run rarely
        changes, and stat-ing every file of 10 k runs each time costs far
        more than the budget of a refresh that finds nothing."""
        with self._lock:
            try:
                return self._refresh(full=full)
            except duckdb.Error as exc:
                if not is_damage(exc) or not self._recover(exc):
                    raise CatalogError(f"catalog failed: {_why(exc)}") from None
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
                    raise CatalogError(f"catalog failed: {_why(exc)}") from None
            self._state.clear()
            self._bad.clear()
            return self.refresh()

    def _refresh(self, *, full: bool = True) -> RefreshStats:
        started = time.perf_counter()
        now = self.clock()
        self._round += 1
        turn = None if full else self._round % ROTATION
        found = self._scan()
        seen = {r.key for r in found}
        todo: list[RunDir] = []
        moved: list[str] = []
        for run in found:
            state = self._state.get(run.key)
            if state is not None and state.dir and state.dir != run.shown:
                moved.append(run.key)  # the key now names another directory
            elif turn is not None and state is not None and state.finished:
                if state.slot is None:
                    state.slot = zlib.crc32(run.key.encode()) % ROTATION
                if state.slot != turn:
                    continue
            todo.append(run)
        gone = [key for key in self._state if key not in seen] + moved
        if gone:
            self._transaction(lambda cur: [self._delete_run(cur, key) for key in gone])
            for key in gone:
                self._state.pop(key, None)
                self._bad.pop(key, None)
        changed, points = self._sync_isolated(todo)
        self._transaction(lambda cur: self._derive_statuses(cur, now))
        return RefreshStats(len(seen), changed + len(gone), points, time.perf_counter() - started)

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

    def _sync_isolated(self, runs: list[RunDir]) -> tuple[int, int]:
        """Sync runs in one batch; when that fails, again with the failing
        run's metrics parsed in Python, then run by run (see the docstring)."""
        python_only: set[str] = set()
        while True:
            try:
                return self._transaction(lambda cur: self._sync_batch(cur, runs, python_only))
            except Exception as exc:
                self._reload_state()
                if is_damage(exc):
                    raise
                failed = self._ingest.current
                self._ingest.current = None
                if failed is None or failed in python_only or len(runs) == 1:
                    break
                python_only.add(failed)
        changed = points = 0
        for run in runs:
            for only in (python_only, python_only | {run.key}):
                try:
                    c, p = self._transaction(lambda cur: self._sync_batch(cur, [run], only))  # noqa: B023
                except Exception as exc:
                    self._reload_state()
                    self._ingest.current = None
                    if is_damage(exc):
                        raise
                    error: Exception | None = exc
                    continue
                changed, points, error = changed + c, points + p, None
                break
            if error is not None:
                self._mark_unreadable(run, error)
                changed += 1
        return changed, points

    def _sync_batch(self, cur: Any, runs: list[RunDir], python_only: set[str]) -> tuple[int, int]:
        batch = _Batch(python_only)
        changed = 0
        for run in runs:
            if self._sync_run(cur, run, batch):
                changed += 1
            if batch.pending > FLUSH_BYTES:
                self._flush(cur, batch)
        self._save_file_states(cur, batch.file_rows)
        self._flush(cur, batch)
        return changed, batch.points

    def _flush(self, cur: Any, batch: _Batch) -> None:
        batch.points += self._ingest.ingest(
            cur, batch.chunks, small_bytes=SMALL_CHUNK_BYTES, python_only=batch.python_only
        )
        batch.chunks, batch.pending = [], 0
        for key, notes in self._ingest.notes.items():
            if key in self._state:
                cur.execute(
                    "UPDATE runs SET read_notes = ? WHERE run_id = ?",
                    ["; ".join(sorted(notes))] + [key],
                )
        self._ingest.notes.clear()

    def _mark_unreadable(self, run: RunDir, exc: BaseException) -> None:
        """List a run no retry could read, with why; tried again once its files change."""
        reason = f"{type(exc).__name__}: {repair(str(exc))}".splitlines()[0][:300]
        self._bad[run.key] = self._signature(run)

        def work(cur: Any) -> None:
            self._delete_run(cur, run.key)
            self._insert_run(cur, run)
            cur.execute(
                "UPDATE runs SET problems = ? WHERE run_id = ?",
                [json.dumps({"run": reason}), run.key],
            )

        self._transaction(work)
        self._state[run.key] = RunState(dir=run.shown, problems={"run": reason})

    def _signature(self, run: RunDir) -> tuple[Any, ...]:
        out = []
        for name in (*_LINE_FILES, *_WHOLE_FILES):
            try:
                out.append(self.opener.stat(os.path.join(run.path, name)))
            except (UnsafeFile, OSError) as exc:
                out.append(str(exc))
        return tuple(out)

    def _sync_run(self, cur: Any, run: RunDir, batch: _Batch) -> bool:
        key = run.key
        if key in self._bad:
            if self._signature(run) == self._bad[key]:
                return False
            del self._bad[key]
            self._delete_run(cur, key)
            self._state.pop(key, None)
        state = self._state.get(key)
        is_new = state is None
        if state is None:
            state = self._state[key] = RunState(dir=run.shown)
            self._insert_run(cur, run)
        problems_before = dict(state.problems)
        if not run.has_meta:
            state.problems[paths.META] = _MISSING_META
        changed = is_new
        names = _LINE_FILES + _WHOLE_FILES
        if state.finished and not is_new:
            names = (paths.METRICS, paths.EVENTS, paths.SOURCE, paths.META)
        for name in names:
            rel = os.path.join(run.path, name)
            try:
                st = self.opener.stat(rel)
            except UnsafeFile as exc:
                state.problems[name] = exc.reason
                continue
            old = state.files.get(name)
            if st is None:
                state.problems.pop(name, None)
                if name == paths.META and run.has_meta is False:
                    state.problems[name] = _MISSING_META
                if old is not None and name == paths.METRICS:
                    self._reset_metrics(cur, key)
                    del state.files[name]
                    batch.file_rows.append((key, name, None))
                    changed = True
                continue
            if old is not None and (old.ino, old.size, old.mtime_ns) == (
                st.ino,
                st.size,
                st.mtime_ns,
            ):
                continue
            changed = True
            fresh = FileState(st.ino, st.size, st.mtime_ns)
            if name in _WHOLE_FILES:
                fresh.offset = st.size
                self._read_whole(cur, run, name, state)
            else:
                if old is not None and (old.ino != st.ino or st.size < old.offset):
                    # Replaced by atomic rename (importers do): read it again.
                    self._reset_lines(cur, key, name)
                    old = None
                fresh.offset = old.offset if old else 0
                fresh.lines = old.lines if old else 0
                self._read_lines(cur, run, name, fresh, state, batch)
            state.files[name] = fresh
            batch.file_rows.append((key, name, fresh))
        if is_new or not state.finished:
            shown = []
            for name in _SHOWN_FILES:
                try:
                    shown.append(self.opener.stat(os.path.join(run.path, name)) is not None)
                    state.problems.pop(name, None)
                except UnsafeFile as exc:
                    shown.append(False)
                    state.problems[name] = exc.reason
            if shown != state.shown:
                cur.execute(
                    "UPDATE runs SET has_console = ?, has_diff = ? WHERE run_id = ?",
                    [*shown, key],
                )
                state.shown = shown
            state.heartbeat_mtime = self._heartbeat(run)
        if state.problems != problems_before:
            cur.execute(
                "UPDATE runs SET problems = ? WHERE run_id = ?",
                [json.dumps(state.problems) if state.problems else None, key],
            )
            changed = True
        return changed

    def _heartbeat(self, run: RunDir) -> float | None:
        # Only its mtime is used, so a lstat is enough (it is never read).
        try:
            return os.lstat(os.path.join(run.path, paths.HEARTBEAT)).st_mtime_ns / 1e9
        except OSError:
            return None

    def _read_whole(self, cur: Any, run: RunDir, name: str, state: RunState) -> None:
        try:
            data, _ = self.opener.read(os.path.join(run.path, name))
            doc = bounded_json.loads_object(data)
        except FileNotFoundError:
            return
        except UnsafeFile as exc:
            state.problems[name] = exc.reason
            return
        except (OSError, ValueError) as exc:
            state.problems[name] = f"not readable as JSON ({repair(str(exc))[:200]})"
            return
        state.problems.pop(name, None)
        run_sync.write_document(cur, run.key, run.shown, name, doc)

    def _read_lines(
        self,
        cur: Any,
        run: RunDir,
        name: str,
        st: FileState,
        state: RunState,
        batch: _Batch,
    ) -> None:
        rel = os.path.join(run.path, name)
        while True:
            try:
                got = self.opener.read_lines(rel, st.offset)
            except FileNotFoundError:
                return
            except UnsafeFile as exc:
                state.problems[name] = exc.reason
                return
            if not got.data:
                return
            state.problems.pop(name, None)
            first, st.offset = st.lines, got.end
            st.lines += got.data.count(b"\n")
            if name == paths.METRICS:
                batch.chunks.append((run.key, got.data, first))
                batch.pending += len(got.data)
            elif name == paths.EVENTS:
                if run_sync.write_events(cur, run.key, got.data, first):
                    state.finished = True
            else:
                run_sync.write_artifacts(cur, run.key, got.data, first)

    def _save_file_states(self, cur: Any, rows: list[tuple[str, str, FileState | None]]) -> None:
        """What was read of each file, in a few statements however many files
        changed (None: the file is gone)."""
        if not rows:
            return
        lines = []
        for run_id, name, st in rows:
            st = st or FileState(ino=-1)
            record = [run_id, name, st.ino, st.size, st.mtime_ns, st.offset, st.lines]
            lines.append(json.dumps(dict(zip(FILE_COLUMNS, record))) + "\n")
        temp_table(cur, self._tmp.name, "file_rows", FILE_COLUMNS, lines)
        cur.execute(
            "DELETE FROM files WHERE (run_id, name) IN (SELECT run_id, name FROM file_rows)"
        )
        cur.execute("INSERT INTO files SELECT * FROM file_rows WHERE ino >= 0")
        cur.execute("DROP TABLE file_rows")

    def _insert_run(self, cur: Any, run: RunDir) -> None:
        cur.execute("DELETE FROM runs WHERE run_id = ?", [run.key])
        cur.execute(
            "INSERT INTO runs (run_id, run_no, dir, rel_dir, project, name, has_console, has_diff) "
            "VALUES (?, (SELECT coalesce(max(run_no), 0) + 1 FROM runs), ?, ?, ?, ?, ?, ?)",
            [
                run.key,
                run.shown,
                run.rel,
                run.rel.rsplit("/", 1)[0],
                run.rel.rsplit("/", 1)[-1],
                self.opener.exists(os.path.join(run.path, paths.CONSOLE)),
                self.opener.exists(os.path.join(run.path, paths.CODE_DIFF)),
            ],
        )

    def _reset_lines(self, cur: Any, run_id: str, name: str) -> None:
        if name == paths.METRICS:
            self._reset_metrics(cur, run_id)
        elif name == paths.EVENTS:
            cur.execute("DELETE FROM events WHERE run_id = ?", [run_id])
            cur.execute(
                "UPDATE runs SET finish_status = NULL, finish_reason = NULL, ended = NULL "
                "WHERE run_id = ?",
                [run_id],
            )
            self._state[run_id].finished = False
        else:
            cur.execute("DELETE FROM artifacts WHERE run_id = ?", [run_id])

    def _reset_metrics(self, cur: Any, run_id: str) -> None:
        cur.execute(
            "DELETE FROM metrics WHERE run_no = (SELECT run_no FROM runs WHERE run_id = ?)",
            [run_id],
        )
        cur.execute("DELETE FROM summaries WHERE run_id = ?", [run_id])

    def _delete_run(self, cur: Any, run_id: str) -> None:
        self._reset_metrics(cur, run_id)
        for table in TABLES:
            if table not in ("metrics", "metric_keys"):
                cur.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])

    # -- status ------------------------------------------------------------

    def _derive_statuses(self, cur: Any, now: float) -> None:
        rows = cur.execute(
            """SELECT run_id, finish_status, finish_reason, heartbeat_interval, host, pid,
                      status, status_reason, heartbeat_mtime, problems
               FROM runs WHERE finish_status IS NULL OR status IS NULL
                  OR status IS DISTINCT FROM finish_status"""
        ).fetchall()
        for run_id, fstatus, freason, interval, host, pid, old, old_reason, old_hb, bad in rows:
            hb = self._state[run_id].heartbeat_mtime if run_id in self._state else None
            problems = _problems(bad)
            status, reason = derive(
                finish_status=fstatus,
                finish_reason=freason,
                heartbeat_mtime=hb,
                heartbeat_interval=interval,
                host=host,
                pid=pid,
                now=now,
                this_host=self._host,
                unreadable="; ".join(f"{k}: {v}" for k, v in problems.items()) or None,
            )
            if (status, reason, hb) != (old, old_reason, old_hb):
                cur.execute(
                    "UPDATE runs SET status = ?, status_reason = ?, heartbeat_mtime = ? "
                    "WHERE run_id = ?",
                    [status, reason, hb, run_id],
                )


class _Batch:
    """What one batch of runs read, before it is written out."""

    def __init__(self, python_only: set[str]):
        self.python_only = python_only
        self.chunks: list[Chunk] = []
        self.pending = 0
        self.points = 0
        self.file_rows: list[tuple[str, str, FileState | None]] = []


def _problems(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    try:
        doc = json.loads(text)
    except ValueError:
        return {"run": text}
    return {str(k): str(v) for k, v in doc.items()} if isinstance(doc, dict) else {}


def _is_dir(entry: os.DirEntry[str]) -> bool:
    # A symlinked directory is not followed: it could lead out of the store.
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _lock_held(exc: BaseException) -> bool:
    """Another process holds the catalog file (not damage: a "block" error is not a lock)."""
    text = str(exc).lower()
    return isinstance(exc, duckdb.IOException) and (
        "set lock" in text or "conflicting lock" in text
    )


def _unwritable(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(w in text for w in ("permission denied", "read-only", "no space", "not a directory"))


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = repair(str(exc)).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def _close_quietly(con: Any) -> None:
    if con is None:
        return
    try:
        con.close()
    except Exception:
        pass


#: Catalog files this process has open (by real path).
_open_here: set[str] = set()
_open_lock = threading.Lock()


def _claim(catalog: Catalog) -> weakref.finalize | None:
    """Mark ``catalog.path`` as open in this process and return what releases
    it (once: on close, or when the catalog is dropped without close); None
    when this process already has it open."""
    key = os.path.realpath(catalog.path)
    with _open_lock:
        if key in _open_here:
            return None
        _open_here.add(key)
    return weakref.finalize(catalog, _release, key)


def _release(key: str) -> None:
    with _open_lock:
        _open_here.discard(key)


def open_catalog(root: str | os.PathLike[str] | None = None, **kwargs: Any) -> Catalog:
    """Open (or build) the catalog of a store and bring it up to date."""
    catalog = Catalog(root if root is not None else paths.default_root(), **kwargs)
    catalog.refresh()
    return catalog
