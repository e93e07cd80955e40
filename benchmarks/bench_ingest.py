"""Catalog ingest: points/s from cold, and the cost of refreshes.

Writes a synthetic store straight in run-directory format 1 (meta.json,
config.json, events.jsonl, heartbeat, metrics.jsonl): by default 100 runs x
10 metrics x 10 k steps = 10 M points, 90 runs finished and 10 still
running. Then measures, against a fresh catalog file:

- ingest from cold (one refresh that reads everything), in points/s;
- a refresh when nothing changed (median of several), in ms;
- an incremental refresh after appending 100 lines to each of the 10
  running runs (median of several), in ms.

Prints one figure per line; asserts nothing.

    python benchmarks/bench_ingest.py [--runs 100] [--metrics 10] [--steps 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

RUNNING = 10
APPEND_LINES = 100
REPEATS = 7


def metric_lines(first: int, count: int, metrics: int, seed: int, t0: float) -> str:
    """``count`` metrics lines from step ``first``, as the shim writes them."""
    names = [f"train/m{k}" for k in range(metrics)]
    out = []
    for step in range(first, first + count):
        row = {"_step": step, "_t": t0 + step * 0.05}
        for k, name in enumerate(names):
            row[name] = 1.0 / (step + 1 + k) + seed * 1e-3
        out.append(json.dumps(row))
    return "\n".join(out) + "\n"


def write_store(root: Path, runs: int, metrics: int, steps: int) -> list[Path]:
    """The synthetic store; returns the directories of the running runs."""
    now = time.time()
    running = []
    for i in range(runs):
        project = f"proj{i % 4}"
        run_id = f"20260101-000000{i:03d}-bench{i:02d}"[:26]
        run_dir = root / project / run_id
        run_dir.mkdir(parents=True)
        created = now - 3600 + i
        meta = {
            "format": 1,
            "id": run_id,
            "project": project,
            "name": f"run-{i}",
            "created": created,
            "host": "bench-host",
            "pid": 1,
            "heartbeat_interval": 5.0,
            "tags": [],
        }
        (run_dir / "meta.json").write_text(json.dumps(meta))
        config = {"lr0": 0.01 * (1 + i % 5), "batch": 16 << (i % 3), "opt": {"name": "sgd"}}
        (run_dir / "config.json").write_text(json.dumps(config))
        (run_dir / "metrics.jsonl").write_text(metric_lines(0, steps, metrics, i, created))
        events = [{"event": "start", "t": created, "pid": 1}]
        if i < runs - RUNNING:
            events.append({"event": "finish", "t": created + steps * 0.05, "status": "finished"})
        else:
            running.append(run_dir)
        (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
        (run_dir / "heartbeat").touch()
    return running


def append_lines(run_dirs: list[Path], first: int, metrics: int) -> int:
    for seed, run_dir in enumerate(run_dirs):
        with open(run_dir / "metrics.jsonl", "a") as fh:
            fh.write(metric_lines(first, APPEND_LINES, metrics, seed, time.time()))
        os.utime(run_dir / "heartbeat")
    return len(run_dirs) * APPEND_LINES * metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--steps", type=int, default=10_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="trackui-bench-") as tmp:
        os.environ["TRACKUI_CACHE_DIR"] = str(Path(tmp) / "cache")
        from trackui.store.queries import Store

        root = Path(tmp) / "store"
        t0 = time.perf_counter()
        running = write_store(root, args.runs, args.metrics, args.steps)
        written_s = time.perf_counter() - t0
        total = args.runs * args.metrics * args.steps

        with Store(root, catalog_path=Path(tmp) / "catalog.duckdb", refresh=False) as store:
            t0 = time.perf_counter()
            stats = store.refresh()
            cold_s = time.perf_counter() - t0
            assert stats.points == total, (stats.points, total)

            idle_ms = []
            for _ in range(REPEATS):
                t0 = time.perf_counter()
                changed = store.refresh().runs_changed
                idle_ms.append((time.perf_counter() - t0) * 1000)
            assert changed == 0

            incr_ms = []
            step = args.steps
            for _ in range(REPEATS):
                expect = append_lines(running, step, args.metrics)
                step += APPEND_LINES
                t0 = time.perf_counter()
                points = store.refresh().points
                incr_ms.append((time.perf_counter() - t0) * 1000)
                assert points == expect, (points, expect)

    print(f"ingest_runs {args.runs}")
    print(f"ingest_points {total}")
    print(f"ingest_store_write_s {written_s:.1f}")
    print(f"ingest_cold_s {cold_s:.2f}")
    print(f"ingest_points_per_s {total / cold_s:,.0f}".replace(",", ""))
    print(f"refresh_unchanged_median_ms {statistics.median(idle_ms):.1f}")
    print(
        f"refresh_append_{len(running)}x{APPEND_LINES}_median_ms {statistics.median(incr_ms):.1f}"
    )


if __name__ == "__main__":
    main()
