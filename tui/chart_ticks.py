"""Tick positions and labels for ``MetricChart``: round values (1, 2, 2.5, 5 ×
10^k), round times, log-axis powers; every label through ``trackui.store.fmt``
so a loss of 0.0034 never reads ``0.00``."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from trackui.store import fmt


def _ticks_with_step(lo: float, hi: float, step: float) -> list[float]:
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [0.0 if i == 0 else i * step for i in range(first, last + 1)]


def _pick_step(lo: float, hi: float, count: int, steps: Sequence[float]) -> float:
    """The step whose ticks over [lo, hi] number closest to ``count``."""

    def score(step: float) -> tuple[int, float]:
        n = math.floor(hi / step + 1e-9) - math.ceil(lo / step - 1e-9) + 1
        return (abs(n - count) + (100 if n < 2 else 0), -step if n > count else step)

    return min(steps, key=score)


def nice_ticks(lo: float, hi: float, count: int) -> list[float]:
    """About ``count`` round values (1, 2, 2.5, 5 × 10^k) within [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    count = max(2, count)
    magnitude = math.floor(math.log10((hi - lo) / count))
    steps = [m * 10.0**k for k in range(magnitude - 1, magnitude + 2) for m in (1, 2, 2.5, 5)]
    return _ticks_with_step(lo, hi, _pick_step(lo, hi, count, steps)) or [lo]


#: Round steps for time axes, in seconds.
TIME_STEPS: tuple[float, ...] = (
    *(1, 2, 5, 10, 15, 30),
    *(60 * m for m in (1, 2, 5, 10, 15, 30)),
    *(3600 * h for h in (1, 2, 3, 6, 12)),
    *(86400 * d for d in (1, 2, 7, 14, 30, 91, 365)),
)


def time_ticks(lo: float, hi: float, count: int) -> list[float]:
    """About ``count`` ticks on round seconds, minutes, hours or days."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    if hi - lo < 2 * count:
        return nice_ticks(lo, hi, count)
    return _ticks_with_step(lo, hi, _pick_step(lo, hi, max(2, count), TIME_STEPS)) or [lo]


def _time_label(seconds: float, span: float) -> str:
    if span >= 2 * 86400:
        return time.strftime("%m-%d %H:%M", time.localtime(seconds))
    if span >= 600:
        return time.strftime("%H:%M", time.localtime(seconds))
    return time.strftime("%H:%M:%S", time.localtime(seconds))


def x_tick_labels(x_axis: str, ticks: Sequence[float], span: float) -> list[str]:
    if x_axis == "wall":
        return [_time_label(t, span) for t in ticks]
    if x_axis == "relative":
        return [fmt.duration(t) if t >= 0 else "-" + fmt.duration(-t) for t in ticks]
    return [fmt.number(int(t) if float(t).is_integer() else t) for t in ticks]


def log_ticks(lo: float, hi: float, count: int) -> tuple[list[float], list[str]]:
    """Tick positions (in log10 units) and labels (in data units) for a log axis."""
    first, last = math.ceil(lo - 1e-9), math.floor(hi + 1e-9)
    if last - first >= 1:
        stride = max(1, math.ceil((last - first + 1) / max(2, count)))
        powers = list(range(first, last + 1, stride))
        return [float(p) for p in powers], [fmt.number(10.0**p, digits=3) for p in powers]
    values = [v for v in nice_ticks(10**lo, 10**hi, count) if v > 0]
    return [math.log10(v) for v in values], [fmt.number(v, digits=3) for v in values]
