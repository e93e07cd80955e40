"""Cost of ``run.log()`` of 3 scalars, against a plain ``json.dumps`` +
``os.write`` loop doing the same work in the same process (the floor).

Calls are timed in batches of 100 with ``time.perf_counter_ns`` (a timer
call per log() would cost about as much as what it measures); the figure is
the median over batches, divided by 100. The two loops alternate in rounds
so that drift of the machine hits both alike. Also the writer's RSS growth
over 100 k calls. Prints one figure per line; asserts nothing.

    python benchmarks/bench_log.py [--calls 100000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BATCH = 100
ROUNDS = 10


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        resident = int(fh.read().split()[1])
    return resident * os.sysconf("SC_PAGE_SIZE") / 1e6


def timed_batches(step: Callable[[int], None], start: int, calls: int) -> list[float]:
    """Per-call µs of each batch of BATCH calls."""
    clock = time.perf_counter_ns
    out = []
    for base in range(start, start + calls, BATCH):
        t0 = clock()
        for i in range(base, base + BATCH):
            step(i)
        out.append((clock() - t0) / BATCH / 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000, help="log() calls timed")
    args = parser.parse_args()
    calls = args.calls - args.calls % (BATCH * ROUNDS)
    per_round = calls // ROUNDS

    with tempfile.TemporaryDirectory(prefix="trackui-bench-") as tmp:
        os.environ["TRACKUI_DIR"] = str(Path(tmp) / "store")
        import trackui

        run = trackui.init(project="bench", name="log", console=False)
        log = run.log

        def shim(i: int) -> None:
            log({"train/loss": 1.0 / (i + 1), "metrics/acc": i * 1e-6, "lr": 0.01})

        floor_fd = os.open(Path(tmp) / "floor.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        dumps, write, now = json.dumps, os.write, time.time

        def floor(i: int) -> None:
            row = {"_step": i, "_t": now(), "train/loss": 1.0 / (i + 1)}
            row["metrics/acc"] = i * 1e-6
            row["lr"] = 0.01
            write(floor_fd, (dumps(row) + "\n").encode())

        # warm up both paths (first-key checks, allocator, page cache)
        timed_batches(shim, 0, 10 * BATCH)
        timed_batches(floor, 0, 10 * BATCH)
        gc.collect()

        shim_us: list[float] = []
        floor_us: list[float] = []
        rss_before = rss_mb()
        shim_calls = 0
        for r in range(ROUNDS):
            shim_us += timed_batches(shim, 10 * BATCH + r * per_round, per_round)
            shim_calls += per_round
            floor_us += timed_batches(floor, 10 * BATCH + r * per_round, per_round)
        gc.collect()
        growth = (rss_mb() - rss_before) * 100_000 / shim_calls
        dropped = run.dropped
        run.finish()
        os.close(floor_fd)

    log_median = statistics.median(shim_us)
    floor_median = statistics.median(floor_us)
    print(f"log_calls {shim_calls}")
    print(f"log_median_us {log_median:.2f}")
    print(f"log_p90_us {statistics.quantiles(shim_us, n=10)[-1]:.2f}")
    print(f"floor_median_us {floor_median:.2f}")
    print(f"log_to_floor_ratio {log_median / floor_median:.2f}")
    print(f"log_rss_growth_mb_per_100k {growth:.2f}")
    print(f"log_dropped {dropped}")


if __name__ == "__main__":
    main()
