"""A foreign run's points into ``metrics`` and ``summaries`` as columns.

The general path writes a run's points as metrics.jsonl text
(``importers._metric_rows``) for the catalog's JSON ingest to parse back:
two conversions of every number. Here the points are pulled apart into
columns with C-level loops (``map``/``zip`` over the ``Point`` list), written
to a temp CSV this module makes (numbers by ``repr``, which round-trips) and
read by DuckDB's CSV reader: never a file of the source.

The points land exactly as the general path puts them: a point's ``seq`` is
the number of its metrics.jsonl line, where consecutive points sharing step
and time share a line unless a key comes twice. When every (key, step, time)
of a run is distinct, a new line starts exactly where step or time changes,
which is what is computed here; any run where that or anything else the
columns assume does not hold (a key that is not a ``str`` or is ``_step`` or
``_t``, a value that is not a ``float``, a step that is not an int64, a time
that is not finite) goes the general way (``prepare`` returns its bytes).
"""

from __future__ import annotations

import itertools
import math
import operator
import os
from dataclasses import dataclass
from typing import Any, NamedTuple

from .. import columns as _columns_mod
from ..catalog_schema import quote
from ..importers import _metric_rows
from ..importers._pointcols import PointColumns, numpy_or_none
from ..importers._tfscalars import gc_paused
from ..importers.base import ForeignRun
from ..ingest import _SUMMARY_STATS, _summary_aggregate, merge_summaries, register_keys
from .ids import Ids
from .ids import in_list as _in_list  # noqa: F401  (tests use these names)
from .ids import key_numbers as _key_numbers
from .ids import run_numbers as _run_numbers
from .summaries import merge as _merge_summaries

_KEY = operator.attrgetter("key")
_STEP = operator.attrgetter("step")
_VALUE = operator.attrgetter("value")
_T = operator.attrgetter("t")
_INT64 = 1 << 63
#: One CSV line per line of metrics.jsonl the points make: seq, step, time.
_ROW = "%d,%d,%r".__mod__


class Columns(NamedTuple):
    """One run's points, column by column (see the module doc); shaped as a
    chunk of metric lines, ``(run id, bytes, first line)``, for whoever
    counts the bytes a read holds. Each column is text, one value a line;
    the step and time are per line of metrics.jsonl (``rows``)."""

    run_id: str
    values: bytes  # each point's value (``repr``)
    first_line: int
    keys: list[str]  # local key index -> key
    points: int
    key_index: bytes  # each point's local key index
    seq: bytes  # each point's seq
    rows: bytes  # "seq,step,t" of each seq (t "None" when unknown)


@dataclass
class Prepared:
    """What a first read keeps of a run's points until they are written."""

    chunk: Columns | tuple[str, bytes, int] | None  # None: no points
    rows: int  # metrics.jsonl lines they make (the run's next seq)
    keys: set[str]
    last_step: int
    size: int  # bytes held


class NumColumns(NamedTuple):
    """One run's points as NumPy columns (from ``PointColumns``), shaped as
    a chunk of metric lines, ``(run id, held, first line)``: ``held`` has
    the length of the bytes the columns hold (a zero-stride view, nothing
    allocated), for whoever counts what a read holds. ``seq`` counts from
    0; the points get ``first_line + seq``."""

    run_id: str
    held: Any
    first_line: int
    names: list[str]
    points: int
    ki: Any  # int32: index into names
    seq: Any  # int64: the metrics.jsonl line the point would be on
    step: Any
    t: Any  # float64; ``t_null`` where unknown
    t_null: Any
    value: Any


#: Bytes a point holds in ``NumColumns`` (6 columns and a flag), as counted.
_HELD_PER_POINT = 37


