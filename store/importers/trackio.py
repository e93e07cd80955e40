"""Read Trackio's per-project SQLite databases (``<TRACKIO_DIR>/<project>.db``).

Standard library only; ``trackio`` is never imported, and nothing is ever
written under the path being read.

Where runs are found
    PATH is a Trackio database, or a directory holding ``*.db`` files a few
    levels below it (Trackio keeps them flat in ``~/.cache/huggingface/trackio``).
    A database is Trackio's when its ``metrics`` table has ``run_name``,
    ``step``, ``timestamp`` and ``metrics`` columns.

How a run maps onto a ``ForeignRun``
    Trackio has no runs table: a run is a distinct ``run_id`` in ``metrics``
    and ``configs`` (older databases without ``run_id``: a distinct
    ``run_name``, per ``project_name`` when that column exists).

    * ``project``: the ``project_name`` column where old databases have one,
      else the database's file name without ``.db`` (Trackio names the file
      after the project, keeping only letters, digits, ``-`` and ``_``).
    * ``name``: ``run_name`` exactly. ``source_id``: ``run_id`` (else the run
      name). ``source_path``: the database file.
    * ``params``: the run's config as stored (numbers stay numbers). Trackio's
      own keys are taken out: ``_Group`` gives ``group``, ``_Username``
      ``extra["user"]``, ``_Created`` ``created``; other ``_``-keys go to
      ``extra["trackio_config"]``.
    * Points: one row per ``trackio.log()`` call, read in row order; every
      numeric value becomes a point at the row's ``step`` (bools as 0/1; the
      strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` Trackio writes for
      non-finite floats become floats). Non-numeric values (media, tables,
      histograms) are skipped and their keys listed in
      ``extra["non_scalar_keys"]``. ``t`` is the row's ``timestamp``, which
      is when Trackio's background sender flushed the batch (every 0.5 s),
      not when ``log()`` was called: coarse, several rows share one.
    * Artifacts: the versions the run logged as output (``run_artifact_links``
      → ``artifact_versions.manifest``), each file by reference to its blob in
      ``artifacts/<project>/blobs/sha256/<2>/<digest>`` next to the database;
      ``name`` is the path inside the artifact (prefixed with the artifact's
      name when two of the run's artifacts hold the same path), ``sha256``
      the digest. Input artifacts are listed in ``extra["input_artifacts"]``.

Status (Trackio records none; inferred)
    ``last_activity`` is the run's newest row timestamp (metrics,
    system_metrics, config). Then, in this order:

    1. activity within ``stale_after`` seconds (default 900) → ``running``;
    2. the config names how many epochs were asked (``epochs``,
       ``num_epochs``, ``n_epochs``, ``max_epochs`` or ``num_train_epochs``)
       and the run logged an ``epoch`` metric whose largest value (+1 when
       its values start at 0) is smaller → ``crashed``, reason
       "no status in Trackio; 12 of 30 epochs, no activity for 3 d";
    3. otherwise → ``finished``. Without an epoch count to compare, a run
       that went quiet cannot be told from one that ended: it is taken as
       finished (``extra["status_inferred"]`` says why).

    An exception and a ``kill -9`` look the same in Trackio, so a run that
    died early is ``crashed``, never ``failed``. ``ended`` is the last
    activity of a run that is not running.

Reading a database
    Trackio databases are in WAL mode, and even a read-only SQLite
    connection creates or updates the ``-shm`` file next to a WAL database.
    So a WAL database (or one with a ``-wal`` or ``-journal`` beside it, or
    one that does not open read-only) is copied with its ``-wal``/``-journal``
    into a temporary directory and the copy is read; other databases are
    opened with ``mode=ro``. ``-shm`` is not copied: SQLite rebuilds it from
    the WAL.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _read, _sqlite
from ._config import planned_epochs
from ._evidence import ago, latest
from ._trackio_artifacts import add_artifacts
from ._trackio_values import json_obj, number, parse_time
from .base import ForeignRun, Point

KIND = "trackio"
STALE_AFTER = 900.0

_MAX_DEPTH = 4


# ---------------------------------------------------------------- entry points


def detect(path: Path) -> bool:
    """True when PATH is, or holds below it, a Trackio project database."""
    return next(_databases(Path(path), None), None) is not None


def read(
    path: Path,
    problems: list[str],
    *,
    stale_after: float = STALE_AFTER,
    now: float | None = None,
) -> Iterator[ForeignRun]:
    """Yield every Trackio run under PATH (see the module docstring for the rules)."""
    path = Path(path)
    clock = time.time() if now is None else now
    if not path.exists():
        problems.append(f"{path}: no such file or directory")
        return
    for db in _databases(path, problems):
        yield from _read_db(db, problems, stale_after=stale_after, now=clock)


# ---------------------------------------------------------------- finding databases


def _databases(path: Path, report: list[str] | None) -> Iterator[Path]:
    if path.is_file():
        if _is_trackio_db(path, report, suspicious=True):
            yield path
        return
    yield from _walk(path, 0, report)


def _walk(d: Path, depth: int, report: list[str] | None) -> Iterator[Path]:
    dbs, subdirs = _sqlite.scan_dir(d)
    for db in dbs:
        try:
            # Trackio keeps an empty "<project>.lock" beside each database
            suspicious = db.with_suffix(".lock").exists()
        except OSError:
            continue
        if _is_trackio_db(db, report, suspicious=suspicious):
            yield db
    if depth < _MAX_DEPTH:
        for sub in subdirs:
            yield from _walk(sub, depth + 1, report)


def _is_trackio_db(path: Path, report: list[str] | None, *, suspicious: bool) -> bool:
    """Schema check; an unreadable file the user named (or that has a .lock) is reported."""

    def say(why: str) -> bool:
        if report is not None and suspicious:
            report.append(f"{path}: {why}")
        return False

    try:
        with _read.open_regular(path) as fh:  # never a FIFO or a device
            head = fh.read(100)
        wal = _sqlite.sidecar(path, "-wal")
        wal_size = wal.stat().st_size if wal.exists() else 0
    except OSError as exc:
        return say(f"cannot read ({exc.strerror or exc})")
    if not head.startswith(_sqlite.MAGIC) and not (not head and wal_size):
        return say("not a SQLite database")
    try:
        tables = _schema(path, immutable=True)
        if "metrics" not in tables and wal_size:
            # a young database may still hold its whole schema in the WAL
            with _sqlite.connect(path) as conn:
                tables = _schema_of(conn)
    except (sqlite3.Error, OSError) as exc:
        return say(f"unreadable SQLite database ({exc})")
    # early Trackio had no configs table; this metrics table is distinctive on its own
    if {"run_name", "step", "timestamp", "metrics"} <= tables.get("metrics", set()):
        return True
    return say("not a Trackio database (no metrics table with run_name/step/metrics)")


def _schema(path: Path, *, immutable: bool) -> dict[str, set[str]]:
    # immutable=1: no locks, no -shm, nothing written; enough to look at the schema
    conn = sqlite3.connect(_sqlite.ro_uri(path, immutable=immutable), uri=True)
    try:
        return _schema_of(conn)
    finally:
        conn.close()


def _schema_of(conn: sqlite3.Connection) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for name in names:
        quoted = '"' + name.replace('"', '""') + '"'
        out[name] = {row[1] for row in conn.execute(f"PRAGMA table_info({quoted})")}
    return out


# ---------------------------------------------------------------- reading


@dataclass
class _RunRef:
    """One Trackio run: the rows that hold it and its config."""

    key: tuple[str, ...]  # the WHERE values that select the run's rows
    run_id: str | None
    name: str
    project: str
    config: dict[str, Any] | None = None
    config_created: float | None = None
    first_row: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _read_db(
    db: Path, problems: list[str], *, stale_after: float, now: float
) -> Iterator[ForeignRun]:
    try:
        with _sqlite.connect(db) as conn:
            tables = _schema_of(conn)
            refs = _run_refs(db, conn, tables, problems)
            for ref in refs:
                try:
                    run = _read_run(db, conn, tables, ref, problems, stale_after, now)
                except (TypeError, ValueError, KeyError, IndexError) as exc:
                    problems.append(f"{db}: run {ref.name!r}: unreadable ({exc})")
                    continue
                yield run
    except (sqlite3.Error, OSError) as exc:
        problems.append(f"{db}: {exc}")


def _run_refs(
    db: Path, conn: sqlite3.Connection, tables: dict[str, set[str]], problems: list[str]
) -> list[_RunRef]:
    """Every run of the database, in the order it first wrote a row."""
    mcols = tables["metrics"]
    ccols = tables.get("configs", set())
    refs: dict[tuple[str, ...], _RunRef] = {}

    # SQLite takes a bare column of a MIN() aggregate from the row holding the minimum
    if "run_id" in mcols:
        query = (
            "SELECT run_id, run_name, MIN(id) FROM metrics WHERE run_id IS NOT NULL GROUP BY run_id"
        )
        for rid, name, first in conn.execute(query):
            refs[(str(rid),)] = _RunRef((str(rid),), str(rid), str(name), db.stem, first_row=first)
        # rows without a run_id (not written by current Trackio) are grouped by name
        query = "SELECT run_name, MIN(id) FROM metrics WHERE run_id IS NULL GROUP BY run_name"
        for name, first in conn.execute(query):
            refs[("", str(name))] = _RunRef(
                ("", str(name)), None, str(name), db.stem, first_row=first
            )
    elif "project_name" in mcols:  # old Trackio: project_name column, no run_id
        query = (
            "SELECT project_name, run_name, MIN(id) FROM metrics GROUP BY project_name, run_name"
        )
        for project, name, first in conn.execute(query):
            key = (str(project), str(name))
            refs[key] = _RunRef(key, None, str(name), str(project), first_row=first)
    else:
        for name, first in conn.execute("SELECT run_name, MIN(id) FROM metrics GROUP BY run_name"):
            refs[(str(name),)] = _RunRef((str(name),), None, str(name), db.stem, first_row=first)

    if not {"run_name", "config"} <= ccols:
        return sorted(refs.values(), key=lambda r: (r.first_row, r.name))
    rid_col = "run_id" if "run_id" in ccols else "NULL"
    created_col = "created_at" if "created_at" in ccols else "NULL"
    query = f"SELECT {rid_col}, run_name, config, {created_col} FROM configs ORDER BY id"
    for rid, name, blob, created_at in conn.execute(query):
        ref = _ref_for_config(refs, rid, str(name), "run_id" in mcols)
        if ref is None:  # a run that has logged no metrics yet
            key = (str(rid),) if rid is not None and "run_id" in mcols else ("", str(name))
            run_id = None if rid is None else str(rid)
            ref = refs[key] = _RunRef(key, run_id, str(name), db.stem, first_row=2**62)
        ref.name = str(name)  # the config row is the run's own record
        ref.config = json_obj(blob)
        if ref.config is None:
            problems.append(f"{db}: run {ref.name!r}: config is not a JSON object; ignored")
        ref.config_created = parse_time(created_at)
    return sorted(refs.values(), key=lambda r: (r.first_row, r.name))


def _ref_for_config(
    refs: dict[tuple[str, ...], _RunRef], rid: Any, name: str, by_id: bool
) -> _RunRef | None:
    if by_id:
        return refs.get((str(rid),) if rid is not None else ("", name))
    # old databases: runs known by name (one project per file in practice)
    return next((r for r in refs.values() if r.name == name), None)


def _read_run(
    db: Path,
    conn: sqlite3.Connection,
    tables: dict[str, set[str]],
    ref: _RunRef,
    problems: list[str],
    stale_after: float,
    now: float,
) -> ForeignRun:
    where, args = _where(ref, tables["metrics"])
    points: list[Point] = []
    non_scalar: set[str] = set()
    times: dict[Any, float | None] = {}
    last_activity: float | None = None
    bad_rows = 0
    first_bad: Any = None
    try:
        for row_id, ts, step, blob in conn.execute(
            f"SELECT id, timestamp, step, metrics FROM metrics WHERE {where} ORDER BY id", args
        ):
            if ts not in times:
                times[ts] = parse_time(ts)
            t = times[ts]
            last_activity = latest(last_activity, t)
            values = json_obj(blob)
            if values is None or not isinstance(step, int):
                bad_rows += 1
                first_bad = first_bad if first_bad is not None else row_id
                continue
            for key, value in values.items():
                scalar = number(value)
                if scalar is None:
                    non_scalar.add(key)
                else:
                    points.append(Point(key=key, step=step, value=scalar, t=t))
    except sqlite3.Error as exc:
        problems.append(f"{db}: run {ref.name!r}: {exc}; read as far as it goes")
    if bad_rows:
        problems.append(
            f"{db}: run {ref.name!r}: {bad_rows} unreadable metrics rows skipped"
            f" (first: id {first_bad})"
        )
    if "system_metrics" in tables and {"run_name", "timestamp"} <= tables["system_metrics"]:
        sys_where, sys_args = _where(ref, tables["system_metrics"])
        try:
            (newest,) = conn.execute(
                f"SELECT MAX(timestamp) FROM system_metrics WHERE {sys_where}", sys_args
            ).fetchone()
            last_activity = latest(last_activity, parse_time(newest))
        except sqlite3.Error:
            pass  # liveness evidence only

    config = dict(ref.config or {})
    internal = {k: config.pop(k) for k in [k for k in config if k.startswith("_")]}
    created = parse_time(internal.pop("_Created", None)) or ref.config_created
    if created is None:
        created = min((p.t for p in points if p.t is not None), default=None)
    last_activity = latest(last_activity, latest(created, ref.config_created))
    group = internal.pop("_Group", None)
    user = internal.pop("_Username", None)

    status, reason, why = _status(config, points, last_activity, stale_after, now)
    extra: dict[str, Any] = {"status_inferred": why}
    if user:
        extra["user"] = str(user)
    if internal:
        extra["trackio_config"] = internal
    if non_scalar:
        extra["non_scalar_keys"] = sorted(non_scalar)
    run = ForeignRun(
        kind=KIND,
        source_path=str(db.resolve()),
        source_id=ref.run_id or ref.name,
        project=ref.project,
        name=ref.name,
        params=config,
        points=points,
        status=status,
        status_reason=reason,
        created=created,
        ended=None if status == "running" else last_activity,
        last_activity=last_activity,
        group=None if group in (None, "") else str(group),
        extra=extra,
    )
    add_artifacts(db, conn, tables, ref.run_id, ref.name, run, problems)
    return run


def _where(ref: _RunRef, cols: set[str]) -> tuple[str, tuple[Any, ...]]:
    if ref.run_id is not None and "run_id" in cols:
        return "run_id = ?", (ref.run_id,)
    if "run_id" in cols:
        return "run_id IS NULL AND run_name = ?", (ref.name,)
    if "project_name" in cols and len(ref.key) == 2:
        return "project_name = ? AND run_name = ?", ref.key
    return "run_name = ?", (ref.name,)


def _status(
    config: dict[str, Any],
    points: list[Point],
    last_activity: float | None,
    stale_after: float,
    now: float,
) -> tuple[str, str | None, str]:
    """(status, status_reason, how it was inferred): the rule in the module docstring."""
    if last_activity is not None and now - last_activity <= stale_after:
        return "running", None, f"activity within {stale_after:g} s"
    quiet = (
        "no activity recorded"
        if last_activity is None
        else f"no activity for {ago(now - last_activity)}"
    )
    plan = planned_epochs(config)
    asked = plan[0] if plan is not None else None
    epochs = [p.value for p in points if p.key == "epoch" and math.isfinite(p.value)]
    if asked is None or not epochs:
        return "finished", None, f"no status in Trackio; {quiet}, no epoch count to compare"
    done = max(epochs) + (1 if min(epochs) == 0 else 0)
    logged = f"{done:g} of {asked} epochs"
    if done < asked - 1e-6:
        return "crashed", f"no status in Trackio; {logged}, {quiet}", f"{logged}, {quiet}"
    return "finished", None, f"{logged}, {quiet}"
