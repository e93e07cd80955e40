"""How runs end, seen through the catalog: real training processes that
finish, fail, get killed (SIGKILL, SIGTERM, SIGINT) or crash, and the
status derived from the evidence they leave."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from trackui.store import paths, status
from trackui.store.queries import Store

CHILD = """
import os, signal, sys, time
import trackui

# As in a terminal, even where the test runs with SIGINT ignored (a background
# job of a non-interactive shell): ctrl-c raises KeyboardInterrupt.
signal.signal(signal.SIGINT, signal.default_int_handler)

mode, n = sys.argv[1], int(sys.argv[2])

def train(run):
    for i in range(n):
        run.log({"loss": 1.0 / (i + 1), "acc": i / n, "lr": 0.01})
    print("logged", n, flush=True)

if mode == "wait":  # log, say so, then idle until a signal arrives
    run = trackui.init(project="life", name="wait")
    train(run)
    deadline = time.time() + 60
    while time.time() < deadline:
        time.sleep(0.02)
elif mode == "finish":
    run = trackui.init(project="life", name="finish")
    train(run)
    run.finish()
elif mode == "atexit":  # no finish(): the interpreter's exit records it
    run = trackui.init(project="life", name="atexit")
    train(run)
elif mode == "with":
    with trackui.init(project="life", name="with") as run:
        train(run)
elif mode == "with-raise":
    with trackui.init(project="life", name="with-raise") as run:
        train(run)
        raise ValueError("loss went to nan at epoch 3")
elif mode == "raise":  # uncaught, no with block: the excepthook records it
    run = trackui.init(project="life", name="raise")
    train(run)
    raise RuntimeError("CUDA out of memory")
elif mode == "with-interrupt":
    with trackui.init(project="life", name="with-interrupt") as run:
        train(run)
        raise KeyboardInterrupt
elif mode == "with-exit":
    with trackui.init(project="life", name="with-exit") as run:
        train(run)
        sys.exit(int(os.environ["EXIT_CODE"]))
