"""Faithful reading across tools: MLflow repr params and system metrics and
staleness, dvclive runs kept in one repository, planned epochs in nested
configs, Ultralytics durations, and safe concurrent imports."""

from __future__ import annotations

import csv
import multiprocessing
import shutil
from pathlib import Path

import pytest

from trackui.cli import main
from trackui.store.importers import (
    KindMismatch,
    _config,
    dvclive,
    import_path,
    mlflow,
    ultralytics,
)
from trackui.store.runfiles import flatten

from .helpers import aged_copy, hashes, read_runs

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
RUN_ID = "0123456789abcdef0123456789abcdef"
T0_MS = 1767261600000


# -- MLflow ----------------------------------------------------------------------


def mlflow_store(root: Path, *, status: str = "RUNNING") -> Path:
    """A file store run as MLflow 2/3 writes it (``mlruns/<exp>/<run>/...``),
    with params logged from a nested dict and system metrics as MLflow's
    monitors name them (``system/gpu_0_utilization_percentage``...)."""
    exp = root / "mlruns" / "7"
    run = exp / RUN_ID
    (run / "params").mkdir(parents=True)
    (run / "metrics" / "system").mkdir(parents=True)
    (exp / "meta.yaml").write_text(
        "artifact_location: file:///x/mlruns/7\nexperiment_id: '7'\n"
        "lifecycle_stage: active\nname: detector\n"
    )
    (run / "meta.yaml").write_text(
        f"artifact_uri: file:///x/mlruns/7/{RUN_ID}/artifacts\nend_time: null\n"
        f"experiment_id: '7'\nlifecycle_stage: active\nrun_id: {RUN_ID}\n"
        f"run_name: bold-cat-42\nstart_time: {T0_MS}\nstatus: {status}\nuser_id: me\n"
    )
    (run / "params" / "optimizer").write_text("{'lr': 0.0003, 'betas': [0.9, 0.999]}")
    (run / "params" / "layers").write_text("[64, 128, (3, 3)]")
    (run / "params" / "epochs").write_text("30")
    (run / "params" / "note").write_text("{not a dict")
    (run / "params" / "deep").write_text("[" * 200 + "]" * 200)
    (run / "params" / "code").write_text("{'x': __import__('os').getcwd()}")
    (run / "metrics" / "loss").write_text(
        "".join(f"{T0_MS + 1000 * s} {1.0 / (s + 1)} {s}\n" for s in range(5))
    )
    samples = {
        "gpu_0_utilization_percentage": [80.0, 90.0],
        "gpu_0_memory_usage_megabytes": [4000.5, 4100.0],
        "gpu_0_power_usage_watts": [200.0, 210.0],
        "cpu_utilization_percentage": [12.5, 13.5],
        "system_memory_usage_megabytes": [8000.0, 8100.0],
        "disk_usage_percentage": [40.0, 40.1],
    }
    for key, values in samples.items():
        (run / "metrics" / "system" / key).write_text(
            "".join(f"{T0_MS + 10000 * (i + 1)} {v} {i}\n" for i, v in enumerate(values))
        )
    return root / "mlruns"


def test_mlflow_repr_params_parsed_and_flattened(tmp_path: Path) -> None:
    runs, _ = read_runs(mlflow, mlflow_store(tmp_path), now=T0_MS / 1000 + 60)
    params = runs[RUN_ID].params
    assert params["optimizer"] == {"lr": 0.0003, "betas": [0.9, 0.999]}
    assert params["layers"] == [64, 128, [3, 3]]
    assert params["epochs"] == "30"  # plain strings stay as MLflow stores them
    assert params["note"] == "{not a dict"
    assert params["deep"] == "[" * 200 + "]" * 200  # deeper than the bound: text
    assert params["code"] == "{'x': __import__('os').getcwd()}"  # never evaluated
    flat = flatten(params)
    assert flat["optimizer.lr"] == 0.0003 and flat["optimizer.betas"] == [0.9, 0.999]


def test_mlflow_system_metrics_under_trackui_names(tmp_path: Path) -> None:
    run = read_runs(mlflow, mlflow_store(tmp_path), now=T0_MS / 1000 + 60)[0][RUN_ID]
    assert {p.key for p in run.points} == {"loss"}
    got = {(p.key, p.step): p.value for p in run.system}
    assert got[("system/gpu0.util", 1)] == 90.0
    assert got[("system/gpu0.mem_used", 0)] == 4000.5e6  # MLflow's MB are 10^6 bytes
    assert got[("system/gpu0.power", 0)] == 200.0
    assert got[("system/host.cpu", 1)] == 13.5
    assert got[("system/host.mem_used", 1)] == 8100.0e6
    assert got[("system/disk_usage_percentage", 0)] == 40.0  # kept under its own name
    assert {p.t for p in run.system if p.step == 0} == {T0_MS / 1000 + 10}