def num_columns(run_id: str, pc: PointColumns, first_line: int = 0) -> Prepared | None:
    """``pc`` as a ``NumColumns`` chunk, the seq of every point computed as
    ``_columns`` does (a new line where step or time changes); None when
    the lines would not be that simple (a key twice in one line, a key
    ``_step`` or ``_t``): then the general way."""
    import numpy as np

    n = len(pc)
    if not n:
        return Prepared(None, 0, set(), -1, 0)
    if "_step" in pc.names or "_t" in pc.names:
        return None
    step, t, ki = pc.step, pc.t, pc.ki
    t_null = ~np.isfinite(t)
    same_t = (t[1:] == t[:-1]) | (t_null[1:] & t_null[:-1])
    starts = (step[1:] != step[:-1]) | ~same_t
    seq = np.zeros(n, np.int64)
    np.cumsum(starts, out=seq[1:])
    width = len(pc.names)
    small = ki.astype(np.uint16) if width < 1 << 16 else ki
    order = np.argsort(small, kind="stable")
    k_sorted, s_sorted = ki[order], seq[order]
    if ((k_sorted[1:] == k_sorted[:-1]) & (s_sorted[1:] == s_sorted[:-1])).any():
        return None  # a key twice in a line: a new line there, as the general path does
    used = np.bincount(ki, minlength=width) > 0
    keys = {name for name, u in zip(pc.names, used.tolist(), strict=True) if u}
    held = np.broadcast_to(np.uint8(0), (_HELD_PER_POINT * n,))
    cols = NumColumns(run_id, held, first_line, pc.names, n, ki, seq, step, t, t_null, pc.value)
    rows = int(seq[-1]) + 1
    return Prepared(cols, rows, keys, int(step.max()), len(held))


#: Fewer new points than this, of all runs together, go in as plain lists
#: (``few``): a refresh of many runs that gained a point each pays no
#: NumPy pass per run.
FEW = 20_000


def few(
    cur: Any, catalog: Any, batch: list[tuple[str, list[Any], int]], ids: Ids | None = None
) -> tuple[list[int], int] | None:
    """``(run id, points, first line)`` of each run into the catalog with
    one insert, the lines numbered as ``importers._metric_rows`` numbers
    them (a new line where step or time changes or a key comes again; a
    time that is not finite is none; reserved keys and values that are not
    numbers left out): how many lines each run's points made, and how many
    points went in. None (and
    nothing written) when a key is not a ``str``: then the general way."""
    cols: dict[str, list[Any]] = {c: [] for c in ("run", "key", "seq", "step", "t", "value")}
    made: list[int] = []
    for run_id, pts, first in batch:
        line = first - 1
        seen: set[str] = set()
        step: Any = None
        t: float | None = None
        for p in pts:
            key = p.key
            if type(key) is not str:
                return None
            if key == "_step" or key == "_t":
                continue
            try:
                value = float(p.value)
            except (TypeError, ValueError, OverflowError):
                continue
            pt = p.t
            pt = None if pt is None or not math.isfinite(pt) else float(pt)
            if line < first or step != p.step or t != pt or key in seen:
                line += 1
                seen = set()
                step, t = int(p.step), pt
            seen.add(key)
            for name, v in zip(cols, (run_id, key, line, step, t, value), strict=True):
                cols[name].append(v)
        made.append(line + 1 - first)
    if not cols["run"]:
        return made, 0
    runs = _run_numbers(cur, set(cols["run"]), ids)
    keys = _key_numbers(cur, set(cols["key"]), ids)
    points = _columns_mod.Points(
        run_no=[runs[r] for r in cols["run"]],
        key_no=[keys[k] for k in cols["key"]],
        seq=cols["seq"],
        step=cols["step"],
        t=cols["t"],
        value=cols["value"],
    )
    np = numpy_or_none() if _columns_mod.np is not None else None
    if np is None:
        return made, _columns_mod.insert_points(cur, catalog._ingest.tmpdir, points)
    # in series order, for the summaries computed here (cheaper than SQL's)
    run_no = np.array(points.run_no, np.int32)
    key_no = np.array(points.key_no, np.int32)
    seq = np.array(points.seq, np.int64)
    order = np.lexsort((seq, key_no, run_no))
    t_null = np.array([t is None for t in cols["t"]], dtype=bool)[order]
    t = np.array([math.nan if t is None else t for t in cols["t"]], np.float64)[order]
    ordered = _columns_mod.Points(
        run_no=run_no[order],
        key_no=key_no[order],
        seq=seq[order],
        step=np.array(points.step, np.int64)[order],
        t=t,
        value=np.array(points.value, np.float64)[order],
        t_null=t_null,
    )
    n = _columns_mod.insert_metrics(cur, catalog._ingest.tmpdir, ordered, None, ordered=True)
    _merge_summaries(cur, ordered, {r: i for i, r in runs.items()}, {k: i for i, k in keys.items()})
    return made, n


