"""MLflow metric files and rows read into columns (``PointColumns``), not one
``Point`` per line: the first read of a big store parses text at C speed.

File store
    The bytes of a run's metric files (read through the bounded opener, as
    the line reader reads them, so what was read is noted for the cursors)
    are parsed by DuckDB's CSV reader from one private temporary file (never
    a file of the source): ``"<ts_ms> <value> <step>"``, one space apart.
    The points, their order and their times are the line reader's
    (``mlflow.parse_metric_text``): each file in its order, files merged by
    timestamp (a stable sort, which is that merge when every file is in
    timestamp order), ``t`` = timestamp / 1000, a last line without its
    newline kept only once the run has ended. Whatever the columns could
    read differently goes to the line reader instead, for the whole run:
    a file that is not plain ASCII digits, signs, points, exponents and
    ``nan``/``inf`` words, a blank line, a line of 2 or 5 fields or with
    other spacing, a ``+-`` sign, anything DuckDB refuses, or a file whose
    timestamps go backwards (the line reader's ``heapq.merge`` then keeps
    each file's order). One difference is left: a timestamp or step written
    with a fraction or an exponent (``1.5``, ``1e3``; MLflow writes neither)
    is read rounded here, where the line reader skips the line.

SQLite store
    Two statements per run, in one read transaction, and no Python object
    per row but the value: one scan hands back the timestamps, steps, rowids,
    ``is_nan`` flags and keys as one text each (``group_concat``; integers
    parsed by NumPy, keys split on NUL), the other the values as Python
    floats by rowid (exact: SQLite prints no text every double round-trips
    through). ``is_nan`` and MLflow's +-``DBL_MAX`` for +-inf are applied to
    the array; rows put in the row reader's order (timestamp, step, rowid)
    by a sort only when rowid order is not that already. Anything the
    columns could read differently sends the run to the row reader: a
    timestamp, step or ``is_nan`` that is not an integer (NULL, text, a
    real), a key that is not text, a value that is not a number, a key
    holding NUL, a text NumPy does not read whole, or an SQLite error (a
    damaged page: the row reader keeps the rows before it).

SQLite store in C
    Where the optional C module ``_sqlitecols`` is built (a C compiler and
    SQLite's header, ``libsqlite3-dev``, at install; ``setup.py``), each
    thread that reads runs opens the file the Python reader reads (the
    database in place read-only, or its private copy: ``_sqlite.connect``)
    with the system SQLite, and reads a run's rows in one statement (one
    read transaction: every row from one snapshot), by the run index where
    the database has one (measured faster than a rowid range with the run
    checked per row), with the GIL released: no Python object per row at
    all, about a quarter of the CPU of the texts above. It checks every
    value's type as the texts' checks do and gives None for what those
    give None for (and for a locked or damaged database): ``db_columns``,
    then the row reader, take that run as without the module. The columns
    it gives are ``db_columns``'s, array for array (the same finishing
    step, ``_db_finish``). Without the module (no compiler, no header),
    ``USE_C`` False or without NumPy, ``db_columns`` reads every run.

A store's runs are read ahead (``ahead``): a thread (a file store's; two
for a database, a connection and a C reader each) reads and parses the
next runs while the caller writes this one's points, up to a bound (2 M
points held). The
private DuckDB that parses metric files runs on one thread: the caller's
catalog insert has the other core.

Without NumPy nothing here is used (``np`` is None; tests set it so).
"""

from __future__ import annotations

import os
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from itertools import chain
from typing import Any

try:
    import numpy as np
except ImportError:  # the ``fast`` extra is not installed
    np = None  # type: ignore[assignment]

try:
    from . import _sqlitecols  # type: ignore[attr-defined]
except ImportError:  # built at install where a C compiler and SQLite's header are present
    _sqlitecols = None

#: Set to False to read databases with ``db_columns`` even where the C
#: module is built (tests compare the two; bench_import --no-c).
USE_C = True

#: Bytes a metric file may hold for the columns (anything else: the line reader).
_PLAIN = b"0123456789 \n.-+eEnaNANifIFtTyY"
#: The one sign pair DuckDB's number parser takes and Python's ``float`` does
#: not (``+-1``, ``+-inf``; ``-+``, ``++``, ``--`` it refuses too).
_ODD = b"+-"
#: Where the temporary file goes: memory when the system has it.
_SHM = "/dev/shm"
_DBL_MAX = 1.7976931348623157e308
_CSV = (
    "header=false, auto_detect=false, delim=' ', quote='', escape='', new_line='\\n', "
    "strict_mode=true, columns={'ts': 'BIGINT', 'value': 'DOUBLE', 'step': 'BIGINT'}"
)
_LOCAL = threading.local()


