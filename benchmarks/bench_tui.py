"""TUI timings against the budgets of ../shared/DESIGN.md §8.

    python benchmarks/bench_tui.py [--keep DIR] [--run-lists 1000,10000,100000]
        [--skip-big] [--cold K]

Prints one figure per line, each with its budget: first paint of the run list
(1 k, 10 k and, asked for, 100 k runs; catalog warm and cold, opened as the
``trackui`` command opens it: no refresh first, the full refresh in a worker
behind the first paint), the time until a cold catalog lists every run, a
sort and a filter of the run list (the page and count the TUI fetches), the
TUI's peak memory, opening a run of 100 metrics × 100 k steps, one chart of a
1 M-point series (query + draw), and a refresh with nothing new. The app is driven headlessly
(``App.run_test``); each first-paint figure comes from a fresh process so
imports, caches and memory are those of a real start. Stores are written
once, directly as format-1 run directories (docs/format.md), into a temporary
directory (or ``--keep DIR``, reused when it is already there). ``--cold K``
measures only the cold listing, K times per size, each from a fresh catalog
(a kept one is not reused): wall and CPU seconds (the reading child's
included) until every run is listed, the TUI process's peak memory and its
reading child's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

RUN_LIST_SIZES = (1_000, 10_000)
#: What a sort or a filter of the run list fetches: the TUI's first page.
PAGE = 200
#: (figure, query) of the run list timed at each size: sorts and filters.
LIST_QUERIES = (
    ("sort_param", {"sort": "param:lr0", "descending": False}),
    ("sort_metric", {"sort": "min(val/loss)", "descending": False}),
    ("filter_param", {"where": "lr0<0.005"}),
    ("filter_metric", {"where": "min(val/loss)<0.5 and optimizer=AdamW"}),
    ("filter_text", {"where": "run-00999"}),
)
BIG_METRICS, BIG_STEPS = 100, 100_000
HUGE_STEPS = 1_000_000
WARM_REPEATS = 3
REPEATS = 5
SIZE = (120, 40)
#: Base32 alphabet of run ids (docs/format.md).
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
CREATED = 1_790_000_000.0

# -- writing stores ------------------------------------------------------------


def run_id(created: float, n: int) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(created))
    suffix = "".join(ALPHABET[(n >> (5 * i)) & 31] for i in range(6))
    return f"{stamp}{int(created % 1 * 1000):03d}-{suffix}"


def write_run(
    root: Path,
    project: str,
    name: str,
    created: float,
    n: int,
    config: dict[str, Any],
    lines: Iterator[str] | list[str],
    ended: float,
) -> str:
    rid = run_id(created, n)
    run_dir = root / project / rid
    run_dir.mkdir(parents=True)
    meta = {
        "format": 1,
        "id": rid,
        "project": project,
        "name": name,
        "group": None,
        "tags": ["bench"],
        "notes": None,
        "created": created,
        "host": "bench",
        "user": "bench",
        "pid": 1000 + n,
        "argv": ["train.py"],
        "cwd": ".",
        "python": "3.11",
        "executable": "python",
        "heartbeat_interval": 5.0,
        "git": None,
    }
    (run_dir / "meta.json").write_text(json.dumps(meta))
    (run_dir / "config.json").write_text(json.dumps(config))
    with open(run_dir / "metrics.jsonl", "w") as fh:
        fh.writelines(lines)
    (run_dir / "events.jsonl").write_text(
        json.dumps({"event": "start", "t": created, "pid": 1000 + n})
        + "\n"
        + json.dumps({"event": "finish", "t": ended, "status": "finished"})
        + "\n"
    )
    heartbeat = run_dir / "heartbeat"
    heartbeat.touch()
    os.utime(heartbeat, (ended, ended))
    return rid


def write_run_list(root: Path, count: int) -> None:
    """``count`` small finished runs in 10 projects: 5 params, 3 metrics × 20 steps."""
    optimizers = ("SGD", "AdamW", "Adam")
    for n in range(count):
        created = CREATED + n * 7.25
        lr = 0.001 * (1 + n % 20)
        lines = [
            f'{{"_step": {s}, "_t": {created + s:.3f}, "train/loss": {2.0 / (1 + s * lr * 10):.5f},'
            f' "val/loss": {2.2 / (1 + s * lr * 9):.5f}, "metrics/acc": {1 - 1 / (2 + s * lr):.5f}}}\n'
            for s in range(20)
        ]
        write_run(
            root,
            f"project-{n % 10}",
            f"run-{n:05d}",
            created,
            n,
            {
                "lr0": lr,
                "batch": 16 << (n % 3),
                "optimizer": optimizers[n % 3],
                "epochs": 20,
                "seed": n,
            },
            lines,
            created + 20,
        )


def big_lines() -> Iterator[str]:
    keys = [f"m{k:02d}/loss" for k in range(BIG_METRICS)]
    template = '{"_step": %d, "_t": %.2f, ' + ", ".join(f'"{k}": %.5f' for k in keys) + "}\n"
    scales = [1.0 + k / 10 for k in range(BIG_METRICS)]
    for step in range(BIG_STEPS):
        decay = 1.0 / (1.0 + step * 1e-4)
        yield template % (step, CREATED + step * 0.01, *(s * decay for s in scales))


def huge_lines() -> Iterator[str]:
    for step in range(HUGE_STEPS):
        value = 1.0 / (1.0 + step * 1e-5) + (0.3 if step % 99_991 == 0 else 0.0)
        yield f'{{"_step": {step}, "_t": {CREATED + step * 0.001:.3f}, "loss": {value:.6f}}}\n'


def write_big_store(root: Path) -> None:
    """Two small runs, one of 100 metrics × 100 k steps (the newest: the first
    row of the list) and one of a single metric with 1 M points."""
    for n in range(2):
        created = CREATED + n
        lines = [
            f'{{"_step": {s}, "_t": {created + s}, "loss": {1 / (s + 1)}}}\n' for s in range(10)
        ]
        write_run(root, "small", f"small-{n}", created, n, {"lr0": 0.01}, lines, created + 10)
    write_run(
        root,
        "huge",
        "one-metric-1M",
        CREATED + 100,
        2,
        {"lr0": 0.01},
        huge_lines(),
        CREATED + 100 + HUGE_STEPS * 0.001,
    )
    write_run(
        root,
        "big",
        "metrics-100x100k",
        CREATED + 200,
        3,
        {"lr0": 0.01},
        big_lines(),
        CREATED + 200 + BIG_STEPS * 0.01,
    )


def ensure_stores(base: Path, sizes: tuple[int, ...], big: bool = True) -> dict[str, Path]:
    stores = {f"runs{n}": base / f"runs-{n}" for n in sizes}
    if big:
        stores["big"] = base / "big"
    for name, root in stores.items():
        done = root / ".complete"
        if done.exists():
            continue
        shutil.rmtree(root, ignore_errors=True)
        started = time.perf_counter()
        if name == "big":
            write_big_store(root)
        else:
            write_run_list(root, int(name[4:]))
        done.touch()
        print(f"# wrote {name} in {time.perf_counter() - started:.1f} s", flush=True)
    return stores


# -- measuring (the TUI modules are imported here, after the stores are written) --


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident memory (``VmHWM``: its peak so far)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def frame_clock(app: Any) -> list[float]:
    """Times of the frames the app composes (headless: computed, not written)."""
    frames: list[float] = []
    display = app._display

    def timed(screen: Any, renderable: Any) -> None:
        if renderable is not None:
            frames.append(time.perf_counter())
        display(screen, renderable)

    app._display = timed
    return frames


async def until(
    condition: Callable[[], bool], timeout: float = 120.0, poll: float = 0.001
) -> float:
    """Poll (the app runs meanwhile) until ``condition()``; the time it held.
    A long wait polls less often (``poll``): a 1 ms poll wakes the event loop
    a thousand times a second, each wake a turn at the GIL taken from the
    threads the figure is about (the refresh's reading, its writer)."""
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the app did not get there in time")
        await asyncio.sleep(poll)
    return time.perf_counter()


def children_rusage() -> Any:
    """Resource use of this process's waited-for children (the cold build's
    reading child)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN)


def runs_table(app: Any) -> Any:
    from trackui.tui.runs_screen import RunsScreen
    from trackui.tui.runs_table import RunsTable

    screen = app.screen
    return screen.query_one(RunsTable) if isinstance(screen, RunsScreen) else None


def has_rows(app: Any) -> bool:
    table = runs_table(app)
    return table is not None and table.row_count > 0


async def first_paint(root: Path, wait_refresh: bool = True) -> dict[str, float]:
    """As ``trackui PATH`` starts (the store opened without a refresh, the
    full refresh in a worker behind the first paint): from opening the store
    to the first frame composed after the run list has its rows, and until
    that refresh is done (a cold catalog: every run listed), with the peak
    memory then. ``wait_refresh=False``: the paint only (the refresh behind
    it, a stat of every file, takes minutes at 100 k runs on a busy box)."""
    from trackui.store.queries import Store
    from trackui.tui.app import make_app

    started = time.perf_counter()
    store = Store(root, refresh=False)
    opened = time.perf_counter()
    refreshed: list[float] = []
    refresh = store.refresh

    def timed_refresh(**kwargs: Any) -> Any:
        stats = refresh(**kwargs)
        if kwargs.get("full", True):
            refreshed.append(time.perf_counter())
        return stats

    store.refresh = timed_refresh  # type: ignore[method-assign]
    try:
        app = make_app(store, refresh_on_start=True)
        frames = frame_clock(app)
        async with app.run_test(size=SIZE) as pilot:
            rows_at = await until(lambda: has_rows(app))
            painted = await until(lambda: bool(frames) and frames[-1] >= rows_at)
            rss_at_paint = rss_mb()
            rows_loaded = float(runs_table(app).row_count)
            if not wait_refresh:
                refreshed.append(float("nan"))
            await until(lambda: bool(refreshed), timeout=600, poll=0.05)
            done = refreshed[0] if wait_refresh else time.perf_counter()
            me, kids = resource.getrusage(resource.RUSAGE_SELF), children_rusage()
            result = {
                "store_open_s": opened - started,
                "rows_s": rows_at - started,
                "first_paint_s": painted - started,
                "rows_loaded": rows_loaded,
                "refreshed_s": done - started,
                "runs_listed": float(store.count_runs()),
                "rss_mb": rss_at_paint,
                "rss_peak_mb": rss_mb("VmHWM"),
                # the reading child (if any) is waited for by now
                "child_rss_peak_mb": kids.ru_maxrss / 1024,
                "cpu_s": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
            }
            await pilot.press("q")
    finally:
        store.close()
    return result


def list_queries(root: Path) -> dict[str, list[float]]:
    """Each of ``LIST_QUERIES`` as the run list's worker runs it (a page and
    the count), on a warm catalog, in this fresh process."""
    from trackui.store.queries import Store
    from trackui.tui.runs_query import RunsQuery, fetch_runs

    times: dict[str, list[float]] = {name: [] for name, _ in LIST_QUERIES}
    with Store(root, refresh=False) as store:
        for name, fields in LIST_QUERIES:
            query = RunsQuery(**fields)
            for _ in range(REPEATS):
                started = time.perf_counter()
                page = fetch_runs(store, query, 0, PAGE)
                times[name].append(time.perf_counter() - started)
            assert page.total > 0, (name, page.total)
    return times


def run_screen_chart(app: Any, wide: bool) -> bool:
    from textual.css.query import NoMatches

    from trackui.tui.run_screen import RunScreen

    screen = app.screen
    if not isinstance(screen, RunScreen):
        return False
    try:
        plot = screen.chart.last_plot
    except NoMatches:  # pushed, not composed yet
        return False
    return plot is not None and (not wide or plot.width >= 40)


async def milestones(conditions: dict[str, Callable[[], bool]]) -> dict[str, float]:
    """The time each condition first held, polled while the app runs."""
    seen: dict[str, float] = {}
    deadline = time.perf_counter() + 120
    while len(seen) < len(conditions) and time.perf_counter() < deadline:
        now = time.perf_counter()
        for name, condition in conditions.items():
            if name not in seen and condition():
                seen[name] = now
        await asyncio.sleep(0.001)
    return seen


async def open_big_run(root: Path) -> dict[str, list[float]]:
    """Enter on the first row (the 100 × 100 k run) until the Run screen
    shows it: up, and the run's detail loaded (its Overview; a tab's widgets,
    the chart's too, are built when the tab is first shown); and enter, ``3``
    until the chart is drawn at full size on the Metrics tab."""
    from trackui.store.queries import Store
    from trackui.tui.app import make_app
    from trackui.tui.run_screen import RunScreen

    def run_screen() -> Any:
        return app.screen if isinstance(app.screen, RunScreen) else None

    times: dict[str, list[float]] = {"screen": [], "detail": [], "enter_3": []}
    with Store(root) as store:
        app = make_app(store)
        async with app.run_test(size=SIZE) as pilot:
            await until(lambda: has_rows(app))
            first = runs_table(app).row_keys()[0]
            assert store.get_run(first).run.name == "metrics-100x100k", "not the first row"
            for _ in range(WARM_REPEATS):
                watch = asyncio.create_task(
                    milestones(
                        {
                            "screen": lambda: run_screen() is not None,
                            "detail": lambda: getattr(run_screen(), "detail", None) is not None,
                        }
                    )
                )
                started = time.perf_counter()
                await pilot.press("enter")
                for name, at in (await watch).items():
                    times[name].append(at - started)
                await pilot.press("escape")
                await until(lambda: has_rows(app))

                started = time.perf_counter()
                await pilot.press("enter", "3")
                drawn = await until(lambda: run_screen_chart(app, True))
                times["enter_3"].append(drawn - started)
                await pilot.press("escape")
                await until(lambda: has_rows(app))
            await pilot.press("q")
    return times


async def launch_to_chart(root: Path) -> dict[str, float]:
    """In a fresh process: open the store (catalog warm), the app, enter on the
    first run, ``3``, until the chart is drawn; wall-clock time for the parent."""
    from trackui.store.queries import Store
    from trackui.tui.app import make_app

    with Store(root) as store:
        app = make_app(store)
        async with app.run_test(size=SIZE) as pilot:
            await until(lambda: has_rows(app))
            await pilot.press("enter", "3")
            await until(lambda: run_screen_chart(app, True))
            done = time.time()
            await pilot.press("escape", "q")
    return {"chart_at": done}


async def chart_1m(root: Path) -> dict[str, list[float]]:
    """``Store.series`` of the 1 M-point metric sized for the chart, then drawing it."""
    from textual.app import App, ComposeResult

    from trackui.store.queries import Store
    from trackui.tui.chart import MetricChart

    class ChartApp(App[None]):
        def compose(self) -> ComposeResult:
            yield MetricChart()

    times: dict[str, list[float]] = {"query": [], "draw": [], "total": [], "points": []}
    with Store(root) as store:
        run = next(r for r in store.list_runs() if r.name == "one-metric-1M")
        app = ChartApp()
        async with app.run_test(size=SIZE) as pilot:
            chart = app.query_one(MetricChart)
            await pilot.pause()
            for _ in range(REPEATS):
                started = time.perf_counter()
                series = store.series(run.id, "loss", buckets=chart.buckets)
                queried = time.perf_counter()
                chart.set_series("loss", [(run.id, run.name, series)])
                drawn = time.perf_counter()
                times["query"].append(queried - started)
                times["draw"].append(drawn - queried)
                times["total"].append(drawn - started)
                times["points"].append(float(series.shown))
                chart.clear()
                await pilot.pause()
    return times


async def refresh_idle(root: Path) -> dict[str, list[float]]:
    """Nothing appended: ``Store.refresh(full=False)`` alone (what the 2 s live
    tick does, and all it does when nothing changed), a full ``Store.refresh()``,
    and ``r`` (full refresh, then the run list re-reads its rows and merges
    them) until the table is merged."""
    from trackui.store.queries import Store
    from trackui.tui.app import make_app

    times: dict[str, list[float]] = {"refresh": [], "live": [], "forced": []}
    with Store(root) as store:
        for _ in range(REPEATS):
            started = time.perf_counter()
            stats = store.refresh()
            times["refresh"].append(time.perf_counter() - started)
            assert stats.runs_changed == 0 and stats.points == 0, stats
        for _ in range(REPEATS * 3):
            started = time.perf_counter()
            stats = store.refresh(full=False)
            times["live"].append(time.perf_counter() - started)
            assert stats.runs_changed == 0 and stats.points == 0, stats
        app = make_app(store, live_interval=0)
        async with app.run_test(size=SIZE) as pilot:
            await until(lambda: has_rows(app))
            # what the first page starts behind it (the primary metrics'
            # columns: a new query, whose rows replace the list) is done
            # first, or the first ``r``'s rows are dropped as stale
            screen = app.screen
            await until(lambda: bool(screen.query_state.columns), poll=0.01)
            await until(lambda: not any(w.is_running for w in app.workers), poll=0.01)
            table = runs_table(app)
            merged: list[float] = []
            merge = table.merge

            def timed_merge(rows: Any) -> None:
                merge(rows)
                merged.append(time.perf_counter())

            table.merge = timed_merge
            for _ in range(REPEATS):
                started = time.perf_counter()
                await pilot.press("r")
                done = await until(lambda s=started: bool(merged) and merged[-1] > s)
                times["forced"].append(done - started)
            await pilot.press("q")
    return times


def child(argv: list[str]) -> None:
    """``--child first-paint|launch ROOT``: one measurement in this fresh process, as JSON."""
    kind, root = argv[0], Path(argv[1])
    if kind in ("first-paint", "paint-only"):
        print(json.dumps(asyncio.run(first_paint(root, wait_refresh=kind == "first-paint"))))
        sys.stdout.flush()
        os._exit(0)  # not waiting for the refresh thread behind the paint
    elif kind == "launch":
        print(json.dumps(asyncio.run(launch_to_chart(root))))
    elif kind == "list-queries":
        print(json.dumps(list_queries(root)))
    else:
        raise SystemExit(f"unknown child {kind}")


def cache_env(cache: Path) -> dict[str, str]:
    """Where the catalogs (and the TUI's remembered settings) of a store live."""
    return {"TRACKUI_CACHE_DIR": str(cache), "TRACKUI_CONFIG_DIR": str(cache / "config")}


def use_cache(cache: Path) -> None:
    os.environ.update(cache_env(cache))


def run_child(kind: str, root: Path, cache: Path) -> dict[str, Any]:
    env = {**os.environ, **cache_env(cache)}
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} on {root} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# -- the report -------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values)


