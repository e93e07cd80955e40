"""The MLflow SQLite store (``mlflow.db``): schema check and runs.

The rules are in the ``mlflow`` module's docstring; the database is opened
read-only, or a private copy is read (``_sqlite.connect``).
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from . import _mlflow_columns, _read, _sqlite
from ._mlflow_run import Options, as_int, list_artifacts, make_run, status_name
from ._pointcols import Points
from .base import ForeignRun, Point

_DBL_MAX = 1.7976931348623157e308
#: Rows the row reader fetches at a time: a damaged page costs only the rows after it.
_FETCH = 1 << 16
#: Threads that read a database's runs ahead of the caller, a connection each.
_WORKERS = 2


def is_mlflow_db(path: Path, report: list[str] | None, *, suspicious: bool = False) -> bool:
    """Schema check. Unreadable files named like a store (or named by the user) are reported."""
    suspicious = suspicious or path.name == "mlflow.db"
    try:
        with _read.open_regular(path) as fh:  # never a FIFO or a device
            head = fh.read(100)
    except OSError as exc:
        if report is not None and suspicious:
            report.append(f"{path}: cannot read ({exc.strerror or exc})")
        return False
    if not head.startswith(_sqlite.MAGIC):
        if report is not None and suspicious:
            report.append(f"{path}: not a SQLite database")
        return False
    try:
        # immutable=1: no locks, no -shm, nothing written; good enough for a schema check
        conn = sqlite3.connect(_sqlite.ro_uri(path, immutable=True), uri=True)
        try:
            tables = {
                name
                for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            if not {"runs", "metrics", "experiments"} <= tables:
                if report is not None and suspicious:
                    report.append(
                        f"{path}: not an MLflow store (no runs/metrics/experiments tables)"
                    )
                return False
            cols = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
            if "run_uuid" in cols:
                return True
            if report is not None and suspicious:
                report.append(f"{path}: not an MLflow store (no run_uuid in its runs table)")
            return False
        finally:
            conn.close()
    except sqlite3.Error as exc:
        if report is not None and suspicious:
            report.append(f"{path}: unreadable SQLite database ({exc})")
        return False


def fingerprint(conn: sqlite3.Connection) -> str:
    """A digest of what a run shows besides its metrics: every ``runs`` row
    (status, end time, name...), the ``tags`` rows (set again in place) and
    how many ``params`` rows there are (MLflow only adds them). A refresh
    that finds it changed reads the database's runs again; "" when the
    tables cannot be read."""
    digest = hashlib.blake2b(digest_size=16)
    try:
        for query in (
            "SELECT * FROM runs ORDER BY rowid",
            "SELECT * FROM tags ORDER BY rowid",
            "SELECT count(*), max(rowid) FROM params",
        ):
            for row in conn.execute(query):
                digest.update(repr(row).encode())
    except sqlite3.Error:
        return ""
    return digest.hexdigest()


def read_db(db: Path, problems: list[str], opts: Options) -> Iterator[ForeignRun]:
    try:
        # a -journal that is not hot opens read-only; a hot one fails to, and is copied
        with _sqlite.connect(db, copy_beside=("-wal",)) as conn:
            conn.row_factory = sqlite3.Row
            experiments = {
                str(row["experiment_id"]): row
                for row in conn.execute("SELECT * FROM experiments").fetchall()
            }
            runs = conn.execute("SELECT * FROM runs").fetchall()
            runs.sort(key=lambda r: (as_int(_col(r, "start_time")) or 0, str(r["run_uuid"])))
            metric_cols = {row[1] for row in conn.execute("PRAGMA table_info(metrics)")}
            conn.row_factory = None
            readers = _Readers(conn, _WORKERS)

            def read_one(row: sqlite3.Row) -> tuple[ForeignRun | None, list[str]]:
                said: list[str] = []  # the caller's list gets them in run order
                try:
                    here = readers.connection()
                    run = _read_db_run(
                        db, here, row, experiments, metric_cols, said, opts, readers.c_reader()
                    )
                except (TypeError, ValueError, KeyError, IndexError) as exc:
                    said.append(f"{db}: run {_col(row, 'run_uuid')}: unreadable ({exc})")
                    run = None
                return run, said

            # the next runs are read by two threads (a connection each) while
            # the caller writes this one
            try:
                for run, said in _mlflow_columns.ahead(
                    runs,
                    read_one,
                    held=_held,
                    budget=_mlflow_columns.AHEAD_POINTS,
                    workers=readers.count,
                ):
                    problems.extend(said)
                    if run is not None:
                        yield run
            finally:
                readers.close()
    except (sqlite3.Error, OSError) as exc:
        problems.append(f"{db}: {exc}")


def _held(got: tuple[ForeignRun | None, list[str]]) -> int:
    return _mlflow_columns.held(got[0])


class _Readers:
    """A connection for each thread that reads runs: the store's own, and up
    to ``n - 1`` more opening the same file read-only (the file the store's
    connection reads: the database in place, or its private copy); as many
    threads as there are connections. Each thread also gets its own C
    reader of that file (``_mlflow_columns.c_reader``) where the C module
    is built."""

    def __init__(self, conn: sqlite3.Connection, n: int) -> None:
        self.free = [conn]
        self.opened: list[sqlite3.Connection] = []
        self.lock = threading.Lock()
        self.local = threading.local()
        self.c_readers: list[Any] = []
        files = [row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"]
        self.uri = _sqlite.ro_uri(Path(files[0])) if files and files[0] else None
        while self.uri is not None and len(self.free) < n:
            try:
                more = sqlite3.connect(self.uri, uri=True, check_same_thread=False)
            except sqlite3.Error:
                break
            self.opened.append(more)
            try:
                more.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.Error:
                break
            self.free.append(more)
        self.count = len(self.free)

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            with self.lock:
                conn = self.local.conn = self.free.pop()
        return conn

    def c_reader(self) -> Any:
        """This thread's C reader, or None (no C module, or it did not open)."""
        if self.uri is None:
            return None
        if not hasattr(self.local, "c"):
            self.local.c = _mlflow_columns.c_reader(self.uri)
            if self.local.c is not None:
                with self.lock:
                    self.c_readers.append(self.local.c)
        return self.local.c

    def close(self) -> None:
        for reader in self.c_readers:
            reader.close()
        self.c_readers.clear()
        for conn in self.opened:
            conn.close()
        self.opened.clear()