def _ingest_numpy(cur: Any, tmpdir: str, nums: list[NumColumns], ids: Ids | None = None) -> int:
    """``NumColumns`` of many runs into the catalog with one insert
    (``store/columns.py``), each run's points in series order."""
    import numpy as np

    runs = _run_numbers(cur, [c.run_id for c in nums], ids)
    keys = _key_numbers(cur, {k for c in nums for k in c.names}, ids)
    parts: list[tuple[int, NumColumns, Any, Any]] = []
    for c in nums:
        key_no = np.array([keys[k] for k in c.names], dtype=np.int32)
        rank = np.empty(len(key_no), np.int64)
        rank[np.argsort(key_no, kind="stable")] = np.arange(len(key_no))
        ranked = rank[c.ki]
        if len(key_no) < 1 << 16:
            ranked = ranked.astype(np.uint16)  # a radix sort
        order = np.argsort(ranked, kind="stable")
        parts.append((runs[c.run_id], c, order, key_no[c.ki[order]]))
    parts.sort(key=lambda p: p[0])
    points = _columns_mod.Points(
        run_no=np.concatenate([np.full(c.points, r, np.int32) for r, c, _, _ in parts]),
        key_no=np.concatenate([k for _, _, _, k in parts]),
        seq=np.concatenate([c.seq[o] + c.first_line for _, c, o, _ in parts]),
        step=np.concatenate([c.step[o] for _, c, o, _ in parts]),
        t=np.concatenate([c.t[o] for _, c, o, _ in parts]),
        value=np.concatenate([c.value[o] for _, c, o, _ in parts]),
        t_null=np.concatenate([c.t_null[o] for _, c, o, _ in parts]),
    )
    n = _columns_mod.insert_metrics(cur, tmpdir, points, None, ordered=True)
    if n:
        ids = {r: run_id for run_id, r in runs.items()}
        names = {k: key for key, k in keys.items()}
        _merge_summaries(cur, points, ids, names)
    return n


@gc_paused
def prepare(run_id: str, run: ForeignRun) -> Prepared:
    """The run's points as ``NumColumns`` (a reader gave ``PointColumns``) or
    ``Columns``, or as metrics.jsonl bytes when the columns cannot say the
    same (see the module doc)."""
    pts = run.points
    if isinstance(pts, PointColumns):
        got = num_columns(run_id, pts)
        if got is not None:
            return got
    got = _columns(run_id, pts)
    if got is not None:
        cols, rows, keys, last = got
        return Prepared(cols if cols.points else None, rows, keys, last, len(cols.values))
    data, lines = _metric_rows(run)
    steps = [p.step for p in pts]
    return Prepared(
        (run_id, data, 0) if data else None,
        len(lines),
        {p.key for p in pts},
        max(steps, default=-1),
        len(data),
    )


def _columns(run_id: str, pts: list[Any]) -> tuple[Columns, int, set[str], int] | None:
    n = len(pts)
    if not n:
        return Columns(run_id, b"", 0, [], 0, b"", b"", b""), 0, set(), -1
    keys = list(map(_KEY, pts))
    steps = list(map(_STEP, pts))
    values = list(map(_VALUE, pts))
    ts = list(map(_T, pts))
    if set(map(type, keys)) != {str} or set(map(type, values)) != {float}:
        return None
    if not set(map(type, steps)) <= {int} or not set(map(type, ts)) <= {float, type(None)}:
        return None
    lo, hi = min(steps), max(steps)
    if lo < -_INT64 or hi >= _INT64:
        return None
    if not all(map(math.isfinite, (t for t in ts if t is not None) if None in ts else ts)):
        return None
    names = dict.fromkeys(keys)
    if "_step" in names or "_t" in names:
        return None
    # a new line where step or time changes (with the loops in C)
    starts = list(
        map(
            operator.or_,
            map(operator.ne, steps, itertools.islice(steps, 1, None)),
            map(operator.ne, ts, itertools.islice(ts, 1, None)),
        )
    )
    seq = list(itertools.accumulate(starts, initial=0))
    index = {k: i for i, k in enumerate(names)}
    ki = list(map(index.__getitem__, keys))
    # ... and nowhere else, unless a key came twice in one line: then the
    # general path, which starts a line there too
    width = len(index)
    if len(set(map(operator.add, map(operator.mul, seq, itertools.repeat(width)), ki))) != n:
        return None
    starts.insert(0, True)
    rows = seq[-1] + 1
    row_text = "\n".join(
        map(
            _ROW,
            zip(range(rows), itertools.compress(steps, starts), itertools.compress(ts, starts)),
        )
    )
    cols = Columns(
        run_id,
        _lines(map(repr, values)),
        0,
        list(names),
        n,
        _lines(map(str, ki)),
        _lines(map(str, seq)),
        (row_text + "\n").encode(),
    )
    return cols, rows, set(names), hi


