"""The live Ultralytics callback, through the real logging shim.

Most tests drive the callbacks with a stand-in trainer that fires events in
the order Ultralytics 8.4 fires them (``engine/trainer.py``), with the numbers
of a real run (``fixtures/ultralytics/runs/detect/exp_a``). The last test
trains a real YOLO for two epochs on CPU; it runs where ``ultralytics`` is
installed (``pip install -e '.[ultralytics]'``) and is skipped elsewhere.
"""

from __future__ import annotations

import csv
import json
import math
import random
import time
import warnings
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

import trackui
from trackui.integrations import ultralytics as integration
from trackui.integrations.ultralytics import add_trackui_callbacks
from trackui.store.importers import ultralytics as importer

FIXTURE_RUN = (
    Path(__file__).resolve().parents[2] / "fixtures" / "ultralytics" / "runs" / "detect" / "exp_a"
)


# -- a stand-in for Ultralytics ----------------------------------------------------


class FakeModel:
    def __init__(self) -> None:
        self.callbacks: dict[str, list[Any]] = defaultdict(list)

    def add_callback(self, event: str, fn: Any) -> None:
        self.callbacks[event].append(fn)

    def fire(self, event: str, trainer: Any) -> None:
        for fn in self.callbacks[event]:
            fn(trainer)


class FakeTrainer:
    """The attributes the callback reads, filled from a real results.csv."""

    def __init__(self, save_dir: Path, args: dict[str, Any], header: list[str]) -> None:
        self.args = SimpleNamespace(**{**args, "save_dir": str(save_dir)})
        self.save_dir = save_dir
        self.epochs = int(args["epochs"])
        self.loss_names = [h.split("/", 1)[1] for h in header if h.startswith("train/")]
        self.tloss: list[float] = []
        self.lr: dict[str, float] = {}
        self.metrics: dict[str, float] = {}
        self.wdir = save_dir / "weights"
        self.best = self.wdir / "best.pt"
        self.last = self.wdir / "last.pt"
        self.train_time_start = time.time()

    def label_loss_items(self, loss_items: Any = None, prefix: str = "train") -> dict[str, float]:
        keys = [f"{prefix}/{name}" for name in self.loss_names]
        return dict(zip(keys, (round(float(x), 5) for x in loss_items), strict=True))


def fixture_rows() -> tuple[list[str], list[dict[str, float]]]:
    with (FIXTURE_RUN / "results.csv").open(newline="") as handle:
        reader = csv.reader(handle)
        header = [h.strip() for h in next(reader)]
        rows = [dict(zip(header, map(float, fields), strict=True)) for fields in reader]
    return header, rows


def make_trainer(tmp_path: Path, **arg_changes: Any) -> tuple[FakeTrainer, list[dict[str, float]]]:
    args = yaml.safe_load((FIXTURE_RUN / "args.yaml").read_text())
    args.update(arg_changes)
    header, rows = fixture_rows()
    save_dir = tmp_path / "runs" / "detect" / str(args["name"])
    (save_dir / "weights").mkdir(parents=True)
    return FakeTrainer(save_dir, args, header), rows


def train(
    model: FakeModel,
    trainer: FakeTrainer,
    rows: list[dict[str, float]],
    *,
    error_in_epoch: int | None = None,
    error: BaseException | None = None,
) -> None:
    """Fire events as BaseTrainer.train/_do_train/final_eval do in Ultralytics 8.4."""
    try:
        model.fire("on_pretrain_routine_start", trainer)
        model.fire("on_pretrain_routine_end", trainer)
        model.fire("on_train_start", trainer)
        for epoch, row in enumerate(rows):
            trainer.epoch = epoch
            model.fire("on_train_epoch_start", trainer)
            if error_in_epoch == epoch + 1 and error is not None:
                raise error
            trainer.tloss = [row[f"train/{n}"] for n in trainer.loss_names]
            trainer.lr = {k: v for k, v in row.items() if k.startswith("lr/")}
            model.fire("on_train_epoch_end", trainer)
            trainer.metrics = {k: v for k, v in row.items() if k.startswith(("metrics/", "val/"))}
            trainer.last.write_bytes(b"last")
            trainer.best.write_bytes(b"best")
            model.fire("on_model_save", trainer)
            model.fire("on_fit_epoch_end", trainer)
        # final_eval(): best.pt validated again, reported one epoch past the last
        trainer.metrics = {
            k: v + 1.0 for k, v in trainer.metrics.items() if k.startswith("metrics/")
        }
        trainer.epoch += 1
        model.fire("on_fit_epoch_end", trainer)
        trainer.epoch -= 1
        (trainer.save_dir / "results.png").write_bytes(b"png")
        (trainer.save_dir / "labels.jpg").write_bytes(b"jpg")
        model.fire("on_train_end", trainer)
    finally:
        model.fire("teardown", trainer)