def _read_db_run(
    db: Path,
    conn: sqlite3.Connection,
    row: sqlite3.Row,
    experiments: dict[str, sqlite3.Row],
    metric_cols: set[str],
    problems: list[str],
    opts: Options,
    c_reader: Any = None,
) -> ForeignRun | None:
    run_id = str(row["run_uuid"])
    exp_id = str(_col(row, "experiment_id"))
    exp = experiments.get(exp_id)
    deleted = _col(row, "lifecycle_stage") == "deleted" or (
        exp is not None and _col(exp, "lifecycle_stage") == "deleted"
    )
    if deleted and not opts.include_deleted:
        return None
    project = str(exp["name"]) if exp is not None and exp["name"] else exp_id

    params: dict[str, str] = {}
    tags: dict[str, str] = {}
    points: Points = []
    newest: float | None = None
    try:
        for key, value in conn.execute(
            "SELECT key, value FROM params WHERE run_uuid = ? ORDER BY key", (run_id,)
        ):
            params[str(key)] = "" if value is None else str(value)
        for key, value in conn.execute(
            "SELECT key, value FROM tags WHERE run_uuid = ? ORDER BY key", (run_id,)
        ):
            tags[str(key)] = "" if value is None else str(value)
        # old schemas lack step / is_nan
        step = "step" if "step" in metric_cols else "0 AS step"
        is_nan = "is_nan" if "is_nan" in metric_cols else "0 AS is_nan"
        order = "timestamp, step, rowid" if "step" in metric_cols else "timestamp, rowid"
        query = (
            f"SELECT key, value, timestamp, {step}, {is_nan} FROM metrics"
            f" WHERE run_uuid = ? ORDER BY {order}"
        )
        got = None
        cols = {
            "step": "step" if "step" in metric_cols else "0",
            "nan": "is_nan" if "is_nan" in metric_cols else "0",
        }
        if c_reader is not None:
            got = _mlflow_columns.c_columns(c_reader, run_id, **cols)
        if got is None and _mlflow_columns.np is not None:
            got = _mlflow_columns.db_columns(conn, run_id, **cols)
        if got is not None:
            points, newest = got
        else:
            rows = []
            try:
                cursor = conn.execute(query, (run_id,))
                while chunk := cursor.fetchmany(_FETCH):
                    rows.extend(chunk)
            finally:  # what came before an error is kept
                points, newest = _row_points(rows, db, run_id, problems)
    except sqlite3.Error as exc:
        problems.append(f"{db}: run {run_id}: {exc}; read as far as it goes")

    run = make_run(
        source_path=str(db.resolve()),
        run_id=run_id,
        project=project,
        run_name=_col(row, "name"),
        raw_status=status_name(_col(row, "status")),
        start_ms=as_int(_col(row, "start_time")),
        end_ms=as_int(_col(row, "end_time")),
        params=params,
        tags=tags,
        points=points,
        newest=newest,
        user_id=_col(row, "user_id"),
        opts=opts,
    )
    artifact_uri = _col(row, "artifact_uri")
    art_dir = _db_artifact_dir(db, exp_id, run_id, artifact_uri)
    if art_dir is not None:
        run.artifacts = list_artifacts(art_dir, problems)
    run.extra.update({"store": "sqlite", "experiment_id": exp_id})
    if artifact_uri:
        run.extra["artifact_uri"] = str(artifact_uri)
    if deleted:
        run.extra["deleted"] = True
    return run


