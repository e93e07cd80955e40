"""A metric charted against another logged metric (``epoch``, tokens seen…)
instead of the step: the x of each point is the x metric's value at the same
step, joined in SQL (the latest x logged at or before that step, so a
validation metric logged at the end of an epoch still finds its epoch).

The x-axis name is ``metric:<key>``; ``Series.x_axis`` carries it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .models import Series

if TYPE_CHECKING:
    from .queries import Store

PREFIX = "metric:"
#: Keys offered first as an x-axis: counters that grow with training.
_X_LIKE = re.compile(
    r"(^|[/._\-])(epoch|epochs|tokens?|tokens_seen|samples|samples_seen|examples|images|"
    r"seen|flops|total_flos|iter|iteration|global_step|num_tokens|num_samples)($|[/._\-])",
    re.IGNORECASE,
)


def axis_name(key: str) -> str:
    return PREFIX + key


def metric_of(x_axis: str) -> str | None:
    """The metric key of a ``metric:<key>`` axis, else None."""
    return x_axis[len(PREFIX) :] if x_axis.startswith(PREFIX) else None


def x_candidates(keys: list[str]) -> list[str]:
    """The keys that look like an x-axis (epoch first, then others by name)."""
    hits = [k for k in keys if _X_LIKE.search(k)]
    return sorted(hits, key=lambda k: (0 if "epoch" in k.lower() else 1, len(k), k))


def series_against(
    store: Store, run_id: str, key: str, x_key: str, *, buckets: int | None = 200
) -> Series:
    """``key`` of one run with ``x_key``'s value as x; points with no x at or
    before their step are left out. Downsampled like ``Store.series`` (min and
    max point of each of ``buckets`` equal x-ranges) above ``2*buckets`` points."""
    x_axis = axis_name(x_key)
    ids = store._series_ids(run_id, key)
    x_ids = store._series_ids(run_id, x_key)
    if ids is None or x_ids is None:
        total = ids[3] if ids is not None else 0
        return Series(run_id, key, x_axis, (), (), (), total, False)
    run_no, key_no, _, total_n = ids
    x_no = x_ids[1]
    joined = f"""
        ys AS (SELECT step, seq, value FROM metrics
               WHERE run_no = {int(run_no)} AND key_no = {int(key_no)}),
        xs AS (SELECT step, arg_max(value, seq) AS xv FROM metrics
               WHERE run_no = {int(run_no)} AND key_no = {int(x_no)} AND isfinite(value)
               GROUP BY step),
        pts AS (SELECT xs.xv AS x, ys.value, ys.step, ys.seq
                FROM ys ASOF JOIN xs ON ys.step >= xs.step)"""
    downsample = buckets is not None and total_n > 2 * buckets
    if not downsample:
        rows = store._rows(f"WITH {joined} SELECT x, value, step FROM pts ORDER BY x, seq")
    else:
        rows = store._rows(
            f"""WITH {joined},
                fin AS (SELECT * FROM pts WHERE NOT isnan(value)),
                bounds AS (SELECT min(x) AS lo, max(x) AS hi FROM fin),
                bucketed AS (
                  SELECT fin.*, least(CAST(floor((x - lo) / nullif(hi - lo, 0) * $n) AS BIGINT),
                                      $n - 1) AS b
                  FROM fin, bounds
                ), agg AS (
                  SELECT arg_min(struct_pack(x := x, v := value, s := step, q := seq), value) AS lo_pt,
                         arg_max(struct_pack(x := x, v := value, s := step, q := seq), value) AS hi_pt
                  FROM bucketed GROUP BY b
                ), both_pts AS (SELECT lo_pt AS p FROM agg UNION SELECT hi_pt FROM agg)
                SELECT p.x, p.v, p.s FROM both_pts ORDER BY p.x, p.q""",
            {"n": buckets},
        )
    return Series(
        run_id,
        key,
        x_axis,
        tuple(r[0] for r in rows),
        tuple(r[1] for r in rows),
        tuple(r[2] for r in rows),
        total_n,
        downsample,
    )
