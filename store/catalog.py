"""The DuckDB catalog: a derived, rebuildable index of a store's run files.

Only the browsing process opens it. Ingest is incremental: per file it keeps
the inode, size and byte offset already read, and reads only what was
appended (complete lines only: a torn last line waits for its newline).
Big chunks of metric lines are parsed by DuckDB's JSON reader and unpivoted
in SQL, small ones (a live refresh) in Python; either way each point is
written once, and summaries (first/last/min/max/count, steps of min and max)
are merged at ingest, so listing and sorting never scan series.

DuckDB lets one process hold a database file; a second ``trackui`` on the
same store gets a private in-memory catalog built from the same files.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import socket
import sys
import tempfile
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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
from .runfiles import complete_lines, flatten, parse_lines, read_json
from .status import derive, finish_reason

SCHEMA_VERSION = "4"

SCHEMA = """
CREATE TABLE IF NOT EXISTS catalog_info(key VARCHAR, value VARCHAR);
CREATE TABLE IF NOT EXISTS runs(
    run_id VARCHAR, run_no INTEGER, project VARCHAR, name VARCHAR, grp VARCHAR, tags VARCHAR[], notes VARCHAR,
    created DOUBLE, ended DOUBLE, last_t DOUBLE, host VARCHAR, username VARCHAR, pid BIGINT,
    argv VARCHAR[], cwd VARCHAR, python VARCHAR, git_commit VARCHAR, git_branch VARCHAR,
    git_dirty BOOLEAN, git_remote VARCHAR, dir VARCHAR, heartbeat_interval DOUBLE,
    heartbeat_mtime DOUBLE, finish_status VARCHAR, finish_reason VARCHAR, exit_code BIGINT,
    signal VARCHAR, exc_type VARCHAR, exc_message VARCHAR, exc_traceback VARCHAR,
    status VARCHAR, status_reason VARCHAR, source_kind VARCHAR, source_path VARCHAR,
    source_id VARCHAR, parent_id VARCHAR, has_console BOOLEAN, has_diff BOOLEAN,
    dropped BIGINT, meta_json VARCHAR);
CREATE TABLE IF NOT EXISTS params(run_id VARCHAR, key VARCHAR, value_json VARCHAR, num DOUBLE, txt VARCHAR);
-- Points carry small integer ids of their run and key: DuckDB's min/max
-- statistics per row group then skip everything but the series asked for.
CREATE TABLE IF NOT EXISTS metrics(run_no INTEGER, key_no INTEGER, seq BIGINT, step BIGINT, t DOUBLE, value DOUBLE);
CREATE TABLE IF NOT EXISTS metric_keys(key_no INTEGER, key VARCHAR);
CREATE TABLE IF NOT EXISTS summaries(
    run_id VARCHAR, key VARCHAR, first DOUBLE, last DOUBLE, min DOUBLE, max DOUBLE, count BIGINT,
    step_min BIGINT, step_max BIGINT, last_step BIGINT, first_t DOUBLE, last_t DOUBLE, last_seq BIGINT);
CREATE TABLE IF NOT EXISTS summary_overrides(run_id VARCHAR, key VARCHAR, value_json VARCHAR, num DOUBLE);
CREATE TABLE IF NOT EXISTS artifacts(
    run_id VARCHAR, seq BIGINT, name VARCHAR, path VARCHAR, size BIGINT, sha256 VARCHAR,
    copied BOOLEAN, t DOUBLE);
CREATE TABLE IF NOT EXISTS events(run_id VARCHAR, seq BIGINT, event VARCHAR, t DOUBLE, body VARCHAR);
CREATE TABLE IF NOT EXISTS files(
    run_id VARCHAR, name VARCHAR, ino BIGINT, size BIGINT, mtime_ns BIGINT, "offset" BIGINT, lines BIGINT);
