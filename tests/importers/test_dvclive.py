"""The DVCLive reader against real DVCLive output (``fixtures/dvclive``).

Expected values are read here independently: params with ``yaml.safe_load``,
every TSV with the ``csv`` module, ``metrics.json`` with ``json``, plus the
counts in ``EXPECTED.json``. DVCLive keeps no time, so liveness comes from
file ages, which git does not keep: status tests work on a copy whose mtimes
are set with ``os.utime``, or pass ``now``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from functools import partial
from pathlib import Path

import pytest
import yaml

from trackui.store.importers import dvclive

from .helpers import age, aged_copy, by_key_step, hashes, read_runs, same

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dvclive"
EXPECTED = {
    e["run_name"]: e for e in json.loads((FIXTURES / "EXPECTED.json").read_text())["dvclive"]
}
FINISHED = "yolo26n-lr0.01-b16-sgd"
EXC = "yolo26n-lr0.01-b16-adamw-crash-exc"
KILL9 = "yolo26n-lr0.02-b16-sgd-crash-kill9"
DAY = 86400.0


read_all = partial(read_runs, dvclive)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A private copy of the fixtures, every file last touched three days ago."""
    return aged_copy(FIXTURES, tmp_path / "dvclive", 3 * DAY)


def tsv_points(live: Path) -> dict[tuple[str, int], float]:
    """Every metric TSV under ``plots/metrics``, read with the csv module."""
    out: dict[tuple[str, int], float] = {}
    plots = live / "plots" / "metrics"
    for tsv in plots.rglob("*.tsv"):
        key = tsv.relative_to(plots).as_posix()[: -len(".tsv")]
        with tsv.open(newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        for row in rows:
            (value_col,) = [c for c in row if c not in ("step", "timestamp")]
            assert value_col == key.rsplit("/", 1)[-1]  # the leaf name, as FORMATS says
            out[(key, int(row["step"]))] = float(row[value_col])
    return out


def flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{k}"] = v
    return out


# -- the fixture runs --------------------------------------------------------------


def test_one_run_per_project_dir(store: Path) -> None:
    runs, problems = read_all(store)
    assert problems == []
    assert sorted(runs) == sorted(EXPECTED)
    for name, run in runs.items():
        assert run.kind == "dvclive"
        assert run.name == name
        assert run.project == "dvclive"
        assert run.source_path == str((store / name / "dvclive").absolute())
        assert run.created is None  # DVCLive 3 records no time at all


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_params_and_every_point_equal_the_files(store: Path, name: str) -> None:
    runs, _ = read_all(store)
    run, live = runs[name], store / name / "dvclive"
    assert run.params == yaml.safe_load((live / "params.yaml").read_text())
    want = tsv_points(live)
    got = by_key_step(run)
    assert got.keys() == want.keys()
    for k, v in want.items():
        assert same(got[k], v), k
    assert {p.key for p in run.points} == {
        "train/loss",
        "train/box_loss",
        "train/cls_loss",
        "metrics/mAP50(B)",
        "metrics/mAP50-95(B)",
        "lr/pg0",
        "epoch",
    }
    assert [p.step for p in run.points] == sorted(p.step for p in run.points)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_counts_and_latest_values(store: Path, name: str) -> None:
    runs, _ = read_all(store)
    run, exp, live = runs[name], EXPECTED[name], store / name / "dvclive"
    loss = [p for p in run.points if p.key == "train/loss"]
    assert len(loss) == exp["train_loss_points"]
    assert loss[-1].step == exp["train_loss_last_step"]
    m = [p for p in run.points if p.key == "metrics/mAP50-95(B)"]
    assert len(m) == exp["epochs_logged"]
    assert m[-1].value == exp["final_mAP50-95"]
    latest = json.loads((live / "metrics.json").read_text())
    assert run.extra["summary"] == latest
    last = {p.key: p.value for p in run.points}
    for key, value in flatten(latest).items():
        if key != "step":
            assert last[key] == value, key
    assert [a.name for a in run.artifacts] == exp["artifacts"]
    (art,) = run.artifacts
    assert art.path == str((live / "artifacts" / exp["artifacts"][0]).absolute())
    assert art.size == 32786


def test_statuses(store: Path) -> None:
    runs, _ = read_all(store)
    assert runs[FINISHED].status == "finished"
    assert "inferred" in runs[FINISHED].status_reason
    # exception and kill -9 leave the same files: both stopped at epoch 12 of 30
    for name in (EXC, KILL9):
        assert runs[name].status == "crashed"
        assert runs[name].status_reason.startswith("12 of 30 epochs")
    for run in runs.values():
        assert run.ended == run.last_activity is not None


def test_fresh_files_mean_running(store: Path) -> None:
    age(store / KILL9, 10)
    runs, _ = read_all(store)
    assert runs[KILL9].status == "running" and runs[KILL9].ended is None
    assert runs[EXC].status == "crashed"
    later, _ = read_all(store, now=time.time() + 3600)
    assert later[KILL9].status == "crashed"
    strict, _ = read_all(store, stale_after=5)
    assert strict[KILL9].status == "crashed"


def test_reading_writes_nothing() -> None:
    before = hashes(FIXTURES)
    read_all(FIXTURES)
    assert hashes(FIXTURES) == before


def test_detect(store: Path, tmp_path: Path) -> None:
    assert dvclive.detect(store)
    assert dvclive.detect(store / FINISHED)
    assert dvclive.detect(store / FINISHED / "dvclive")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert not dvclive.detect(empty)
    (empty / "metrics.json").write_text("{}")  # a DVC pipeline's output, not DVCLive's
    assert not dvclive.detect(empty)


def test_read_from_inside_a_run(store: Path) -> None:
    for path in (store / FINISHED, store / FINISHED / "dvclive"):
        runs, _ = read_all(path)
        assert list(runs) == [FINISHED]


# -- damaged files -----------------------------------------------------------------


def test_cut_last_line(store: Path) -> None:
    tsv = store / FINISHED / "dvclive" / "plots" / "metrics" / "train" / "loss.tsv"
    text = tsv.read_text()
    tsv.write_text(text[:-4])  # "5999\t0.467553\n" loses its tail
    os.utime(tsv, (time.time() - DAY, time.time() - DAY))
    runs, problems = read_all(store)
    loss = [p for p in runs[FINISHED].points if p.key == "train/loss"]
    assert len(loss) == 5999 and loss[-1].step == 5998
    assert f"{tsv}: last line incomplete (cut mid-write), dropped" in problems
    # metrics.json still says 0.467553 for step 5999: reported, the plots kept
    assert any("metrics.json: latest value differs" in p and "train/loss" in p for p in problems)
    assert len(runs) == 3


def test_broken_line_in_the_middle(store: Path) -> None:
    tsv = store / EXC / "dvclive" / "plots" / "metrics" / "train" / "loss.tsv"
    lines = tsv.read_text().splitlines(keepends=True)
    lines[101] = "100\t0.5" + lines[102]  # a line cut and glued to the next one
    del lines[102]
    tsv.write_text("".join(lines))
    runs, problems = read_all(store)
    loss = by_key_step(runs[EXC])
    assert ("train/loss", 100) not in loss and ("train/loss", 101) not in loss
    assert len([k for k in loss if k[0] == "train/loss"]) == 2498
    assert f"{tsv}: 1 unreadable line(s) skipped, first at line 102" in problems


def test_broken_params_yaml(store: Path) -> None:
    params = store / KILL9 / "dvclive" / "params.yaml"
    params.write_text("model: yolo26n.pt\nepochs: [30\n")
    age(store, DAY)
    runs, problems = read_all(store)
    assert runs[KILL9].params == {}
    assert any(p.startswith(f"{params}: unreadable YAML") for p in problems)
    assert len([p for p in runs[KILL9].points if p.key == "train/loss"]) == 2500
    assert runs[KILL9].status == "finished"  # without the epochs param there is no evidence


def test_broken_metrics_json_and_tsv_header(store: Path) -> None:
    live = store / FINISHED / "dvclive"
    (live / "metrics.json").write_text('{"train": {"loss": 0.4')
    (live / "plots" / "metrics" / "lr" / "pg0.tsv").write_text("a\tb\n1\t2\n")
    runs, problems = read_all(store)
    assert "summary" not in runs[FINISHED].extra
    assert any(p.startswith(f"{live / 'metrics.json'}: unreadable JSON") for p in problems)
    assert any(
        p.startswith(f"{live / 'plots/metrics/lr/pg0.tsv'}: no 'step' column") for p in problems
    )
    assert "lr/pg0" not in {p.key for p in runs[FINISHED].points}
    assert len([p for p in runs[FINISHED].points if p.key == "train/loss"]) == 6000


def test_missing_path(tmp_path: Path) -> None:
    assert read_all(tmp_path / "nope") == ({}, [f"{tmp_path / 'nope'}: no such file or directory"])


# -- layouts not in the fixtures ----------------------------------------------------


def test_older_layout_with_timestamps_and_summary_only_metrics(tmp_path: Path) -> None:
    live = tmp_path / "exp" / "dvclive"
    (live / "plots" / "metrics" / "val").mkdir(parents=True)
    # DVCLive before 3.0 wrote a millisecond timestamp and the full metric name
    (live / "plots" / "metrics" / "val" / "acc.tsv").write_text(
        "timestamp\tstep\tval/acc\n1700000000000\t0\t0.5\n1700000001500\t1\tnan\n"
    )
    (live / "metrics.json").write_text('{"val": {"acc": NaN}, "test_acc": 0.9, "step": 1}')
    runs, problems = read_all(tmp_path, now=1700000001.5 + 10)
    assert problems == []
    run = runs["exp"]
    pts = [(p.key, p.step, p.t) for p in run.points]
    assert pts == [
        ("val/acc", 0, 1700000000.0),
        ("val/acc", 1, 1700000001.5),
        ("test_acc", 1, None),
    ]
    assert math.isnan(run.points[1].value) and run.points[2].value == 0.9
    assert run.status == "running" and run.created == 1700000000.0