def test_mlflow_staleness_from_the_lines_not_the_file_times(tmp_path: Path) -> None:
    store = mlflow_store(tmp_path)  # every file written just now, lines from T0
    now = T0_MS / 1000 + 3600
    run = read_runs(mlflow, store, now=now)[0][RUN_ID]
    assert run.status == "crashed"
    assert run.status_reason == "RUNNING in MLflow, no activity for 59 min"
    assert read_runs(mlflow, store, now=T0_MS / 1000 + 30)[0][RUN_ID].status == "running"


# -- dvclive in one repository ---------------------------------------------------


def test_dvclive_project_is_the_repo(tmp_path: Path) -> None:
    repo = tmp_path / "detector-repo"
    shutil.copytree(FIXTURES / "dvclive" / "yolo26n-lr0.01-b16-sgd", repo / "runs" / "exp3")
    runs, _ = read_runs(dvclive, repo)
    assert {(r.source_id, r.name, r.project) for r in runs.values()} == {
        ("runs/exp3", "exp3", "detector-repo")
    }
    runs, _ = read_runs(dvclive, repo / "runs")  # PATH is the runs/ folder itself
    assert {(r.name, r.project) for r in runs.values()} == {("exp3", "detector-repo")}


def test_dvclive_nested_planned_epochs(tmp_path: Path) -> None:
    run_dir = tmp_path / "repo" / "runs" / "short"
    shutil.copytree(FIXTURES / "dvclive" / "yolo26n-lr0.01-b16-sgd", run_dir)
    live = run_dir / "dvclive"
    (live / "params.yaml").write_text("lr0: 0.01\nschedule:\n  epochs: 40\n")
    aged = aged_copy(tmp_path / "repo", tmp_path / "aged", 3600)
    run = read_runs(dvclive, aged)[0]["runs/short"]
    assert run.status == "crashed"
    assert run.status_reason == "30 of 40 epochs; DVCLive records no run status"
    assert run.params == {"lr0": 0.01, "schedule": {"epochs": 40}}


# -- planned epochs --------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "want"),
    [
        ({"epochs": 10}, (10, "epochs")),
        ({"schedule": {"epochs": 7}}, (7, "schedule.epochs")),
        ({"trainer": {"max_epochs": 5}}, (5, "trainer.max_epochs")),
        ({"trainer.max_epochs": "12"}, (12, "trainer.max_epochs")),
        ({"num_train_epochs": 3.0}, (3, "num_train_epochs")),
        ({"max_epochs": 4}, (4, "max_epochs")),
        ({"epochs": True}, None),
        ({"epochs": 2.5}, None),
        ({"epochs": -1}, None),
        ({"model": {"epochs_seen": 3}}, None),
    ],
)
def test_planned_epochs_in_nested_keys(params: dict, want: tuple[int, str] | None) -> None:
    assert _config.planned_epochs(params) == want


def test_planned_steps() -> None:
    assert _config.planned_steps({"max_steps": 100}) == (100, "max_steps")
    assert _config.planned_steps({"max_steps": -1}) is None


def test_parse_repr_is_bounded() -> None:
    big = "[" + ", ".join(["1"] * 40000) + "]"
    assert _config.parse_repr(big) == big  # over the size bound: text
    assert _config.parse_repr("{'a': {1, 2}, 'b': b'x'}") == {"a": [1, 2], "b": "x"}
    assert _config.parse_repr("'quoted'") == "'quoted'"


# -- Ultralytics -----------------------------------------------------------------


def test_ultralytics_duration_from_the_time_column(tmp_path: Path) -> None:
    src = aged_copy(FIXTURES / "ultralytics", tmp_path / "u", 3600)
    runs, _ = read_runs(ultralytics, src)
    assert len(runs) == 6
    for run in runs.values():
        results = Path(run.source_path) / "results.csv"
        with open(results, newline="") as fh:
            times = [float(row["time"]) for row in csv.DictReader(fh, skipinitialspace=True)]
        # cumulative seconds, from 0 again after a resume
        want = sum(a for a, b in zip(times, times[1:], strict=False) if b < a) + times[-1]
        assert run.created is not None
        end = run.ended if run.ended is not None else results.stat().st_mtime
        assert end - run.created == pytest.approx(want, abs=1e-3)
    resumed = runs["runs/detect/exp_d_resumed"]
    assert resumed.ended - resumed.created == pytest.approx(1.53936 + 1.80582, abs=1e-3)


# -- concurrent imports and --kind -----------------------------------------------


def _import(args: tuple[str, str]) -> int:
    store, source = args
    return import_path(Path(store), Path(source)).runs


def test_two_concurrent_imports_make_no_duplicate_runs(tmp_path: Path) -> None:
    # dvclive runs carry no creation time: every fresh import used to name a new directory
    source = aged_copy(FIXTURES / "dvclive", tmp_path / "src", 3600)
    store = tmp_path / "store"
    before = hashes(source)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(4) as pool:
        counts = pool.map(_import, [(str(store), str(source))] * 4)
    assert counts == [3, 3, 3, 3]
    assert len(list(store.glob("*/*/meta.json"))) == 3
    assert not list(store.rglob("*.tmp"))
    assert hashes(source) == before