# -- reading what the shim wrote, independently ---------------------------------------


def only_run(store: Path) -> Path:
    runs = [meta.parent for meta in store.glob("*/*/meta.json")]
    assert len(runs) == 1, runs
    return runs[0]


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def logged_points(run_dir: Path) -> dict[tuple[str, int], float]:
    points: dict[tuple[str, int], float] = {}
    for row in jsonl(run_dir / "metrics.jsonl"):
        step = row["_step"]
        for key, value in row.items():
            if not key.startswith("_"):
                assert (key, step) not in points, f"{key} logged twice at step {step}"
                points[(key, step)] = value
    return points


def finish_event(run_dir: Path) -> dict[str, Any]:
    finishes = [e for e in jsonl(run_dir / "events.jsonl") if e["event"] == "finish"]
    assert len(finishes) == 1
    return finishes[0]


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "store"
    monkeypatch.setenv("TRACKUI_DIR", str(root))
    return root


# -- tests ---------------------------------------------------------------------------------


def test_a_finished_run_lines_up_with_the_imported_one(tmp_path: Path, store: Path) -> None:
    model = FakeModel()
    trainer, rows = make_trainer(tmp_path)
    callbacks = add_trackui_callbacks(model, console=False)
    train(model, trainer, rows)

    run_dir = only_run(store)
    meta = json.loads((run_dir / "meta.json").read_text())
    assert (meta["project"], meta["name"]) == ("detect", "exp_a")
    assert finish_event(run_dir)["status"] == "finished"
    assert callbacks.errors == 0

    config = json.loads((run_dir / "config.json").read_text())
    assert config == json.loads(json.dumps(vars(trainer.args), default=str))
    assert config["lr0"] == 0.01 and config["optimizer"] == "SGD"

    # Same keys at the same steps as the importer reads from the run's results.csv;
    # same values except `time`, which the live run measures itself.
    imported = {
        (p.key, p.step): p.value
        for run in importer.read(FIXTURE_RUN.parent, [])
        if run.name == "exp_a"
        for p in run.points
    }
    live = logged_points(run_dir)
    assert set(live) == set(imported)
    for (key, step), value in imported.items():
        if key != "time":
            assert live[(key, step)] == pytest.approx(value, rel=1e-6), (key, step)
    assert "metrics/mAP50-95(B)" in {key for key, _ in live}  # not MLflow's "mAP50-95B"
    assert max(step for _, step in live) == 5

    # The final validation of best.pt is not a sixth epoch: it goes to the summary.
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary == {
        f"best/{key}": rows[-1][key] + 1.0 for key in rows[-1] if key.startswith("metrics/")
    }

    artifacts = {a["name"]: a for a in jsonl(run_dir / "artifacts.jsonl")}
    assert set(artifacts) == {"weights/best.pt", "weights/last.pt", "results.png", "labels.jpg"}
    assert all(a["copied"] is False for a in artifacts.values())
    assert artifacts["weights/best.pt"]["path"] == str(trainer.best.resolve())


def test_time_is_seconds_since_training_started(tmp_path: Path, store: Path) -> None:
    model = FakeModel()
    trainer, rows = make_trainer(tmp_path)
    trainer.train_time_start = time.time() - 3600
    add_trackui_callbacks(model, console=False)
    train(model, trainer, rows)

    times = [v for (k, _), v in sorted(logged_points(only_run(store)).items()) if k == "time"]
    assert len(times) == 5
    assert all(3600 <= t < 3600 + 600 for t in times)


