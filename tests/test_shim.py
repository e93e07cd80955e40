"""The logging shim as a training script uses it: what ``init`` records, what
``log`` accepts and refuses, the wandb-style module API, console capture,
artifacts, and how it behaves when the disk or the directory goes away."""

from __future__ import annotations

import argparse
import errno
import getpass
import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import trackui
from trackui.store import paths
from trackui.store.queries import Store
from trackui.store.writer import Run, TrackuiWarning, strip_credentials


@pytest.fixture(autouse=True)
def _no_run_left_behind() -> Iterator[None]:
    """A failing test must not leave stdout teed or a signal handler installed."""
    yield
    run = trackui.run
    if run is not None and not run.finished:
        run.finish()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


def metric_lines(run: Run) -> list[dict[str, Any]]:
    text = (run.dir / paths.METRICS).read_text()
    return [json.loads(line) for line in text.splitlines()]


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


# -- what init records ---------------------------------------------------------


@pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")
def test_init_records_where_and_what_ran(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "exp/lr-sweep")
    (repo / "train.py").write_text("lr = 0.1\n")
    git(repo, "add", "train.py")
    git(repo, "commit", "-q", "-m", "first")
    git(repo, "remote", "add", "origin", "https://user:secret@example.com/x.git")
    (repo / "train.py").write_text("lr = 0.01\n")  # dirty: a tracked file changed
    monkeypatch.chdir(repo)

    run = trackui.init(project="detect", name="yolo", dir=root, console=False)
    run.finish()

    meta = json.loads((run.dir / paths.META).read_text())
    assert meta["format"] == 1
    assert (meta["project"], meta["name"], meta["id"]) == ("detect", "yolo", run.id)
    assert meta["host"] == socket.gethostname()
    assert meta["user"] == getpass.getuser()
    assert meta["pid"] == os.getpid()
    assert meta["argv"] == sys.argv
    assert meta["cwd"] == str(repo)
    assert meta["python"] == platform.python_version()
    assert meta["git"] == {
        "commit": git(repo, "rev-parse", "HEAD"),
        "branch": "exp/lr-sweep",
        "dirty": True,
        "remote": "https://example.com/x.git",
    }
    assert "secret" not in (run.dir / paths.META).read_text()
    diff = (run.dir / paths.CODE_DIFF).read_text()
    assert "-lr = 0.1" in diff and "+lr = 0.01" in diff
    assert run.dir == root / "detect" / run.id


@pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")
def test_clean_tree_has_no_diff_and_no_repo_has_no_git(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "a.txt")
    git(repo, "commit", "-q", "-m", "first")
    monkeypatch.chdir(repo)
    with trackui.init(project="p", dir=root, console=False) as clean:
        pass
    meta = json.loads((clean.dir / paths.META).read_text())
    assert meta["git"]["dirty"] is False and meta["git"]["remote"] is None
    assert not (clean.dir / paths.CODE_DIFF).exists()

    elsewhere = tmp_path / "not-a-repo"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    with trackui.init(project="p", dir=root, console=False) as plain:
        pass
    assert json.loads((plain.dir / paths.META).read_text())["git"] is None


def test_strip_credentials() -> None:
    assert strip_credentials("https://user:tok@example.com/x.git") == "https://example.com/x.git"
    assert strip_credentials("https://tok@example.com:8443/x") == "https://example.com:8443/x"
    assert strip_credentials("git@example.com:x/y.git") == "git@example.com:x/y.git"
    assert strip_credentials("https://example.com/x.git") == "https://example.com/x.git"


def test_config_nested_namespace_and_updates(root: Path) -> None:
    args = argparse.Namespace(lr0=0.01, batch=16, optimizer="SGD")
    run = trackui.init(project="p", dir=root, config=args, console=False)
    assert json.loads((run.dir / paths.CONFIG).read_text()) == {
        "lr0": 0.01,
        "batch": 16,
        "optimizer": "SGD",
    }
    run.config.update({"sched": {"name": "cos", "warmup": 3}})
    run.config["batch"] = 32
    run.config.epochs = 100
    run.config.update(argparse.Namespace(seed=7))
    run.summary["best/mAP"] = 0.61
    run.summary.update({"note": "tuned"})
    assert json.loads((run.dir / paths.CONFIG).read_text()) == {
        "lr0": 0.01,
        "batch": 32,
        "optimizer": "SGD",
        "sched": {"name": "cos", "warmup": 3},
        "epochs": 100,
        "seed": 7,
    }
    assert json.loads((run.dir / paths.SUMMARY).read_text()) == {
        "best/mAP": 0.61,
        "note": "tuned",
    }
    run.finish()
    detail = Store(root).get_run(run.id)
    assert dict(detail.params) == {
        "lr0": 0.01,
        "batch": 32,
        "optimizer": "SGD",
        "sched.name": "cos",
        "sched.warmup": 3,
        "epochs": 100,
        "seed": 7,
    }
    assert detail.summary == {"best/mAP": 0.61, "note": "tuned"}


# -- what log accepts --------------------------------------------------------


