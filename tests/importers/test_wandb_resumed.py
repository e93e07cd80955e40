"""W&B: one run per run id across resumed offline directories
(``fixtures/wandb-resumed``, written byte-exact per the ``.wandb`` format by its
make_fixtures.py), and ``stats`` records imported as system metrics, both from
that fixture and from the real wandb 0.31 runs in ``fixtures/wandb``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trackui.store.importers import SYSTEM_FILE, import_path, wandb

from .helpers import aged_copy, hashes, read_runs

ROOT = Path(__file__).resolve().parents[2] / "fixtures"
RESUMED = ROOT / "wandb-resumed"
REAL = ROOT / "wandb"
NOW = 1767265200.0 + 86400


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return aged_copy(RESUMED, tmp_path_factory.mktemp("wbr") / "wbr", 3600)


def test_resumed_directories_are_one_run(source: Path) -> None:
    runs, problems = read_runs(wandb, source, now=NOW)
    assert problems == []
    assert list(runs) == ["rsm0001x"]
    run = runs["rsm0001x"]
    assert (run.name, run.project) == ("resnet50-run", "resnet-cifar")
    assert run.status == "finished" and run.status_reason is None
    assert run.params == {"lr": 0.001, "schedule": {"epochs": 20}, "batch": 32}
    assert run.extra["resumed_dirs"] == [
        "offline-run-20260101_100000-rsm0001x",
        "offline-run-20260101_110000-rsm0001x",
    ]
    assert run.source_path == str(
        (source / "wandb" / "offline-run-20260101_100000-rsm0001x").absolute()
    )
    # from the first start to the end of the resumed part
    assert run.created == 1767261600.0
    assert run.ended == 1767265200.0 + 110


def test_history_in_order_without_double_steps(source: Path) -> None:
    run = read_runs(wandb, source, now=NOW)[0]["rsm0001x"]
    loss = [(p.step, p.value, p.t) for p in run.points if p.key == "train/loss"]
    assert [s for s, _, _ in loss] == list(range(200))
    # steps 90-99 were logged twice; the resumed values (and times) are kept
    assert loss[95] == (95, round(2.0 - 95 / 100, 4), 1767265200.0 + 6)
    assert loss[89][2] == 1767261600.0 + 90
    epochs = [(p.step, p.value) for p in run.points if p.key == "epoch"]
    assert epochs == [(s, s // 10) for s in range(9, 200, 10)]


def test_the_killed_part_alone_reads_crashed(tmp_path: Path) -> None:
    src = aged_copy(RESUMED, tmp_path / "wbr", 3600)
    first = src / "wandb" / "offline-run-20260101_100000-rsm0001x"
    runs, _ = read_runs(wandb, first, now=NOW)
    assert runs["rsm0001x"].status == "crashed"
    # epochs 0-9 of the 20 that schedule.epochs plans
    assert runs["rsm0001x"].status_reason == "no exit record; 10 of 20 epochs"


def test_stats_become_system_metrics_in_trackui_units(source: Path) -> None:
    run = read_runs(wandb, source, now=NOW)[0]["rsm0001x"]
    sys_points = {(p.key, p.step): p.value for p in run.system}
    assert sorted({s for _, s in sys_points}) == [0, 1, 2]  # 2 samples, then 1 after resume
    assert [sys_points[("system/gpu0.util", s)] for s in range(3)] == [90.0, 95.0, 97.0]
    assert sys_points[("system/gpu0.mem_used", 0)] == 8.0e9
    assert sys_points[("system/gpu0.temp", 0)] == 61.0
    assert sys_points[("system/gpu0.power", 0)] == 250.5
    assert sys_points[("system/proc.cpu", 0)] == 100.0  # 25 % of 4 CPUs = one core
    assert sys_points[("system/proc.rss", 0)] == 1024.0 * 1024**2
    assert sys_points[("system/host.cpu", 0)] == 25.0  # mean of the cores
    assert sys_points[("system/host.mem_used", 0)] == 0.25 * 16 * 1024**3
    assert sys_points[("system/disk./.usagePercent", 0)] == 40.0  # kept, not dropped
    assert not any(p.key.startswith("system/") for p in run.points)


def test_real_wandb_stats_record_is_imported(tmp_path: Path) -> None:
    """wandb 0.31's own stats record: host memory in % of the environment's total."""
    src = aged_copy(REAL, tmp_path / "wandb", 3600)
    runs, _ = read_runs(wandb, src)
    assert all(r.system for r in runs.values())
    run = next(iter(runs.values()))
    keys = {p.key for p in run.system}
    assert {"system/proc.rss", "system/host.mem_used", "system/network.sent"} <= keys
    rss = {p.value for r in runs.values() for p in r.system if p.key == "system/proc.rss"}
    # wandb records RSS in MiB; back in bytes, a whole number of 4 KiB pages
    assert 63.1015625 * 1024**2 in rss
    assert all(v % 4096 == 0 for v in rss)


def test_import_writes_the_system_file(source: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    report = import_path(store, source)
    assert report.runs == 1
    (system,) = list(store.glob(f"*/*/{SYSTEM_FILE}"))
    lines = [json.loads(line) for line in system.read_text().splitlines()]
    assert [line["system/gpu0.util"] for line in lines] == [90.0, 95.0, 97.0]
    assert lines[0]["_t"] == 1767261631.0 and "_step" not in lines[0]  # the sampler's shape
    assert lines[0]["system/proc.rss"] == 1024.0 * 1024**2


def test_reading_writes_nothing(source: Path, tmp_path: Path) -> None:
    before = hashes(source)
    read_runs(wandb, source, now=NOW)
    import_path(tmp_path / "store", source)
    assert hashes(source) == before
