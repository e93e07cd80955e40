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

from ..catalog_schema import quote
from ..importers import _metric_rows
from ..importers._tfscalars import gc_paused
from ..importers.base import ForeignRun
from ..ingest import _SUMMARY_STATS, _summary_aggregate, merge_summaries, register_keys

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


@gc_paused
def prepare(run_id: str, run: ForeignRun) -> Prepared:
    """The run's points as ``Columns``, or as metrics.jsonl bytes when the
    columns cannot say the same (see the module doc)."""
    pts = run.points
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


def ingest(cur: Any, catalog: Any, chunks: list[Any]) -> int:
    """Points of ``chunks`` (``Columns`` and metrics.jsonl chunks alike) into
    the catalog: the columns here, the rest through the catalog's ingest."""
    cols = [c for c in chunks if isinstance(c, Columns) and c.points]
    points = _ingest_columns(cur, catalog._ingest.tmpdir, cols) if cols else 0
    # after the metrics, as before: a run's system samples come after its points
    lines = [c for c in chunks if not isinstance(c, Columns)]
    if lines:
        points += catalog._ingest.ingest(cur, lines)
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