def _lines(texts: Any) -> bytes:
    return ("\n".join(texts) + "\n").encode()


def ingest(
    cur: Any, catalog: Any, chunks: list[Any], ids: Ids | None = None, **lines_options: Any
) -> int:
    """Points of ``chunks`` (``NumColumns``, ``Columns`` and metrics.jsonl
    chunks alike) into the catalog: the columns here, the rest through the
    catalog's ingest (with ``lines_options``); ``ids``: the run and key ids
    known (``ids.py``)."""
    nums = [c for c in chunks if isinstance(c, NumColumns) and c.points]
    tmpdir = catalog._ingest.tmpdir
    points = _ingest_numpy(cur, tmpdir, nums, ids) if nums else 0
    cols = [c for c in chunks if isinstance(c, Columns) and c.points]
    points += _ingest_columns(cur, tmpdir, cols) if cols else 0
    # after the metrics, as before: a run's system samples come after its points
    lines = [c for c in chunks if not isinstance(c, (Columns, NumColumns))]
    if lines:
        points += catalog._ingest.ingest(cur, lines, **lines_options)
    return points


def _ingest_columns(cur: Any, tmpdir: str, cols: list[Columns]) -> int:
    run_nos = dict(
        cur.execute(
            "SELECT run_id, run_no FROM runs WHERE run_id IN (SELECT unnest(?::VARCHAR[]))",
            [[c.run_id for c in cols]],
        ).fetchall()
    )
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE foreign_points(run_no INTEGER, ki INTEGER, seq BIGINT, "
        "step BIGINT, t DOUBLE, value DOUBLE)"
    )
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE foreign_keys(run_no INTEGER, ki INTEGER, run_id VARCHAR, "
        "key VARCHAR)"
    )
    names = ("ki", "seq", "value", "rows")
    paths = {name: os.path.join(tmpdir, f"foreign_{name}.csv") for name in names}
    for c in cols:
        run_no = int(run_nos[c.run_id])
        for name, data in zip(names, (c.key_index, c.seq, c.values, c.rows), strict=True):
            with open(paths[name], "wb") as fh:
                fh.write(data)
        # the files are ours and plain: nothing to sniff, quote or escape
        csv = "header=false, auto_detect=false, delim=',', quote='', escape='', nullstr='None'"
        cur.execute(
            f"""INSERT INTO foreign_points
                SELECT {run_no}, k.ki, s.seq, r.step, r.t, v.value
                FROM read_csv($ki, {csv}, columns={{'ki': 'INTEGER'}}) k
                POSITIONAL JOIN read_csv($seq, {csv}, columns={{'seq': 'BIGINT'}}) s
                POSITIONAL JOIN read_csv($value, {csv}, columns={{'value': 'DOUBLE'}}) v
                JOIN read_csv($rows, {csv},
                              columns={{'seq': 'BIGINT', 'step': 'BIGINT', 't': 'DOUBLE'}}) r
                  ON r.seq = s.seq""",
            paths,
        )
        cur.execute(
            "INSERT INTO foreign_keys SELECT ?, unnest(range(?)), ?, unnest(?::VARCHAR[])",
            [run_no, len(c.keys), c.run_id, c.keys],
        )
    for path in paths.values():
        os.unlink(path)
    register_keys(cur, "SELECT DISTINCT key FROM foreign_keys", [])
    (points,) = cur.execute(
        """INSERT INTO metrics
           SELECT p.run_no, k.key_no, p.seq, p.step, p.t, p.value
           FROM foreign_points p JOIN foreign_keys f USING (run_no, ki)
                JOIN metric_keys k ON k.key = f.key
           ORDER BY p.run_no, k.key_no, p.seq"""
    ).fetchall()[0]
    aggs = ", ".join(
        f"{_summary_aggregate(stat, 'p.value', 'p.seq', 'p.step', 'p.t')} AS {quote(stat)}"
        for stat in _SUMMARY_STATS
    )
    cur.execute("CREATE OR REPLACE TEMP TABLE chunk_summaries AS FROM summaries LIMIT 0")
    cur.execute(
        f"""INSERT INTO chunk_summaries SELECT f.run_id, f.key, {aggs}
            FROM foreign_points p JOIN foreign_keys f USING (run_no, ki)
            GROUP BY f.run_id, f.key"""
    )
    merge_summaries(cur)
    cur.execute("DROP TABLE chunk_summaries")
    cur.execute("DROP TABLE foreign_points")
    cur.execute("DROP TABLE foreign_keys")
    return int(points)
