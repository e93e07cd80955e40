"""`trackui import`: imported runs are ordinary runs; re-import is idempotent and
incremental; `trackui PATH` on foreign runs never writes into PATH."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest

import trackui
from trackui.cli import browse_root, main
from trackui.store.importers import import_path
from trackui.store.queries import Store

from .helpers import listing

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture
def yolo_runs(tmp_path: Path) -> Path:
    dest = tmp_path / "yolo"
    shutil.copytree(FIXTURES / "ultralytics", dest)
    return dest


def _results(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "results.csv", newline="") as fh:
        return [{k.strip(): v.strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def _find_run(root: Path, name: str) -> Path:
    for run in root.rglob("args.yaml"):
        if run.parent.name == name:
            return run.parent
    raise AssertionError(name)


def test_import_is_idempotent_and_incremental(tmp_path: Path, yolo_runs: Path) -> None:
    store = tmp_path / "store"
    first = import_path(store, yolo_runs, kind="ultralytics")
    assert first.runs >= 4 and first.new_runs == first.runs
    assert first.new_points == first.points > 0
    with Store(store) as s:
        runs_before = {r.id: r for r in s.list_runs()}
        exp_a = s.resolve("detect/exp_a")
        before = s.history(exp_a, "metrics/mAP50-95(B)")

    again = import_path(store, yolo_runs, kind="ultralytics")
    assert (again.new_runs, again.updated_runs, again.new_points) == (0, 0, 0)

    # two more epochs appended to one run's results.csv
    run_dir = _find_run(yolo_runs, "exp_a")
    rows = _results(run_dir)
    header = (run_dir / "results.csv").read_text().splitlines()[0]
    columns = [c.strip() for c in header.split(",")]
    last = rows[-1]
    extra = []
    for epoch in (int(last["epoch"]) + 1, int(last["epoch"]) + 2):
        values = {**last, "epoch": str(epoch), "metrics/mAP50-95(B)": f"0.{epoch}1"}
        extra.append(",".join(values[c] for c in columns))
    with open(run_dir / "results.csv", "a") as fh:
        fh.write("\n".join(extra) + "\n")
    third = import_path(store, yolo_runs, kind="ultralytics")
    assert third.new_runs == 0 and third.updated_runs == 1
    assert third.new_points == 2 * (len(columns) - 1)
    with Store(store) as s:
        assert {r.id for r in s.list_runs()} == set(runs_before)
        after = s.history(exp_a, "metrics/mAP50-95(B)")
        assert after[: len(before)] == before
        assert [(p.step, p.value) for p in after[len(before) :]] == [
            (int(last["epoch"]) + 1, float(f"0.{int(last['epoch']) + 1}1")),
            (int(last["epoch"]) + 2, float(f"0.{int(last['epoch']) + 2}1")),
        ]


def test_imported_runs_work_in_ls_show_and_diff_with_native_runs(
    tmp_path: Path, yolo_runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    assert main(["import", str(yolo_runs), "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("imported ") and "ultralytics" in out
    with trackui.init(
        project="detect",
        name="native",
        dir=store,
        console=False,
        config={"lr0": 0.005, "optimizer": "SGD", "epochs": 5},
    ) as run:
        run.log({"metrics/mAP50-95(B)": 0.2}, step=1)
    assert main(["ls", "--store", str(store), "--json", "-c", "lr0"]) == 0
    listed = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed["exp_a"]["source"] == "ultralytics" and listed["exp_a"]["lr0"] == 0.01
    assert listed["native"]["source"] is None
    assert main(["show", "--store", str(store), "detect/exp_a", "--json"]) == 0
    detail = json.loads(capsys.readouterr().out)
    assert detail["source"]["kind"] == "ultralytics"
    assert detail["status"] == "finished"
    assert main(["diff", "--store", str(store), "detect/exp_a", "detect/native", "--json"]) == 0
    diff = json.loads(capsys.readouterr().out)
    lr0 = next(r for r in diff["params"] if r["key"] == "lr0")
    assert lr0["values"] == [0.01, 0.005]
    mAP = next(m for m in diff["metrics"] if m["key"] == "metrics/mAP50-95(B)")
    assert mAP["direction"] == "max" and None not in mAP["last"]


def test_browsing_foreign_runs_imports_into_a_private_store(
    tmp_path: Path, yolo_runs: Path
) -> None:
    before = listing(yolo_runs)
    root = browse_root(yolo_runs)
    assert yolo_runs not in root.parents and root != yolo_runs
    assert str(root).startswith(os.environ["TRACKUI_CACHE_DIR"])
    with Store(root) as store:
        names = {r.name for r in store.list_runs()}
    assert {"exp_a", "exp_b", "exp_c_crashed"} <= names
    assert listing(yolo_runs) == before  # nothing written into the source
    assert browse_root(root) == root  # a trackui store is browsed as it is


def test_import_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["import", str(tmp_path / "empty"), "--store", str(tmp_path / "s")]) == 2
    assert "no runs of a known kind" in capsys.readouterr().err
    assert main(["import", str(tmp_path / "empty"), "--kind", "nosuch"]) == 2
    assert "unknown kind" in capsys.readouterr().err