class FakeScalar:
    """Quacks like a numpy or torch scalar: a number through ``.item()``."""

    def __init__(self, value: Any):
        self.value = value

    def item(self) -> Any:
        return self.value


class FakeTensor:
    """Quacks like a torch tensor with two elements: ``.item()`` refuses."""

    def item(self) -> float:
        raise RuntimeError("a Tensor with 2 elements cannot be converted to Scalar")


@pytest.mark.parametrize(
    "bad",
    ["0.5", None, [1.0, 2.0], FakeTensor(), FakeScalar("x"), {"inner": "text"}, object()],
    ids=["str", "None", "list", "tensor-2", "item-str", "nested-str", "object"],
)
def test_log_rejects_non_numbers_naming_the_key(root: Path, bad: Any) -> None:
    run = trackui.init(project="p", dir=root, console=False)
    run.log({"ok": 1.0})
    with pytest.raises(TypeError, match="train/loss"):
        run.log({"ok": 2.0, "train/loss": bad})
    run.log({"ok": 3.0})
    run.finish()
    lines = metric_lines(run)
    assert [row["ok"] for row in lines] == [1.0, 3.0]  # the refused call wrote nothing
    assert [row["_step"] for row in lines] == [0, 1]  # nor used up a step


@pytest.mark.parametrize("key", [3, "", "_private"])
def test_log_rejects_bad_keys(root: Path, key: Any) -> None:
    with trackui.init(project="p", dir=root, console=False) as run:
        with pytest.raises(TypeError):
            run.log({key: 1.0})


def test_log_takes_ints_floats_bools_and_item_scalars(root: Path) -> None:
    with trackui.init(project="p", dir=root, console=False) as run:
        run.log(
            {
                "f": 0.25,
                "i": 3,
                "b": True,
                "s": FakeScalar(1.5),
                "si": FakeScalar(7),
                "nested": {"a": 1, "b": FakeScalar(2.0)},
            }
        )
    (row,) = metric_lines(run)
    assert {k: v for k, v in row.items() if not k.startswith("_")} == {
        "f": 0.25,
        "i": 3.0,
        "b": 1.0,
        "s": 1.5,
        "si": 7.0,
        "nested/a": 1.0,
        "nested/b": 2.0,
    }


def test_log_takes_numpy_scalars(root: Path) -> None:
    np = pytest.importorskip("numpy", reason="numpy is optional; the shim never imports it")
    with trackui.init(project="p", dir=root, console=False) as run:
        run.log(
            {
                "f32": np.float32(0.5),
                "f64": np.float64(0.25),
                "i64": np.int64(3),
                "b": np.bool_(True),
                "zero_d": np.array(2.0),
            }
        )
        with pytest.raises(TypeError, match="vec"):
            run.log({"vec": np.array([1.0, 2.0])})
    (row,) = metric_lines(run)
    assert (row["f32"], row["f64"], row["i64"], row["b"], row["zero_d"]) == (
        0.5,
        0.25,
        3.0,
        1.0,
        2.0,
    )


def test_steps_auto_increment_and_may_repeat_or_jump(root: Path) -> None:
    with trackui.init(project="p", dir=root, console=False) as run:
        run.log({"a": 1})
        run.log({"a": 2})
        run.log({"a": 3}, step=10)
        run.log({"b": 4}, step=10)
        run.log({"a": 5})
        run.log({"a": 6}, step=2)
        run.log({"a": 7})
        run.log({"a": 8}, step=FakeScalar(40))
    assert [row["_step"] for row in metric_lines(run)] == [0, 1, 10, 10, 11, 2, 3, 40]
    assert all(isinstance(row["_t"], float) for row in metric_lines(run))
    other = Run(project="p", dir=root, console=False, handle_signals=False)
    try:
        with pytest.raises(TypeError):
            other.log({"a": 1}, step="3")
    finally:
        other.finish()


