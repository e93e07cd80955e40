"""Reopening a warm native store, and refreshes that find nothing new.

    python benchmarks/bench_reopen.py [--dir DIR] [--sizes 10000,100000] [--repeats 3]

Writes stores of N small finished runs (the run-list layout of
``bench_tui.py``: 5 params, 3 metrics x 20 steps, 10 projects) into ``DIR``
(default: a temporary directory; an existing one is reused), builds each
catalog once, then prints per size, each figure beside its budget, with the
CPU seconds it took (the process's own, all threads; a child's from rusage):

- ``reopen_first_{N}_s``: a fresh process, ``Store(root)`` (open + the
  first, full refresh, which finds nothing new) the first time after the
  catalog was built: no finished run was found quiet yet, so each is looked
  at file by file once (the bench drops the kept stamps to repeat this);
- ``reopen_{N}_s``: the same again, median of ``--repeats``;
- ``ls_json_{N}_s``: ``trackui ls --json ROOT`` as a process, to its exit;
- ``refresh_nothing_new_{N}_s`` (``full=False``, the live tick) and
  ``refresh_nothing_new_full_{N}_s`` (``full=True``), in a process that has
  the store open already; medians of 16 (one turn of ``ROTATION``) and 5.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

#: (figure, budget) for a size; None: no budget.
BUDGETS = {
    "reopen": {10_000: None, 100_000: None},
    "reopen_first": {10_000: None, 100_000: None},
    "ls_json": {10_000: None, 100_000: None},
    "refresh_nothing_new": {10_000: 0.05, 100_000: None},
    "refresh_nothing_new_full": {10_000: None, 100_000: None},
}
LIVE_REPEATS = 16
FULL_REPEATS = 5


def cache_env(cache: Path) -> dict[str, str]:
    return {"TRACKUI_CACHE_DIR": str(cache), "TRACKUI_CONFIG_DIR": str(cache / "config")}


def ensure_store(base: Path, n: int) -> tuple[Path, Path]:
    """The store of ``n`` runs under ``base`` and its cache, written and
    indexed once."""
    from bench_tui import write_run_list

    root, cache = base / f"store_{n}", base / f"cache_{n}"
    if not root.exists():
        tmp = base / f".store_{n}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        started = time.perf_counter()
        write_run_list(tmp, n)
        tmp.rename(root)
        print(f"# wrote {n} runs in {time.perf_counter() - started:.1f} s", flush=True)
    if not (cache / ".built").exists():
        started, cpu = time.perf_counter(), _children_cpu()
        child("open", root, cache)
        (cache / ".built").touch()
        print(
            f"# catalog of {n} runs built in {time.perf_counter() - started:.1f} s "
            f"({_children_cpu() - cpu:.1f} CPU-s)",
            flush=True,
        )
    return root, cache


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def child(kind: str, root: Path, cache: Path) -> dict[str, Any]:
    env = {**os.environ, **cache_env(cache)}
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} on {root} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run_child(kind: str, root: str) -> None:
    from store.queries import Store

    wall, cpu = time.perf_counter(), time.process_time()
    store = Store(root, refresh=kind != "unstamp")
    out: dict[str, Any] = {
        "open": (time.perf_counter() - wall, time.process_time() - cpu),
        "runs": store.catalog.query("SELECT count(*) FROM runs")[0][0],
    }
    if kind == "unstamp":  # as just built: no run seen quiet yet (catalog_sync)
        store.catalog.con.execute("DELETE FROM files WHERE name = '.'")
    if kind == "refresh":
        for label, full, repeats in (
            ("live", False, LIVE_REPEATS),
            ("full", True, FULL_REPEATS),
        ):
            times = []
            for _ in range(repeats):
                wall, cpu = time.perf_counter(), time.process_time()
                stats = store.refresh(full=full)
                times.append((time.perf_counter() - wall, time.process_time() - cpu))
                if stats.runs_changed:
                    raise SystemExit(f"a refresh found {stats.runs_changed} runs changed")
            out[label] = times
    store.close()
    print(json.dumps(out))


#: ``trackui`` as its console script runs it, from this checkout's files
#: whatever the environment has installed (its packages mapped as
#: pyproject.toml maps them).
LS_SCRIPT = """
import sys
from importlib.util import spec_from_file_location
top = sys.argv.pop(1)
dirs = {"trackui": "trackui", "trackui.store": "store", "trackui.tui": "tui"}
class Checkout:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name not in dirs:
            return None
        where = top + "/" + dirs[name]
        return spec_from_file_location(
            name, where + "/__init__.py", submodule_search_locations=[where]
        )
sys.meta_path.insert(0, Checkout)
from trackui.cli import main
sys.exit(main())
"""


def ls_json(root: Path, cache: Path) -> tuple[float, float, int]:
    env = {**os.environ, **cache_env(cache)}
    wall, cpu = time.perf_counter(), _children_cpu()
    proc = subprocess.run(
        [sys.executable, "-c", LS_SCRIPT, str(HERE.parent), "ls", "--json", str(root)],
        env=env,
        capture_output=True,
        timeout=3600,
    )
    took = time.perf_counter() - wall, _children_cpu() - cpu
    if proc.returncode != 0:
        raise RuntimeError(f"trackui ls failed:\n{proc.stderr.decode(errors='replace')}")
    return (*took, len(json.loads(proc.stdout)))


def line(figure: str, n: int, wall: float, cpu: float, note: str = "") -> None:
    budget = BUDGETS[figure].get(n)
    shown = "none" if budget is None else f"{budget}"
    tail = f"; {note}" if note else ""
    print(f"{figure}_{n // 1000}k_s {wall:.3f} (budget {shown}; {cpu:.3f} CPU-s{tail})", flush=True)


def med(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--prepare", action="store_true", help="write and index, no figures")
    parser.add_argument("--figures", default="reopen,ls,refresh", help="which of them")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "ROOT"))
    args = parser.parse_args()
    if args.child:
        run_child(*args.child)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    figures = set(args.figures.split(","))
    made = args.dir is None
    base = Path(tempfile.mkdtemp(prefix="bench-reopen-")) if made else args.dir
    base.mkdir(parents=True, exist_ok=True)
    try:
        print(f"# load average at start: {load()}", flush=True)
        for n in sizes:
            root, cache = ensure_store(base, n)
            if args.prepare:
                continue
            if "reopen" in figures:
                child("unstamp", root, cache)
                got = child("open", root, cache)
                line("reopen_first", n, *got["open"], "the first after a build, then found quiet")
            opens = []
            for _ in range(args.repeats if "reopen" in figures else 0):
                got = child("open", root, cache)
                if got["runs"] != n:
                    raise SystemExit(f"{got['runs']} runs listed of {n}")
                opens.append(tuple(got["open"]))
            if opens:
                line("reopen", n, *med(opens), "Store(root) in a fresh process, median")
            lss = []
            for _ in range(args.repeats if "ls" in figures else 0):
                wall, cpu, listed = ls_json(root, cache)
                if listed != n:
                    raise SystemExit(f"trackui ls listed {listed} of {n}")
                lss.append((wall, cpu))
            if lss:
                line("ls_json", n, *med(lss), "trackui ls --json as a process, median")
            if "refresh" in figures:
                got = child("refresh", root, cache)
                line("refresh_nothing_new", n, *med(got["live"]), "full=False, median of 16")
                line("refresh_nothing_new_full", n, *med(got["full"]), "full=True, median of 5")
        print(f"# load average at end: {load()}", flush=True)
    finally:
        if made:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
