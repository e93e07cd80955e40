"""The headless commands: ls / show / diff / reindex / demo, their formats and errors."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trackui.cli import main
from trackui.store import paths
from trackui.store.queries import Store


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def ls_json(capsys: pytest.CaptureFixture[str], store: Path, *extra: str) -> list[dict]:
    code, out, err = run_cli(capsys, "ls", "--store", str(store), "--json", *extra)
    assert code == 0, err
    return json.loads(out)


def test_ls_lists_every_run_with_status(
    fixture_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = ls_json(capsys, fixture_store)
    by_name = {r["name"]: r for r in runs}
    assert set(by_name) == {"yolo-sgd", "yolo-adamw", "yolo-oom", "resnet-kill", "resnet-crash"}
    assert by_name["yolo-sgd"]["status"] == "finished"
    assert by_name["yolo-oom"]["status"] == "failed"
    assert "CUDA out of memory" in by_name["yolo-oom"]["status_reason"]
    assert by_name["resnet-kill"]["status"] == "killed"
    assert by_name["resnet-crash"]["status"] == "crashed"
    # newest first by default
    created = [r["created"] for r in runs]
    assert created == sorted(created, reverse=True)


def test_ls_filters_sorts_and_adds_columns(
    fixture_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = ls_json(
        capsys,
        fixture_store,
        "--project",
        "detect",
        "--sort",
        "lr0",
        "-c",
        "lr0",
        "-c",
        "max(metrics/mAP50-95(B))",
    )
    assert [r["name"] for r in runs] == ["yolo-adamw", "yolo-sgd", "yolo-oom"]
    assert [r["lr0"] for r in runs] == [0.002, 0.01, 0.02]
    assert all(0 < r["max(metrics/mAP50-95(B))"] < 1 for r in runs)
    finished = ls_json(capsys, fixture_store, "--status", "finished", "--limit", "1")
    assert len(finished) == 1 and finished[0]["status"] == "finished"
    descending = ls_json(capsys, fixture_store, "--project", "detect", "--sort=-lr0")
    assert [r["name"] for r in descending] == ["yolo-oom", "yolo-sgd", "yolo-adamw"]


def test_ls_csv_md_and_plain(fixture_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "ls", "--store", str(fixture_store), "--csv", "-c", "lr0")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["id", "status", "project", "name", "created", "duration", "lr0"]
    assert len(rows) == 6
    code, out, _ = run_cli(capsys, "ls", "--store", str(fixture_store), "--md")
    lines = out.strip().splitlines()
    assert lines[0].startswith("| id | status |") and lines[1].startswith("|---")
    assert len(lines) == 7
    code, out, _ = run_cli(capsys, "ls", "--store", str(fixture_store))
    assert out.splitlines()[0].split("\t")[:4] == ["id", "status", "project", "name"]


def test_show_by_id_prefix_and_name(
    fixture_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = {r["name"]: r["id"] for r in ls_json(capsys, fixture_store)}
    run_id = runs["yolo-adamw"]
    for ref in (run_id, run_id[:-3], "detect/yolo-adamw"):
        code, out, err = run_cli(capsys, "show", "--store", str(fixture_store), ref, "--json")
        assert code == 0, err
        detail = json.loads(out)
        assert detail["id"] == run_id
    assert detail["params"]["optimizer.name"] == "AdamW"
    assert detail["metrics"]["metrics/mAP50-95(B)"]["count"] == 40
    assert detail["summary"] == {"best_epoch": 37}
    assert detail["artifacts"][0]["name"] == "weights/best.pt"
    assert len(detail["artifacts"][0]["sha256"]) == 64
    code, out, _ = run_cli(capsys, "show", "--store", str(fixture_store), "detect/yolo-oom")
    assert code == 0
    assert "RuntimeError: CUDA out of memory" in out
    assert "optimizer.name\tSGD" in out


def test_diff_shows_only_differing_params_unless_all(
    fixture_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(fixture_store)
    code, out, err = run_cli(
        capsys, "diff", "--store", store, "detect/yolo-sgd", "detect/yolo-adamw", "--json"
    )
    assert code == 0, err
    diff = json.loads(out)
    keys = [row["key"] for row in diff["params"]]
    assert keys == ["batch", "lr0", "optimizer.name"]
    lr0 = next(r for r in diff["params"] if r["key"] == "lr0")
    assert lr0["values"] == [0.01, 0.002]
    assert diff["params_total"] == 8
    loss = next(m for m in diff["metrics"] if m["key"] == "train/box_loss")
    assert loss["direction"] == "min"
    best = min(range(2), key=lambda i: loss["best"][i])
    assert loss["best_run"] == diff["runs"][best]["id"]
    code, out, _ = run_cli(
        capsys, "diff", "--store", store, "detect/yolo-sgd", "detect/yolo-adamw", "--all", "--json"
    )
    assert len(json.loads(out)["params"]) == 8
    # a param only one run has differs, and is shown as missing for the other
    code, out, _ = run_cli(
        capsys, "diff", "--store", store, "detect/yolo-sgd", "cls/resnet-kill", "--json"
    )
    arch = next(r for r in json.loads(out)["params"] if r["key"] == "arch")
    assert arch["missing"] == [True, False]
    code, out, _ = run_cli(
        capsys, "diff", "--store", store, "detect/yolo-sgd", "detect/yolo-adamw", "--md"
    )
    assert "| lr0 | 0.01 | 0.002 |" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["show", "nope"], "no run 'nope'"),
        (["diff", "detect/yolo-sgd"], "at least two runs"),
        (["diff", "detect/yolo-sgd", "detect/yolo-sgd"], "named twice"),
        (["ls", "--where", "lr0 <"], "bad filter"),
        (["ls", "--limit", "-1"], "--limit"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    fixture_store: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run_cli(capsys, args[0], "--store", str(fixture_store), *args[1:])
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_missing_store_and_unknown_option_in_a_real_process(tmp_path: Path) -> None:
    env = {**os.environ, "TRACKUI_DIR": str(tmp_path / "nowhere")}
    for args in (
        ["ls", str(tmp_path / "typo")],
        ["show", "x"],
        ["ls", "--bogus"],
        ["import", str(tmp_path / "none")],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "trackui", *args], capture_output=True, text=True, env=env
        )
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "Traceback" not in proc.stderr


def test_reindex_after_deleting_the_catalog_gives_identical_answers(
    fixture_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = ls_json(capsys, fixture_store, "-c", "lr0", "-c", "last(loss)")
    catalog = paths.catalog_path(fixture_store)
    assert catalog.exists()
    catalog.unlink()
    code, out, _ = run_cli(capsys, "reindex", "--store", str(fixture_store))
    assert code == 0 and "reindexed 5 runs" in out
    assert ls_json(capsys, fixture_store, "-c", "lr0", "-c", "last(loss)") == before


def test_demo_writes_a_realistic_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "demo"
    code, out, _ = run_cli(capsys, "demo", "--dir", str(root), "--no-tui")
    assert code == 0 and "wrote the demo store" in out and str(root) in out
    with Store(root) as store:
        runs = store.list_runs(columns=["lr0", "optimizer"])
        statuses = {r.status for r in runs}
        assert {"finished", "failed", "killed", "crashed"} <= statuses
        assert len(store.projects()) >= 3
        detect = [r for r in runs if r.project == "detect"]
        assert len({r.columns["lr0"] for r in detect}) >= 4
        assert {r.columns["optimizer"] for r in detect} == {"SGD", "AdamW"}
        sgd = store.resolve("detect/yolo26n-sgd-lr0.01")
        mAP = store.history(sgd, "metrics/mAP50-95(B)")
        assert len(mAP) == 60 and mAP[-1].value > mAP[0].value  # it learns
    code, out, _ = run_cli(capsys, "demo", "--dir", str(root), "--no-tui")
    assert "found the demo store" in out  # not rewritten
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("mine")
    code, _, err = run_cli(capsys, "demo", "--dir", str(tmp_path / "other"), "--no-tui")
    assert code == 2 and (tmp_path / "other" / "keep.txt").exists()


def test_live_demo_training_logs_and_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trackui import demo

    monkeypatch.setattr(demo, "LIVE_STEPS", 20)
    monkeypatch.setattr(demo, "LIVE_PERIOD_S", 0.0)
    demo._live(tmp_path, 0)
    with Store(tmp_path) as store:
        (run,) = store.list_runs()
        assert run.status == "finished" and run.name.startswith("live-")
        assert len(store.history(run.id, "train/loss")) == 20
        assert len(store.history(run.id, "metrics/mAP50-95(B)")) == 2


def test_demo_store_shows_the_hard_cases(tmp_path: Path) -> None:
    """~20 runs: a seed sweep with its group set, long names sharing a 40-char
    prefix, a CJK/emoji name; every run has console output; scores in [0, 1]."""
    from trackui import demo
    from trackui.tui.names import common_prefix

    root = tmp_path / "demo"
    demo.ensure(root)
    with Store(root) as store:
        runs = store.list_runs(columns=["seed", "max(metrics/mAP50-95(B))", "min(val/acc)"])
        assert 18 <= len(runs) <= 24
        sweep = [r for r in runs if r.group == "seed-sweep"]
        assert sorted(r.columns["seed"] for r in sweep) == [1, 2, 3]
        llm = [r.name for r in runs if r.project == "llm-finetune" and len(r.name) > 40]
        assert len(llm) >= 2 and len(common_prefix(llm)) >= 40
        assert any(any(ord(c) > 0x2E80 for c in r.name) for r in runs)  # CJK / emoji
        for run in runs:
            detail = store.get_run(run.id)
            assert detail.console_path and Path(detail.console_path).stat().st_size > 0
            for m in detail.metrics:
                if m.key.startswith("metrics/") or m.key.endswith("acc"):
                    assert 0 <= m.min and m.max <= 1, (run.name, m.key, m.min, m.max)
                if "loss" in m.key:
                    assert m.min > 0, (run.name, m.key)


def test_demo_stops_its_live_trainings_and_says_where_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from trackui import cli, demo

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    started: list[str] = []
    stopped: list[list[str]] = []
    monkeypatch.setattr(demo, "ensure", lambda root, fresh=False: False)
    monkeypatch.setattr(demo, "start_live", lambda root: started.append("p") or ["p"])
    monkeypatch.setattr(demo, "stop_live", lambda procs: stopped.append(procs) or len(procs))

    def tui(root: Path) -> int:
        assert started and not stopped  # trainings run while the TUI is open
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_run_tui", tui)
    monkeypatch.setattr(sys, "stdin", Terminal())
    out = Terminal()
    monkeypatch.setattr(sys, "stdout", out)
    code = main(["demo", "--live", "--dir", str(tmp_path / "d")])
    assert code == 130 and stopped == [["p"]]
    assert f"the demo store is at {tmp_path / 'd'}" in out.getvalue()
    assert "1 live trainings stopped" in out.getvalue()


def test_live_trainings_stop_when_asked(tmp_path: Path) -> None:
    import time

    from trackui import demo

    procs = demo.start_live(tmp_path, count=1)
    try:
        # Wait for the run to exist (a slow start is no failure). Hidden
        # directories are the writer's temp ones, renamed into place once
        # complete: a stop before that rename leaves no run, rightly.
        for _ in range(600):
            if any(not m.parent.name.startswith(".") for m in tmp_path.glob("*/*/meta.json")):
                break
            time.sleep(0.1)
        assert demo.stop_live(procs, timeout=90) == 1  # a loaded machine is slow to stop
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert all(p.poll() is not None for p in procs)
    with Store(tmp_path) as store:
        (run,) = store.list_runs()
        assert run.status == "killed"