def test_project_name_config_and_init_options_can_be_given(tmp_path: Path, store: Path) -> None:
    model = FakeModel()
    trainer, rows = make_trainer(tmp_path)
    add_trackui_callbacks(
        model, project="yolo", name="lr-sweep-1", config={"sweep": 1}, tags=["a"], console=False
    )
    train(model, trainer, rows)

    run_dir = only_run(store)
    meta = json.loads((run_dir / "meta.json").read_text())
    assert (meta["project"], meta["name"], meta["tags"]) == ("yolo", "lr-sweep-1", ["a"])
    config = json.loads((run_dir / "config.json").read_text())
    assert config["sweep"] == 1 and config["epochs"] == 5


@pytest.mark.parametrize(
    ("project_arg", "name_arg", "expected"),
    [
        ("runs/detect", "exp_a-2", ("detect", "exp_a-2")),  # relative project, repeated name
        (None, "train3", ("detect", "train3")),  # default project: save_dir's parent
        ("/data/yolo/my-proj", None, ("my-proj", "exp_a")),  # no name: save_dir's name
    ],
)
def test_project_and_name_follow_the_importer_rule(
    tmp_path: Path, store: Path, project_arg: Any, name_arg: Any, expected: tuple[str, str]
) -> None:
    model = FakeModel()
    trainer, rows = make_trainer(tmp_path)
    trainer.args.project = project_arg
    trainer.args.name = name_arg
    add_trackui_callbacks(model, console=False)
    train(model, trainer, rows[:1])

    meta = json.loads((only_run(store) / "meta.json").read_text())
    assert (meta["project"], meta["name"]) == expected


def test_an_exception_in_training_finishes_the_run_as_failed(tmp_path: Path, store: Path) -> None:
    model = FakeModel()
    trainer, rows = make_trainer(tmp_path)
    add_trackui_callbacks(model, console=False)
    with pytest.raises(RuntimeError, match="CUDA out of memory"):
        train(model, trainer, rows, error_in_epoch=3, error=RuntimeError("CUDA out of memory"))

    run_dir = only_run(store)
    event = finish_event(run_dir)
    assert event["status"] == "failed"
    assert event["exception"]["type"] == "RuntimeError"
    assert sorted({step for _, step in logged_points(run_dir)}) == [1, 2]
    assert not (run_dir / "artifacts.jsonl").exists()


def test_ctrl_c_finishes_the_run_as_killed(tmp_path: Path, store: Path) -> None:
    model = FakeModel()
    trainer, rows = make_trainer(tmp_path)
    add_trackui_callbacks(model, console=False)
    with pytest.raises(KeyboardInterrupt):
        train(model, trainer, rows, error_in_epoch=2, error=KeyboardInterrupt())

    event = finish_event(only_run(store))
    assert event["status"] == "killed"
    assert event["signal"] == "SIGINT"


