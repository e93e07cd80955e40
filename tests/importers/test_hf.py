"""The Hugging Face Trainer reader (``fixtures/hf``, written byte-exact per the
Trainer's formats by its make_fixtures.py): params and every point equal the
files, read here with ``json``; checkpoints and the TensorBoard folder are the
same run; a run killed before ``max_steps`` says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trackui.store.importers import hf, import_path, tensorboard

from .helpers import aged_copy, hashes, read_runs

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "hf"
BERT = "nlp/bert-sst2"
GPT = "nlp/gpt2-killed"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return aged_copy(FIXTURES, tmp_path_factory.mktemp("hf") / "hf", 3600)


def test_one_run_per_output_dir(source: Path) -> None:
    runs, problems = read_runs(hf, source)
    assert problems == []
    assert sorted(runs) == [BERT, GPT]
    assert {r.name for r in runs.values()} == {"bert-sst2", "gpt2-killed"}
    assert {r.project for r in runs.values()} == {"nlp"}
    assert {r.kind for r in runs.values()} == {"hf"}


def test_params_equal_args_config_and_state(source: Path) -> None:
    runs, _ = read_runs(hf, source)
    d = source / BERT
    state = json.loads((d / "trainer_state.json").read_text())
    want = {
        **json.loads((d / "training_args.json").read_text()),
        **json.loads((d / "config.json").read_text()),
    }
    for key in ("max_steps", "num_train_epochs", "train_batch_size", "logging_steps"):
        want.setdefault(key, state[key])
    want.setdefault("eval_steps", state["eval_steps"])
    want.setdefault("save_steps", state["save_steps"])
    assert runs[BERT].params == want


def test_every_point_equals_log_history(source: Path) -> None:
    runs, _ = read_runs(hf, source)
    state = json.loads((source / BERT / "trainer_state.json").read_text())
    want = [
        (k, e["step"], float(v))
        for e in state["log_history"]
        for k, v in e.items()
        if k != "step" and isinstance(v, int | float)
    ]
    assert [(p.key, p.step, p.value) for p in runs[BERT].points] == want


def test_finished_run_and_its_duration(source: Path) -> None:
    run = read_runs(hf, source)[0][BERT]
    assert run.status == "finished" and run.status_reason is None
    # dated by its TensorBoard folder, as long as train_runtime says
    assert run.created == 1767268800.0 + 10
    assert run.ended == run.created + 42.5
    # weights by reference; the JSON files are not artifacts
    assert [a.name for a in run.artifacts] == [
        "model.safetensors",
        "checkpoint-60/model.safetensors",
    ]
    assert run.artifacts[0].size == len(b"final weights\n")


def test_killed_run_stopped_early_with_tensorboard_tail(source: Path) -> None:
    run = read_runs(hf, source)[0][GPT]
    assert run.status == "crashed"
    assert run.status_reason == "stopped at step 50 of 100 steps (no final trainer_state.json)"
    state = json.loads((source / GPT / "checkpoint-40" / "trainer_state.json").read_text())
    from_state = [
        (k, e["step"], float(v))
        for e in state["log_history"]
        for k, v in e.items()
        if k != "step" and isinstance(v, int | float)
    ]
    got = [(p.key, p.step, p.value) for p in run.points]
    assert got[: len(from_state)] == from_state
    # what only TensorBoard got (steps 41-50), named as log_history names it
    tail = got[len(from_state) :]
    assert {s for _, s, _ in tail} == {50}
    assert {k for k, _, _ in tail} == {"epoch", "grad_norm", "learning_rate", "loss"}
    assert run.extra["state_file"] == "checkpoint-40/trainer_state.json"


def test_tensorboard_folder_is_not_a_second_run(source: Path, tmp_path: Path) -> None:
    report = import_path(tmp_path / "store", source)
    assert report.kinds == {"hf": 2}
    assert read_runs(tensorboard, source)[0] == {}
    # read as TensorBoard alone, the Trainer's folder is the output directory's run
    tb, _ = read_runs(tensorboard, source, defer=False)
    assert sorted(tb) == [BERT, GPT]


def test_running_while_written(source: Path) -> None:
    run = read_runs(hf, source, now=1767268800.0 + 100)[0][GPT]
    assert run.status == "running" and run.ended is None


def test_reading_writes_nothing(source: Path, tmp_path: Path) -> None:
    before = hashes(source)
    read_runs(hf, source)
    import_path(tmp_path / "store", source)
    assert hashes(source) == before
