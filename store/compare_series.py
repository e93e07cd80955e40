"""One metric of many runs for the Compare chart, in one query: each run's
series downsampled in SQL to the chart's width exactly as ``Store.series``
downsamples one (raw up to ``2*buckets`` points, else the min and the max
point of each of ``buckets`` equal x-ranges of that run), so 20 runs cost one
scan of their row groups instead of 20 queries.

An x-axis that is another metric (``metric:<key>``) joins two series per run
and goes run by run (``xaxis.series_against``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import xaxis
from .models import Series

if TYPE_CHECKING:
    from .queries import Store


def series_of_runs(
    store: Store,
    run_ids: Sequence[str],
    key: str,
    *,
    buckets: int | None = 200,
    x_axis: str = "step",
) -> list[Series]:
    """``key`` of each run of ``run_ids``, in that order, as ``Store.series``
    gives it for one run (an empty series where the run never logged it)."""
    from .queries import X_AXES

    x_key = xaxis.metric_of(x_axis)
    if x_key is not None:
        return [
            xaxis.series_against(store, run_id, key, x_key, buckets=buckets) for run_id in run_ids
        ]
    if x_axis not in X_AXES:
        raise ValueError(f"x axis must be one of {', '.join(X_AXES)}")
    if not run_ids:
        return []
    marks = ", ".join("?" for _ in run_ids)
    ids = {
        run_id: (int(run_no), int(key_no), float(created), int(total))
        for run_id, run_no, key_no, created, total in store._rows(
            f"""SELECT r.run_id, r.run_no, k.key_no, coalesce(r.created, 0), s.count
                FROM runs r JOIN summaries s ON s.run_id = r.run_id AND s.key = ?
                     JOIN metric_keys k ON k.key = ?
                WHERE r.run_id IN ({marks})""",
            [key, key, *run_ids],
        )
    }
    points: dict[int, list[tuple[float, float, int]]] = {ids[r][0]: [] for r in ids}
    if ids:
        for run_no, x, value, step in store._rows(_query(ids, buckets, x_axis)):
            points[run_no].append((x, value, step))
    out = []
    for run_id in run_ids:
        if run_id not in ids:
            out.append(Series(run_id, key, x_axis, (), (), (), 0, False))
            continue
        run_no, _, _, total = ids[run_id]
        rows = points[run_no]
        out.append(
            Series(
                run_id,
                key,
                x_axis,
                tuple(r[0] for r in rows),
                tuple(r[1] for r in rows),
                tuple(r[2] for r in rows),
                total,
                buckets is not None and total > 2 * buckets,
            )
        )
    return out


def _query(ids: dict[str, tuple[int, int, float, int]], buckets: int | None, x_axis: str) -> str:
    """SQL for the points of every run in ``ids`` (all of one key), with
    the run numbers, key and bucket count as literals so DuckDB skips the row
    groups of every other series by their statistics."""
    (key_no,) = {v[1] for v in ids.values()}
    n = int(buckets) if buckets is not None else 0
    runs = ", ".join(
        f"({run_no}, CAST('{created!r}' AS DOUBLE), "
        f"{str(buckets is not None and total > 2 * buckets).upper()})"
        for run_no, _, created, total in ids.values()
    )
    x_expr = {"step": "CAST(m.step AS DOUBLE)", "wall": "m.t", "relative": "m.t - r.created"}[
        x_axis
    ]
    listed = ", ".join(str(v[0]) for v in ids.values())
    return f"""
        WITH sel(run_no, created, ds) AS (VALUES {runs}),
        pts AS (
          SELECT m.run_no, {x_expr} AS x, m.value, m.step, m.seq, r.ds
          FROM metrics m JOIN sel r ON r.run_no = m.run_no
          WHERE m.key_no = {int(key_no)} AND m.run_no IN ({listed})
            AND (NOT r.ds OR NOT isnan(m.value))
        ),
        bounds AS (SELECT run_no, min(x) AS lo, max(x) AS hi FROM pts WHERE ds GROUP BY run_no),
        bucketed AS (
          SELECT p.*, least(CAST(floor((x - lo) / nullif(hi - lo, 0) * {n}) AS BIGINT),
                            {n} - 1) AS b
          FROM pts p JOIN bounds USING (run_no)
        ),
        agg AS (
          SELECT run_no,
                 arg_min(struct_pack(x := x, v := value, s := step, q := seq), value) AS lo_pt,
                 arg_max(struct_pack(x := x, v := value, s := step, q := seq), value) AS hi_pt
          FROM bucketed GROUP BY run_no, b
        ),
        both_pts AS (SELECT run_no, lo_pt AS p FROM agg UNION SELECT run_no, hi_pt FROM agg)
        SELECT run_no, x, v, s FROM (
          SELECT run_no, p.x AS x, p.v AS v, p.s AS s, p.q AS q FROM both_pts
          UNION ALL
          SELECT run_no, x, value, step, seq FROM pts WHERE NOT ds
        ) ORDER BY run_no, x, q"""
