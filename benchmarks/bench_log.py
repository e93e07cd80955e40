"""Cost of ``run.log()`` of 3 scalars, against a plain ``json.dumps`` +
``os.write`` loop doing the same work in the same process (the floor).

Calls are timed in batches of 100 with ``time.perf_counter_ns`` (a timer
call per log() would cost about as much as what it measures); the figure is
the median over batches, divided by 100. The two loops alternate in rounds
so that drift of the machine hits both alike. Also the writer's RSS growth
over 100 k calls.

System sampling on and off: the same log() loop while a system sampler
(``store/system.Sampler``) runs on its thread at ``--system-interval``
(0.1 s, a hundred times the default rate, so its cost shows), alternating
with rounds where none runs; and the sampler thread's own CPU time, per
minute of wall time and per sample. Prints one figure per line; asserts
nothing.

    python benchmarks/bench_log.py [--calls 100000] [--system-interval 0.1]
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
    parser.add_argument(
        "--system-interval", type=float, default=0.1, help="sampler interval (s) when on"
    )
    args = parser.parse_args()
    calls = args.calls - args.calls % (BATCH * ROUNDS)
    per_round = calls // ROUNDS

    with tempfile.TemporaryDirectory(prefix="trackui-bench-") as tmp:
        os.environ["TRACKUI_DIR"] = str(Path(tmp) / "store")
        import trackui
        from trackui.store.system import SYSTEM_FILE, Sampler

        run = trackui.init(project="bench", name="log", console=False, system_interval=0)
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

        # sampling on / off, alternating rounds of the same loop
        off_us: list[float] = []
        on_us: list[float] = []
        sampler_cpu = sampler_wall = 0.0
        samples = 0
        base = 10 * BATCH + calls
        for r in range(ROUNDS):
            for sampling in (False, True) if r % 2 == 0 else (True, False):  # no order bias
                if not sampling:
                    off_us += timed_batches(shim, base, per_round)
                    base += per_round
                    continue
                sampler = Sampler(run.dir / SYSTEM_FILE, args.system_interval).start()
                t0 = time.perf_counter()
                on_us += timed_batches(shim, base, per_round)
                base += per_round
                # long enough for a few samples even when the loop is quick
                time.sleep(max(0.0, 3 * args.system_interval - (time.perf_counter() - t0)))
                sampler_wall += time.perf_counter() - t0
                sampler.stop()
                sampler_cpu += sampler.cpu_seconds
                samples += sampler.samples
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
    off_median, on_median = statistics.median(off_us), statistics.median(on_us)
    print(f"log_median_us_sampling_off {off_median:.2f}")
    print(f"log_median_us_sampling_on {on_median:.2f}")
    print(f"log_sampling_on_to_off_ratio {on_median / off_median:.3f}")
    print(f"sampler_interval_s {args.system_interval:g}")
    print(f"sampler_samples {samples}")
    per_sample_ms = 1000 * sampler_cpu / samples if samples else float("nan")
    print(f"sampler_cpu_ms_per_sample {per_sample_ms:.3f}")
    print(f"sampler_cpu_s_per_min {60 * sampler_cpu / sampler_wall:.4f}")
    print(f"sampler_cpu_pct_of_core {100 * sampler_cpu / sampler_wall:.3f}")
    # what the default interval (10 s) costs, from the per-sample figure
    print(f"sampler_cpu_pct_of_core_at_10s {per_sample_ms / 1000 / 10 * 100:.4f}")


if __name__ == "__main__":
    main()
