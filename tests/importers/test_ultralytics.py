"""The Ultralytics reader against real run folders (``fixtures/ultralytics``).

Expected values are read here independently (``yaml.safe_load``, the ``csv``
module) rather than through the reader. Status depends on file ages, which git
does not keep, so every test that looks at status works on a copy in
``tmp_path`` with mtimes set by ``os.utime``.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import shutil
from functools import partial
from pathlib import Path

import pytest
import yaml

from trackui.store.importers import ultralytics

from .helpers import age, aged_copy, by_key_step, listing, read_runs, same

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ultralytics"

RUN_IDS = {
    "runs/detect/exp_a": ("detect", "exp_a"),
    "runs/detect/exp_b": ("detect", "exp_b"),
    "runs/detect/exp_c_crashed": ("detect", "exp_c_crashed"),
    "runs/detect/exp_d_resumed": ("detect", "exp_d_resumed"),
    "runs/detect/exp_f_yolo11n": ("detect", "exp_f_yolo11n"),
    "runs/detect/runs/detect/exp_a-2": ("detect", "exp_a-2"),
}
FINISHED = set(RUN_IDS) - {"runs/detect/exp_c_crashed"}
DAY = 86400.0


# -- helpers -------------------------------------------------------------------


read_all = partial(read_runs, ultralytics)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A private copy of the fixtures, every file last touched three days ago."""
    return aged_copy(FIXTURES, tmp_path / "ul", 3 * DAY)


def expected_rows(csv_path: Path) -> dict[int, dict[str, float]]:
    """results.csv by epoch, read with the csv module; a later row for an epoch wins."""
    rows: dict[int, dict[str, float]] = {}
    with csv_path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = [h.strip() for h in next(reader)]
        for fields in reader:
            record = dict(zip(header, fields, strict=True))
            epoch = int(record.pop("epoch"))
            rows[epoch] = {k: float(v) for k, v in record.items()}
    return rows


# -- discovery, identity, params, metrics -----------------------------------------


def test_finds_every_run_by_args_yaml_including_nested_and_suffixed(store: Path) -> None:
    runs, problems = read_all(store)

    assert problems == []
    assert set(runs) == set(RUN_IDS)
    on_disk = {p.parent.relative_to(store).as_posix() for p in store.rglob("args.yaml")}
    assert set(runs) == on_disk
    for source_id, (project, name) in RUN_IDS.items():
        run = runs[source_id]
        assert run.kind == "ultralytics"
        assert (run.project, run.name) == (project, name)
        assert Path(run.source_path) == (store / source_id).resolve()


@pytest.mark.parametrize("source_id", sorted(RUN_IDS))
def test_params_are_args_yaml_as_loaded(store: Path, source_id: str) -> None:
    runs, _ = read_all(store)
    expected = yaml.safe_load((store / source_id / "args.yaml").read_text())

    params = runs[source_id].params
    assert params == expected
    assert len(expected) == 114
    # 8 == 8.0 == True in Python: compare the types too
    assert {k: type(v) for k, v in params.items()} == {k: type(v) for k, v in expected.items()}
    assert type(params["batch"]) is int and type(params["lr0"]) is float
    assert params["pretrained"] is False and params["freeze"] is None


@pytest.mark.parametrize("source_id", sorted(RUN_IDS))
def test_every_results_csv_value_is_a_point(store: Path, source_id: str) -> None:
    runs, _ = read_all(store)
    run = runs[source_id]
    rows = expected_rows(store / source_id / "results.csv")
    expected = {(key, epoch): value for epoch, row in rows.items() for key, value in row.items()}

    got = by_key_step(run)
    assert set(got) == set(expected)
    for key_step, value in expected.items():
        assert same(got[key_step], value), key_step
    assert all(point.t is None for point in run.points)
    # step is the 1-based epoch as written
    assert min(point.step for point in run.points) == 1
    assert max(point.step for point in run.points) == max(rows)