def _duckdb() -> Any:
    """This thread's private in-memory DuckDB (connections are not thread-safe)."""
    con = getattr(_LOCAL, "con", None)
    if con is None:
        import duckdb

        # one thread: the caller's catalog writes run on the other core, and a
        # run's few MB parse faster on one thread than split between two
        con = _LOCAL.con = duckdb.connect(config={"threads": 1})
    return con


def _usable(data: bytes) -> bool:
    return not data.translate(None, _PLAIN) and _ODD not in data


def file_columns(
    files: list[tuple[str, bytes | None]], *, ended: bool
) -> tuple[Any, float | None] | None:
    """``(PointColumns, newest time)`` of a run's metric files, given as
    ``(key, bytes read)`` in the line reader's file order (None: unreadable,
    no points); None when the line reader must read them (module doc)."""
    if np is None:
        return None
    from ._pointcols import PointColumns

    names: list[str] = []
    counts: list[int] = []
    parts: list[bytes] = []
    for key, data in files:
        if data is None:
            continue
        cut = data.rfind(b"\n") + 1
        tail = data[cut:]
        if tail and ended and tail.strip():
            data = data + b"\n"  # the run is over: the line is complete, just unterminated
        elif tail:
            data = data[:cut]
        if not data:
            continue
        if not _usable(data):
            return None
        names.append(key)
        counts.append(data.count(b"\n"))
        parts.append(data)
    total = sum(counts)
    if not total:
        return PointColumns.empty(), None
    got = _parse(parts, total)
    if got is None:
        return None
    ts, value, step = got
    ki = np.repeat(np.arange(len(names), dtype=np.int32), counts)
    if len(names) > 1:
        # every file in timestamp order (each file's first diff is across a boundary)
        back = np.diff(ts) < 0
        ends = np.cumsum(counts)[:-1] - 1
        back[ends] = False
        if back.any():
            return None
    t = ts.astype(np.float64) / 1000.0
    if len(names) > 1:
        order = np.argsort(t, kind="stable")
        ki, step, value, t = ki[order], step[order], value[order], t[order]
    return PointColumns(names, ki, step, value, t), float(t.max())


def _parse(parts: list[bytes], total: int) -> tuple[Any, Any, Any] | None:
    """DuckDB's CSV reader over the lines of ``parts`` (one temporary file):
    timestamps, values, steps; None when it refuses a line or skips one, or
    when no temporary file can hold them (the line reader then)."""
    import duckdb

    size = sum(map(len, parts))
    path = None
    for where in (_shm_with_room(size), None):
        fd, path = tempfile.mkstemp(prefix="trackui-mlflow-", suffix=".txt", dir=where)
        try:
            with os.fdopen(fd, "wb") as fh:
                for data in parts:
                    fh.write(data)
            break
        except OSError:  # no room there (a small /dev/shm, a full disk)
            os.unlink(path)
            path = None
    if path is None:
        return None
    try:
        quoted = "'" + path.replace("'", "''") + "'"
        try:
            cols = (
                _duckdb()
                .execute(f"SELECT ts, value, step FROM read_csv({quoted}, {_CSV})")
                .fetchnumpy()
            )
        except duckdb.Error:
            return None
    finally:
        os.unlink(path)
    ts, value, step = (np.asarray(cols[name]) for name in ("ts", "value", "step"))
    if len(ts) != total or any(np.ma.isMaskedArray(cols[n]) for n in cols):
        return None  # a blank line (skipped by DuckDB) or a NULL
    return (
        ts.astype(np.int64, copy=False),
        value.astype(np.float64, copy=False),
        step.astype(np.int64, copy=False),
    )


def _shm_with_room(size: int) -> str | None:
    """``/dev/shm`` when it is there, writable and has room for ``size``
    bytes twice over (a container's is often 64 MB); else None (the system's
    temporary directory)."""
    try:
        st = os.statvfs(_SHM)
    except OSError:
        return None
    if not os.access(_SHM, os.W_OK) or st.f_bavail * st.f_frsize < 2 * size:
        return None
    return _SHM


#: Per run, one scan that hands back every column but the value as one
#: text each (``group_concat``), parsed by NumPy, and the greatest and least
#: of the columns whose type must be checked: SQLite orders NULL < numbers <
#: text < blob, so a text or blob anywhere in a column is its ``max``, a
#: number among text keys their ``min`` (``typeof`` per row costs more than
#: the rest of the scan). A real among integers is found by the parse, a
#: NULL by the counts (the texts' and ``count(value)``). ``{step}``/``{nan}``:
#: the columns or, in old schemas that lack them, ``0``.
_DB_TEXT = """SELECT count(*), group_concat(timestamp, ' '), group_concat({step}, ' '),
    group_concat(rowid, ' '), group_concat({nan} <> 0, ''), group_concat(key, char(0)),
    max(timestamp), max({step}), max({nan}), max(value), min(key), max(key), count(value)
    FROM metrics WHERE run_uuid = ?"""
