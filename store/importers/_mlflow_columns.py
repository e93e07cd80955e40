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
    A run's rows come back from ``sqlite3`` as tuples; their columns go into
    arrays in one pass each (``zip``), with ``is_nan`` and MLflow's
    +-``DBL_MAX`` for +-inf applied to the array. Rows the arrays cannot hold
    as the row reader would (a NULL or non-number value or step) send the
    run to the row reader.

A store's runs are read one ahead (``ahead``): the next run's files are
read and parsed in a thread while the caller writes this one's points.

Without NumPy nothing here is used (``np`` is None; tests set it so).
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

try:
    import numpy as np
except ImportError:  # the ``fast`` extra is not installed
    np = None  # type: ignore[assignment]

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


def row_columns(rows: list[tuple[Any, ...]]) -> tuple[Any, float | None] | None:
    """``(PointColumns, newest time)`` of MLflow ``metrics`` rows ``(key,
    value, timestamp, step, is_nan, rowid)`` in any order, put in the row
    reader's (timestamp, step, rowid); None when the row reader must read
    them (module doc)."""
    if np is None:
        return None
    from ._pointcols import PointColumns

    if not rows:
        return PointColumns.empty(), None
    keys, values, stamps, steps, nans, row_ids = zip(*rows)
    if not set(map(type, values)) <= {float, int} or not set(map(type, keys)) <= {str}:
        return None
    if not set(map(type, steps)) <= {int} or not set(map(type, stamps)) <= {int}:
        return None  # a NULL or text timestamp or step: the row reader's ORDER BY
    names = list(dict.fromkeys(keys))
    index = {k: i for i, k in enumerate(names)}
    ki = np.fromiter(map(index.__getitem__, keys), dtype=np.int32, count=len(keys))
    try:
        value = np.array(values, dtype=np.float64)
        step = np.array(steps, dtype=np.int64)
        ts = np.array(stamps, dtype=np.int64)
        row_id = np.array(row_ids, dtype=np.int64)
    except OverflowError:
        return None
    value[value == _DBL_MAX] = np.inf
    value[value == -_DBL_MAX] = -np.inf
    if any(nans):
        value[np.fromiter(map(bool, nans), dtype=bool, count=len(nans))] = np.nan
    order = np.lexsort((row_id, step, ts))
    t = ts[order].astype(np.float64) / 1000.0
    return PointColumns(names, ki[order], step[order], value[order], t), float(t.max())


def ahead(
    items: list[Any],
    read_one: Callable[[Any], Any],
    *,
    held: Callable[[Any], int] = lambda _: 1,
    budget: int = 8,
) -> Iterator[Any]:
    """``read_one`` of each item in order, read by a thread that runs ahead
    of the caller while the caller works on what it got (the thread's DuckDB
    parse and the caller's catalog writes both leave the GIL, so the two
    cores both work). The thread stops reading while what it read and the
    caller has not taken yet weighs ``budget`` or more (``held`` of each
    result); it always reads one. What the thread reads is noted as the
    caller's reads are (``_read.recording``). A caller that stops early waits
    for the read under way, and nothing more is read."""
    if len(items) < 2:
        yield from map(read_one, items)
        return
    from . import _read

    seen = getattr(_read._LOCAL, "seen", None)  # the caller's record of what was read
    ready: deque[tuple[Any, BaseException | None, int]] = deque()
    lock = threading.Condition()
    state = {"held": 0, "stop": False}

    def work() -> None:
        _read._LOCAL.seen = seen
        try:
            for item in items:
                with lock:
                    while state["held"] >= budget and ready and not state["stop"]:
                        lock.wait()
                    if state["stop"]:
                        return
                try:
                    got, error, weight = read_one(item), None, 0
                    weight = held(got)
                except BaseException as exc:  # handed to the caller, in its place
                    got, error = None, exc
                with lock:
                    ready.append((got, error, weight))
                    state["held"] += weight
                    lock.notify_all()
                if error is not None:
                    return
        finally:
            _read._LOCAL.seen = None

    thread = threading.Thread(target=work, name="trackui-mlflow-ahead", daemon=True)
    thread.start()
    try:
        for _ in items:
            with lock:
                while not ready:
                    lock.wait()
                got, error, weight = ready.popleft()
                state["held"] -= weight
                lock.notify_all()
            if error is not None:
                raise error
            yield got
    finally:
        with lock:
            state["stop"] = True
            lock.notify_all()
        thread.join()