def test_metric_names_are_kept_exact_and_model_dependent(store: Path) -> None:
    runs, _ = read_all(store)
    yolo26 = {p.key for p in runs["runs/detect/exp_a"].points}
    yolo11 = {p.key for p in runs["runs/detect/exp_f_yolo11n"].points}

    assert "metrics/mAP50-95(B)" in yolo26
    assert "epoch" not in yolo26
    assert "time" in yolo26
    assert {"train/l1_loss", "val/l1_loss"} <= yolo26 - yolo11
    assert {"train/dfl_loss", "val/dfl_loss"} <= yolo11 - yolo26


def test_padded_headers_and_nan_values_from_older_versions(store: Path) -> None:
    run_dir = store / "runs/detect/exp_b"
    (run_dir / "results.csv").write_text(
        "                  epoch,      train/box_loss,  metrics/mAP50-95(B)\n"
        "                      1,             3.30498,                  nan\n"
        "                      2,                 inf,              5e-05\n"
    )
    runs, problems = read_all(store)
    got = by_key_step(runs["runs/detect/exp_b"])

    assert problems == []
    assert set(got) == {
        ("train/box_loss", 1),
        ("metrics/mAP50-95(B)", 1),
        ("train/box_loss", 2),
        ("metrics/mAP50-95(B)", 2),
    }
    assert got[("train/box_loss", 1)] == 3.30498
    assert math.isnan(got[("metrics/mAP50-95(B)", 1)])
    assert got[("train/box_loss", 2)] == math.inf


def test_resumed_run_keeps_the_later_row_of_a_repeated_epoch(store: Path) -> None:
    runs, problems = read_all(store)
    run = runs["runs/detect/exp_d_resumed"]
    got = by_key_step(run)

    assert problems == []
    box = [(p.step, p.value) for p in run.points if p.key == "train/box_loss"]
    assert [step for step, _ in box] == [1, 2, 3, 4, 5]
    # epoch 3 was written twice: 3.14691 first, 3.28774 after the resume
    assert got[("train/box_loss", 3)] == 3.28774
    assert got[("time", 3)] == 0.58306
    assert got[("time", 2)] == 1.04445


# -- status and times ----------------------------------------------------------------


def test_finished_runs_are_finished_however_old(store: Path) -> None:
    runs, _ = read_all(store)

    for source_id in FINISHED:
        run = runs[source_id]
        assert run.status == "finished", source_id
        assert run.ended == (store / source_id / "results.csv").stat().st_mtime


def test_killed_run_with_old_files_is_crashed(store: Path) -> None:
    runs, _ = read_all(store)
    run = runs["runs/detect/exp_c_crashed"]

    assert run.status == "crashed"
    assert run.status_reason == "no results.png; files still for 3 d"
    assert run.ended is None
    assert [p.step for p in run.points if p.key == "time"] == [1, 2, 3]


def test_unfinished_run_with_fresh_files_is_running(store: Path) -> None:
    run_dir = store / "runs/detect/exp_c_crashed"
    age(run_dir, 0)
    runs, _ = read_all(store)

    assert runs["runs/detect/exp_c_crashed"].status == "running"
    assert runs["runs/detect/exp_a"].status == "finished"


def test_stale_after_decides_between_running_and_crashed(store: Path) -> None:
    age(store / "runs/detect/exp_c_crashed", 120)

    runs, _ = read_all(store)
    assert runs["runs/detect/exp_c_crashed"].status == "running"
    runs, _ = read_all(store, stale_after=60)
    assert runs["runs/detect/exp_c_crashed"].status == "crashed"
    assert runs["runs/detect/exp_c_crashed"].status_reason == (
        "no results.png; files still for 2 min"
    )


