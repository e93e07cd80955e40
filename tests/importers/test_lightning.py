"""The Lightning reader (``fixtures/lightning``, written byte-exact per
Lightning's CSVLogger and TensorBoardLogger formats by its make_fixtures.py):
params and every point equal the files, read here with ``csv`` and ``yaml``."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import yaml

from trackui.store.importers import import_path, lightning, tensorboard

from .helpers import aged_copy, hashes, read_runs

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "lightning"
LOGS = "proj_a/lightning_logs"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return aged_copy(FIXTURES, tmp_path_factory.mktemp("lightning") / "lightning", 3600)


def test_one_run_per_version_dir_named_and_placed(source: Path) -> None:
    runs, problems = read_runs(lightning, source)
    assert problems == []
    assert sorted(runs) == [f"{LOGS}/version_{i}" for i in range(3)]
    for sid, run in runs.items():
        assert run.kind == "lightning"
        assert run.name == sid.rsplit("/", 1)[1]
        assert run.project == "proj_a"  # lightning_logs only says "runs live here"


def test_statuses_with_reasons(source: Path) -> None:
    runs, _ = read_runs(lightning, source)
    assert runs[f"{LOGS}/version_0"].status == "finished"
    assert runs[f"{LOGS}/version_0"].status_reason == "inferred: Lightning records no run status"
    killed = runs[f"{LOGS}/version_1"]
    assert killed.status == "crashed"
    assert killed.status_reason == "2 of 5 epochs; Lightning records no run status"
    assert runs[f"{LOGS}/version_2"].status == "finished"


@pytest.mark.parametrize("version", ["version_0", "version_1"])
def test_params_and_every_point_equal_the_files(source: Path, version: str) -> None:
    runs, _ = read_runs(lightning, source)
    run = runs[f"{LOGS}/{version}"]
    d = source / LOGS / version
    want_params = yaml.safe_load((d / "hparams.yaml").read_text())
    if (d / "config.yaml").exists():
        for k, v in yaml.safe_load((d / "config.yaml").read_text()).items():
            want_params.setdefault(k, v)
    assert run.params == want_params
    with open(d / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    want = [
        (key, int(row["step"]), float(cell))
        for row in rows
        for key, cell in row.items()
        if key != "step" and cell != ""
    ]
    assert [(p.key, p.step, p.value) for p in run.points] == want
    assert all(p.t is None for p in run.points)  # CSVLogger writes no time


def test_tensorboard_logger_alone_is_read_from_its_events(source: Path) -> None:
    runs, _ = read_runs(lightning, source)
    run = runs[f"{LOGS}/version_2"]
    assert run.params == {"lr": 0.02, "max_epochs": 4}
    assert [(p.key, p.step) for p in run.points if p.key == "val_loss"] == [
        ("val_loss", s) for s in (9, 19, 29, 39)
    ]
    assert run.created == 1767265800.0 and run.ended == 1767265803.0
    assert run.extra["loggers"] == ["tensorboard"]


def test_checkpoints_are_artifacts(source: Path) -> None:
    runs, _ = read_runs(lightning, source)
    arts = runs[f"{LOGS}/version_0"].artifacts
    assert [a.name for a in arts] == ["checkpoints/epoch=2-step=30.ckpt"]
    assert arts[0].size == (source / LOGS / "version_0" / arts[0].name).stat().st_size


def test_a_version_dir_is_one_run_whichever_logger_wrote_it(source: Path, tmp_path: Path) -> None:
    """Importing every kind: the event files beside metrics.csv do not make a second run."""
    report = import_path(tmp_path / "store", source)
    assert report.kinds == {"lightning": 3}
    # asked for TensorBoard alone, the event files are read as TensorBoard runs
    tb, _ = read_runs(tensorboard, source, defer=False)
    assert sorted(tb) == [f"{LOGS}/version_1", f"{LOGS}/version_2"]
    deferred, _ = read_runs(tensorboard, source)
    assert deferred == {}


def test_running_when_recently_written(source: Path) -> None:
    runs, _ = read_runs(lightning, source, stale_after=7200)
    assert runs[f"{LOGS}/version_0"].status == "running"
    assert runs[f"{LOGS}/version_1"].status == "running"
    # an event file dates its own points: those of version_2 are months old
    assert runs[f"{LOGS}/version_2"].status == "finished"


def test_damaged_csv_costs_its_rows_only(tmp_path: Path) -> None:
    src = aged_copy(FIXTURES, tmp_path / "src", 3600)
    f = src / LOGS / "version_0" / "metrics.csv"
    f.write_bytes(f.read_bytes() + b"0,1,2\r\n1,31,0.5,")  # a short row and a torn one
    runs, problems = read_runs(lightning, src)
    assert len(runs) == 3
    assert len(runs[f"{LOGS}/version_0"].points) == 27
    assert problems == [f"{f}: 1 unreadable row(s) or cell(s) skipped"]


def test_python_tags_in_hparams_are_read_as_plain_data(tmp_path: Path) -> None:
    d = tmp_path / "lightning_logs" / "version_0"
    d.mkdir(parents=True)
    (d / "hparams.yaml").write_text(
        "betas: !!python/tuple\n- 0.9\n- 0.999\nloss: !!python/object:torch.nn.MSELoss {}\n"
    )
    (d / "metrics.csv").write_text("epoch,step,loss\r\n0,0,nan\r\n")
    runs, problems = read_runs(lightning, tmp_path)
    run = runs["lightning_logs/version_0"]
    assert problems == []
    assert run.params == {"betas": [0.9, 0.999], "loss": {}}
    assert math.isnan(run.points[1].value)


def test_reading_writes_nothing(source: Path, tmp_path: Path) -> None:
    before = hashes(source)
    read_runs(lightning, source)
    import_path(tmp_path / "store", source)
    assert hashes(source) == before
