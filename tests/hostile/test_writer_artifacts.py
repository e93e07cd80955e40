"""Artifact names are relative paths kept inside the run's ``artifacts/``:
absolute names, ``..``, NUL and control characters are refused with a
warning (never an exception into training), so no name writes outside the
run or makes a fake run."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import trackui
from trackui.store import paths
from trackui.store.queries import Store
from trackui.store.writer import TrackuiWarning


@pytest.fixture(autouse=True)
def _no_run_left_behind() -> Iterator[None]:
    yield
    run = trackui.run
    if run is not None and not run.finished:
        run.finish()


def tree(top: Path) -> set[str]:
    return {str(p.relative_to(top)) for p in top.rglob("*")}


BAD_NAMES = {
    "parent": "../escape.txt",
    "grandparent": "../../escape.txt",
    "inside-then-out": "sub/../../escape.txt",
    "dotdot": "..",
    "fake-run": "../../20990101-000000000-fake00/meta.json",
    "fake-run-deeper": "../../../p/20990101-000000000-fake00/meta.json",
    "nul": "we\x00ights.pt",
    "escape": "w\x1b]52;c;aGk=\x07.pt",
    "newline": "a\nb.pt",
    "c1": "a\x9bb.pt",
    "del": "a\x7fb.pt",
    "only-dots": "./.",
}


@pytest.mark.parametrize("name", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
def test_bad_names_are_refused_with_a_warning(tmp_path: Path, name: str) -> None:
    src = tmp_path / "src.pt"
    src.write_bytes(b"weights")
    root = tmp_path / "store"
    run = trackui.init(project="p", dir=root, console=False)
    before = tree(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert run.log_artifact(src, name=name) is None  # never raises
        run.log({"still": 1.0})  # training goes on
    assert any(issubclass(w.category, TrackuiWarning) for w in caught)
    assert [str(w.message) for w in caught if "not logged" in str(w.message)]
    after = tree(tmp_path) - before
    assert after <= {str((run.dir / paths.ARTIFACT_DIR).relative_to(tmp_path))}, after
    assert not (run.dir / paths.ARTIFACTS).exists()
    run.finish()
    with Store(root) as store:
        assert [r.id for r in store.list_runs()] == [run.id]  # no fake run


def test_an_absolute_name_writes_nothing_there(tmp_path: Path) -> None:
    src = tmp_path / "src.pt"
    src.write_bytes(b"weights")
    target = tmp_path / "elsewhere" / "abs.pt"
    target.parent.mkdir()
    with trackui.init(project="p", dir=tmp_path / "store", console=False) as run:
        with pytest.warns(TrackuiWarning, match="absolute"):
            assert run.log_artifact(src, name=str(target)) is None
    assert not target.exists()
    assert not (run.dir / paths.ARTIFACTS).exists()


def test_names_are_normalised_inside_artifacts(tmp_path: Path) -> None:
    src = tmp_path / "src.pt"
    src.write_bytes(b"weights")
    with trackui.init(project="p", dir=tmp_path / "store", console=False) as run:
        record = run.log_artifact(src, name="./weights//best/./last.pt")
    assert record is not None
    assert record["name"] == "weights/best/last.pt"
    assert record["path"] == "artifacts/weights/best/last.pt"
    assert (run.dir / "artifacts/weights/best/last.pt").read_bytes() == b"weights"
    lines = (run.dir / paths.ARTIFACTS).read_text().splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["weights/best/last.pt"]
    # no temp file is left beside it
    assert sorted(os.listdir(run.dir / "artifacts/weights/best")) == ["last.pt"]


def test_a_symlink_inside_artifacts_is_not_followed_out(tmp_path: Path) -> None:
    src = tmp_path / "src.pt"
    src.write_bytes(b"weights")
    outside = tmp_path / "outside"
    outside.mkdir()
    with trackui.init(project="p", dir=tmp_path / "store", console=False) as run:
        (run.dir / paths.ARTIFACT_DIR).mkdir()
        (run.dir / paths.ARTIFACT_DIR / "out").symlink_to(outside)
        with pytest.warns(TrackuiWarning, match="not logged"):
            assert run.log_artifact(src, name="out/x.pt") is None
    assert list(outside.iterdir()) == []


def test_artifacts_dir_itself_a_symlink_is_not_followed(tmp_path: Path) -> None:
    src = tmp_path / "src.pt"
    src.write_bytes(b"weights")
    outside = tmp_path / "outside"
    outside.mkdir()
    with trackui.init(project="p", dir=tmp_path / "store", console=False) as run:
        (run.dir / paths.ARTIFACT_DIR).symlink_to(outside)
        with pytest.warns(TrackuiWarning, match="not logged"):
            assert run.log_artifact(src, name="x.pt") is None
    assert list(outside.iterdir()) == []
