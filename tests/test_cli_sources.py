"""Where the CLI finds runs and how it names them: ``ls SOURCE…``, repeatable
``-d/--store`` for ``show`` and ``diff``, plain run names, the run list at 80
columns, the empty-store hint, ``dropped`` in ``show``, and numbers that are
never cut."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from rich.cells import cell_len

import trackui
from trackui.cli import main
from trackui.store import fmt

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PREFIX = "an-experiment-name-long-enough-to-share-40-chars-"


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def log_run(root: Path, project: str, name: str, config: dict, metrics: dict) -> None:
    with trackui.init(project=project, name=name, config=config, dir=root, console=False) as run:
        for step in range(3):
            run.log(metrics, step=step)


def test_ls_takes_sources_as_positionals(
    fixture_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other"
    log_run(other, "p", "solo", {"lr0": 0.5}, {"loss": 1.0})
    code, out, err = run_cli(capsys, "ls", str(fixture_store), str(other), "--json", "-c", "lr0")
    assert code == 0, err
    runs = json.loads(out)
    assert len(runs) == 6
    assert {r["store"] for r in runs} == {str(fixture_store), str(other)}
    created = [r["created"] for r in runs]
    assert created == sorted(created, reverse=True)  # one order over both stores
    code, out, _ = run_cli(
        capsys, "ls", str(fixture_store), "-d", str(other), "--sort", "lr0", "--json", "-c", "lr0"
    )
    assert [r["lr0"] for r in json.loads(out)][:4] == [0.002, 0.01, 0.02, 0.5]
    code, out, _ = run_cli(capsys, "ls", str(fixture_store), str(other))
    assert out.splitlines()[0].split("\t")[-1] == "source"  # which source each run is from


def test_show_and_diff_take_repeated_stores_and_foreign_folders(
    fixture_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    yolo = tmp_path / "yolo"
    shutil.copytree(FIXTURES / "ultralytics", yolo)
    store = str(fixture_store)
    code, out, err = run_cli(capsys, "show", "-d", store, "-d", str(yolo), "exp_a", "--json")
    assert code == 0, err
    assert json.loads(out)["source"]["kind"] == "ultralytics"
    code, out, err = run_cli(
        capsys, "diff", "-d", store, "-d", str(yolo), "yolo-sgd", "exp_a", "--json", "--all"
    )
    assert code == 0, err
    diff = json.loads(out)
    assert [r["name"] for r in diff["runs"]] == ["yolo-sgd", "exp_a"]
    lr0 = next(r for r in diff["params"] if r["key"] == "lr0")
    assert lr0["values"][0] == 0.01 and lr0["values"][1] is not None
    assert any(r["differs"] for r in diff["params"])
    assert any(m["key"] == "metrics/mAP50-95(B)" and None not in m["last"] for m in diff["metrics"])


def test_plain_run_names_when_unique_and_candidates_when_not(
    fixture_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(fixture_store)
    ids = {r["name"]: r["id"] for r in json.loads(run_cli(capsys, "ls", store, "--json")[1])}
    code, out, err = run_cli(capsys, "show", "-d", store, "yolo-adamw", "--json")
    assert code == 0, err
    assert json.loads(out)["id"] == ids["yolo-adamw"]
    code, out, err = run_cli(capsys, "diff", "-d", store, "yolo-sgd", "yolo-adamw", "--json")
    assert code == 0, err
    log_run(fixture_store, "other", "yolo-sgd", {"lr0": 1}, {"loss": 1.0})
    code, out, err = run_cli(capsys, "show", "-d", store, "yolo-sgd")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "ambiguous" in err and "detect/yolo-sgd" in err and "other/yolo-sgd" in err
    assert ids["yolo-sgd"] in err
    code, out, err = run_cli(capsys, "show", "-d", store, "detect/yolo-sgd", "--json")
    assert code == 0 and json.loads(out)["id"] == ids["yolo-sgd"]
    code, out, err = run_cli(capsys, "show", "-d", store, "adam")
    assert code == 2 and "no run 'adam'" in err and "names containing it: detect/yolo-adamw" in err


@pytest.fixture
def long_names(tmp_path: Path) -> Path:
    root = tmp_path / "long"
    for seed in (1, 2, 3):
        log_run(
            root,
            "sweep",
            f"{PREFIX}seed{seed}",
            {"lr0": 0.01, "seed": seed},
            {"metrics/mAP50-95(B)": 0.5 + seed / 1000, "train/loss": 1e-05 * seed},
        )
    log_run(root, "sweep", "图像分类-resnet18-🚀", {"lr0": 0.02}, {"train/loss": 0.3})
    return root


def test_ls_at_80_columns_keeps_each_run_on_one_line(
    long_names: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKUI_FORCE_RICH", "1")
    monkeypatch.setenv("COLUMNS", "80")
    args = ["ls", str(long_names), "-c", "lr0", "-c", "max(metrics/mAP50-95(B))"]
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    lines = out.rstrip("\n").splitlines()
    assert all(cell_len(line) <= 80 for line in lines), out
    assert len(lines) == 4 + 4  # borders and header around one line per run
    names = [line.split("│")[2].strip() for line in lines[3:-1]]
    assert len(set(names)) == 4  # the seeds stay told apart
    assert any(n.endswith("seed1") for n in names) and "图像分类-resnet18-🚀" in names
    assert "0.503" in out  # the asked-for metric column stayed
    assert "--wide" in err  # says what was left out and how to see it
    code, wide, _ = run_cli(capsys, *args, "--wide")
    assert f"{PREFIX}seed1" in wide and "created" in wide and "id" in wide
    monkeypatch.delenv("TRACKUI_FORCE_RICH")
    code, piped, _ = run_cli(capsys, *args)
    assert piped.splitlines()[0].split("\t") == [
        "id",
        "status",
        "project",
        "name",
        "created",
        "duration",
        "lr0",
        "max(metrics/mAP50-95(B))",
    ]
    assert f"{PREFIX}seed2" in piped


def test_an_empty_store_says_how_to_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run_cli(capsys, "ls")  # the default store, never written
    assert code == 0
    assert "trackui.init(" in err and "run.log(" in err and "trackui demo" in err
    (tmp_path / "fresh").mkdir()
    monkeypatch.setenv("TRACKUI_FORCE_RICH", "1")
    code, out, err = run_cli(capsys, "ls", str(tmp_path / "fresh"))
    assert code == 0 and out == "" and "trackui demo" in err
    code, out, err = run_cli(capsys, "ls", str(tmp_path / "fresh"), "--json")
    assert json.loads(out) == [] and err == ""


def test_show_reports_dropped_points(
    fixture_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = next(fixture_store.glob("detect/*/events.jsonl"))
    lines = events.read_text().splitlines()
    finish = json.loads(lines[-1])
    finish["dropped"] = 7
    events.write_text("\n".join([*lines[:-1], json.dumps(finish)]) + "\n")
    run_id = events.parent.name
    code, out, err = run_cli(capsys, "show", "-d", str(fixture_store), run_id, "--json")
    assert code == 0, err
    assert json.loads(out)["dropped"] == 7
    code, out, _ = run_cli(capsys, "show", "-d", str(fixture_store), run_id)
    assert "dropped\t7 points" in out


def test_numbers_are_whole_or_shorter_and_true(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "nums"
    log_run(root, "p", "base", {"lr": 5e-05, "big": 123456789012.0}, {"loss": 0.5166123456})
    log_run(root, "p", "other", {"lr": 1e-300, "big": -1.5e300}, {"loss": 0.516559})
    expected = {
        fmt.number_fit(5e-05, 10),
        fmt.number_fit(1e-300, 10),
        fmt.number_fit(-1.5e300, 10),
        fmt.number_fit(0.5166123456, 10),
        fmt.delta(0.516559, 0.5166123456, 10),
    }
    assert fmt.delta(0.516559, 0.5166123456, 10).endswith("e-05")  # exponent kept
    for rich in (False, True):
        if rich:
            monkeypatch.setenv("TRACKUI_FORCE_RICH", "1")
            monkeypatch.setenv("COLUMNS", "60")
        code, out, err = run_cli(capsys, "diff", "-d", str(root), "base", "other")
        assert code == 0, err
        for text in expected:
            assert text in out, (text, out)
        assert "5.000e-0" not in out and "e-0 " not in out
    code, out, _ = run_cli(capsys, "ls", str(root), "--csv", "-c", "lr", "-c", "last(loss)")
    assert "1e-300" in out and "0.5166123456" in out  # CSV keeps exact values