"""


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    root.mkdir()
    return root


class Child:
    """A training script run as its own process, writing to ``root``."""

    def __init__(self, tmp_path: Path, root: Path, mode: str, n: int = 100, **env: str):
        script = tmp_path / "child.py"
        script.write_text(CHILD)
        self.proc = subprocess.Popen(
            [sys.executable, str(script), mode, str(n)],
            cwd=tmp_path,
            env={
                **os.environ,
                "TRACKUI_DIR": str(root),
                "TRACKUI_HEARTBEAT_INTERVAL": "0.1",
                **env,
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_for_line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("logged"), self.proc.stderr.read() if self.proc.stderr else line
        return line

    def end(self) -> tuple[int, str]:
        _, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, err


@pytest.fixture
def children() -> Iterator[list[Child]]:
    made: list[Child] = []
    yield made
    for child in made:
        if child.proc.poll() is None:
            child.proc.kill()
        child.proc.communicate()


def run_child(
    tmp_path: Path, root: Path, mode: str, children: list[Child], **env: str
) -> tuple[int, str]:
    child = Child(tmp_path, root, mode, **env)
    children.append(child)
    return child.end()


def only_run(store: Store) -> Any:
    (summary,) = store.list_runs()
    return store.get_run(summary.id)


def heartbeat_mtime(root: Path) -> float:
    (beat,) = root.glob(f"*/*/{paths.HEARTBEAT}")
    return beat.stat().st_mtime


# -- SIGKILL: nothing logged is lost; the run reads crashed -------------------


def test_sigkill_loses_no_logged_point(tmp_path: Path, store_root: Path, children: list) -> None:
    n = 437
    child = Child(tmp_path, store_root, "wait", n)
    children.append(child)
    child.wait_for_line()
    pid = child.proc.pid

    # the heartbeat thread runs at the configured interval
    first = heartbeat_mtime(store_root)
    deadline = time.monotonic() + 90
    while heartbeat_mtime(store_root) == first and time.monotonic() < deadline:
        time.sleep(0.02)
    assert heartbeat_mtime(store_root) > first

    with Store(store_root, clock=lambda: heartbeat_mtime(store_root)) as store:
        alive = only_run(store)
        assert alive.run.status == "running", alive.run.status_reason
        assert alive.meta["heartbeat_interval"] == 0.1

    child.proc.send_signal(signal.SIGKILL)
    assert child.proc.wait(timeout=30) == -signal.SIGKILL

    with Store(store_root) as store:
        run = only_run(store)
        for key, expect in (("loss", 1.0 / n), ("acc", (n - 1) / n), ("lr", 0.01)):
            points = store.history(run.run.id, key)
            assert [p.step for p in points] == list(range(n)), key
            assert points[-1].value == expect
        assert {m.key: m.count for m in run.metrics} == {"loss": n, "acc": n, "lr": n}
        # on this host the process is known to be gone: crashed at once
        assert run.run.status == "crashed"
        assert run.run.status_reason == f"process {pid} is gone (no finish recorded)"


def test_killed_elsewhere_reads_crashed_once_heartbeat_is_stale(
    tmp_path: Path, store_root: Path, children: list
) -> None:
    """Seen from another machine sharing the store, only the heartbeat tells."""
    child = Child(tmp_path, store_root, "wait", 20)
    children.append(child)
    child.wait_for_line()
    child.proc.send_signal(signal.SIGKILL)
    child.proc.wait(timeout=30)
    (meta_path,) = store_root.glob(f"*/*/{paths.META}")
    meta = json.loads(meta_path.read_text())
    meta["host"] = "another-gpu-box"
    meta_path.write_text(json.dumps(meta))
    beat = heartbeat_mtime(store_root)

    now = [beat + 0.1]
    with Store(store_root, clock=lambda: now[0]) as store:
        assert only_run(store).run.status == "running"  # fresh: 1 interval old
        now[0] = beat + 0.35
        store.refresh()
        assert only_run(store).run.status == "running"  # 3.5 intervals: still in grace
        now[0] = beat + 90
        store.refresh()
        run = only_run(store).run
        assert run.status == "crashed"
        assert run.status_reason == "heartbeat stale for 90 s (no finish recorded)"
        assert len(store.history(run.id, "loss")) == 20


def test_derive_heartbeat_only_on_another_host() -> None:
    common: dict[str, Any] = dict(
        finish_status=None,
        finish_reason=None,
        heartbeat_interval=5.0,
        host="gpu-box-7",
        pid=os.getpid(),  # a live pid here means nothing for another host's run
        this_host="laptop",
    )
    assert status.derive(heartbeat_mtime=1000.0, now=1000.0, **common) == ("running", None)
    assert status.derive(heartbeat_mtime=1000.0, now=1019.0, **common) == ("running", None)
    assert status.derive(heartbeat_mtime=1000.0, now=1021.0, **common) == (
        "crashed",
        "heartbeat stale for 21 s (no finish recorded)",
    )
    assert status.derive(heartbeat_mtime=1000.0, now=1000.0 + 3 * 3600, **common) == (
        "crashed",
        "heartbeat stale for 3 h (no finish recorded)",
    )
    assert status.derive(heartbeat_mtime=None, now=1000.0, **common) == (
        "crashed",
        "no heartbeat file",
    )
    # a finish event decides, however old the heartbeat
    done = {**common, "finish_status": "finished", "finish_reason": None}
    assert status.derive(heartbeat_mtime=0.0, now=1e9, **done) == ("finished", None)
    # the interval is the run's own: a slow heartbeat is not stale sooner
    slow = {**common, "heartbeat_interval": 60.0}
    assert status.derive(heartbeat_mtime=1000.0, now=1200.0, **slow) == ("running", None)


def test_derive_same_host_dead_pid_is_crashed_despite_fresh_heartbeat() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    common: dict[str, Any] = dict(
        finish_status=None,
        finish_reason=None,
        heartbeat_mtime=1000.0,
        heartbeat_interval=5.0,
        host="box",
        this_host="box",
        now=1000.0,
    )
    assert status.derive(pid=gone.pid, **common) == (
        "crashed",
        f"process {gone.pid} is gone (no finish recorded)",
    )
    assert status.derive(pid=os.getpid(), **common) == ("running", None)


# -- signals -----------------------------------------------------------------


@pytest.mark.parametrize(("sig", "name"), [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")])
def test_signal_records_killed(
    tmp_path: Path, store_root: Path, children: list, sig: signal.Signals, name: str
) -> None:
    child = Child(tmp_path, store_root, "wait", 30)
    children.append(child)
    child.wait_for_line()
    child.proc.send_signal(sig)
    code, err = child.end()
    assert code != 0
    with Store(store_root) as store:
        run = only_run(store)
        assert run.run.status == "killed"
        assert run.signal == name
        assert run.run.status_reason == f"signal {name}"
        assert len(store.history(run.run.id, "loss")) == 30


def test_sigterm_while_the_run_starts_records_killed(tmp_path: Path, store_root: Path) -> None:
    """A stop that lands after the run directory appears but before init()
    has its handler in place (a slow start under load) is still killed."""
    script = f"""