def test_plots_false_run_is_finished_by_epochs_and_best_weights(store: Path) -> None:
    run_dir = store / "runs/detect/exp_f_yolo11n"
    (run_dir / "results.png").unlink()

    runs, _ = read_all(store)
    assert runs["runs/detect/exp_f_yolo11n"].status == "crashed"  # 3 of 3 epochs, no best.pt

    (run_dir / "weights" / "best.pt").write_bytes(b"x")
    age(run_dir, 3 * DAY)
    runs, _ = read_all(store)
    assert runs["runs/detect/exp_f_yolo11n"].status == "finished"


def test_times_come_from_file_mtimes(store: Path) -> None:
    run_dir = store / "runs/detect/exp_a"
    os.utime(run_dir / "args.yaml", (1_700_000_000, 1_700_000_000))
    os.utime(run_dir / "weights" / "last.pt", (1_800_000_000, 1_800_000_000))
    os.utime(run_dir / "results.csv", (1_750_000_000, 1_750_000_000))

    runs, _ = read_all(store)
    run = runs["runs/detect/exp_a"]
    assert run.created == 1_700_000_000
    assert run.last_activity == 1_800_000_000
    assert run.ended == 1_750_000_000


def test_run_killed_in_its_first_epoch_is_found_and_crashed(store: Path) -> None:
    run_dir = store / "elsewhere" / "train"
    run_dir.mkdir(parents=True)
    shutil.copyfile(store / "runs/detect/exp_c_crashed/args.yaml", run_dir / "args.yaml")
    age(run_dir, 3 * DAY)

    runs, problems = read_all(store)
    run = runs["elsewhere/train"]
    assert problems == []
    assert run.status == "crashed"
    assert run.points == []
    assert run.name == "exp_c_crashed"  # what args.yaml says
    assert run.project == "detect"


# -- artifacts ----------------------------------------------------------------------


def test_artifacts_are_plots_and_weights_by_reference(store: Path) -> None:
    runs, _ = read_all(store)
    run_dir = store / "runs/detect/exp_a"
    artifacts = {a.name: a for a in runs["runs/detect/exp_a"].artifacts}

    assert set(artifacts) == {
        "BoxF1_curve.png",
        "results.png",
        "weights/best.pt",
        "weights/last.pt",
    }  # weights/MANIFEST.tsv, args.yaml and results.csv are not artifacts
    for name, artifact in artifacts.items():
        file = run_dir / name
        assert Path(artifact.path) == file.resolve()
        assert artifact.size == file.stat().st_size
        assert artifact.sha256 == hashlib.sha256(file.read_bytes()).hexdigest()
    crashed = {a.name for a in runs["runs/detect/exp_c_crashed"].artifacts}
    assert crashed == {"train_batch0.jpg", "weights/last.pt"}


def test_big_weights_are_not_hashed(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ultralytics, "HASH_LIMIT_BYTES", 100)
    runs, _ = read_all(store)
    artifacts = {a.name: a for a in runs["runs/detect/exp_a"].artifacts}

    assert artifacts["BoxF1_curve.png"].sha256 is None
    assert artifacts["BoxF1_curve.png"].size == 64766
    assert artifacts["weights/best.pt"].sha256 is not None  # 35 bytes


# -- bad input ------------------------------------------------------------------------


def test_cut_last_line_is_skipped_and_reported(store: Path) -> None:
    csv_path = store / "runs/detect/exp_a/results.csv"
    text = csv_path.read_text()
    csv_path.write_text(text[: text.rindex(",0.00208,")])  # died mid-write of epoch 5

    runs, problems = read_all(store)
    run = runs["runs/detect/exp_a"]

    assert sorted({p.step for p in run.points}) == [1, 2, 3, 4]
    assert len(run.points) == 4 * 14
    assert len(problems) == 1
    assert problems[0].startswith(f"{csv_path}: line 6: cut short")
    assert runs["runs/detect/exp_b"].points  # the others are untouched


