"""System sampling (store/system.py) with NVML faked at the module boundary."""

from __future__ import annotations

import json
import sys
import threading
import time
import types

import pytest

from trackui.store import system


def fake_pynvml(gpus: list[dict[str, float]]) -> types.ModuleType:
    """A stand-in for ``pynvml`` with known readings for each GPU."""
    mod = types.ModuleType("pynvml")
    calls: list[str] = []

    def rec(name):
        calls.append(name)

    mod.calls = calls
    mod.nvmlInit = lambda: rec("init")
    mod.nvmlShutdown = lambda: rec("shutdown")
    mod.nvmlDeviceGetCount = lambda: len(gpus)
    mod.nvmlDeviceGetHandleByIndex = lambda i: i
    mod.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(
        gpu=gpus[h]["util"], memory=0
    )
    mod.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(
        used=gpus[h]["mem_used"],
        total=gpus[h]["mem_total"],
        free=gpus[h]["mem_total"] - gpus[h]["mem_used"],
    )
    mod.nvmlDeviceGetTemperature = lambda h, sensor: gpus[h]["temp"]
    mod.nvmlDeviceGetPowerUsage = lambda h: gpus[h]["power_mw"]
    return mod


GPUS = [
    {
        "util": 87,
        "mem_used": 20_401_094_656,
        "mem_total": 85_899_345_920,
        "temp": 61,
        "power_mw": 312_400,
    },
    {"util": 3, "mem_used": 1_048_576, "mem_total": 85_899_345_920, "temp": 35, "power_mw": 70_000},
]


def read_rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_two_fake_gpus_are_recorded_exactly_at_the_interval(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    fake = fake_pynvml(GPUS)
    monkeypatch.setitem(sys.modules, "pynvml", fake)  # the real import path is used
    path = tmp_path / system.SYSTEM_FILE
    sampler = system.Sampler(path, interval=0.05).start()
    done = threading.Event()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if path.exists() and len(read_rows(path)) >= 3:
            done.set()
            break
        done.wait(0.02)
    sampler.stop()
    rows = read_rows(path)
    assert len(rows) >= 3
    for row in rows:
        for i, gpu in enumerate(GPUS):
            assert row[f"system/gpu{i}.util"] == gpu["util"]
            assert row[f"system/gpu{i}.mem_used"] == gpu["mem_used"]
            assert row[f"system/gpu{i}.mem_total"] == gpu["mem_total"]
            assert row[f"system/gpu{i}.temp"] == gpu["temp"]
            assert row[f"system/gpu{i}.power"] == gpu["power_mw"] / 1000
        assert "system/gpu2.util" not in row
        assert row["system/proc.rss"] > 0
        assert 0 <= row["system/host.cpu"] <= 100
        assert row["system/proc.cpu"] >= 0
        assert row["system/host.mem_used"] > 0
    gaps = [b["_t"] - a["_t"] for a, b in zip(rows, rows[1:])]
    assert all(gap >= 0.05 * 0.9 for gap in gaps), gaps  # never faster than asked
    assert fake.calls[0] == "init" and fake.calls[-1] == "shutdown"


def test_without_nvml_nothing_fails_and_no_gpu_series(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import raises ImportError
    sampler = system.Sampler(tmp_path / "s.jsonl", interval=0.05)
    sampler.sample()
    row = sampler.sample()
    assert not any(k.startswith("system/gpu") for k in row)
    assert "system/proc.rss" in row


def test_a_failing_nvml_gives_no_gpu_series():
    broken = types.ModuleType("pynvml")

    def fail():
        raise RuntimeError("NVML Shared Library Not Found")

    broken.nvmlInit = fail
    sampler = system.Sampler("unused", interval=1, nvml=broken)
    assert not any(k.startswith("system/gpu") for k in sampler.sample())


@pytest.mark.parametrize(
    ("given", "env", "expected"),
    [
        (None, None, 10.0),
        (None, "2.5", 2.5),
        (None, "0", 0.0),
        (1.0, "5", 1.0),
        (None, "junk", 10.0),
        (None, "-1", 0.0),
        (float("inf"), None, 0.0),
        (float("nan"), None, 10.0),
    ],
)
def test_interval_from_argument_and_environment(monkeypatch, given, env, expected):
    if env is None:
        monkeypatch.delenv("TRACKUI_SYSTEM_INTERVAL", raising=False)
    else:
        monkeypatch.setenv("TRACKUI_SYSTEM_INTERVAL", env)
    assert system.interval_from_env(given) == expected


def test_zero_interval_starts_no_thread(tmp_path):
    sampler = system.Sampler(tmp_path / "s.jsonl", interval=0).start()
    assert sampler._thread is None
    assert not (tmp_path / "s.jsonl").exists()


def test_a_failed_write_is_reported_and_sampling_goes_on(tmp_path):
    errors = []
    sampler = system.Sampler(
        tmp_path / "missing" / "s.jsonl",
        interval=1,
        on_error=lambda exc, n: errors.append((exc, n)),
    )
    sampler.write({"_t": 1.0, "system/proc.cpu": 1.0, "system/proc.rss": 2.0})
    assert len(errors) == 1
    exc, values = errors[0]
    assert isinstance(exc, OSError) and values == 2


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (None, [0, 1, 2, 3]),
        ("2,0", [2, 0]),
        ("1,7,2", [1]),  # CUDA stops at the first entry that names no GPU
        ("", []),
        ("-1", []),
        ("GPU-8b2f, 3", ["GPU-8b2f", 3]),
    ],
)
def test_visible_gpus_follow_cuda_visible_devices(env, expected):
    assert system.visible_gpus(4, env) == expected


def test_only_the_visible_gpus_are_sampled_in_cuda_order(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    sampler = system.Sampler("unused", interval=1, nvml=fake_pynvml(GPUS))
    row = sampler.sample()
    assert row["system/gpu0.util"] == GPUS[1]["util"]  # cuda:0 is NVML's GPU 1
    assert row["system/gpu0.mem_used"] == GPUS[1]["mem_used"]
    assert not any(k.startswith("system/gpu1") for k in row)
