"""TensorBoard's scalar smoothing, so curves look the way users already trust.

``smooth`` is TensorBoard's ``classicSmoothing`` (tensorboard/webapp/widgets/
line_chart_v2/data_transformer.ts; before that ``resmoothDataset`` in
components/vz_line_chart2/line-chart.ts): a debiased exponential moving average.

- a constant series is returned unchanged (TensorBoard checks ``isConstant``
  first, so a flat line is not bent by the debiasing);
- a non-finite point (NaN, ±inf) is passed through as it is and does not enter
  the accumulator, nor the count used to debias;
- ``last = last * w + (1 - w) * v``; ``smoothed = last / (1 - w ** n)`` where
  ``n`` counts the finite points so far (at ``w == 1`` the divisor is 1);
- a weight that is not finite counts as 0, and the weight is clamped to [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: The levels the ``+``/``-`` keys cycle through, TensorBoard's default first after raw.
SMOOTHING_LEVELS: tuple[float, ...] = (0.0, 0.6, 0.9, 0.99)
DEFAULT_SMOOTHING = 0.6


def smooth(values: Sequence[float], weight: float) -> list[float]:
    """``values`` smoothed with TensorBoard's debiased EMA at ``weight``."""
    if not math.isfinite(weight):
        weight = 0.0
    weight = max(0.0, min(weight, 1.0))
    out = list(values)
    if not out:
        return out
    first = out[0]
    # TensorBoard compares with `==`, so a series starting with NaN is never constant.
    if all(v == first for v in out):
        return out
    last = 0.0
    count = 0
    isfinite = math.isfinite
    for i, value in enumerate(out):
        if not isfinite(value):
            continue
        last = last * weight + (1.0 - weight) * value
        count += 1
        debias = 1.0 if weight == 1.0 else 1.0 - weight**count
        out[i] = last / debias
    return out


def next_level(current: float, step: int = 1) -> float:
    """The smoothing level ``step`` places after ``current`` in ``SMOOTHING_LEVELS``
    (wrapping around); a level not in the list snaps to the nearest one first."""
    nearest = min(range(len(SMOOTHING_LEVELS)), key=lambda i: abs(SMOOTHING_LEVELS[i] - current))
    return SMOOTHING_LEVELS[(nearest + step) % len(SMOOTHING_LEVELS)]
