"""Which TensorBoard sub-directories belong to their run (``fixtures/tensorboard-layouts``,
written byte-exact per the event-file format by its make_fixtures.py): Keras'
train/validation writers with TF2 tensor summaries, torch's add_scalars and
add_hparams sub-directories, a Hugging Face output directory's runs/<date>_<host>,
plain runs in sub-folders, and a helper script that is not an event file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from trackui.store.importers import tensorboard

from .helpers import aged_copy, hashes, read_runs

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "tensorboard-layouts"
NOW = 1767261600.0 + 86400


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return aged_copy(FIXTURES, tmp_path_factory.mktemp("tbl") / "tbl", 3600) / "logs"


def test_run_count_names_and_projects(logs: Path) -> None:
    runs, problems = read_runs(tensorboard, logs, now=NOW)
    assert problems == []  # make_tfevents.py is not reported as a corrupt event file
    assert {sid: (r.name, r.project) for sid, r in runs.items()} == {
        "hf_out": ("hf_out", "tbl"),  # logs/ only says "runs live here"
        "keras_fit": ("keras_fit", "tbl"),
        "sweep/seed0": ("seed0", "sweep"),
        "sweep/seed1": ("seed1", "sweep"),
        "torch_scalars": ("torch_scalars", "tbl"),
    }


def test_keras_split_writers_fold_with_the_split_as_prefix(logs: Path) -> None:
    run = read_runs(tensorboard, logs, now=NOW)[0]["keras_fit"]
    got = {(p.key, p.step): p.value for p in run.points}
    for split, base in (("train", 1.0), ("validation", 1.2)):
        for epoch in range(3):
            # TF2 tensor summaries, the plugin named on the first event only
            assert got[(f"{split}/epoch_loss", epoch)] == pytest.approx(
                base / (epoch + 1), rel=1e-6
            )
            assert got[(f"{split}/epoch_accuracy", epoch)] == pytest.approx(
                0.5 + 0.1 * epoch, rel=1e-6
            )
    assert len(run.points) == 12
    assert run.extra["writers"] == ["train", "validation"]
    assert run.status == "finished"
    assert run.status_reason == "inferred: TensorBoard records no run status"
    assert run.created == 1767261600.0 and run.ended == 1767261600.0 + 25


def test_add_scalars_and_add_hparams_fold_into_their_run(logs: Path) -> None:
    run = read_runs(tensorboard, logs, now=NOW)[0]["torch_scalars"]
    keys = {p.key for p in run.points}
    assert keys == {"lr", "epoch", "loss/train", "loss/val", "hparam/best_loss"}
    assert [p.value for p in run.points if p.key == "loss/val"] == [2.5, 2.25, 2.0, 1.75]
    assert run.params == {"schedule.epochs": 10.0, "optimizer": "SGD"}
    assert run.extra["hparams_dir"] == "1767261710.5"
    # the planned epochs sit in a nested key: 4 of 10 logged
    assert run.status == "crashed"
    assert run.status_reason == "4 of 10 epochs"


def test_hf_runs_folder_belongs_to_its_output_dir(logs: Path) -> None:
    run = read_runs(tensorboard, logs, now=NOW)[0]["hf_out"]
    assert [(p.key, p.step) for p in run.points] == [
        ("train/loss", 10),
        ("train/loss", 20),
        ("train/loss", 30),
        ("eval/loss", 30),
    ]
    assert run.source_path == str((logs / "hf_out").absolute())
    assert [a.name for a in run.artifacts] == ["config.json"]


def test_plain_sub_folders_stay_runs(logs: Path) -> None:
    runs, _ = read_runs(tensorboard, logs, now=NOW)
    assert [p.value for p in runs["sweep/seed1"].points] == [2.0, 1.9, 1.8]
    assert runs["sweep/seed0"].parent_id is None


def test_a_file_named_like_events_that_is_not_one_is_ignored(tmp_path: Path) -> None:
    logs = aged_copy(FIXTURES, tmp_path / "tbl", 3600) / "logs"
    (logs / "sweep" / "seed0" / "events.out.tfevents.notes").write_text("just some notes\n")
    (logs / "scripts").mkdir()
    (logs / "scripts" / "events.out.tfevents.x").write_text("#!/bin/sh\necho hi\n")
    runs, problems = read_runs(tensorboard, logs, now=NOW)
    assert problems == []
    assert "scripts" not in runs
    assert len(runs["sweep/seed0"].points) == 3


def test_single_split_writer_read_on_its_own(tmp_path: Path) -> None:
    """PATH pointing at the run itself: its split writers still fold in."""
    src = aged_copy(FIXTURES / "logs" / "keras_fit", tmp_path / "keras_fit", 3600)
    runs, _ = read_runs(tensorboard, src, now=NOW)
    assert list(runs) == ["keras_fit"]
    assert len(runs["keras_fit"].points) == 12


def test_several_hparams_children_stay_trials(tmp_path: Path) -> None:
    logs = aged_copy(FIXTURES, tmp_path / "tbl", 3600) / "logs"
    run = logs / "torch_scalars"
    shutil.copytree(run / "1767261710.5", run / "1767261799.25")
    runs, _ = read_runs(tensorboard, logs, now=NOW)
    assert "torch_scalars/1767261710.5" in runs and "torch_scalars/1767261799.25" in runs
    assert {p.key for p in runs["torch_scalars"].points} == {
        "lr",
        "epoch",
        "loss/train",
        "loss/val",
    }


def test_reading_writes_nothing(logs: Path) -> None:
    before = hashes(logs)
    read_runs(tensorboard, logs, now=NOW)
    assert hashes(logs) == before


def test_keras_run_short_of_its_planned_epochs(tmp_path: Path) -> None:
    """Keras logs no ``epoch`` scalar: its ``epoch_*`` scalars at step = epoch count."""
    import sys

    sys.path.insert(0, str(FIXTURES.parent))
    try:
        from _formats import file_version, hparams
    finally:
        sys.path.remove(str(FIXTURES.parent))
    logs = aged_copy(FIXTURES, tmp_path / "tbl", 3600) / "logs"
    (logs / "keras_fit" / "events.out.tfevents.1767261600.gpu01.hp").write_bytes(
        file_version(1767261600.0) + hparams(1767261600.0, {"epochs": 10, "units": 64})
    )
    run = read_runs(tensorboard, logs, now=NOW)[0]["keras_fit"]
    assert run.params == {"epochs": 10.0, "units": 64.0}
    assert (run.status, run.status_reason) == ("crashed", "3 of 10 epochs")