def test_a_broken_trainer_never_stops_training_and_warns_once(tmp_path: Path, store: Path) -> None:
    model = FakeModel()
    trainer, rows = make_trainer(tmp_path)

    def broken(*args: Any, **kwargs: Any) -> dict[str, float]:
        raise ValueError("no loss today")

    trainer.label_loss_items = broken  # type: ignore[method-assign]
    callbacks = add_trackui_callbacks(model, console=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(model, trainer, rows)

    ours = [w for w in caught if issubclass(w.category, trackui.TrackuiWarning)]
    assert len(ours) == 1
    assert "no loss today" in str(ours[0].message)
    assert callbacks.errors == 5  # one per epoch
    run_dir = only_run(store)
    assert finish_event(run_dir)["status"] == "finished"
    # the epochs' validation metrics still made it
    assert sorted({s for k, s in logged_points(run_dir) if k.startswith("metrics/")}) == [
        1,
        2,
        3,
        4,
        5,
    ]


def test_when_init_fails_training_goes_on_untracked(
    tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_init(**kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(trackui, "init", failing_init)
    model = FakeModel()
    trainer, rows = make_trainer(tmp_path)
    callbacks = add_trackui_callbacks(model)
    with pytest.warns(trackui.TrackuiWarning, match="No space left"):
        train(model, trainer, rows)

    assert callbacks.run is None
    assert callbacks.errors == 1
    assert not store.exists()


def test_warnings_as_errors_do_not_reach_training(
    tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trackui, "init", lambda **kwargs: 1 / 0)
    model = FakeModel()
    trainer, rows = make_trainer(tmp_path)
    add_trackui_callbacks(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train(model, trainer, rows)  # must not raise


def test_two_trainings_of_one_model_make_two_runs(tmp_path: Path, store: Path) -> None:
    model = FakeModel()
    trainer, rows = make_trainer(tmp_path)
    callbacks = add_trackui_callbacks(model, console=False)
    train(model, trainer, rows[:2])
    first = callbacks.run
    train(model, trainer, rows[:3])

    assert callbacks.run is not first
    runs = sorted(store.glob("*/*/meta.json"))
    assert len(runs) == 2
    steps = sorted(max(step for _, step in logged_points(meta.parent)) for meta in runs)
    assert steps == [2, 3]
    assert [finish_event(meta.parent)["status"] for meta in runs] == ["finished", "finished"]


def test_numbers_skips_what_is_not_a_scalar() -> None:
    class Scalar:
        def __float__(self) -> float:
            return 2.5

    got = integration._numbers({"a": 1, "b": Scalar(), "c": [1, 2], "d": "x", "e": math.nan})
    assert set(got) == {"a", "b", "e"}
    assert got["a"] == 1.0 and got["b"] == 2.5 and math.isnan(got["e"])


# -- real Ultralytics ----------------------------------------------------------------------------


def make_dataset(root: Path) -> Path:
    """Eight 32x32 images, each with one box, and a data yaml."""
    from PIL import Image

    rng = random.Random(0)
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in range(4):
            image = Image.new("RGB", (32, 32), tuple(rng.randrange(256) for _ in range(3)))
            x, y = rng.randrange(2, 14), rng.randrange(2, 14)
            image.paste((255, 0, 0), (x, y, x + 14, y + 14))
            image.save(root / "images" / split / f"{i}.png")
            (root / "labels" / split / f"{i}.txt").write_text(
                f"0 {(x + 7) / 32:.6f} {(y + 7) / 32:.6f} {14 / 32:.6f} {14 / 32:.6f}\n"
            )
    data = root / "data.yaml"
    data.write_text(
        yaml.safe_dump(
            {"path": str(root), "train": "images/train", "val": "images/val", "names": {0: "box"}}
        )
    )
    return data


def test_real_ultralytics_training_is_tracked(
    tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before the import: Ultralytics reads these once, when it is first imported.
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "yolo-config"))
    ultralytics = pytest.importorskip(
        "ultralytics",
        reason="ultralytics is not installed: runs where the 'ultralytics' extra is "
        "(pip install -e '.[ultralytics]'), on CPU, about 10 s",
    )
    data = make_dataset(tmp_path / "data")
    model = ultralytics.YOLO("yolov8n.yaml")  # built from its yaml: no weights download
    callbacks = add_trackui_callbacks(model, console=False)
    model.train(
        data=str(data),
        epochs=2,
        imgsz=32,
        batch=4,
        device="cpu",
        workers=0,
        pretrained=False,
        amp=False,  # the AMP check would download weights
        plots=False,  # plots would download a font
        project=str(tmp_path / "runs" / "detect"),
        name="tiny",
        verbose=False,
    )

    assert callbacks.errors == 0
    run_dir = only_run(store)
    meta = json.loads((run_dir / "meta.json").read_text())
    assert (meta["project"], meta["name"]) == ("detect", "tiny")
    assert finish_event(run_dir)["status"] == "finished"
    config = json.loads((run_dir / "config.json").read_text())
    assert config["epochs"] == 2 and config["imgsz"] == 32 and config["model"] == "yolov8n.yaml"

    live = logged_points(run_dir)
    save_dir = tmp_path / "runs" / "detect" / "tiny"
    imported = [run for run in importer.read(save_dir.parent, []) if run.name == "tiny"]
    assert len(imported) == 1 and imported[0].status == "finished"
    expected = {(p.key, p.step): p.value for p in imported[0].points}
    assert set(live) == set(expected)
    assert {step for _, step in live} == {1, 2}
    for key_step, value in expected.items():
        if key_step[0] != "time":  # results.csv writes %.6g
            assert live[key_step] == pytest.approx(value, rel=1e-5, abs=1e-12), key_step
    artifacts = {a["name"] for a in jsonl(run_dir / "artifacts.jsonl")}
    assert {"weights/best.pt", "weights/last.pt"} <= artifacts