def test_kind_that_does_not_match_is_an_error(tmp_path: Path, capsys) -> None:
    source = FIXTURES / "dvclive"
    with pytest.raises(KindMismatch, match="no mlflow runs under .* \\(found dvclive\\)"):
        import_path(tmp_path / "s", source, kind="mlflow")
    assert not (tmp_path / "s").exists()
    assert main(["import", str(source), "--kind", "mlflow", "--store", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no mlflow runs under" in err


# -- bounded reading ---------------------------------------------------------------


def _read_in_thread(module, path: Path) -> tuple[dict, list[str]]:
    import threading

    out: list[tuple[dict, list[str]]] = []
    worker = threading.Thread(target=lambda: out.append(read_runs(module, path)), daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert out, "the reader hung"  # a FIFO must never block a reader
    return out[0]


def test_fifo_and_outside_symlinks_cost_their_run_only(tmp_path: Path) -> None:
    import os

    from trackui.store.importers import hf, lightning

    secret = tmp_path / "outside.yaml"
    secret.write_text("password: hunter2\n")
    src = aged_copy(FIXTURES / "lightning", tmp_path / "l", 3600)
    logs = src / "proj_a" / "lightning_logs"
    (logs / "version_0" / "metrics.csv").unlink()
    os.mkfifo(logs / "version_0" / "metrics.csv")
    (logs / "version_1" / "hparams.yaml").unlink()
    (logs / "version_1" / "hparams.yaml").symlink_to(secret)
    runs, problems = _read_in_thread(lightning, src)
    assert len(runs) == 3
    assert runs["proj_a/lightning_logs/version_0"].points == []
    assert "password" not in runs["proj_a/lightning_logs/version_1"].params
    assert any("version_0/metrics.csv: unreadable" in p and "FIFO" in p for p in problems)
    assert any("version_1/hparams.yaml: unreadable" in p and "outside" in p for p in problems)

    hf_src = aged_copy(FIXTURES / "hf", tmp_path / "h", 3600)
    state = hf_src / "nlp" / "bert-sst2" / "trainer_state.json"
    state.unlink()
    os.mkfifo(state)
    runs, problems = _read_in_thread(hf, hf_src)
    assert sorted(runs) == ["nlp/bert-sst2", "nlp/gpt2-killed"]
    assert any("bert-sst2/trainer_state.json: unreadable" in p for p in problems)
    # read from its newest checkpoint instead, and no longer known to be finished
    assert runs["nlp/bert-sst2"].extra["state_file"] == "checkpoint-60/trainer_state.json"
    assert runs["nlp/bert-sst2"].status == "crashed"


def test_fifo_named_like_a_database_does_not_hang(tmp_path: Path) -> None:
    import os

    from trackui.store.importers import detect_kinds, trackio

    src = tmp_path / "src"
    src.mkdir()
    os.mkfifo(src / "mlflow.db")
    os.mkfifo(src / "project.db")
    for module in (mlflow, trackio):
        runs, _ = _read_in_thread(module, src)
        assert runs == {}
    assert detect_kinds(src) == []


# -- the shared rules, one by one ----------------------------------------------------


@pytest.mark.parametrize(
    ("run", "root", "project"),
    [
        ("myrepo/runs/exp3", "myrepo", "myrepo"),
        ("myrepo/runs/exp3", "myrepo/runs", "myrepo"),
        ("logs/exp1/seed0", "logs", "exp1"),
        ("work/proj_a/lightning_logs/version_0", "work", "proj_a"),
        ("tb/run1", "tb", "tb"),
        # a run given as PATH: the first folder above it that is not a container
        ("runs/x", "runs/x", "<tmp>"),
        ("a/outputs/results/r", "a", "a"),
    ],
)
def test_project_rule(tmp_path: Path, run: str, root: str, project: str) -> None:
    from trackui.store.importers._naming import project_for

    want = tmp_path.name if project == "<tmp>" else project
    assert project_for(tmp_path / run, tmp_path / root) == want


def test_system_names_without_the_context_to_convert() -> None:
    from trackui.store.importers._system import from_mlflow, from_wandb
    from trackui.store.importers.base import Point

    # no environment record: W&B's normalised process CPU and host memory % stay as W&B has them
    got = {p.key: p.value for p in from_wandb([(1.0, {"cpu": 12.5, "memory_percent": 30.0})])}
    assert got == {"system/cpu": 12.5, "system/memory_percent": 30.0}
    mlflow_points = [
        Point("system/process_cpu_percentage", 0, 180.0, 1.0),
        Point("system/process_memory_rss_megabytes", 0, 512.5, 1.0),
        Point("system/gpu_1_utilization_percentage", 0, 7.0, 1.0),
        Point("system/network_receive_megabytes", 0, 3.0, 1.0),
    ]
    assert [(p.key, p.value) for p in from_mlflow(mlflow_points)] == [
        ("system/proc.cpu", 180.0),
        ("system/proc.rss", 512.5e6),
        ("system/gpu1.util", 7.0),
        ("system/network_receive_megabytes", 3.0),
    ]
