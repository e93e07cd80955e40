"""Launch to first chart, trackui beside W&B LEET, in one run on the same values.

    python benchmarks/bench_launch.py [--leet-python PATH] [--metrics 20]
        [--steps 50000] [--repeats 7] [--keep DIR]

One run of ``--metrics`` metrics × ``--steps`` steps, held three ways:

- a native trackui store (run directory format 1, written here);
- a W&B offline run written by the real ``wandb`` (``launch_wandb_run.py``,
  run with ``--leet-python``: a separate environment with ``wandb``
  installed, never trackui's own), which trackui reads through as a folder
  of foreign runs and LEET opens as it is.

Each tool starts in a fresh tmux pane of 120×40 (its own tmux server). The
clock starts when the command is started and stops at the first
``capture-pane`` frame that holds a chart (braille dots of a plot), polled
every 10 ms. trackui: as soon as the run list shows the run,
``enter`` is sent, and ``3`` (the Metrics tab) as soon as the run screen
shows. LEET (``wandb leet RUN_DIR``) opens on its charts; it reads the run
progressively, so its first chart may show the first part of the steps:
``launch_leet_all_steps_s`` is when it says the run is read (``State:
Finished``), taken once, in the warm-up launch. Beside each time, the CPU
seconds the tool's processes (the pane's process and all under it, and
the children they already waited for, from /proc) had used at that frame:
on a shared, busy machine the wall clock follows the CPU a tool needs, and
the CPU figure moves much less with the load. Both tools run from bytecode
written by the warm-up launches (``PYTHONPYCACHEPREFIX`` in the work
folder), as an installed copy does.

The catalogs are warm (one launch of each before the timed ones; the first
trackui launch on the W&B folder is the first read, printed on its own);
the timed launches go round the tools, each round started by the next tool,
one second apart, so a busy machine hits all alike; figures are medians of
``--repeats``. The first-read figure means what it says only when the
catalogs are new (no ``--keep``, or a new ``--keep`` folder). Without
``--leet-python`` (or when its ``wandb`` is missing) only the native trackui
figures are printed, with a note.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

SIZE = (120, 40)
POLL = 0.01
TIMEOUT = 60.0
#: seconds between two launches
PAUSE = 1.0
FIRST_READ_TIMEOUT = 1800.0
#: braille cells a frame needs to count as holding a chart (LEET's system
#: panels draw a handful of dots before any metric chart shows)
CHART_DOTS = 40
CREATED = 1_790_000_000.0
RUN_ID = "20260919-120000000-launch"
HERE = Path(__file__).resolve().parent
WANDB_WRITER = HERE / "launch_wandb_run.py"
#: not passed on to the tools (tmux's own; a shell that writes no bytecode
#: would make every launch compile the modules changed since the last install)
DROPPED_ENV = ("TMUX", "TMUX_PANE", "PYTHONDONTWRITEBYTECODE")
TMUX_CONF = 'set -g default-terminal "tmux-256color"\nset -g escape-time 0\nset -g status off\n'


def value(metric: int, step: int) -> float:
    """The value of metric ``metric`` at ``step`` (launch_wandb_run.py has a copy)."""
    return round(
        (1.0 + metric / 10) / (1.0 + step * 1e-4) + 0.05 * math.sin(step * 0.01 * (metric + 1)), 6
    )


def metric_names(count: int) -> list[str]:
    return ["train/loss", "val/loss", *(f"m{k:02d}/loss" for k in range(2, count))][:count]


def run_name(metrics: int, steps: int) -> str:
    return f"launch-{metrics}x{steps}"


# -- the data --------------------------------------------------------------------


def write_native(root: Path, metrics: int, steps: int) -> None:
    """The run as a trackui store, format 1 (docs/format.md)."""
    run_dir = root / "launch" / RUN_ID
    if (run_dir / "events.jsonl").exists():
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    name = run_name(metrics, steps)
    meta = {
        "format": 1,
        "id": RUN_ID,
        "project": "launch",
        "name": name,
        "group": None,
        "tags": [],
        "notes": None,
        "created": CREATED,
        "host": "bench",
        "user": "bench",
        "pid": 1000,
        "argv": ["train.py"],
        "cwd": ".",
        "python": "3.11",
        "executable": "python",
        "heartbeat_interval": 5.0,
        "git": None,
    }
    (run_dir / "meta.json").write_text(json.dumps(meta))
    (run_dir / "config.json").write_text(json.dumps({"lr0": 0.01, "batch": 16}))
    keys = metric_names(metrics)
    with open(run_dir / "metrics.jsonl", "w") as fh:
        for step in range(steps):
            line = {"_step": step, "_t": CREATED + step * 0.01}
            line.update((key, value(k, step)) for k, key in enumerate(keys))
            fh.write(json.dumps(line) + "\n")
    ended = CREATED + steps * 0.01
    (run_dir / "events.jsonl").write_text(
        json.dumps({"event": "start", "t": CREATED, "pid": 1000})
        + "\n"
        + json.dumps({"event": "finish", "t": ended, "status": "finished"})
        + "\n"
    )
    heartbeat = run_dir / "heartbeat"
    heartbeat.touch()
    os.utime(heartbeat, (ended, ended))


def leet_ready(python: str | None) -> str | None:
    """Why the LEET half cannot run, or None when it can."""
    if not python:
        return "no --leet-python given"
    if not Path(python).exists():
        return f"{python} does not exist"
    probe = subprocess.run(
        [python, "-c", "import wandb"], capture_output=True, text=True, timeout=120
    )
    if probe.returncode != 0:
        return f"{python} cannot import wandb"
    if not (Path(python).parent / "wandb").exists():
        return f"no wandb command beside {python}"
    return None


def write_wandb(base: Path, python: str, metrics: int, steps: int) -> Path:
    """The W&B offline run (written once per ``--keep`` folder); its run directory."""
    folder = base / "wandb-src"
    found = sorted((folder / "wandb").glob("offline-run-*"))
    if found:
        return found[-1]
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "WANDB_SILENT": "true", "WANDB_MODE": "offline"}
    subprocess.run(
        [python, str(WANDB_WRITER), str(folder), str(metrics), str(steps)],
        check=True,
        env=env,
        timeout=3600,
    )
    return sorted((folder / "wandb").glob("offline-run-*"))[-1]


# -- one launch in tmux ----------------------------------------------------------


def braille(text: str) -> int:
    return sum(1 for ch in text if "\u2801" <= ch <= "\u28ff")


class Pane:
    """A fresh tmux server (private socket) holding one 120×40 pane that runs
    ``argv`` once ``go`` is called."""

    def __init__(self, workdir: Path, argv: list[str], env: dict[str, str]) -> None:
        self.socket = f"bench-launch-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
        # Both tools run from bytecode, as an installed copy does: written
        # once (the warm-up launches) under the work folder, whatever this
        # shell says about writing it.
        self.env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
        self.env.update(env)
        conf = workdir / "tmux.conf"
        conf.write_text(TMUX_CONF)
        # The shell waits for one line, then becomes the tool: the clock starts
        # at that line, so tmux's own start is not counted.
        script = "read _; exec " + shlex.join(argv)
        self.cmd(
            "-f", str(conf), "new-session", "-d", "-s", "b",
            "-x", str(SIZE[0]), "-y", str(SIZE[1]), "-c", str(workdir),
            shlex.join(["sh", "-c", script]),
        )  # fmt: skip
        self.socket_path = self.cmd("display-message", "-p", "#{socket_path}").strip()

    def cmd(self, *args: str) -> str:
        proc = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=30,
        )
        return proc.stdout

    def go(self) -> float:
        started = time.perf_counter()
        self.cmd("send-keys", "-t", "b", "Enter")
        return started

    def keys(self, *keys: str) -> None:
        self.cmd("send-keys", "-t", "b", *keys)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the pane's program and
        every process under it: load-independent, unlike the wall clock."""
        pid = int(self.cmd("display-message", "-p", "-t", "b", "#{pane_pid}").strip() or 0)
        return tree_cpu(pid) if pid else float("nan")

    def screen(self) -> str:
        return self.cmd("capture-pane", "-p", "-t", "b")

    def until(self, condition: Callable[[str], bool], what: str, timeout: float = TIMEOUT) -> float:
        deadline = time.perf_counter() + timeout
        while True:
            text = self.screen()
            now = time.perf_counter()
            if condition(text):
                return now
            if now > deadline:
                raise TimeoutError(f"no {what} after {timeout:.0f} s; the screen:\n{text}")
            time.sleep(POLL)

    def close(self, *quit_keys: str) -> None:
        if quit_keys:
            self.keys(*quit_keys)
            deadline = time.perf_counter() + 5
            while time.perf_counter() < deadline:
                if subprocess.run(
                    ["tmux", "-L", self.socket, "has-session", "-t", "b"],
                    capture_output=True,
                    env=self.env,
                ).returncode:
                    break
                time.sleep(0.02)
        self.cmd("kill-server")
        if self.socket_path:
            Path(self.socket_path).unlink(missing_ok=True)