def test_unparsable_row_is_skipped_and_reported(store: Path) -> None:
    csv_path = store / "runs/detect/exp_b/results.csv"
    lines = csv_path.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace("3.12073", "3.12O73")
    lines[3] = "three" + lines[3][1:]
    csv_path.write_text("".join(lines))

    runs, problems = read_all(store)
    steps = sorted({p.step for p in runs["runs/detect/exp_b"].points})

    assert steps == [1, 4, 5]
    assert problems == [
        f"{csv_path}: line 3: value '3.12O73' is not a number; skipped",
        f"{csv_path}: line 4: epoch 'three' is not a number; skipped",
    ]


def test_broken_args_yaml_keeps_metrics_with_empty_params(store: Path) -> None:
    run_dir = store / "runs/detect/exp_b"
    (run_dir / "args.yaml").write_text("task: detect\nepochs: [5\nname: exp_b\n")

    runs, problems = read_all(store)
    run = runs["runs/detect/exp_b"]

    assert run.params == {}
    assert run.name == "exp_b"  # the directory name
    assert run.project == "detect"  # the parent directory name
    assert run.status == "finished"
    assert len(run.points) == 5 * 14
    assert len(problems) == 1
    assert problems[0].startswith(f"{run_dir / 'args.yaml'}: invalid YAML")


def test_args_yaml_that_is_not_a_mapping_is_reported(store: Path) -> None:
    args_path = store / "runs/detect/exp_b/args.yaml"
    args_path.write_text("- just\n- a list\n")

    runs, problems = read_all(store)
    assert runs["runs/detect/exp_b"].params == {}
    assert problems == [f"{args_path}: expected a mapping, found list"]


def test_project_falls_back_to_the_parent_directory(store: Path) -> None:
    run_dir = store / "runs/detect/exp_b"
    args = yaml.safe_load((run_dir / "args.yaml").read_text())
    del args["project"]
    args["name"] = None
    (run_dir / "args.yaml").write_text(yaml.safe_dump(args))
    renamed = store / "runs" / "mine" / "exp_b"
    renamed.parent.mkdir()
    run_dir.rename(renamed)

    runs, _ = read_all(store)
    run = runs["runs/mine/exp_b"]
    assert (run.project, run.name) == ("mine", "exp_b")


def test_reading_a_missing_path_reports_and_yields_nothing(tmp_path: Path) -> None:
    runs, problems = read_all(tmp_path / "nope")
    assert runs == {}
    assert problems == [f"{tmp_path / 'nope'}: not a directory"]


def test_reading_writes_nothing_into_the_source(store: Path) -> None:
    before = listing(store)
    runs, _ = read_all(store)
    assert len(runs) == len(RUN_IDS)
    assert listing(store) == before


def test_path_that_is_the_run_directory_itself(store: Path) -> None:
    runs, _ = read_all(store / "runs/detect/exp_a")
    assert list(runs) == ["exp_a"]
    assert runs["exp_a"].project == "detect"


# -- detect ------------------------------------------------------------------------------


def test_detect(store: Path, tmp_path: Path) -> None:
    assert ultralytics.detect(FIXTURES)
    assert ultralytics.detect(store / "runs/detect/runs")
    assert ultralytics.detect(store / "runs/detect/exp_c_crashed")

    empty = tmp_path / "empty"
    empty.mkdir()
    assert not ultralytics.detect(empty)
    assert not ultralytics.detect(tmp_path / "missing")

    lonely = tmp_path / "lonely"
    lonely.mkdir()
    (lonely / "args.yaml").write_text("task: detect\n")
    assert not ultralytics.detect(lonely)  # args.yaml alone: no results.csv, no weights/

    hidden = tmp_path / "hidden"
    shutil.copytree(store / "runs/detect/exp_a", hidden / ".cache" / "exp_a")
    shutil.copytree(store / "runs/detect/exp_b", hidden / "node_modules" / "exp_b")
    assert not ultralytics.detect(hidden)
    shutil.copytree(store / "runs/detect/exp_b", hidden / "visible" / "exp_b")
    assert ultralytics.detect(hidden)