import os, signal, sys
from trackui.store import writer
real = writer.create_run_dir
def then_stopped(*args, **kwargs):
    made = real(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGTERM)  # the run exists; init() is not done
    return made
writer.create_run_dir = then_stopped
import trackui
run = trackui.init(project="life", name="early", dir={str(store_root)!r}, console=False)
print("init returned", flush=True)
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -signal.SIGTERM, proc.stderr
    assert "init returned" not in proc.stdout
    with Store(store_root) as store:
        run = only_run(store)
        assert run.run.status == "killed"
        assert run.signal == "SIGTERM"


# -- ends of a script --------------------------------------------------------


@pytest.mark.parametrize("mode", ["finish", "atexit", "with"])
def test_normal_end_is_finished(
    tmp_path: Path, store_root: Path, children: list, mode: str
) -> None:
    code, err = run_child(tmp_path, store_root, mode, children)
    assert code == 0, err
    with Store(store_root) as store:
        run = only_run(store)
        assert (run.run.status, run.run.status_reason) == ("finished", None)
        assert run.run.ended is not None
        assert len(store.history(run.run.id, "acc")) == 100


def test_exception_in_with_is_failed_with_the_message(
    tmp_path: Path, store_root: Path, children: list
) -> None:
    code, err = run_child(tmp_path, store_root, "with-raise", children)
    assert code == 1 and "ValueError: loss went to nan at epoch 3" in err
    with Store(store_root) as store:
        run = only_run(store)
        assert run.run.status == "failed"
        assert run.exception_type == "ValueError"
        assert run.exception_message == "loss went to nan at epoch 3"
        assert run.run.status_reason == "ValueError: loss went to nan at epoch 3"
        assert "raise ValueError" in (run.exception_traceback or "")


def test_uncaught_exception_without_with_is_failed(
    tmp_path: Path, store_root: Path, children: list
) -> None:
    code, err = run_child(tmp_path, store_root, "raise", children)
    assert code == 1 and "RuntimeError: CUDA out of memory" in err  # the hook passes it on
    with Store(store_root) as store:
        run = only_run(store)
        assert run.run.status == "failed"
        assert run.run.status_reason == "RuntimeError: CUDA out of memory"
        assert run.exit_code == 1


def test_keyboard_interrupt_in_with_is_killed(
    tmp_path: Path, store_root: Path, children: list
) -> None:
    code, _ = run_child(tmp_path, store_root, "with-interrupt", children)
    assert code != 0
    with Store(store_root) as store:
        run = only_run(store)
        assert (run.run.status, run.signal) == ("killed", "SIGINT")


@pytest.mark.parametrize(("exit_code", "expect"), [(0, "finished"), (3, "failed")])
def test_sys_exit_in_with_follows_the_exit_code(
    tmp_path: Path, store_root: Path, children: list, exit_code: int, expect: str
) -> None:
    code, err = run_child(tmp_path, store_root, "with-exit", children, EXIT_CODE=str(exit_code))
    assert code == exit_code, err
    with Store(store_root) as store:
        run = only_run(store)
        assert run.run.status == expect
        assert run.exit_code == exit_code
        assert run.run.status_reason == (f"exit code {exit_code}" if exit_code else None)