def tree_cpu(root: int) -> float:
    """utime + stime of ``root`` and its descendants, from /proc (Linux),
    with what the children they have already waited for used (cutime +
    cstime): a helper process that is done by then still counts."""
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)
        ticks[pid] = sum(int(f) for f in fields[11:15])
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total / os.sysconf("SC_CLK_TCK")


def trackui_command() -> list[str]:
    script = Path(sys.executable).parent / "trackui"
    return [str(script)] if script.exists() else [sys.executable, "-m", "trackui"]


def launch_trackui(
    workdir: Path, path: Path, name: str, env: dict[str, str], first: bool = False
) -> dict[str, float]:
    """``trackui PATH``; ``enter`` when the list shows the run, ``3`` when the
    run screen shows; seconds from the start to the list, the run screen and
    the chart. ``first``: the catalog is built first (minutes on a busy box)."""
    pane = Pane(workdir, [*trackui_command(), str(path)], env)
    try:
        started = pane.go()
        listed = pane.until(
            lambda s: name in s, "run list", FIRST_READ_TIMEOUT if first else TIMEOUT
        )
        pane.keys("Enter")
        opened = pane.until(lambda s: "3 Metrics" in s, "run screen")
        pane.keys("3")
        charted = pane.until(lambda s: braille(s) >= CHART_DOTS, "chart")
        cpu = pane.cpu_seconds()
    finally:
        pane.close("C-q")
    return {
        "list": listed - started,
        "run_screen": opened - started,
        "first_chart": charted - started,
        "first_chart_cpu": cpu,
    }