#: The values, one Python float a row (exact; SQLite prints no round-trip text).
_DB_VALUES = "SELECT value FROM metrics WHERE run_uuid = ? ORDER BY rowid"


def db_columns(
    conn: Any, run_id: str, *, step: str = "step", nan: str = "is_nan"
) -> tuple[Any, float | None] | None:
    """``(PointColumns, newest time)`` of a run's ``metrics`` rows, read with
    no Python object per row but its value, in the row reader's order
    (timestamp, step, rowid); None when the row reader must read them (module
    doc). The two statements run in one read transaction (the same rows)."""
    if np is None:
        return None
    import sqlite3

    begun = not conn.in_transaction
    try:
        if begun:
            conn.execute("BEGIN")
        try:
            got = conn.execute(_DB_TEXT.format(step=step, nan=nan), (run_id,)).fetchone()
            n = got[0]
            stamp, step_max, nan_max, value_max, key_min, key_max, numbers = got[6:]
            odd = not (
                numbers == n  # no NULL value (NumPy would read it as NaN)
                and type(stamp) is int
                and type(step_max) is int
                and type(nan_max) in (int, float)
                and type(value_max) in (int, float)
                and type(key_min) is str
                and type(key_max) is str
            )
            if n and not odd:
                values = conn.execute(_DB_VALUES, (run_id,)).fetchall()
        finally:
            if begun:
                conn.execute("COMMIT")
    except sqlite3.Error:
        return None  # the row reader reads as far as it goes, and says why
    if not n:
        from ._pointcols import PointColumns

        return PointColumns.empty(), None
    if odd or len(values) != n:
        return None
    return _db_parse(got[1:6], values, n)


def c_on() -> bool:
    """Whether a database's rows are read by the C module ``_sqlitecols``."""
    return USE_C and _sqlitecols is not None and np is not None


def c_reader(uri: str) -> Any:
    """A C reader of the database at ``uri`` (``_sqlite.ro_uri``), or None
    when the C module is off or the file does not open."""
    if not c_on():
        return None
    try:
        return _sqlitecols.Reader(uri)
    except OSError:
        return None


#: The C reader's statement: one scan of the run's rows (by
#: ``index_metrics_run_uuid`` where the database has it), in one read
#: transaction. ``{step}``/``{nan}`` as for ``_DB_TEXT``.
_C_ROWS = "SELECT rowid, timestamp, {step}, {nan}, value, key FROM metrics WHERE run_uuid = ?"


def c_columns(
    reader: Any, run_id: str, *, step: str = "step", nan: str = "is_nan"
) -> tuple[Any, float | None] | None:
    """What ``db_columns`` gives, read by the C module with no Python object
    per row (``reader``: ``c_reader``, used by one thread at a time); None
    when it finds a row the row reader could read differently, or an SQLite
    error (then ``db_columns`` or the row reader read the run, as without
    it)."""
    try:
        got = reader.columns(_C_ROWS.format(step=step, nan=nan), run_id)
    except (UnicodeError, ValueError):  # a run id that is not UTF-8 text
        return None
    if got is None:
        return None
    n, row_id, ts, steps, nans, value, codes, names = got
    if not n:
        from ._pointcols import PointColumns

        return PointColumns.empty(), None
    return _db_finish(
        names,
        np.frombuffer(codes, np.int32),
        np.frombuffer(ts, np.int64),
        np.frombuffer(steps, np.int64),
        np.frombuffer(row_id, np.int64),
        np.frombuffer(nans, np.uint8).view(np.bool_),
        np.frombuffer(value, np.float64),
    )


def _db_parse(texts: tuple[str, ...], values: list[tuple[Any]], n: int) -> Any:
    stamps, steps, row_ids, nans, key_text = texts
    keys = key_text.split("\0")
    if len(keys) != n or len(nans) != n:
        return None
    try:
        ts, step, row_id = (_ints(text, n) for text in (stamps, steps, row_ids))
        value = np.fromiter(chain.from_iterable(values), np.float64, count=n)
    except (ValueError, TypeError, OverflowError):
        return None
    if ts is None or step is None or row_id is None:
        return None
    names = list(dict.fromkeys(keys))
    index = {k: i for i, k in enumerate(names)}
    ki = np.fromiter(map(index.__getitem__, keys), dtype=np.int32, count=n)
    is_nan = np.frombuffer(nans.encode(), np.uint8) == ord("1")
    if n > 1 and not (np.diff(row_id) > 0).all():
        # the texts came in another order than the values (by rowid)
        by_row = np.argsort(row_id, kind="stable")
        ts, step, row_id, ki, is_nan = (
            ts[by_row],
            step[by_row],
            row_id[by_row],
            ki[by_row],
            is_nan[by_row],
        )
    return _db_finish(names, ki, ts, step, row_id, is_nan, value)


