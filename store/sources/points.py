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
from ..importers.base import ForeignRun
from ..ingest import _SUMMARY_STATS, _summary_aggregate, merge_summaries, register_keys

_KEY = operator.attrgetter("key")
_STEP = operator.attrgetter("step")
_VALUE = operator.attrgetter("value")
_T = operator.attrgetter("t")
_INT64 = 1 << 63
#: One CSV line per point: local key index, seq, step, time, value.
_LINE = "%d,%d,%d,%r,%r".__mod__


class Columns(NamedTuple):
    """One run's points, column by column (see the module doc); shaped as a
    chunk of metric lines, ``(run id, bytes, first line)``, for whoever
    counts the bytes a read holds."""

    run_id: str
    text: bytes  # CSV lines: key index, seq, step, t ("None" when unknown), value
    first_line: int
    keys: list[str]  # local key index -> key
    points: int


@dataclass
class Prepared:
    """What a first read keeps of a run's points until they are written."""

    chunk: Columns | tuple[str, bytes, int] | None  # None: no points
    rows: int  # metrics.jsonl lines they make (the run's next seq)
    keys: set[str]
    last_step: int
    size: int  # bytes held


def prepare(run_id: str, run: ForeignRun) -> Prepared:
    """The run's points as ``Columns``, or as metrics.jsonl bytes when the
    columns cannot say the same (see the module doc)."""
    pts = run.points
    got = _columns(run_id, pts)
    if got is not None:
        cols, rows, keys, last = got
        return Prepared(cols if cols.points else None, rows, keys, last, len(cols.text))
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
        return Columns(run_id, b"", 0, [], 0), 0, set(), -1
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
    pairs = list(zip(steps, ts))
    if len(set(zip(keys, pairs))) != n:
        return None  # a key twice at one step and time: lines as the general path makes them
    seq = list(
        itertools.accumulate(map(operator.ne, pairs, itertools.islice(pairs, 1, None)), initial=0)
    )
    index = {k: i for i, k in enumerate(names)}
    text = "\n".join(map(_LINE, zip(map(index.__getitem__, keys), seq, steps, ts, values)))
    cols = Columns(run_id, (text + "\n").encode(), 0, list(names), n)
    return cols, seq[-1] + 1, set(names), hi


def ingest(cur: Any, catalog: Any, chunks: list[Any]) -> int:
    """Points of ``chunks`` (``Columns`` and metrics.jsonl chunks alike) into
    the catalog: the columns here, the rest through the catalog's ingest."""
    lines = [c for c in chunks if not isinstance(c, Columns)]
    points = catalog._ingest.ingest(cur, lines) if lines else 0
    cols = [c for c in chunks if isinstance(c, Columns) and c.points]
    if cols:
        points += _ingest_columns(cur, catalog._ingest.tmpdir, cols)
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
    path = os.path.join(tmpdir, "foreign_points.csv")
    for c in cols:
        run_no = int(run_nos[c.run_id])
        with open(path, "wb") as fh:
            fh.write(c.text)
        cur.execute(
            f"""INSERT INTO foreign_points SELECT {run_no}, * FROM read_csv(?, header=false,
                auto_detect=false, delim=',', quote='', escape='', nullstr='None',
                columns={{'ki': 'INTEGER', 'seq': 'BIGINT', 'step': 'BIGINT',
                          't': 'DOUBLE', 'value': 'DOUBLE'}})""",
            [path],
        )
        cur.execute(
            "INSERT INTO foreign_keys SELECT ?, unnest(range(?)), ?, unnest(?::VARCHAR[])",
            [run_no, len(c.keys), c.run_id, c.keys],
        )
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