def test_import_trackui_as_wandb(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKUI_DIR", str(root))
    import trackui as wandb

    run = wandb.init(project="p", name="w", entity="team", mode="offline", console=False)
    assert wandb.run is run
    wandb.config.update({"lr": 0.1})
    wandb.config["batch"] = 8
    wandb.log({"loss": 1.0})
    wandb.log({"loss": 0.5})
    wandb.summary["best_loss"] = 0.5
    wandb.finish()
    assert wandb.run is None and run.finished
    assert run.dir.parent.parent == root
    assert json.loads((run.dir / paths.CONFIG).read_text()) == {"lr": 0.1, "batch": 8}
    assert json.loads((run.dir / paths.SUMMARY).read_text()) == {"best_loss": 0.5}
    assert [(r["_step"], r["loss"]) for r in metric_lines(run)] == [(0, 1.0), (1, 0.5)]
    with pytest.raises(RuntimeError, match="init"):
        wandb.log({"loss": 0.1})


def test_second_init_finishes_the_first(root: Path) -> None:
    first = trackui.init(project="p", dir=root, console=False)
    second = trackui.init(project="p", dir=root, console=False)
    assert first.finished and not second.finished and trackui.run is second
    second.finish()


# -- console -----------------------------------------------------------------


def test_console_is_captured(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with trackui.init(project="p", dir=root) as run:
        print("epoch 1/3 loss=0.5")
        print("warning: lr too high", file=sys.stderr)
    print("after finish")
    text = (run.dir / paths.CONSOLE).read_text()
    assert "epoch 1/3 loss=0.5\n" in text
    assert "warning: lr too high\n" in text
    assert "after finish" not in text
    out, err = capsys.readouterr()  # the tee still writes to the real streams
    assert "epoch 1/3" in out and "lr too high" in err


def test_console_off(root: Path) -> None:
    with trackui.init(project="p", dir=root, console=False) as run:
        print("not captured")
    assert not (run.dir / paths.CONSOLE).exists()


# -- artifacts ---------------------------------------------------------------


def test_log_artifact_copies_with_size_and_sha256(tmp_path: Path, root: Path) -> None:
    weights = tmp_path / "best.pt"
    data = b"\x00weights" * 1000
    weights.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    with trackui.init(project="p", dir=root, console=False) as run:
        copied = run.log_artifact(weights, name="weights/best.pt")
        ref = run.log_artifact(weights, name="ref.pt", copy=False)
    assert copied is not None and ref is not None
    assert (run.dir / "artifacts" / "weights" / "best.pt").read_bytes() == data
    assert copied["size"] == len(data) and copied["sha256"] == digest and copied["copied"]
    assert not (run.dir / "artifacts" / "ref.pt").exists()
    assert ref["path"] == str(weights.resolve()) and not ref["copied"]
    assert ref["sha256"] == digest and ref["size"] == len(data)
    lines = (run.dir / paths.ARTIFACTS).read_text().splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["weights/best.pt", "ref.pt"]
    arts = Store(root).get_run(run.id).artifacts
    assert [(a.name, a.size, a.sha256, a.copied) for a in arts] == [
        ("weights/best.pt", len(data), digest, True),
        ("ref.pt", len(data), digest, False),
    ]


def test_missing_artifact_warns_instead_of_raising(tmp_path: Path, root: Path) -> None:
    with trackui.init(project="p", dir=root, console=False) as run:
        with pytest.warns(TrackuiWarning, match="not logged"):
            assert run.log_artifact(tmp_path / "nope.pt") is None


# -- failures after init -------------------------------------------------------


def test_disk_full_warns_once_counts_and_goes_on(root: Path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full to fake a full disk; runs on Linux, where it always exists")
    run = trackui.init(project="p", dir=root, console=False)
    run.log({"a": 1.0, "b": 2.0})
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, run._fd)  # every later write to metrics.jsonl fails with ENOSPC
    os.close(full)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(10):
            run.log({"a": float(i), "b": 0.0, "c": 1})
    ours = [w for w in caught if issubclass(w.category, TrackuiWarning)]
    assert len(ours) == 1
    assert os.strerror(errno.ENOSPC) in str(ours[0].message)
    assert run.dropped == 30
    assert run.step == 11  # training's own step count goes on
    run.finish()
    finish = json.loads((run.dir / paths.EVENTS).read_text().splitlines()[-1])
    assert finish["event"] == "finish" and finish["dropped"] == 30


def test_run_directory_removed_while_running(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKUI_HEARTBEAT_INTERVAL", "0.05")
    run = trackui.init(project="p", dir=root, console=False)
    run.log({"a": 1.0})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shutil.rmtree(run.dir)
        deadline = time.monotonic() + 90
        while not caught and time.monotonic() < deadline:
            run.log({"a": 2.0})  # never raises, whether or not the loss is noticed yet
            time.sleep(0.01)
        assert caught, "no warning after the run directory was removed"
        assert issubclass(caught[0].category, TrackuiWarning)
        before = run.dropped
        run.log({"a": 3.0, "b": 4.0})
        assert run.dropped == before + 2
        run.config["lr"] = 0.1  # neither do config updates
        run.summary["x"] = 1
        run.finish()  # nor the end of the run
    assert len([w for w in caught if "points are being dropped" in str(w.message)]) == 1


# -- what importing costs ------------------------------------------------------


def loaded_after_import(module: str, cwd: Path) -> set[str]:
    """Top-level packages in ``sys.modules`` after importing ``module`` in a fresh interpreter."""
    code = (
        f"import sys, {module}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=cwd
    )
    return set(out.stdout.split())


def test_import_trackui_loads_no_ui_and_no_duckdb(tmp_path: Path) -> None:
    loaded = loaded_after_import("trackui", tmp_path)
    assert "trackui" in loaded
    assert not loaded & {"textual", "rich", "plotext", "duckdb"}


@pytest.mark.parametrize("module", ["trackui.store", "trackui.store.queries"])
def test_import_store_loads_no_ui(tmp_path: Path, module: str) -> None:
    loaded = loaded_after_import(module, tmp_path)
    assert not loaded & {"textual", "rich", "plotext"}
    if module.endswith("queries"):
        assert "duckdb" in loaded  # the check does see what an import pulls in