def _db_finish(
    names: list[str], ki: Any, ts: Any, step: Any, row_id: Any, is_nan: Any, value: Any
) -> Any:
    """``(PointColumns, newest time)`` of a run's rows as columns in scan
    order (both readers': the C one's and the texts'): put in rowid order
    when they are not, +-``DBL_MAX`` -> +-inf, ``is_nan`` -> NaN, then in the
    row reader's order (timestamp, step, rowid). ``value`` is changed in
    place."""
    from ._pointcols import PointColumns

    n = len(ts)
    if n > 1 and not (np.diff(row_id) > 0).all():
        by_row = np.argsort(row_id, kind="stable")  # the scan came in another order
        ts, step, row_id, ki = ts[by_row], step[by_row], row_id[by_row], ki[by_row]
        is_nan, value = is_nan[by_row], value[by_row]
    value[value == _DBL_MAX] = np.inf
    value[value == -_DBL_MAX] = -np.inf
    value[is_nan] = np.nan
    d_ts = np.diff(ts)
    if (d_ts >= 0).all() and ((d_ts > 0) | (np.diff(step) >= 0)).all():
        t = ts.astype(np.float64) / 1000.0  # rowid order is that order already (common)
        return PointColumns(names, ki, step, value, t), float(t.max())
    order = np.lexsort((row_id, step, ts))
    t = ts[order].astype(np.float64) / 1000.0
    return PointColumns(names, ki[order], step[order], value[order], t), float(t.max())


def _ints(text: str, n: int) -> Any:
    """The ``n`` integers of a space-separated text, or None when it holds
    anything else (NumPy's parser warns where it stops early)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        try:
            got = np.fromstring(text, dtype=np.int64, sep=" ")
        except DeprecationWarning:
            return None
    return got if len(got) == n else None


#: Points the runs read ahead of the caller may hold (some 30 bytes each).
AHEAD_POINTS = 2_000_000


def held(run: Any) -> int:
    """What a run read ahead holds, in points (every run counts one at least)."""
    return 1 + (len(run.points) + len(run.system) if run is not None else 0)


def ahead(
    items: list[Any],
    read_one: Callable[[Any], Any],
    *,
    held: Callable[[Any], int] = lambda _: 1,
    budget: int = 8,
    workers: int = 1,
) -> Iterator[Any]:
    """``read_one`` of each item in order, read by ``workers`` threads that
    run ahead of the caller while the caller works on what it got (their
    DuckDB or SQLite work and the caller's catalog writes all leave the GIL,
    so both cores work). Items are started in order; no new one starts
    while what was read and the caller has not taken yet weighs ``budget``
    or more (``held`` of each result), unless nothing read is waiting. What
    the threads read is noted as the caller's reads are
    (``_read.recording``). An error is raised to the caller in its item's
    place, and nothing after it is started. A caller that stops early waits
    for the reads under way, and nothing more is read. With more than one
    worker, ``read_one`` must be safe to call from two threads at once."""
    if len(items) < 2:
        yield from map(read_one, items)
        return
    from . import _read

    seen = getattr(_read._LOCAL, "seen", None)  # the caller's record of what was read
    done: dict[int, tuple[Any, BaseException | None, int]] = {}
    lock = threading.Condition()
    state = {"held": 0, "next": 0, "stop": False}

    def work() -> None:
        _read._LOCAL.seen = seen
        try:
            while True:
                with lock:
                    while state["held"] >= budget and done and not state["stop"]:
                        lock.wait()
                    if state["stop"] or state["next"] >= len(items):
                        return
                    i = state["next"]
                    state["next"] += 1
                try:
                    got, error, weight = read_one(items[i]), None, 0
                    weight = held(got)
                except BaseException as exc:  # handed to the caller, in its place
                    got, error = None, exc
                with lock:
                    done[i] = (got, error, weight)
                    state["held"] += weight
                    state["stop"] = state["stop"] or error is not None
                    lock.notify_all()
        finally:
            _read._LOCAL.seen = None

    threads = [
        threading.Thread(target=work, name=f"trackui-mlflow-ahead-{n}", daemon=True)
        for n in range(max(1, min(workers, len(items))))
    ]
    for thread in threads:
        thread.start()
    try:
        for i in range(len(items)):
            with lock:
                while i not in done:
                    lock.wait()
                got, error, weight = done.pop(i)
                state["held"] -= weight
                lock.notify_all()
            if error is not None:
                raise error
            yield got
    finally:
        with lock:
            state["stop"] = True
            lock.notify_all()
        for thread in threads:
            thread.join()
