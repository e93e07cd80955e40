"""Points given as columns into the catalog's ``metrics`` and ``summaries``.

For readers that already hold many points (a foreign tool's event files or
tables, a cold read of big run files): one statement inserts them, one more
aggregates their summaries, whatever their number.

Usage, inside a transaction the caller opened on ``cur``::

    from trackui.store.columns import Points, insert_points, key_numbers, run_numbers

    runs = run_numbers(cur, ["run-a"])        # {run_id: run_no}; the runs rows must exist
    keys = key_numbers(cur, ["loss", "acc"])  # {key: key_no}; new keys get an id
    n = insert_points(cur, tmpdir, Points(run_no, key_no, seq, step, t, value))

``Points`` holds six columns of equal length: ``run_no`` and ``key_no``
(int32), ``seq`` and ``step`` (int64), ``t`` and ``value`` (float64), as
numpy arrays or, without numpy, any sequences (Python lists). ``seq`` orders
a series' points (a native run's line number); a point with no time has
``t`` None in a list, or is True in the optional ``t_null`` column (numpy
bool). Values may be NaN or ±inf (a NaN counts as a point, but not for min
and max, as on every other path).

``insert_points``:

- inserts the points into ``metrics`` sorted by run, key and seq (each series
  contiguous, which charts rely on); columns already in that order are
  written as they are;
- aggregates the summary of each (run, key) it touched from these points and
  merges it into ``summaries`` as ``ingest.merge_summaries`` does: the points
  are taken to follow those already there (first value and first time kept,
  last ones replaced, min/max/count combined), and ``runs.last_t`` updated;
- returns the number of points.

``insert_metrics(cur, tmpdir, points, None, ordered=True)`` is the insert
alone, for callers that make the summaries themselves (``ingest_numpy``, the
foreign sources); ``ordered=True`` vouches that the points are in series
order (not checked), None has it checked.

With numpy, the columns (lists are converted) are scanned by DuckDB in place
(``cur.register``); without it, they go through a JSON-lines temp file in
``tmpdir``; both give the same rows. The INSERT runs on one DuckDB thread
(less than half the CPU time of two). The module's ``np`` (imported on first
use) is None when numpy is absent (tests set it so to run the fallback).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .catalog_schema import quote


def numpy_module() -> Any:
    """numpy, imported on first use (not with the catalog, whose first
    screen does not need it), or None where it is absent or a test set
    ``np`` to None."""
    found = globals()
    if "np" in found:
        return found["np"]
    try:
        import numpy
    except ImportError:  # the ``fast`` extra is not installed
        numpy = None  # type: ignore[assignment]
    found["np"] = numpy
    return numpy


def __getattr__(name: str) -> Any:
    """``columns.np``: numpy or None, imported on first use (PEP 562)."""
    if name == "np":
        return numpy_module()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The columns' names and their types in ``metrics``.
COLUMNS = {
    "run_no": "INTEGER",
    "key_no": "INTEGER",
    "seq": "BIGINT",
    "step": "BIGINT",
    "t": "DOUBLE",
    "value": "DOUBLE",
}
_NUMPY_TYPES = {"run_no": "int32", "key_no": "int32", "seq": "int64", "step": "int64"}
_VIEW = "columns_points"
#: Inserts of fewer points run as they are (``one_thread`` costs two
#: statements, some 5 ms, more than a live refresh's few points take).
ONE_THREAD_ROWS = 50_000
_SUMMARIES = "columns_summaries"


@dataclass
class Points:
    """Six columns of equal length (see the module docstring)."""

    run_no: Sequence[int] | Any
    key_no: Sequence[int] | Any
    seq: Sequence[int] | Any
    step: Sequence[int] | Any
    t: Sequence[float | None] | Any
    value: Sequence[float] | Any
    t_null: Any = None  # numpy bool: True where a point has no time

    def __len__(self) -> int:
        return len(self.value)


def run_numbers(cur: Any, run_ids: Iterable[str]) -> dict[str, int]:
    """``runs.run_no`` of each run id that has a runs row."""
    ids = sorted(set(run_ids))
    if not ids:
        return {}
    rows = cur.execute(
        "SELECT run_id, run_no FROM runs WHERE run_id IN (SELECT unnest(?::VARCHAR[]))", [ids]
    ).fetchall()
    return {run_id: int(no) for run_id, no in rows}


def key_numbers(cur: Any, keys: Iterable[str]) -> dict[str, int]:
    """The id of each metric key, giving new keys one."""
    from .ingest import register_keys

    names = sorted(set(keys))
    if not names:
        return {}
    register_keys(cur, "SELECT unnest(?::VARCHAR[]) AS key", [names])
    rows = cur.execute(
        "SELECT key, key_no FROM metric_keys WHERE key IN (SELECT unnest(?::VARCHAR[]))", [names]
    ).fetchall()
    return {key: int(no) for key, no in rows}


def insert_points(cur: Any, tmpdir: str, points: Points) -> int:
    """Insert ``points`` and merge their summaries (see the module docstring)."""
    from .ingest import merge_summaries

    n = insert_metrics(cur, tmpdir, points, _SUMMARIES, create=True)
    if n:
        merge_summaries(cur, _SUMMARIES)
    cur.execute(f"DROP TABLE IF EXISTS {_SUMMARIES}")
    return n


def insert_metrics(
    cur: Any,
    tmpdir: str,
    points: Points,
    summaries: str | None,
    *,
    create: bool = False,
    ordered: bool | None = None,
) -> int:
    """Insert ``points`` into ``metrics`` and their summaries (one row per
    run and key, from these points alone) into the temp table ``summaries``,
    created when ``create``, else appended to; None: no summaries (the caller
    has them). For ``ingest``, which merges several groups' summaries at once.
    ``ordered``: True when the caller knows the points are in series order
    (not checked), None to find out."""
    from .ingest import _SUMMARY_STATS, _summary_aggregate

    if create and summaries:
        cur.execute(f"CREATE OR REPLACE TEMP TABLE {summaries} AS FROM summaries LIMIT 0")
    n = len(points)
    if not n:
        return 0
    staged = _stage_numpy(cur, points, ordered) if numpy_module() is not None else None
    source = staged[0] if staged else _stage_json(cur, tmpdir, points)
    try:
        order = "" if staged and staged[1] else "ORDER BY run_no, key_no, seq"
        sql = f"INSERT INTO metrics SELECT * FROM {source} {order}"
        if n < ONE_THREAD_ROWS:
            cur.execute(sql)  # the two SET threads would cost more than the insert
        else:
            _insert_single_threaded(cur, sql)
        if summaries is None:
            return n
        aggs = ", ".join(
            f"{_summary_aggregate(stat, 'p.value', 'p.seq', 'p.step', 'p.t')} AS {quote(stat)}"
            for stat in _SUMMARY_STATS
        )
        cur.execute(
            f"""INSERT INTO {summaries}
                SELECT r.run_id, k.key, a.* EXCLUDE (run_no, key_no) FROM (
                  SELECT p.run_no, p.key_no, {aggs} FROM {source} p GROUP BY p.run_no, p.key_no
                ) a JOIN runs r ON r.run_no = a.run_no JOIN metric_keys k ON k.key_no = a.key_no"""
        )
    finally:
        if staged:
            cur.unregister(_VIEW)
        else:
            cur.execute(f"DROP TABLE IF EXISTS {_VIEW}")
    return n


def _insert_single_threaded(cur: Any, sql: str) -> None:
    """Run one big INSERT on one thread: it then costs DuckDB less than half
    the CPU time (measured: 0.65 s against 1.5-1.7 s for 2 M points on 2
    cores), and its wall time no more under load."""
    with one_thread(cur):
        cur.execute(sql)


@contextmanager
def one_thread(cur: Any) -> Iterator[None]:
    """DuckDB on one thread meanwhile (``threads`` is the database's
    setting: other cursors' queries meanwhile run on one too)."""
    (threads,) = cur.execute("SELECT current_setting('threads')").fetchall()[0]
    if int(threads) <= 1:
        yield
        return
    cur.execute("SET threads = 1")
    try:
        yield
    finally:
        cur.execute(f"SET threads = {int(threads)}")


def _stage_numpy(cur: Any, points: Points, ordered: bool | None) -> tuple[str, bool] | None:
    """Register the columns for DuckDB to scan in place: the SQL of a
    relation with ``metrics``' columns, and whether the rows are already in
    its order. None when a column will not convert (the JSON path then)."""
    np = numpy_module()
    try:
        cols = {
            name: np.asarray(getattr(points, name), dtype=kind)
            for name, kind in _NUMPY_TYPES.items()
        }
        t = points.t
        t_null = points.t_null
        if not isinstance(t, np.ndarray) and any(x is None for x in t):
            t_null = np.fromiter((x is None for x in t), dtype=bool, count=len(t))
            t = [math.nan if x is None else x for x in t]
        cols["t"] = np.asarray(t, dtype="float64")
        cols["value"] = np.asarray(points.value, dtype="float64")
    except (TypeError, ValueError, OverflowError):
        return None
    if len({len(c) for c in cols.values()}) != 1:
        raise ValueError("columns of different lengths")
    # DuckDB's scan of a float array reads NaN as NULL: a value or time is
    # never NULL here, so NULL is NaN again (a missing time is ``t_null``).
    t_sql = "coalesce(t, 'NaN'::DOUBLE)"
    if t_null is not None:
        cols["t_null"] = np.asarray(t_null, dtype=bool)
        t_sql = f"CASE WHEN t_null THEN NULL ELSE {t_sql} END"
    cur.register(_VIEW, cols)
    source = (
        f"(SELECT run_no, key_no, seq, step, {t_sql} AS t, "
        f"coalesce(value, 'NaN'::DOUBLE) AS value FROM {_VIEW})"
    )
    if ordered is None:
        ordered = _is_sorted(cols["run_no"], cols["key_no"], cols["seq"])
    return source, ordered


def _is_sorted(run_no: Any, key_no: Any, seq: Any) -> bool:
    """Whether the rows are in (run_no, key_no, seq) order, vectorised."""
    np = numpy_module()
    if len(seq) < 2:
        return True
    d_run = np.diff(run_no)
    if (d_run < 0).any():
        return False
    same_run = d_run == 0
    d_key = np.diff(key_no)
    if (same_run & (d_key < 0)).any():
        return False
    return not (same_run & (d_key == 0) & (np.diff(seq) <= 0)).any()


def _stage_json(cur: Any, tmpdir: str, points: Points) -> str:
    """The columns as a temp table read from JSON lines (no numpy)."""
    from .ingest import temp_table
    from .ingest_python import _json_number

    t_null = points.t_null
    lines = []
    for i, (run_no, key_no, seq, step, t, value) in enumerate(
        zip(points.run_no, points.key_no, points.seq, points.step, points.t, points.value)
    ):
        if t_null is not None and t_null[i]:
            t = None
        lines.append(
            f'{{"run_no":{int(run_no)},"key_no":{int(key_no)},"seq":{int(seq)},'
            f'"step":{int(step)},"t":{_json_number(None if t is None else float(t))},'
            f'"value":{_json_number(float(value))}}}\n'
        )
    if len(lines) != len(points.run_no) or len(lines) != len(points.value):
        raise ValueError("columns of different lengths")
    temp_table(cur, tmpdir, _VIEW, COLUMNS, lines)
    try:
        os.remove(os.path.join(tmpdir, f"{_VIEW}.jsonl"))
    except OSError:
        pass
    return _VIEW