def launch_leet(workdir: Path, python: str, run_dir: Path, whole: bool = False) -> dict[str, float]:
    """``wandb leet RUN_DIR``: seconds to the first chart; with ``whole``, also
    to the whole run read (LEET reads on after its first chart)."""
    pane = Pane(workdir, [str(Path(python).parent / "wandb"), "leet", str(run_dir)], {})
    try:
        started = pane.go()
        charted = pane.until(lambda s: braille(s) >= CHART_DOTS, "LEET chart")
        result = {"first_chart": charted - started, "first_chart_cpu": pane.cpu_seconds()}
        if whole:
            finished = pane.until(lambda s: "State: Finished" in s, "LEET finished", 600)
            result["all_steps"] = finished - started
    finally:
        pane.close("q")
    return result


def reopen_refresh(path: Path, env: dict[str, str], repeats: int) -> list[float]:
    """In a child process: ``Store.refresh()`` of the W&B folder's read-through
    store when nothing changed (what a reopen reads)."""
    code = f"""
import json, sys, time
from pathlib import Path
from trackui.cli_resolve import source
from trackui.store.queries import Store
root = source(Path({str(path)!r})).root
times = []
with Store(root, refresh=False) as store:
    for _ in range({repeats}):
        t = time.perf_counter(); stats = store.refresh(); times.append(time.perf_counter() - t)
print(json.dumps(times))
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
        timeout=600,
    )
    return json.loads(out.stdout)


# -- main ----------------------------------------------------------------------


def figure(name: str, value: float, note: str) -> None:
    print(f"{name} {value:.3f}  ({note})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leet-python", help="Python of a separate environment with wandb")
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="write the data here and reuse it next time")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("bench_launch: tmux is not installed")

    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-launch-"))
    base = base.resolve()
    work = base / f"size-{args.metrics}x{args.steps}"
    work.mkdir(parents=True, exist_ok=True)
    (work / "config").mkdir(exist_ok=True)
    # Private catalogs and a default TUI config, so nothing of the user's is read or written.
    env = {
        "TRACKUI_CACHE_DIR": str(work / "cache"),
        "XDG_CONFIG_HOME": str(work / "config"),
        "TRACKUI_DIR": str(work / "store"),
    }
    name = run_name(args.metrics, args.steps)
    started = time.perf_counter()
    write_native(work / "store", args.metrics, args.steps)
    why_not = leet_ready(args.leet_python)
    run_dir = None
    if why_not is None:
        run_dir = write_wandb(work, args.leet_python, args.metrics, args.steps)
    print(
        f"# {args.metrics} metrics x {args.steps} steps, {SIZE[0]}x{SIZE[1]}, medians of "
        f"{args.repeats}; data ready in {time.perf_counter() - started:.1f} s; "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    if why_not is not None:
        print(f"# LEET half skipped: {why_not} (see --leet-python)", flush=True)

    # Warm: one launch of each (the trackui catalogs are built by it).
    launch_trackui(work, work / "store", name, env, first=True)
    if run_dir is not None:
        cold = launch_trackui(work, run_dir.parent, name, env, first=True)
        figure(
            "launch_trackui_wandb_first_read_s",
            cold["first_chart"],
            "first launch on the W&B folder: reads it all; not a budget",
        )
        whole = launch_leet(work, args.leet_python, run_dir, whole=True)

    times: dict[str, list[float]] = {}

    def note(prefix: str, result: dict[str, float]) -> None:
        for key, seconds in result.items():
            times.setdefault(f"{prefix}_{key}", []).append(seconds)

    launches: list[tuple[str, Callable[[], dict[str, float]]]] = [
        ("native", lambda: launch_trackui(work, work / "store", name, env))
    ]
    if run_dir is not None:
        launches.append(("wandb", lambda: launch_trackui(work, run_dir.parent, name, env)))
        launches.append(("leet", lambda: launch_leet(work, args.leet_python, run_dir)))
    for round_ in range(args.repeats):
        # each tool in turn comes first, and a pause lets the last one's exit settle
        for i in range(len(launches)):
            tool, launch = launches[(round_ + i) % len(launches)]
            time.sleep(PAUSE)
            note(tool, launch())
    med = {key: statistics.median(values) for key, values in times.items()}
    leet = med.get("leet_first_chart")
    budget = f"< LEET {leet:.3f}" if leet is not None else "< LEET (not measured here)"
    leet_cpu = f"{med['leet_first_chart_cpu']:.3f}" if leet is not None else "not measured"
    for tool, label in (("native", "native store"), ("wandb", "W&B folder")):
        if f"{tool}_first_chart" not in med:
            continue
        figure(f"launch_trackui_{tool}_list_s", med[f"{tool}_list"], f"{label}: run list shown")
        figure(
            f"launch_trackui_{tool}_run_screen_s",
            med[f"{tool}_run_screen"],
            f"{label}: after enter, run screen shown",
        )
        figure(
            f"launch_trackui_{tool}_first_chart_s",
            med[f"{tool}_first_chart"],
            f"{label}: after 3, chart drawn; budget {budget}",
        )
        figure(
            f"launch_trackui_{tool}_first_chart_cpu_s",
            med[f"{tool}_first_chart_cpu"],
            f"{label}: CPU seconds of the process to that frame; LEET {leet_cpu}",
        )
    if leet is not None:
        figure("launch_leet_first_chart_s", leet, "wandb leet RUN_DIR: first chart")
        figure(
            "launch_leet_first_chart_cpu_s",
            med["leet_first_chart_cpu"],
            "CPU seconds of wandb leet and wandb-core to that frame",
        )
        figure(
            "launch_leet_all_steps_s",
            whole["all_steps"],
            "LEET says State: Finished (every step read); the warm-up launch, not a median",
        )
        for tool in ("native", "wandb"):
            figure(
                f"launch_ratio_{tool}_to_leet",
                med[f"{tool}_first_chart"] / leet,
                "trackui / LEET first chart; budget < 1",
            )
    if run_dir is not None:
        refresh = reopen_refresh(run_dir.parent, env, args.repeats)
        figure(
            "wandb_reopen_refresh_s",
            statistics.median(refresh),
            "Store.refresh() of the W&B folder, nothing changed; budget <= 0.3",
        )
    print(f"# load average {os.getloadavg()[0]:.2f} at the end", flush=True)
    if args.keep is None:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
