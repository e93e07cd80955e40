"""A box's first read paints progressively, as a local one does: the remote
source passes the catalog's ``progress`` on to the reader of its mirror, so
each committed batch of runs is told (and is in the catalog when told).

The box is this machine: ``$TRACKUI_SSH`` names a stand-in for ssh that runs
the command it is given here, over plain pipes (no sshd needed; the loopback
sshd tests in this folder cover real ssh)."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from trackui.store.queries import Store
from trackui.store.sources import foreign
from trackui.store.sources.session import session_root

from ..conftest import FIXED_NOW, FIXTURES


@pytest.fixture
def fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``ssh [options] -- HOST COMMAND`` that runs COMMAND here."""
    script = tmp_path / "fake-ssh"
    script.write_text('#!/bin/sh\nfor last; do :; done\nexec /bin/sh -c "$last"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("TRACKUI_SSH", str(script))
    return script


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An MLflow file store of five runs."""
    src = tmp_path / "box1-mlruns"
    shutil.copytree(FIXTURES / "mlflow" / "file" / "mlruns", src)
    for path in sorted(src.rglob("*"), reverse=True):
        os.utime(path, (1_700_000_000, 1_700_000_000), follow_symlinks=False)
    return src


def test_a_boxs_first_read_is_told_batch_by_batch(
    fake_ssh: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(foreign, "BATCH_RUNS", (2,))
    root = session_root([f"box1:{folder}"])
    with Store(root, clock=lambda: FIXED_NOW, refresh=False, private=True) as store:
        told: list[tuple[int, int, int]] = []

        def progress(done: int, total: int) -> None:
            (count,) = store.catalog.query("SELECT count(*) FROM runs")[0]
            told.append((done, total, count))

        store.catalog.refresh(progress=progress)
        (source,) = store.catalog.sources
        assert source.status == "ok", source.error
        assert store.count_runs() == 5
        assert {r.box for r in store.list_runs()} == {"box1"}
        assert told == [(2, 5, 2), (4, 5, 4)]  # each batch is in the catalog when told