def _row_points(
    rows: list[tuple[Any, ...]], db: Path, run_id: str, problems: list[str]
) -> tuple[list[Point], float | None]:
    """The row reader: one ``Point`` per row, and the newest time."""
    points: list[Point] = []
    bad = 0
    for key, value, ts, st, nan in rows:
        try:
            points.append(
                Point(
                    key=str(key),
                    step=int(st or 0),
                    value=_db_value(value, nan),
                    t=None if ts is None else int(ts) / 1000.0,
                )
            )
        except (TypeError, ValueError):
            bad += 1
    if bad:
        problems.append(f"{db}: run {run_id}: {bad} unreadable metric rows skipped")
    return points, max((p.t for p in points if p.t is not None), default=None)


def _db_value(value: Any, is_nan: Any) -> float:
    if is_nan:
        return math.nan
    v = float(value)
    if v == _DBL_MAX:  # MLflow's SQL stores write +-inf as +-DBL_MAX
        return math.inf
    if v == -_DBL_MAX:
        return -math.inf
    return v


def _db_artifact_dir(db: Path, exp_id: str, run_id: str, uri: Any) -> Path | None:
    """The run's artifact directory next to the database, never the baked absolute path."""
    base = db.resolve().parent
    roots = ["mlruns", "mlartifacts"]
    if uri:
        # keep only the artifact root's *name* from the URI: ".../<root>/<exp>/<run>/artifacts"
        segments = [unquote(s) for s in urlsplit(str(uri)).path.split("/") if s]
        if run_id in segments:
            i = segments.index(run_id)
            if i >= 2 and segments[i - 2] not in roots:
                roots.insert(0, segments[i - 2])
    for root in roots:
        candidate = base / root / exp_id / run_id / "artifacts"
        if candidate.is_dir():
            return candidate
    return None


def _col(row: sqlite3.Row, name: str) -> Any:
    return row[name] if name in row.keys() else None
