"""One metric of each group of runs, aggregated along the steps, in DuckDB.

Exact while a group's steps span at most ``2 * buckets`` values: per step
over the *union* of the steps its runs logged, ``n`` is the number of runs
with a finite value there (a run that logged the step twice counts with its
last finite value), then mean, min, max and the sample standard deviation
(n - 1 in the denominator; ``None`` where n = 1: one run says nothing about
spread).

Longer series are downsampled in SQL so a chart gets about as many points as
``Store.series`` gives (two per bucket): the step range is cut into
``2 * buckets`` equal cells; each run's finite values in a cell are averaged;
``n``, mean and std are over those run averages (the spread *between* runs,
as at a single step), min and max over every point in the cell, so spikes
survive in the band; the point sits at the mean step of the cell's points.
Every (run, cell) is one group of the aggregate, so the cost is one scan of
the points, whatever their number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .groups import RunGroup
    from .queries import Store


@dataclass(frozen=True)
class GroupSeries:
    """One metric of one group (module doc): one entry per step, or per cell
    of steps when ``downsampled``."""

    label: str
    key: str
    x: tuple[float, ...]  # the step (the mean step of a cell when downsampled)
    n: tuple[int, ...]  # runs with a finite value there
    mean: tuple[float, ...]
    min: tuple[float, ...]
    max: tuple[float, ...]
    std: tuple[float | None, ...]  # sample std; None where n = 1
    runs: int  # runs in the group
    total: int  # finite points the group's runs logged
    downsampled: bool

    @property
    def steps(self) -> tuple[int, ...]:
        return tuple(round(x) for x in self.x)


def group_series(
    store: Store, groups: Sequence[RunGroup], key: str, *, buckets: int | None = 200
) -> list[GroupSeries]:
    """``key`` aggregated per group along the steps (module doc); at most
    ``2 * buckets`` points per group (``None``: exact, however long)."""
    if not groups:
        return []
    key_rows = store._rows("SELECT key_no FROM metric_keys WHERE key = ?", [key])
    run_ids = [r for g in groups for r in g.run_ids]
    marks = ", ".join("?" for _ in run_ids)
    run_nos = dict(
        store._rows(f"SELECT run_id, run_no FROM runs WHERE run_id IN ({marks})", run_ids)
    )
    pairs = [
        (int(run_nos[r]), gi) for gi, g in enumerate(groups) for r in g.run_ids if r in run_nos
    ]
    rows: list[tuple[Any, ...]] = []
    totals: dict[int, int] = {}
    if key_rows and pairs:
        key_no = int(key_rows[0][0])
        # Ids go in as literals, so DuckDB skips row groups by their statistics.
        where = (
            f"m.key_no = {key_no} AND m.run_no IN ({', '.join(str(no) for no, _ in pairs)})"
            " AND isfinite(m.value)"
        )
        per_run = store._rows(
            f"SELECT run_no, min(step), max(step), count(*) FROM metrics m WHERE {where} "
            "GROUP BY run_no"
        )
        group_of = dict(pairs)
        for run_no, _, _, count in per_run:
            totals[group_of[run_no]] = totals.get(group_of[run_no], 0) + int(count)
        if per_run:
            lo = min(int(r[1]) for r in per_run)
            hi = max(int(r[2]) for r in per_run)
            rows = store._rows(_sql(where, pairs, lo, hi, buckets))
    per_group: dict[int, list[tuple[Any, ...]]] = {}
    for row in rows:
        per_group.setdefault(row[0], []).append(row)
    out = []
    for gi, group in enumerate(groups):
        pts = per_group.get(gi, [])
        out.append(
            GroupSeries(
                label=group.label,
                key=key,
                x=tuple(float(p[1]) for p in pts),
                n=tuple(int(p[2]) for p in pts),
                mean=tuple(float(p[3]) for p in pts),
                min=tuple(float(p[4]) for p in pts),
                max=tuple(float(p[5]) for p in pts),
                std=tuple(None if p[2] < 2 or p[6] is None else float(p[6]) for p in pts),
                runs=group.n,
                total=totals.get(gi, 0),
                downsampled=any(p[7] for p in pts),
            )
        )
    return out


def _sql(
    where: str, pairs: Sequence[tuple[int, int]], lo: int, hi: int, buckets: int | None
) -> str:
    """Per (run, cell) first, on the points alone (no join: one scan and a
    small aggregate), then per (group, cell) over those few rows. All groups
    share one grid of cells, as they share the chart's x-axis."""
    mapping = ", ".join(f"({no}, {gi})" for no, gi in pairs)
    cells = 2 * int(buckets) if buckets is not None else 0
    if not cells or hi - lo < cells:
        # Exact: one cell per step, the run's last finite value at it.
        cell, value, v_lo, v_hi = "m.step", "arg_max(m.value, m.seq)", "v", "v"
    else:
        width = -(-(hi - lo + 1) // cells)  # ceil: at most `cells` cells
        cell, value, v_lo, v_hi = f"(m.step - {lo}) // {width}", "avg(m.value)", "lo_v", "hi_v"
    return f"""
        WITH g(run_no, gi) AS (VALUES {mapping}),
        per_run AS (
          SELECT m.run_no, {cell} AS cell, {value} AS v, min(m.value) AS lo_v,
                 max(m.value) AS hi_v, sum(m.step) AS step_sum, count(*) AS pts,
                 min(m.step) AS s_lo, max(m.step) AS s_hi
          FROM metrics m WHERE {where}
          GROUP BY m.run_no, cell
        )
        SELECT gi, sum(step_sum) / sum(pts) AS x, count(v) AS n, avg(v) AS mean,
               min({v_lo}) AS lo, max({v_hi}) AS hi, stddev_samp(v) AS sd,
               min(s_lo) < max(s_hi) AS merged
        FROM per_run JOIN g ON g.run_no = per_run.run_no
        GROUP BY gi, cell ORDER BY gi, x"""
