"""The big-series part of bench_ingest.py: a store of many long runs (by
default 1,000 runs x 10 metrics x 10 k steps = 100 M points) written once and
kept in a folder, its catalog built once from cold (the ingest figure), then
one chart's query and a 20-run compare's query against it, and the catalog's
bytes on disk per point. A second run reuses the store and the catalog and
prints the ingest figures measured when the catalog was built.

    python benchmarks/bench_ingest.py --big-store DIR [--runs 1000] [--metrics 10]
        [--steps 10000] [--rebuild]
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import time
from pathlib import Path

FAMILIES = 8  # runs share the text of their values by family: writing stays fast
REPEATS = 7


def write_big_store(root: Path, runs: int, metrics: int, steps: int) -> None:
    """``runs`` finished runs of ``metrics`` x ``steps`` points each, in run
    directory format 1, metric lines as the shim writes them."""
    names = [f"train/m{k}" for k in range(metrics)]
    values = [
        [
            ", ".join(
                f'"{name}": {1.0 / (step + 1 + k) + f * 1e-3!r}' for k, name in enumerate(names)
            )
            for step in range(steps)
        ]
        for f in range(FAMILIES)
    ]
    now = int(time.time())
    for i in range(runs):
        project = f"proj{i % 4}"
        run_id = f"20260101-big{i:06d}"
        run_dir = root / project / run_id
        run_dir.mkdir(parents=True)
        created = now - 86400 + i
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
        (run_dir / "config.json").write_text(json.dumps({"lr0": 0.01 * (1 + i % 5), "seed": i}))
        family = values[i % FAMILIES]
        with open(run_dir / "metrics.jsonl", "w") as fh:
            fh.writelines(
                f'{{"_step": {s}, "_t": {created + s * 0.05!r}, {family[s]}}}\n'
                for s in range(steps)
            )
        events = [
            {"event": "start", "t": created, "pid": 1},
            {"event": "finish", "t": created + steps * 0.05, "status": "finished"},
        ]
        (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
        (run_dir / "heartbeat").touch()


def big_store(folder: Path, runs: int, metrics: int, steps: int, rebuild: bool) -> None:
    """Write (once), ingest (once, timed) and query the kept big store."""
    from trackui.store.compare_series import series_of_runs
    from trackui.store.queries import Store

    folder.mkdir(parents=True, exist_ok=True)
    os.environ["TRACKUI_CACHE_DIR"] = str(folder / "cache")
    size = f"{runs}x{metrics}x{steps}"
    root = folder / f"store-{size}"
    catalog = folder / f"catalog-{size}.duckdb"
    figures_file = folder / f"catalog-{size}.json"
    total = runs * metrics * steps
    if not (root / ".complete").exists():
        shutil.rmtree(root, ignore_errors=True)
        t0 = time.perf_counter()
        write_big_store(root, runs, metrics, steps)
        (root / ".complete").write_text("")
        print(f"# store of {total} points written in {time.perf_counter() - t0:.0f} s", flush=True)
    if rebuild or not figures_file.exists():
        for suffix in ("", ".wal"):
            Path(f"{catalog}{suffix}").unlink(missing_ok=True)
        figures_file.unlink(missing_ok=True)
        load = os.getloadavg()[0]
        with Store(root, catalog_path=catalog, refresh=False) as store:
            t0, c0 = time.perf_counter(), time.process_time()
            stats = store.refresh()
            cold, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert stats.points == total, (stats.points, total)
        figures = {
            "max_rss_mb": _max_rss_mb(),
            "cold_s": cold,
            "cpu_s": cpu,
            "load": load,
            "load_after": os.getloadavg()[0],
            "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }
        figures_file.write_text(json.dumps(figures))
        print(f"# catalog built now (load {load:.1f} at start)")
    else:
        figures = json.loads(figures_file.read_text())
        print(f"# catalog kept from {figures['at']} (load {figures['load']:.1f} then)")
    label = f"big_{size}"
    print(f"{label}_points {total}")
    print(f"{label}_ingest_cold_s {figures['cold_s']:.1f}")
    print(f"{label}_ingest_points_per_s {total / figures['cold_s']:.0f} (budget 2000000)")
    # CPU seconds of all the process's threads: what the ingest cost, whatever the load
    print(f"{label}_ingest_cpu_s {figures['cpu_s']:.1f} (2 cores: the wall time is at best half)")
    print(
        f"{label}_ingest_points_per_cpu_s {total / figures['cpu_s']:.0f} "
        "(points per CPU-second, all threads: less sensitive to the load)"
    )
    if "max_rss_mb" in figures:
        print(
            f"{label}_ingest_max_rss_mb {figures['max_rss_mb']:.0f} "
            "(budget 2000 at 100 M points; the process's peak, store writing included)"
        )
    if "load_after" in figures:
        print(
            f"# load average {figures['load']:.1f} before the ingest, {figures['load_after']:.1f} after"
        )

    with Store(root, catalog_path=catalog, refresh=False) as store:
        ids = [r.id for r in store.list_runs(limit=runs)]
        rng = random.Random(1)
        keys = [f"train/m{k}" for k in range(metrics)]
        chart_s = []
        for _ in range(REPEATS * 3):
            run, key = rng.choice(ids), rng.choice(keys)
            t0 = time.perf_counter()
            series = store.series(run, key)
            chart_s.append(time.perf_counter() - t0)
            assert series.total == steps
        one_s, each_s = [], []
        for _ in range(REPEATS):
            chosen, key = rng.sample(ids, min(20, len(ids))), rng.choice(keys)
            t0 = time.perf_counter()
            got = series_of_runs(store, chosen, key)
            one_s.append(time.perf_counter() - t0)
            assert [s.total for s in got] == [steps] * len(chosen)
            t0 = time.perf_counter()
            for run in chosen:
                store.series(run, key)
            each_s.append(time.perf_counter() - t0)
    disk = sum(
        os.path.getsize(f"{catalog}{suffix}")
        for suffix in ("", ".wal")
        if os.path.exists(f"{catalog}{suffix}")
    )
    print(f"{label}_chart_query_median_s {statistics.median(chart_s):.3f} (budget 0.1, query only)")
    print(
        f"{label}_compare_20_runs_query_median_s {statistics.median(one_s):.3f} "
        "(budget 0.3; one query, downsampled in SQL)"
    )
    print(
        f"{label}_compare_20_runs_one_by_one_median_s {statistics.median(each_s):.3f} "
        "(20 queries, for reference)"
    )
    print(f"{label}_catalog_bytes_per_point {disk / total:.2f} ({disk / 1e6:.0f} MB)")


def _max_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