"""

TABLES = (
    "runs",
    "params",
    "metrics",
    "metric_keys",
    "summaries",
    "summary_overrides",
    "artifacts",
    "events",
    "files",
)
_TERMINAL = {"finished", "failed", "killed", "crashed"}
#: A live refresh checks one in this many finished runs (see ``refresh``).
ROTATION = 16
_WHOLE_FILES = (paths.META, paths.CONFIG, paths.SUMMARY, paths.SOURCE)
_LINE_FILES = (paths.METRICS, paths.EVENTS, paths.ARTIFACTS)
_RENAMED = re.compile(r"^(.*)_\d+$")
_BUILTIN_COLUMNS = {"_step", "_t", "ordinality"}
_FILE_COLUMNS = {
    "run_id": "VARCHAR",
    "name": "VARCHAR",
    "ino": "BIGINT",
    "size": "BIGINT",
    "mtime_ns": "BIGINT",
    "offset": "BIGINT",
    "lines": "BIGINT",
}
#: Metric chunks smaller than this are parsed in Python (see _ingest_metrics).
SMALL_CHUNK_BYTES = 64 * 1024
_BLANK_LINE = re.compile(rb"(?:^|\n)[ \t\r\f\v]*\n")
_INTEGER_TYPES = {"BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UINTEGER"}  # fit a BIGINT


class CatalogError(Exception):
    """A store or catalog problem, with a message fit for one line."""


@dataclass
class FileState:
    ino: int = 0
    size: int = 0
    mtime_ns: int = 0
    offset: int = 0
    lines: int = 0


@dataclass
class RunState:
    files: dict[str, FileState] = field(default_factory=dict)
    finished: bool = False
    heartbeat_mtime: float | None = None
    slot: int | None = None  # its turn among live refreshes, once finished


@dataclass(frozen=True)
class RefreshStats:
    runs_seen: int
    runs_changed: int
    points: int
    seconds: float


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:
            return None
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _txt(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


class Catalog:
    """The catalog of one store. Thread-safe for reads through ``cursor()``."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        path: str | os.PathLike[str] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        private: bool = False,
    ):
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise CatalogError(f"no trackui store at {self.root}")
        self.clock = clock
        self.path = Path(path) if path is not None else paths.catalog_path(self.root)
        self.private = private
        self._lock = threading.RLock()
        self._tmp = tempfile.TemporaryDirectory(prefix="trackui-ingest-")
        self.con = self._connect()
        self._host = socket.gethostname()
        self._state: dict[str, RunState] = {}
        self._round = 0
        self._load_state()

    # -- connection --------------------------------------------------------

    def _connect(self) -> duckdb.DuckDBPyConnection:
        self._unclaim = _claim(self) if not self.private else None
        if not self.private and self._unclaim is None:
            # This process already has the catalog open: DuckDB would hand
            # back the same database, and two ingest states over one database
            # would read the same appended bytes twice.
            self.private = True
        if not self.private:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                con = duckdb.connect(str(self.path))
                return self._prepare(con)
            except (duckdb.Error, OSError) as exc:
                if isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower():
                    # Another trackui holds the catalog: work from a private one.
                    self._unclaim()
                    self.private = True
                    return self._prepare(duckdb.connect(":memory:"))
                # A corrupt or foreign file (DuckDB reports "not a valid DuckDB
                # database" as an IO error): the catalog is derived, so rebuild it.
                try:
                    for suffix in ("", ".wal"):
                        Path(str(self.path) + suffix).unlink(missing_ok=True)
                    return self._prepare(duckdb.connect(str(self.path)))
                except (duckdb.Error, OSError):
                    self._unclaim()
                    raise CatalogError(f"cannot open catalog {self.path}: {exc}") from None
        return self._prepare(duckdb.connect(":memory:"))

    def _prepare(self, con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
        con.execute("SET preserve_insertion_order = true")
        con.execute(SCHEMA)
        version = con.execute("SELECT value FROM catalog_info WHERE key = 'schema'").fetchall()
        if not version or version[0][0] != SCHEMA_VERSION:
            for table in (*TABLES, "catalog_info"):
                con.execute(f"DROP TABLE IF EXISTS {table}")
            con.execute(SCHEMA)
            con.execute("INSERT INTO catalog_info VALUES ('schema', ?)", [SCHEMA_VERSION])
        return con

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for one call; DuckDB connections are not shared across threads."""
        return self.con.cursor()

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

    def _load_state(self) -> None:
        cur = self.cursor()
        for run_id, finished, hb in cur.execute(
            "SELECT run_id, finish_status IS NOT NULL, heartbeat_mtime FROM runs"
        ).fetchall():
            self._state[run_id] = RunState(finished=finished, heartbeat_mtime=hb)
        for run_id, name, ino, size, mtime_ns, offset, lines in cur.execute(
            'SELECT run_id, name, ino, size, mtime_ns, "offset", lines FROM files'
        ).fetchall():
            if run_id in self._state:
                self._state[run_id].files[name] = FileState(ino, size, mtime_ns, offset, lines)

    # -- ingest ------------------------------------------------------------

    def run_dirs(self) -> Iterable[tuple[str, str]]:
        """``(run_id, directory path)`` of every run in the store (a directory
        not seen before counts once it has its ``meta.json``)."""
        known = self._state
        try:
            projects = list(os.scandir(self.root))
        except OSError as exc:
            raise CatalogError(f"cannot read store {self.root}: {exc.strerror}") from None
        for project in projects:
            if project.name.startswith(".") or not project.is_dir():
                continue
            try:
                entries = list(os.scandir(project.path))
            except OSError:
                continue
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_dir():
                    continue
                if entry.name in known or os.path.exists(os.path.join(entry.path, paths.META)):
                    yield entry.name, entry.path

    def refresh(self, *, full: bool = True) -> RefreshStats:
        """Read what was appended since the last refresh; derive statuses.

        A live refresh (``full=False``, what the TUI does every few seconds)
        looks at every unfinished run and at new run directories, but at only
        one in ``ROTATION`` finished runs, in turn: a finished run rarely
        changes, and stat-ing every file of 10 k runs each time costs far
        more than the budget of a refresh that finds nothing."""
        with self._lock:
            return self._refresh(full=full)

    def _refresh(self, *, full: bool = True) -> RefreshStats:
        started = time.perf_counter()
        now = self.clock()
        self._round += 1
        turn = None if full else self._round % ROTATION
        cur = self.cursor()
        seen: set[str] = set()
        changed = 0
        chunks: list[tuple[str, bytes, int, Path | None]] = []
        file_rows: list[tuple[str, str, FileState | None]] = []
        cur.execute("BEGIN TRANSACTION")
        try:
            for run_id, run_dir in self.run_dirs():
                seen.add(run_id)
                state = self._state.get(run_id)
                if turn is not None and state is not None and state.finished:
                    if state.slot is None:
                        state.slot = zlib.crc32(run_id.encode()) % ROTATION
                    if state.slot != turn:
                        continue
                if self._sync_run(cur, run_id, Path(run_dir), chunks, file_rows):
                    changed += 1
            self._save_file_states(cur, file_rows)
            for gone in set(self._state) - seen:
                self._delete_run(cur, gone)
                del self._state[gone]
                changed += 1
            points = self._ingest_metrics(cur, chunks)
            self._derive_statuses(cur, now)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            self._state.clear()
            self._load_state()
            raise
        return RefreshStats(len(seen), changed, points, time.perf_counter() - started)

    def reindex(self) -> RefreshStats:
        """Forget everything and rebuild from the run files."""
        with self._lock:
            cur = self.cursor()
            for table in TABLES:
                cur.execute(f"DELETE FROM {table}")
            self._state.clear()
            return self._refresh()

    def _stat(self, path: Path) -> FileState | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return FileState(st.st_ino, st.st_size, st.st_mtime_ns)

    def _sync_run(
        self,
        cur: Any,
        run_id: str,
        run_dir: Path,
        chunks: list[tuple[str, bytes, int, Path | None]],
        file_rows: list[tuple[str, str, FileState | None]],
    ) -> bool:
        state = self._state.get(run_id)
        is_new = state is None
        if state is None:
            state = self._state[run_id] = RunState()
            meta = read_json(run_dir / paths.META) or {}
            self._insert_run(cur, run_id, run_dir, meta)
        changed = is_new
        names = _LINE_FILES + _WHOLE_FILES
        if state.finished and not is_new:
            names = (paths.METRICS, paths.EVENTS, paths.SOURCE, paths.META)
        for name in names:
            st = self._stat(run_dir / name)
            old = state.files.get(name)
            if st is None:
                if old is not None and name == paths.METRICS:
                    self._reset_metrics(cur, run_id)
                    del state.files[name]
                    file_rows.append((run_id, name, None))
                    changed = True
                continue
            if old is not None and (old.ino, old.size, old.mtime_ns) == (
                st.ino,
                st.size,
                st.mtime_ns,
            ):
                continue
            changed = True
            if name in _WHOLE_FILES:
                self._read_whole(cur, run_id, run_dir, name)
                st.offset = st.size
            else:
                if old is not None and (old.ino != st.ino or st.size < old.offset):
                    # Replaced by atomic rename (importers do): read it again.
                    self._reset_lines(cur, run_id, name)
                    old = None
                offset = old.offset if old else 0
                lines = old.lines if old else 0
                chunk, st.offset = complete_lines(run_dir / name, offset)
                st.lines = lines + chunk.count(b"\n")
                if chunk:
                    if name == paths.METRICS:
                        chunks.append(
                            (run_id, chunk, lines, run_dir / name if not offset else None)
                        )
                    elif name == paths.EVENTS:
                        self._read_events(cur, run_id, chunk, lines, state)
                    else:
                        self._read_artifacts(cur, run_id, chunk, lines)
            state.files[name] = st
            file_rows.append((run_id, name, st))
        if not state.finished or is_new:
            hb = self._stat(run_dir / paths.HEARTBEAT)
            state.heartbeat_mtime = hb.mtime_ns / 1e9 if hb else None
        return changed

    def _save_file_states(self, cur: Any, rows: list[tuple[str, str, FileState | None]]) -> None:
        """What was read of each file, in a few statements however many files
        changed (None: the file is gone)."""
        if not rows:
            return
        lines = []
        for run_id, name, st in rows:
            st = st or FileState(ino=-1)
            record = [run_id, name, st.ino, st.size, st.mtime_ns, st.offset, st.lines]
            lines.append(json.dumps(dict(zip(_FILE_COLUMNS, record))) + "\n")
        self._temp_table(cur, "file_rows", _FILE_COLUMNS, lines)
        cur.execute(
            "DELETE FROM files WHERE (run_id, name) IN (SELECT run_id, name FROM file_rows)"
        )
        cur.execute("INSERT INTO files SELECT * FROM file_rows WHERE ino >= 0")
        cur.execute("DROP TABLE file_rows")

    def _temp_table(self, cur: Any, table: str, columns: dict[str, str], lines: list[str]) -> None:
        """A temp table from JSON lines with these columns: far faster than
        list parameters, which DuckDB converts from Python one element at a time."""
        path = os.path.join(self._tmp.name, f"{table}.jsonl")
        with open(path, "w", encoding="utf-8") as fh:
            fh.writelines(lines)
        spec = ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items())
        cur.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {', '.join(map(_quote, columns))} "
            f"FROM read_json(?, format='newline_delimited', columns={{{spec}}}, "
            "maximum_object_size=67108864)",
            [path],
        )

    def _insert_run(self, cur: Any, run_id: str, run_dir: Path, meta: dict[str, Any]) -> None:
        cur.execute("DELETE FROM runs WHERE run_id = ?", [run_id])
        cur.execute(
            "INSERT INTO runs (run_id, run_no, dir, has_console, has_diff) "
            "VALUES (?, (SELECT coalesce(max(run_no), 0) + 1 FROM runs), ?, ?, ?)",
            [
                run_id,
                str(run_dir),
                (run_dir / paths.CONSOLE).exists(),
                (run_dir / paths.CODE_DIFF).exists(),
            ],
        )

    def _read_whole(self, cur: Any, run_id: str, run_dir: Path, name: str) -> None:
        doc = read_json(run_dir / name)
        if name == paths.META:
            meta = doc or {}
            git = meta.get("git") if isinstance(meta.get("git"), dict) else {}
            tags = meta.get("tags") if isinstance(meta.get("tags"), list) else []
            argv = meta.get("argv") if isinstance(meta.get("argv"), list) else []
            pid = meta.get("pid") if isinstance(meta.get("pid"), int) else None
            cur.execute(
                """UPDATE runs SET project = ?, name = ?, grp = ?, tags = ?, notes = ?,
                   created = ?, host = ?, username = ?, pid = ?, argv = ?, cwd = ?, python = ?,
                   git_commit = ?, git_branch = ?, git_dirty = ?, git_remote = ?,
                   heartbeat_interval = ?, meta_json = ?, has_console = ?, has_diff = ?
                   WHERE run_id = ?""",
                [
                    str(meta.get("project") or Path(run_dir).parent.name),
                    str(meta.get("name") or run_id),
                    meta.get("group"),
                    [str(t) for t in tags],
                    meta.get("notes"),
                    _num(meta.get("created")),
                    meta.get("host"),
                    meta.get("user"),
                    pid,
                    [str(a) for a in argv],
                    meta.get("cwd"),
                    meta.get("python"),
                    git.get("commit"),
                    git.get("branch"),
                    git.get("dirty"),
                    git.get("remote"),
                    _num(meta.get("heartbeat_interval")),
                    json.dumps(meta, default=str),
                    (run_dir / paths.CONSOLE).exists(),
                    (run_dir / paths.CODE_DIFF).exists(),
                    run_id,
                ],
            )
        elif name == paths.CONFIG:
            cur.execute("DELETE FROM params WHERE run_id = ?", [run_id])
            rows = [
                (run_id, key, json.dumps(value, default=str), _num(value), _txt(value))
                for key, value in flatten(doc or {}).items()
            ]
            if rows:
                cur.executemany("INSERT INTO params VALUES (?, ?, ?, ?, ?)", rows)
        elif name == paths.SUMMARY:
            cur.execute("DELETE FROM summary_overrides WHERE run_id = ?", [run_id])
            rows = [
                (run_id, key, json.dumps(value, default=str), _num(value))
                for key, value in flatten(doc or {}).items()
            ]
            if rows:
                cur.executemany("INSERT INTO summary_overrides VALUES (?, ?, ?, ?)", rows)
        elif name == paths.SOURCE:
            src = doc or {}
            cur.execute(
                "UPDATE runs SET source_kind = ?, source_path = ?, source_id = ?, parent_id = ? "
                "WHERE run_id = ?",
                [src.get("kind"), src.get("path"), src.get("id"), src.get("parent_id"), run_id],
            )

    def _read_events(
        self, cur: Any, run_id: str, chunk: bytes, first_line: int, state: RunState
    ) -> None:
        rows = []
        for i, event in enumerate(parse_lines(chunk)):
            rows.append(
                (
                    run_id,
                    first_line + i,
                    str(event.get("event")),
                    _num(event.get("t")),
                    json.dumps(event, default=str),
                )
            )
            if event.get("event") == "finish":
                exc = event.get("exception") if isinstance(event.get("exception"), dict) else {}
                status = str(event.get("status") or "finished")
                cur.execute(
                    """UPDATE runs SET finish_status = ?, finish_reason = ?, ended = ?,
                       exit_code = ?, signal = ?, exc_type = ?, exc_message = ?,
                       exc_traceback = ?, dropped = ? WHERE run_id = ?""",
                    [
                        status,
                        finish_reason(event),
                        _num(event.get("t")),
                        event.get("exit_code") if isinstance(event.get("exit_code"), int) else None,
                        event.get("signal"),
                        exc.get("type"),
                        exc.get("message"),
                        exc.get("traceback"),
                        event.get("dropped") if isinstance(event.get("dropped"), int) else None,
                        run_id,
                    ],
                )
                state.finished = True
        if rows:
            cur.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", rows)

    def _read_artifacts(self, cur: Any, run_id: str, chunk: bytes, first_line: int) -> None:
        rows = [
            (
                run_id,
                first_line + i,
                str(a.get("name")),
                str(a.get("path")),
                a.get("size") if isinstance(a.get("size"), int) else None,
                a.get("sha256"),
                bool(a.get("copied")),
                _num(a.get("t")),
            )
            for i, a in enumerate(parse_lines(chunk))
        ]
        if rows:
            cur.executemany("INSERT INTO artifacts VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

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

    # -- metrics -----------------------------------------------------------

    def _ingest_metrics(self, cur: Any, chunks: list[tuple[str, bytes, int, Path | None]]) -> int:
        """Insert the points of each chunk straight into ``metrics`` and
        collect one summary row per (run, key) of each chunk, then merge those
        into ``summaries``: the points are written once, never staged.

        Big chunks are parsed by DuckDB, one chunk at a time; small ones (a
        live refresh) in Python, all of them together, which saves DuckDB's
        fixed cost per chunk."""
        if not chunks:
            return 0
        cur.execute("CREATE OR REPLACE TEMP TABLE chunk_summaries AS FROM summaries LIMIT 0")
        parsed = _ParsedPoints()
        points = 0
        for run_id, chunk, first_line, whole_file in chunks:
            if len(chunk) < SMALL_CHUNK_BYTES:
                parsed.parse(run_id, chunk, first_line)
            else:
                points += self._ingest_chunk(cur, run_id, chunk, first_line, whole_file, parsed)
        points += self._insert_parsed(cur, parsed)
        self._merge_summaries(cur)
        cur.execute("DROP TABLE chunk_summaries")
        cur.execute("DROP TABLE IF EXISTS chunk")
        return points

    def _ingest_chunk(
        self,
        cur: Any,
        run_id: str,
        chunk: bytes,
        first_line: int,
        whole_file: Path | None,
        parsed: _ParsedPoints,
    ) -> int:
        """Points of one chunk of complete lines, read by DuckDB, or left to
        ``parsed`` when DuckDB's reader would get them wrong. ``whole_file``
        is the file the chunk starts at byte 0 of (DuckDB reads it in place)."""
        if _has_blank_line(chunk):
            # DuckDB's reader skips blank lines without counting them, which
            # would shift seq away from the line number the offsets count.
            parsed.parse(run_id, chunk, first_line)
            return 0
        if whole_file is not None:
            source = str(whole_file)
        else:
            source = os.path.join(self._tmp.name, "chunk.jsonl")
            with open(source, "wb") as fh:
                fh.write(chunk)
        # Lines appended after the chunk was read are left for the next refresh.
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE chunk AS SELECT * FROM read_json(?, "
            "format='newline_delimited', sample_size=-1, ignore_errors=true, "
            "maximum_object_size=67108864) WITH ORDINALITY WHERE ordinality <= ?",
            [source, chunk.count(b"\n")],
        )
        described = cur.execute("DESCRIBE chunk").fetchall()
        columns = [row[0] for row in described]
        types = {row[0]: row[1] for row in described}
        # WITH ORDINALITY adds the last column; a key called "ordinality"
        # would push it to another name, so such keys are parsed in Python.
        keys = [c for c in columns[:-1] if c not in _BUILTIN_COLUMNS]
        if (
            columns[-1] != "ordinality"
            or types.get("_step") not in _INTEGER_TYPES  # a line with a bad step
            or _renamed(keys)
            or _reserved(keys)
        ):
            parsed.parse(run_id, chunk, first_line)
            return 0
        points = 0
        if keys:
            # The inner columns start with "_", which no key on this path
            # does, so a metric called "t" or "step" cannot shadow them.
            t_expr = "TRY_CAST(_t AS DOUBLE)" if "_t" in columns else "CAST(NULL AS DOUBLE)"
            self._register_keys(cur, "SELECT unnest(?::VARCHAR[]) AS key", [keys])
            ids = dict(
                cur.execute(
                    "SELECT key, key_no FROM metric_keys WHERE key IN (SELECT unnest(?::VARCHAR[]))",
                    [keys],
                ).fetchall()
            )
            (run_no,) = cur.execute(
                "SELECT run_no FROM runs WHERE run_id = ?", [run_id]
            ).fetchall()[0]
            # One insert per key: each series lands contiguous (so a chart's
            # read skips the other row groups), with no sort and no join.
            points = 0
            for key in keys:
                value = (
                    _quote(key) if types[key] == "DOUBLE" else f"TRY_CAST({_quote(key)} AS DOUBLE)"
                )
                points += cur.execute(
                    f"""INSERT INTO metrics
                        SELECT {int(run_no)}, {int(ids[key])}, ordinality - 1 + {int(first_line)},
                               CAST(_step AS BIGINT), {t_expr}, {value}
                        FROM chunk WHERE _step IS NOT NULL AND {value} IS NOT NULL"""
                ).fetchall()[0][0]
            # The chunk's summaries, read back from the narrow rows just
            # written (contiguous, so cheap) rather than from the wide chunk.
            # Fewer aggregates than one per statistic: the last point's step,
            # time and seq come as one struct.
            cur.execute(
                f"""INSERT INTO chunk_summaries
                    SELECT ?, k.key, a.first, a.last, a.lo, a.hi, a.n, a.step_lo, a.step_hi,
                           a.l.s, a.first_t, a.l.t, a.l.q
                    FROM (
                      SELECT key_no,
                        -- values stay out of structs, which lose the sign of -0.0
                        arg_min(value, seq) AS first, arg_max(value, seq) AS last,
                        arg_min(t, seq) AS first_t,
                        arg_max({{'s': step, 't': t, 'q': seq}}, seq) AS l,
                        min(value) FILTER (WHERE NOT isnan(value)) AS lo,
                        max(value) FILTER (WHERE NOT isnan(value)) AS hi,
                        count(*) AS n,
                        arg_min(step, value) FILTER (WHERE NOT isnan(value)) AS step_lo,
                        arg_max(step, value) FILTER (WHERE NOT isnan(value)) AS step_hi
                      FROM metrics
                      WHERE run_no = {int(run_no)} AND seq >= {int(first_line)}
                      GROUP BY key_no
                    ) a JOIN metric_keys k ON k.key_no = a.key_no""",
                [run_id],
            )
        return points

    def _register_keys(self, cur: Any, keys_sql: str, params: list[Any]) -> None:
        """Give every metric key of ``keys_sql`` (one column, ``key``) an id."""
        cur.execute(
            f"""INSERT INTO metric_keys
                SELECT (SELECT coalesce(max(key_no), 0) FROM metric_keys)
                       + row_number() OVER (ORDER BY key), key
                FROM ({keys_sql}) n
                WHERE key NOT IN (SELECT key FROM metric_keys)""",
            params,
        )

    def _insert_parsed(self, cur: Any, parsed: _ParsedPoints) -> int:
        """Points parsed in Python, in three statements however many."""
        if not parsed:
            return 0
        self._temp_table(cur, "parsed_points", _ParsedPoints.COLUMNS, parsed.lines)
        self._register_keys(cur, "SELECT DISTINCT key FROM parsed_points", [])
        cur.execute(
            """INSERT INTO metrics
               SELECT r.run_no, k.key_no, p.seq, p.step, p.t, p.value
               FROM parsed_points p JOIN runs r ON r.run_id = p.run_id
                    JOIN metric_keys k ON k.key = p.key
               ORDER BY r.run_no, k.key_no, p.seq"""
        )
        aggs = ", ".join(
            f"{_summary_aggregate(stat, 'value', 'seq', 'step', 't')} AS {_quote(stat)}"
            for stat in _SUMMARY_STATS
        )
        cur.execute(
            f"INSERT INTO chunk_summaries SELECT run_id, key, {aggs} "
            "FROM parsed_points GROUP BY run_id, key"
        )
        cur.execute("DROP TABLE parsed_points")
        return len(parsed)

    def _merge_summaries(self, cur: Any) -> None:
        cur.execute(
            """CREATE OR REPLACE TEMP TABLE new_summaries AS
            SELECT a.run_id, a.key,
              CASE WHEN s.run_id IS NULL THEN a.first ELSE s.first END AS first,
              a.last,
              CASE WHEN s.min IS NULL OR (a.min IS NOT NULL AND a.min < s.min) THEN a.min ELSE s.min END,
              CASE WHEN s.max IS NULL OR (a.max IS NOT NULL AND a.max > s.max) THEN a.max ELSE s.max END,
              a.count + coalesce(s.count, 0),
              CASE WHEN s.min IS NULL OR (a.min IS NOT NULL AND a.min < s.min) THEN a.step_min ELSE s.step_min END,
              CASE WHEN s.max IS NULL OR (a.max IS NOT NULL AND a.max > s.max) THEN a.step_max ELSE s.step_max END,
              a.last_step,
              CASE WHEN s.run_id IS NULL THEN a.first_t ELSE s.first_t END,
              a.last_t, a.last_seq
            FROM chunk_summaries a LEFT JOIN summaries s ON s.run_id = a.run_id AND s.key = a.key"""
        )
        cur.execute(
            "DELETE FROM summaries WHERE (run_id, key) IN (SELECT run_id, key FROM new_summaries)"
        )
        cur.execute("INSERT INTO summaries SELECT * FROM new_summaries")
        cur.execute(
            """UPDATE runs SET last_t = m.t FROM (
                 SELECT run_id, max(last_t) AS t FROM new_summaries GROUP BY run_id
               ) m WHERE runs.run_id = m.run_id"""
        )
        cur.execute("DROP TABLE new_summaries")

    # -- status ------------------------------------------------------------

    def _derive_statuses(self, cur: Any, now: float) -> None:
        rows = cur.execute(
            """SELECT run_id, finish_status, finish_reason, heartbeat_interval, host, pid,
                      status, status_reason, heartbeat_mtime
               FROM runs WHERE finish_status IS NULL OR status IS NULL
                  OR status IS DISTINCT FROM finish_status"""
        ).fetchall()
        for run_id, fstatus, freason, interval, host, pid, old, old_reason, old_hb in rows:
            hb = self._state[run_id].heartbeat_mtime if run_id in self._state else None
            status, reason = derive(
                finish_status=fstatus,
                finish_reason=freason,
                heartbeat_mtime=hb,
                heartbeat_interval=interval,
                host=host,
                pid=pid,
                now=now,
                this_host=self._host,
            )
            if (status, reason, hb) != (old, old_reason, old_hb):
                cur.execute(
                    "UPDATE runs SET status = ?, status_reason = ?, heartbeat_mtime = ? "
                    "WHERE run_id = ?",
                    [status, reason, hb, run_id],
                )


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


_SUMMARY_STATS = (
    "first",
    "last",
    "min",
    "max",
    "count",
    "step_min",
    "step_max",
    "last_step",
    "first_t",
    "last_t",
    "last_seq",
)  # the columns of ``summaries`` after run_id and key, in order


def _summary_aggregate(stat: str, value: str, seq: str, step: str, t: str) -> str:
    """SQL for one statistic of one key's points, NaN-aware: first/last and
    count include NaN, min/max and their steps ignore it."""
    present = f"FILTER (WHERE {value} IS NOT NULL)"
    number = f"FILTER (WHERE NOT isnan({value}))"
    return {
        "first": f"arg_min({value}, {seq}) {present}",
        "last": f"arg_max({value}, {seq}) {present}",
        "min": f"min({value}) {number}",
        "max": f"max({value}) {number}",
        "count": f"count({value})",
        "step_min": f"arg_min({step}, {value}) {number}",
        "step_max": f"arg_max({step}, {value}) {number}",
        "last_step": f"arg_max({step}, {seq}) {present}",
        "first_t": f"arg_min({t}, {seq}) {present}",
        "last_t": f"arg_max({t}, {seq}) {present}",
        "last_seq": f"max({seq}) {present}",
    }[stat]


class _ParsedPoints:
    """Points parsed in Python, kept as long-format JSON lines for DuckDB to
    load with fixed column types (a list parameter would cost a slow Python
    conversion per element). This path is exact where DuckDB's reader of the
    run files is not: case-insensitive twin keys (which it renames), blank
    lines (which it does not count), steps that are not integers."""

    COLUMNS = {
        "run_id": "VARCHAR",
        "key": "VARCHAR",
        "seq": "BIGINT",
        "step": "BIGINT",
        "t": "DOUBLE",
        "value": "DOUBLE",
    }

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._keys: dict[str, str] = {}  # key -> its JSON

    def parse(self, run_id: str, chunk: bytes, first_line: int) -> None:
        out = self.lines
        keys = self._keys
        run = json.dumps(run_id)
        for i, raw in enumerate(chunk.split(b"\n")):
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(obj, dict) or not _is_step(obj.get("_step")):
                continue
            t = _num(obj.get("_t"))
            head = f'{{"run_id":{run},"seq":{first_line + i},"step":{obj["_step"]},"t":{_json_number(t)},'
            for key, value in obj.items():
                if key in ("_step", "_t"):
                    continue
                num = _num(value) if not isinstance(value, bool) else float(value)
                if num is not None:
                    name = keys.get(key)
                    if name is None:
                        name = keys[key] = json.dumps(key)
                    out.append(f'{head}"key":{name},"value":{_json_number(num)}}}\n')

    def __len__(self) -> int:
        return len(self.lines)


def _json_number(value: float | None) -> str:
    """A float as JSON, non-finite values as the JSON reader expects them."""
    if value is None:
        return "null"
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def _has_blank_line(chunk: bytes) -> bool:
    """Whether a chunk of complete lines has a whitespace-only line."""
    # Lines the shim writes start with "{"; counting those runs at memory
    # speed, so the slower regex only looks at chunks with other lines.
    if (chunk[:1] == b"{") + chunk.count(b"\n{") == chunk.count(b"\n"):
        return False
    return _BLANK_LINE.search(chunk) is not None


def _is_step(value: Any) -> bool:
    return type(value) is int and -(2**63) <= value < 2**63


def _reserved(keys: list[str]) -> bool:
    """True when a key could be taken for a column of the fast path's own
    query (foreign files may have keys starting with "_")."""
    return any(k.startswith("_") or k.casefold() == "ordinality" for k in keys)


def _renamed(keys: list[str]) -> bool:
    """True when DuckDB's JSON reader renamed a key (case-insensitive twins,
    empty names): then the chunk is parsed in Python, exactly."""
    folded = {k.casefold() for k in keys}
    for key in keys:
        match = _RENAMED.match(key)
        if match and match.group(1).casefold() in folded:
            return True
        if re.fullmatch(r"C\d+", key):
            return True
    return len(folded) != len(keys)


def open_catalog(root: str | os.PathLike[str] | None = None, **kwargs: Any) -> Catalog:
    """Open (or build) the catalog of a store and bring it up to date."""
    catalog = Catalog(root if root is not None else paths.default_root(), **kwargs)
    catalog.refresh()
    return catalog
