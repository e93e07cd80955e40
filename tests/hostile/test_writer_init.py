"""A writer killed during ``init`` (``kill -9`` at each step of making the
run directory) leaves no run directory without ``meta.json``; what it does
leave is hidden from readers and removed by the next writer in the project."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import trackui
from trackui.store import paths
from trackui.store.queries import Store

# The child dies by SIGKILL the first time init reaches the named call.
CHILD = """
import os, signal, subprocess, sys
import trackui

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

module, name = sys.argv[1].rsplit(".", 1)
setattr({"os": os, "subprocess": subprocess}[module], name, die)
trackui.init(project="p", dir=sys.argv[2], console=False)
"""

KILL_POINTS = ["subprocess.run", "os.mkdir", "os.fsync", "os.replace", "os.rename", "os.open"]


def visible(project: Path) -> list[Path]:
    return sorted(p for p in project.iterdir() if not p.name.startswith("."))


@pytest.mark.parametrize("point", KILL_POINTS)
def test_killed_during_init_leaves_no_run_without_meta(tmp_path: Path, point: str) -> None:
    root = tmp_path / "store"
    (root / "p").mkdir(parents=True)
    child = subprocess.run(
        [sys.executable, "-c", CHILD, point, str(root)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    for entry in visible(root / "p"):
        assert (entry / paths.META).is_file(), f"{entry.name} has no meta.json"
    with Store(root) as store:
        assert all(r.id for r in store.list_runs())  # readers see only whole runs

    # The next writer here removes what a writer killed long ago left behind
    # (recent leftovers may belong to a writer still in its init).
    old = time.time() - 3600
    hidden = [p for p in (root / "p").iterdir() if p.name.startswith(".")]
    for entry in hidden:
        os.utime(entry, (old, old))
    run = trackui.init(project="p", dir=root, console=False)
    run.finish()
    assert [p.name for p in (root / "p").iterdir() if p.name.startswith(".")] == []
    assert (run.dir / paths.META).is_file()


def test_a_recent_temp_dir_is_left_alone(tmp_path: Path) -> None:
    """A writer that is still in its init must not lose its directory."""
    root = tmp_path / "store"
    busy = root / "p" / ".20990101-000000000-busy00.tmp"
    busy.mkdir(parents=True)
    run = trackui.init(project="p", dir=root, console=False)
    run.finish()
    assert busy.is_dir()


def test_no_temp_files_left_by_a_normal_run(tmp_path: Path) -> None:
    root = tmp_path / "store"
    src = tmp_path / "w.pt"
    src.write_bytes(b"w")
    with trackui.init(project="p", dir=root, config={"a": 1}, console=False) as run:
        run.config["b"] = 2
        run.summary["c"] = 3
        run.log_artifact(src)
    leftovers = [p for p in root.rglob(".*")]
    assert leftovers == []
