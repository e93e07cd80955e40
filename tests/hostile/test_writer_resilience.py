"""Faults under a running writer: the heartbeat file removed, the run
directory or its metrics file deleted, a failed console write, config and
summary values JSON cannot hold. Tracking never stops for good because of
one bad moment, loses nothing uncounted, and ``finish()`` always records the
end of the run."""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import trackui
from trackui.store import paths
from trackui.store.queries import Store
from trackui.store.writer import Run, TrackuiWarning


@pytest.fixture(autouse=True)
def _no_run_left_behind() -> Iterator[None]:
    yield
    run = trackui.run
    if run is not None and not run.finished:
        run.finish()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


def metric_rows(run: Run) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run.dir / paths.METRICS).read_text().splitlines()]


def events(run: Run) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run.dir / paths.EVENTS).read_text().splitlines()]


def fd_of(path: Path) -> int:
    """The descriptor this process holds open on ``path`` (found in /proc, so
    the test does not depend on how the writer names it)."""
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}") == str(path):
                return int(name)
        except OSError:
            continue
    raise AssertionError(f"no descriptor open on {path}")


def wait_for(condition: Any, seconds: float = 90.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


# -- the heartbeat file (item 7) ------------------------------------------------


def test_heartbeat_removed_once_drops_nothing_and_comes_back(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKUI_HEARTBEAT_INTERVAL", "0.05")
    run = trackui.init(project="p", dir=root, console=False)
    for i in range(100):
        run.log({"a": float(i)})
    (run.dir / paths.HEARTBEAT).unlink()
    assert wait_for((run.dir / paths.HEARTBEAT).exists), "the heartbeat was not made again"
    time.sleep(0.2)  # a few more beats
    for i in range(1000):
        run.log({"a": float(i)})
    assert run.dropped == 0
    run.finish()
    assert len(metric_rows(run)) == 1100
    assert "dropped" not in events(run)[-1]


# -- the run directory or its files deleted (item 11) ---------------------------


def test_run_directory_deleted_points_are_counted_at_once(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKUI_HEARTBEAT_INTERVAL", "60")  # no heartbeat will notice
    run = trackui.init(project="p", dir=root, console=False)
    run.log({"a": 1.0})
    assert run.dropped == 0
    shutil.rmtree(run.dir)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.log({"a": 2.0, "b": 3.0})
        assert run.dropped == 2  # not only at the next heartbeat
        for _ in range(5):
            run.log({"a": 4.0})
        assert run.dropped == 7
        run.config["lr"] = 0.1
        run.summary["x"] = 1.0
        run.finish()
    assert not run.dir.exists()  # nothing made again in a deleted run
    assert len([w for w in caught if issubclass(w.category, TrackuiWarning)]) == 1


def test_metrics_file_deleted_is_made_again_and_the_loss_recorded(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKUI_HEARTBEAT_INTERVAL", "60")
    run = trackui.init(project="p", dir=root, console=False)
    run.log({"a": 1.0, "b": 1.0})
    assert run.dropped == 0
    (run.dir / paths.METRICS).unlink()
    with pytest.warns(TrackuiWarning, match="metrics.jsonl"):
        run.log({"a": 2.0, "b": 2.0, "c": 2.0})
        assert run.dropped == 3
    for i in range(10):
        run.log({"a": float(i)})
    run.finish()
    assert [row["a"] for row in metric_rows(run)] == [float(i) for i in range(10)]
    assert events(run)[-1]["dropped"] == 3
    with Store(root) as store:  # where the catalog reads `dropped`
        assert store.get_run(run.id).dropped == 3


# -- failed writes are tried again (item 11) ------------------------------------


def test_console_capture_survives_a_failed_write(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full to fake a full disk; runs on Linux, where it always exists")
    run = trackui.init(project="p", dir=root, console=True)
    print("before")
    console = fd_of(run.dir / paths.CONSOLE)
    metrics = fd_of(run.dir / paths.METRICS)
    saved = {fd: os.dup(fd) for fd in (console, metrics)}
    full = os.open("/dev/full", os.O_WRONLY)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for fd in saved:
            os.dup2(full, fd)
        print("lost")  # "lost" and "\n": 5 bytes
        run.log({"a": 1.0, "b": 2.0})
        for fd, copy in saved.items():  # the disk has room again
            os.dup2(copy, fd)
            os.close(copy)
        os.close(full)
        print("after")
        run.log({"a": 3.0})
    assert run.console_dropped == 5
    assert run.dropped == 2
    run.finish()
    assert (run.dir / paths.CONSOLE).read_text() == "before\nafter\n"
    assert [row["a"] for row in metric_rows(run)] == [3.0]
    finish = events(run)[-1]
    assert (finish["dropped"], finish["console_dropped"]) == (2, 5)
    messages = [str(w.message) for w in caught if issubclass(w.category, TrackuiWarning)]
    assert any(os.strerror(errno.ENOSPC) in m and "console.log" in m for m in messages)
    assert "before\nlost\nafter\n" in capsys.readouterr().out  # the terminal saw it all


# -- config and summary values JSON cannot hold (item 8) -------------------------


def circular() -> dict[str, Any]:
    loop: dict[str, Any] = {"x": 1}
    loop["self"] = loop
    return loop


def deep(levels: int) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for _ in range(levels):
        doc = {"d": doc}
    return doc


class Opaque:
    pass


BAD_VALUES = {
    "tuple-key": ({(1, 2): 3}, TypeError),
    "nested-tuple-key": ({"inner": {("a", "b"): 1}}, TypeError),
    "circular": (circular(), ValueError),
    "circular-list": ((lambda lst: (lst.append(lst), lst)[1])([]), ValueError),
    "object": (Opaque(), TypeError),
    "bytes": (b"raw", TypeError),
    "deep": (deep(5000), ValueError),
}


@pytest.mark.parametrize("kind", ["config", "summary"])
@pytest.mark.parametrize(("bad", "error"), list(BAD_VALUES.values()), ids=list(BAD_VALUES))
def test_unencodable_values_are_refused_at_the_call(
    root: Path, kind: str, bad: Any, error: type[Exception]
) -> None:
    run = trackui.init(project="p", dir=root, config={"lr": 0.1}, console=False)
    doc = getattr(run, kind)
    doc["good"] = 1
    with pytest.raises(error, match="poison"):
        doc["poison"] = bad
    with pytest.raises(error, match="poison"):
        doc.update({"other": 2, "poison": bad})
    assert "poison" not in doc and "other" not in doc  # never stored, not even in part
    doc["later"] = 2  # later writes keep working
    run.log({"loss": 1.0})
    run.finish()
    assert events(run)[-1]["event"] == "finish"
    stored = json.loads((run.dir / f"{kind}.json").read_text())
    assert {k: stored[k] for k in ("good", "later")} == {"good": 1, "later": 2}
    assert "poison" not in stored


def test_unencodable_config_at_init_names_the_key_and_makes_no_run(root: Path) -> None:
    with pytest.raises(TypeError, match="opt"):
        trackui.init(project="p", dir=root, config={"opt": {(0.9, 0.99): "betas"}}, console=False)
    assert not root.exists() or not any(p.name == paths.META for p in root.rglob("*"))


def test_paths_and_numpy_like_values_are_kept_as_json(root: Path) -> None:
    class Scalar:  # quacks like numpy.float32
        def item(self) -> float:
            return 0.5

    class Array:  # quacks like numpy.ndarray
        def tolist(self) -> list[int]:
            return [1, 2]

    with trackui.init(project="p", dir=root, console=False) as run:
        run.config.update(data=Path("/data/coco.yaml"), lr=Scalar(), shape=Array(), pair=(1, 2))
    assert json.loads((run.dir / paths.CONFIG).read_text()) == {
        "data": "/data/coco.yaml",
        "lr": 0.5,
        "shape": [1, 2],
        "pair": [1, 2],
    }


def test_finish_is_recorded_when_the_summary_cannot_be_written(root: Path) -> None:
    run = trackui.init(project="p", dir=root, console=False)
    run.summary["best"] = 0.5
    (run.dir / paths.SUMMARY).unlink()
    (run.dir / paths.SUMMARY).mkdir()  # replacing it now fails with an OSError
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        run.summary["last"] = 0.7  # never raises
        run.finish()
    finish = events(run)[-1]
    assert (finish["event"], finish["status"]) == ("finish", "finished")
