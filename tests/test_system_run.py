"""System sampling started by ``trackui.init``: the run directory's
``system.jsonl`` with NVML faked at the module boundary, without NVML, off,
and when its writes fail."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import types
import warnings
from pathlib import Path

import pytest

import trackui
from trackui.store import system

GPUS = [
    {
        "util": 87,
        "mem_used": 20_401_094_656,
        "mem_total": 85_899_345_920,
        "temp": 61,
        "mw": 312_400,
    },
    {"util": 3, "mem_used": 1_048_576, "mem_total": 85_899_345_920, "temp": 35, "mw": 70_000},
]


def fake_pynvml() -> types.ModuleType:
    """``pynvml`` as the ``nvidia-ml-py`` package shapes it, two GPUs with known readings."""
    mod = types.ModuleType("pynvml")
    mod.nvmlInit = lambda: None
    mod.nvmlShutdown = lambda: None
    mod.nvmlDeviceGetCount = lambda: len(GPUS)
    mod.nvmlDeviceGetHandleByIndex = lambda i: ("handle", i)
    mod.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(
        gpu=GPUS[h[1]]["util"], memory=1
    )
    mod.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(
        used=GPUS[h[1]]["mem_used"], total=GPUS[h[1]]["mem_total"], free=0
    )
    mod.nvmlDeviceGetTemperature = lambda h, sensor: GPUS[h[1]]["temp"]
    mod.nvmlDeviceGetPowerUsage = lambda h: GPUS[h[1]]["mw"]
    return mod


def wait_for_lines(path, n: int) -> list[dict]:
    pause = threading.Event()
    deadline = time.monotonic() + 90  # by the clock: a starved machine is slow
    while time.monotonic() < deadline:
        if path.exists():
            rows = [json.loads(line) for line in path.read_text().splitlines()]
            if len(rows) >= n:
                return rows
        pause.wait(0.02)
    raise AssertionError(f"{path} never reached {n} lines")


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.delenv("TRACKUI_SYSTEM_INTERVAL", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return tmp_path / "store"


def test_two_fake_gpus_land_in_the_run_directory_exactly(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml())
    run = trackui.init(project="p", dir=store, console=False, system_interval=0.05)
    run.log({"loss": 1.0})
    path = run.dir / system.SYSTEM_FILE
    wait_for_lines(path, 3)
    run.finish()
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    expected = {}
    for i, gpu in enumerate(GPUS):
        expected[f"system/gpu{i}.util"] = gpu["util"]
        expected[f"system/gpu{i}.mem_used"] = gpu["mem_used"]
        expected[f"system/gpu{i}.mem_total"] = gpu["mem_total"]
        expected[f"system/gpu{i}.temp"] = gpu["temp"]
        expected[f"system/gpu{i}.power"] = gpu["mw"] / 1000
    for row in rows:
        # the shape of a metrics.jsonl line, `_t` and no `_step`: ingestible as it is
        assert "_t" in row and "_step" not in row
        assert {k: v for k, v in row.items() if k.startswith("system/gpu")} == expected
        assert set(row) - set(expected) == {
            "_t",
            "system/proc.cpu",
            "system/proc.rss",
            "system/host.cpu",
            "system/host.mem_used",
        }
    ts = [row["_t"] for row in rows]
    assert all(b - a >= 0.045 for a, b in zip(ts, ts[1:])), ts
    # the sampler has stopped with the run: no line appears after finish
    count = len(rows)
    threading.Event().wait(0.2)
    assert len(path.read_text().splitlines()) == count
    # metrics.jsonl holds what log() wrote, nothing of the sampler's
    metrics = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
    assert [set(m) for m in metrics] == [{"_step", "_t", "loss"}]


def test_without_nvml_nothing_fails_and_no_gpu_series(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` raises ImportError
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even a warning
        run = trackui.init(project="p", dir=store, console=False, system_interval=0.05)
        rows = wait_for_lines(run.dir / system.SYSTEM_FILE, 2)
        run.finish()
    assert run.dropped == 0
    for row in rows:
        assert not any(key.startswith("system/gpu") for key in row)
        assert row["system/proc.rss"] > 0 and row["system/host.mem_used"] > 0


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_interval_zero_writes_no_file_and_starts_no_thread(store, monkeypatch, how):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml())
    # Runs of other tests (never finished) may still have their samplers.
    before = {t for t in threading.enumerate() if t.name == "trackui-system"}
    if how == "environment":
        monkeypatch.setenv("TRACKUI_SYSTEM_INTERVAL", "0")
        run = trackui.init(project="p", dir=store, console=False)
    else:
        monkeypatch.setenv("TRACKUI_SYSTEM_INTERVAL", "0.05")  # the argument wins
        run = trackui.init(project="p", dir=store, console=False, system_interval=0)
    assert {t for t in threading.enumerate() if t.name == "trackui-system"} <= before
    assert run._sampler is None
    threading.Event().wait(0.2)
    run.finish()
    assert not (run.dir / system.SYSTEM_FILE).exists()


def test_environment_sets_the_interval(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.setenv("TRACKUI_SYSTEM_INTERVAL", "0.05")
    run = trackui.init(project="p", dir=store, console=False)
    wait_for_lines(run.dir / system.SYSTEM_FILE, 2)
    run.finish()


def test_a_failed_write_is_counted_as_dropped_and_never_raises(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml())
    run = trackui.init(project="p", dir=store, console=False, system_interval=0.05)
    (run.dir / system.SYSTEM_FILE).mkdir()  # every append now fails (EISDIR)
    with pytest.warns(trackui.TrackuiWarning, match="system readings"):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if run.dropped >= 2 * 14:  # two lines of 4 host + 2 x 5 GPU values
                break
            threading.Event().wait(0.02)
    run.log({"loss": 1.0})  # logging goes on
    run.finish()
    assert run.dropped >= 28
    finish = json.loads((run.dir / "events.jsonl").read_text().splitlines()[-1])
    assert finish["status"] == "finished" and finish["dropped"] == run.dropped


def test_a_wrong_interval_type_is_refused_at_the_call(store):
    with pytest.raises(TypeError, match="system_interval"):
        trackui.init(project="p", dir=store, console=False, system_interval="fast")
    assert not store.exists()  # refused before a file was made


def test_sampling_imports_neither_torch_nor_numpy(tmp_path):
    """In a fresh interpreter (numpy is installed with the test extra, so an
    import of it would show), with a fake NVML."""
    script = f"""
import sys, types, json, threading, time
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_system_run import fake_pynvml
sys.modules["pynvml"] = fake_pynvml()
import trackui
run = trackui.init(project="p", dir={str(tmp_path)!r}, console=False, system_interval=0.05)
path = run.dir / "system.jsonl"
deadline = time.monotonic() + 90
while time.monotonic() < deadline:
    if path.exists() and len(path.read_text().splitlines()) >= 2:
        break
    threading.Event().wait(0.02)
run.finish()
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "numpy"))))
print(len(path.read_text().splitlines()))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    imported, lines = out.stdout.split()
    assert json.loads(imported) == [] and int(lines) >= 2