def line(label: str, value: float, budget: str, unit: str = "s") -> None:
    figure = f"{value:.3f}" if unit == "s" else f"{value:.0f}"
    print(f"{label} {figure} ({budget})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--keep",
        metavar="DIR",
        help="write the stores and catalogs here and keep them; a later run reuses them "
        "(and then reports warm figures only)",
    )
    parser.add_argument(
        "--run-lists",
        default=",".join(map(str, RUN_LIST_SIZES)),
        help="comma-separated run-list store sizes, e.g. 1000,10000,100000",
    )
    parser.add_argument(
        "--skip-big", action="store_true", help="only the run-list figures (no 100x100k store)"
    )
    parser.add_argument(
        "--cold",
        type=int,
        default=0,
        metavar="K",
        help="only the cold listing of each run list, K times, each from a fresh catalog "
        "(even where --keep kept one): until all runs are listed, CPU seconds, peak memory",
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    sizes = tuple(int(n) for n in args.run_lists.split(",") if n)
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="trackui-bench-tui-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        if args.cold:
            cold_report(base, sizes, args.cold)
        else:
            report(base, sizes, big=not args.skip_big)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


def report(base: Path, sizes: tuple[int, ...], *, big: bool = True) -> None:
    began = time.perf_counter()
    stores = ensure_stores(base, sizes, big)
    print(f"# {os.cpu_count()} CPUs; medians of {WARM_REPEATS} (first paint, open) or {REPEATS}")
    for n in sizes:
        run_list_figures(base, stores[f"runs{n}"], n)
    if big:
        big_store_figures(base, stores)
    if 10_000 in sizes:
        idle_figures(base, stores["runs10000"])
    print(f"# total {time.perf_counter() - began:.0f} s; load {os.getloadavg()[0]:.1f}")


def cold_report(base: Path, sizes: tuple[int, ...], repeats: int) -> None:
    """``--cold K``: the cold listing of each size, K times from a fresh catalog."""
    stores = ensure_stores(base, sizes, big=False)
    print(f"# {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f} at start; each line one run")
    for n in sizes:
        cache = base / f"cold-cache-{n}"
        for _ in range(repeats):
            shutil.rmtree(cache, ignore_errors=True)
            cold_lines(n, run_child("first-paint", stores[f"runs{n}"], cache))
        shutil.rmtree(cache, ignore_errors=True)
    print(f"# load {os.getloadavg()[0]:.2f} at the end")


def cold_lines(n: int, cold: dict[str, Any]) -> None:
    """The cold figures of one start: first paint, all listed, CPU, memory."""
    label = f"{n // 1000}k"
    line(
        f"first_paint_{label}_cold_s",
        cold["first_paint_s"],
        f"no budget; {cold['rows_loaded']:.0f} rows, the list filling as the catalog builds",
    )
    budget = {10_000: "budget 5", 100_000: "budget 60"}.get(n, "budget 5 at 10k")
    line(
        f"cold_all_listed_{label}_s",
        cold["refreshed_s"],
        f"{budget}; until the catalog lists all {cold['runs_listed']:.0f} runs; "
        f"{cold['cpu_s']:.1f} CPU-s with the reading child's; load {os.getloadavg()[0]:.1f}",
    )
    line(
        f"tui_rss_peak_cold_{label}_mb",
        cold["rss_peak_mb"],
        "budget 500 at 100k runs; peak of the TUI's process during the cold build; "
        f"its reading child's peak {cold['child_rss_peak_mb']:.0f}",
        unit="MB",
    )


def run_list_figures(base: Path, root: Path, n: int) -> None:
    """First paint warm and cold, until a cold catalog lists every run, sort
    and filter, memory: at ``n`` runs."""
    label = f"{n // 1000}k"
    cache = base / f"cache-{n}"
    cold = None if cache.exists() else run_child("first-paint", root, cache)
    # At 100 k runs the full refresh behind the paint takes minutes: the
    # paint is timed without waiting for it.
    kind = "paint-only" if n >= 100_000 else "first-paint"
    warm = [run_child(kind, root, cache) for _ in range(WARM_REPEATS)]
    line(f"first_paint_{label}_warm_s", median([w["first_paint_s"] for w in warm]), "budget 1.0")
    line(
        f"first_paint_{label}_warm_store_open_s",
        median([w["store_open_s"] for w in warm]),
        "part of the above: open the catalog, load what was read of each file",
    )
    if kind == "first-paint":
        line(
            f"refresh_behind_paint_{label}_warm_s",
            median([w["refreshed_s"] for w in warm]),
            "no budget; the full refresh the app starts behind the first paint (stat every file)",
        )
    if cold is None:
        print(
            f"# first_paint_{label}_cold_s not measured: the catalog in {cache} was kept"
            " (--cold K measures it from a fresh one)"
        )
    else:
        cold_lines(n, cold)
    queries = run_child("list-queries", root, cache)
    for name, times in queries.items():
        line(f"{name}_{label}_s", median(times), f"budget 0.3; page of {PAGE} and the count")
    line(
        f"tui_rss_{label}_mb",
        median([w["rss_mb"] for w in warm]),
        "at first paint",
        unit="MB",
    )
    line(
        f"tui_rss_peak_{label}_mb",
        median([w["rss_peak_mb"] for w in warm]),
        "budget 500 at 100k runs; peak, "
        + ("after the full refresh" if kind == "first-paint" else "at first paint")
        + ("" if cold is None else f"; cold build peak {cold['rss_peak_mb']:.0f} (above)"),
        unit="MB",
    )


def big_store_figures(base: Path, stores: dict[str, Path]) -> None:
    big = stores["big"]
    big_cache = base / "cache-big"
    use_cache(big_cache)
    from trackui.store.queries import Store

    points = BIG_METRICS * BIG_STEPS + HUGE_STEPS + 20
    if not big_cache.exists():
        started = time.perf_counter()
        Store(big).close()  # builds the catalog
        ingest = time.perf_counter() - started
        rate = points / ingest / 1e6
        print(
            f"# catalog of the big store ({points / 1e6:.0f} M points) built in {ingest:.1f} s: "
            f"{rate:.2f} M points/s"
        )

    opened = asyncio.run(open_big_run(big))
    line(
        "open_run_100x100k_s",
        median(opened["detail"]),
        "budget 0.3 from the run list, at 400k steps; enter until the Run screen shows the "
        f"run's detail (screen up {median(opened['screen']):.3f})",
    )
    line(
        "open_run_100x100k_metrics_tab_s",
        median(opened["enter_3"]),
        "enter, 3: until the chart is drawn full size on the Metrics tab",
    )
    launched_at = time.time()
    launch = run_child("launch", big, big_cache)
    line(
        "launch_to_first_chart_s",
        launch["chart_at"] - launched_at,
        "no budget; new process, imports, catalog warm, enter, 3, driven by Pilot in the "
        "process; bench_launch.py times it beside W&B LEET in a terminal",
    )

    chart = asyncio.run(chart_1m(big))
    line(
        "chart_1M_points_s",
        median(chart["total"]),
        f"budget 0.1 query + draw; query {median(chart['query']):.3f}, "
        f"draw {median(chart['draw']):.3f}, {median(chart['points']):.0f} points drawn",
    )


def idle_figures(base: Path, root: Path) -> None:
    use_cache(base / "cache-10000")
    idle = asyncio.run(refresh_idle(root))
    line(
        "refresh_nothing_new_10k_s",
        median(idle["live"]),
        "budget 0.05; the 2 s live tick: Store.refresh(full=False)",
    )
    line(
        "refresh_full_nothing_new_10k_s",
        median(idle["refresh"]),
        "no budget; Store.refresh(): every file of every run",
    )
    line(
        "refresh_key_r_10k_s",
        median(idle["forced"]),
        "r: refresh, re-read the shown rows, merge; no budget",
    )


if __name__ == "__main__":
    main()
