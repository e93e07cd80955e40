"""Catalog ingest: points/s from cold, and the cost of refreshes.

Writes a synthetic store straight in run-directory format 1 (meta.json,
config.json, events.jsonl, heartbeat, metrics.jsonl): by default 100 runs x
10 metrics x 10 k steps = 10 M points, 90 runs finished and 10 still
running. Then measures, against a fresh catalog file:

- ingest from cold (one refresh that reads everything), in points/s;
- a refresh when nothing changed (median of several), in ms;
- an incremental refresh after appending 100 lines to each of the 10
  running runs (median of several), in ms;
- one chart's query (``Store.series`` sized for a chart) and the one query
  of a compare of 20 runs (``series_of_runs``), medians; the catalog's bytes
  on disk per point.

With ``--small-runs 1000,10000`` it also writes stores of that many small runs
(the run list store of bench_tui.py: 5 params, 3 metrics x 20 steps) and
times a cold catalog build of each beside the floor: one plain Python pass
that opens every file of the store and parses every JSON line. Writing
100 k runs takes minutes: ``--small-stores DIR`` takes the store of each size
from ``DIR/runs-N`` (bench_tui.py's ``--keep DIR`` layout), writing it there
once when it is not complete yet.

Prints one figure per line, with its budget; asserts nothing.

    python benchmarks/bench_ingest.py [--runs 100] [--metrics 10] [--steps 10000]
        [--small-runs 1000,10000,100000] [--small-stores DIR] [--skip-big]
    python benchmarks/bench_ingest.py --big-store DIR [--runs 1000] [--metrics 10]
        [--steps 10000] [--rebuild]

``--big-store DIR`` keeps a big store and its catalog in DIR instead (see
big_series.py): written and ingested once, then chart and compare queries.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_tui import write_run_list  # noqa: E402
from big_series import big_store  # noqa: E402

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


def read_and_parse(root: Path) -> float:
    """The floor: open every file of the store, parse every JSON line."""
    started = time.perf_counter()
    for project in os.scandir(root):
        if not project.is_dir():
            continue  # the .complete mark of a kept store
        for run in os.scandir(project.path):
            for entry in os.scandir(run.path):
                with open(entry.path, "rb") as fh:
                    data = fh.read()
                if entry.name.endswith(".jsonl"):
                    for raw in data.splitlines():
                        json.loads(raw)
                elif entry.name.endswith(".json"):
                    json.loads(data)
    return time.perf_counter() - started


def cpu_seconds() -> float:
    """CPU seconds of this process and of its children waited for (the
    cold build's reading child): they move much less with load than wall."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def max_rss_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


#: The reading child's peak RSS in MB, looked at after each batch it sends
#: (rusage counts a child's memory before its exec: this process's).
CHILD_RSS = [0]


def watch_child_rss() -> None:
    from trackui.store import cold_reader

    real = cold_reader.ReaderProcess.take
    if getattr(real, "watched", False):
        return

    def take(self, part, next_no):  # type: ignore[no-untyped-def]
        got = real(self, part, next_no)
        try:
            with open(f"/proc/{self._proc.pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        CHILD_RSS[0] = max(CHILD_RSS[0], int(line.split()[1]) // 1024)
        except (OSError, AttributeError):
            pass  # gone already, or no /proc
        return got

    take.watched = True  # type: ignore[attr-defined]
    cold_reader.ReaderProcess.take = take  # type: ignore[method-assign]


def small_runs(tmp: Path, count: int, repeats: int, stores: Path | None = None) -> None:
    """Cold catalog of ``count`` small runs beside the read-and-parse floor."""
    from trackui.store.queries import Store

    root = stores / f"runs-{count}" if stores else tmp / f"small{count}"
    if not (root / ".complete").exists():
        shutil.rmtree(root, ignore_errors=True)
        t0 = time.perf_counter()
        write_run_list(root, count)
        (root / ".complete").touch()
        print(f"# {count} small runs written in {time.perf_counter() - t0:.1f} s", flush=True)
    watch_child_rss()
    CHILD_RSS[0] = 0
    floors, colds, warms, cpus, floor_cpus = [], [], [], [], []
    for i in range(repeats):
        c0 = cpu_seconds()
        floors.append(read_and_parse(root))
        floor_cpus.append(cpu_seconds() - c0)
        catalog = tmp / f"small{count}-{i}.duckdb"
        with Store(root, catalog_path=catalog, refresh=False) as store:
            t0, c0 = time.perf_counter(), cpu_seconds()
            store.refresh()
            colds.append(time.perf_counter() - t0)
            cpus.append(cpu_seconds() - c0)
            if i == 0:
                build_peak = max_rss_mb()  # before the reopen below, which peaks apart
            assert store.count_runs() == count
        t0 = time.perf_counter()
        Store(root, catalog_path=catalog).close()
        warms.append(time.perf_counter() - t0)
        for suffix in ("", ".wal"):
            Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    floor, cold = statistics.median(floors), statistics.median(colds)
    budget = {10_000: "budget 5", 100_000: "budget 60"}.get(count, "budget 5 at 10k")
    label = f"small_{count // 1000}k" if count >= 1000 else f"small_{count}"
    print(f"{label}_floor_s {floor:.2f} (one pass: open and parse every file)")
    print(f"{label}_cold_s {cold:.2f} ({budget}; all {count} runs listed)")
    print(f"{label}_cold_per_run_ms {cold / count * 1e3:.2f} (budget 0.5 at 10k, 0.6 at 100k)")
    print(f"{label}_cold_to_floor {cold / floor:.1f} (budget 4)")
    cpu, floor_cpu = statistics.median(cpus), statistics.median(floor_cpus)
    print(
        f"{label}_cold_cpu_s {cpu:.2f} (CPU seconds, the reading child included; "
        f"floor {floor_cpu:.2f}: {cpu / floor_cpu:.1f}x)"
    )
    print(
        f"{label}_max_rss_mb {max_rss_mb()} (this process; the reading child {CHILD_RSS[0] or 'none'})"
    )
    print(
        f"{label}_cold_rss_peak_mb {build_peak} (budget 500 at 100k runs; this process's peak "
        "after the first cold build, before any reopen: the build's, unless a step before it "
        "peaked higher)"
    )
    print(
        f"{label}_reopen_s {statistics.median(warms):.2f} (Store(root): open + refresh, nothing new)"
    )
    print(
        f"# medians of {repeats}: floor {floors}, cold {colds}; "
        f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument(
        "--small-runs",
        default="",
        help="comma-separated store sizes of small runs, e.g. 1000,10000",
    )
    parser.add_argument("--repeats", type=int, default=2, help="cold builds per small store")
    parser.add_argument(
        "--small-stores",
        metavar="DIR",
        help="take (or write once) the small-run stores in DIR/runs-N and keep them",
    )
    parser.add_argument("--skip-big", action="store_true", help="only the small-run stores")
    parser.add_argument(
        "--big-store",
        metavar="DIR",
        help="the big store kept in DIR (written and ingested once): e.g. "
        "--big-store /tmp/trackui-bench-100m --runs 1000 --metrics 10 --steps 10000",
    )
    parser.add_argument("--rebuild", action="store_true", help="build the kept catalog again")
    args = parser.parse_args()
    print(f"# {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", flush=True)
    for count in filter(None, args.small_runs.split(",")):
        with tempfile.TemporaryDirectory(prefix="trackui-bench-") as tmp:
            os.environ["TRACKUI_CACHE_DIR"] = str(Path(tmp) / "cache")
            stores = Path(args.small_stores) if args.small_stores else None
            small_runs(Path(tmp), int(count), args.repeats, stores)
    if args.skip_big:
        return
    if args.big_store:
        big_store(Path(args.big_store), args.runs, args.metrics, args.steps, args.rebuild)
        return

    with tempfile.TemporaryDirectory(prefix="trackui-bench-") as tmp:
        os.environ["TRACKUI_CACHE_DIR"] = str(Path(tmp) / "cache")
        from trackui.store.compare_series import series_of_runs
        from trackui.store.queries import Store

        root = Path(tmp) / "store"
        t0 = time.perf_counter()
        running = write_store(root, args.runs, args.metrics, args.steps)
        written_s = time.perf_counter() - t0
        total = args.runs * args.metrics * args.steps

        with Store(root, catalog_path=Path(tmp) / "catalog.duckdb", refresh=False) as store:
            t0, c0 = time.perf_counter(), cpu_seconds()
            stats = store.refresh()
            cold_s, cold_cpu = time.perf_counter() - t0, cpu_seconds() - c0
            cold_rss, load_after = max_rss_mb(), os.getloadavg()[0]
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

            ids = [r.id for r in store.list_runs(limit=args.runs)]
            rng = random.Random(1)
            chart_s = []
            for _ in range(REPEATS * 3):
                run, key = rng.choice(ids), f"train/m{rng.randrange(args.metrics)}"
                t0 = time.perf_counter()
                series = store.series(run, key)
                chart_s.append(time.perf_counter() - t0)
                assert series.total == args.steps or run in [p.name for p in running]
            compare_s = []
            for _ in range(REPEATS):
                chosen, key = (
                    rng.sample(ids, min(20, len(ids))),
                    f"train/m{rng.randrange(args.metrics)}",
                )
                t0 = time.perf_counter()
                series_of_runs(store, chosen, key)
                compare_s.append(time.perf_counter() - t0)
        disk = sum(
            os.path.getsize(f"{Path(tmp) / 'catalog.duckdb'}{suffix}")
            for suffix in ("", ".wal")
            if os.path.exists(f"{Path(tmp) / 'catalog.duckdb'}{suffix}")
        )

    print(f"ingest_runs {args.runs}")
    print(f"ingest_points {total}")
    print(f"ingest_store_write_s {written_s:.1f}")
    print(f"ingest_cold_s {cold_s:.2f}")
    print(f"ingest_points_per_s {total / cold_s:.0f} (budget 2000000)")
    print(
        f"ingest_cpu_s {cold_cpu:.2f} ({total / cold_cpu:.0f} points per CPU-second; "
        f"max RSS {cold_rss} MB; load {load_after:.1f} after)"
    )
    print(f"refresh_unchanged_median_ms {statistics.median(idle_ms):.1f} (budget 50)")
    print(
        f"refresh_append_{len(running)}x{APPEND_LINES}_median_ms {statistics.median(incr_ms):.1f}"
    )
    print(f"chart_query_median_s {statistics.median(chart_s):.3f} (budget 0.1, query only)")
    print(
        f"compare_20_runs_query_median_s {statistics.median(compare_s):.3f} "
        "(budget 0.3, one query for 20 runs)"
    )
    print(f"catalog_bytes_per_point {disk / total:.2f} ({disk / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
