"""Drawing time of the Compare chart by number of runs (the budget of
../shared/DESIGN.md §8 is ≤ 0.1 s query + draw for one chart).

    python benchmarks/bench_compare_chart.py

Prints one figure per line: ``MetricChart`` drawing N runs × 200 points
(smoothing on, so raw lines too) into 100×20 cells, median of 7. Above six
runs only the focused run's raw line is drawn, so 20 runs cost about as much
as 10 smoothed lines.
"""

from __future__ import annotations

import math
import statistics
import time

from trackui.store.models import Series
from trackui.tui.chart import MetricChart
from trackui.tui.palette import styles


def series(i: int, n: int) -> Series:
    ys = tuple(math.exp(-k / 50) + 0.01 * i + 0.02 * math.sin(k) for k in range(n))
    xs = tuple(float(k) for k in range(n))
    return Series(f"r{i}", "loss", "step", xs, ys, tuple(range(n)), n, False)


def main() -> None:
    for runs in (1, 2, 7, 12, 20):
        chart = MetricChart()
        chart.run_styles = styles(runs)
        data = [(f"r{i}", f"run {i}", series(i, 200)) for i in range(runs)]
        chart.series = data
        times = []
        for _ in range(7):
            start = time.perf_counter()
            chart._draw("loss", data, 100, 20)
            times.append(time.perf_counter() - start)
        print(
            f"compare_chart_{runs}_runs_s {statistics.median(times):.3f} (200 points a run, 100x20)"
        )


if __name__ == "__main__":
    main()
