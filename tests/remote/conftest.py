"""Fixtures of the remote-source tests: a loopback sshd and a client config
naming it ``box1`` (see loopback.py); for the catalog's tests, ``ssh_env``
(``$TRACKUI_SSH`` naming it ``box1`` and ``box2``), a native store and an
Ultralytics folder to serve, and a run being written (``live``)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import trackui

from ..conftest import FIXTURES, copy_store
from .loopback import LoopbackSshd, Unavailable


def _server(workdir: Path, **kwargs: bool) -> LoopbackSshd:
    try:
        return LoopbackSshd(workdir, **kwargs)
    except Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[LoopbackSshd]:
    server = _server(tmp_path / "sshd")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def password_sshd(tmp_path: Path) -> Iterator[LoopbackSshd]:
    """An sshd that takes passwords only: BatchMode must refuse it at once."""
    server = _server(tmp_path / "sshd-password", password_only=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ssh_env(sshd: LoopbackSshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = sshd.client_config(tmp_path / "ssh_config", {"box1": {}, "box2": {}})
    ssh = shutil.which("ssh")
    assert ssh is not None
    monkeypatch.setenv("TRACKUI_SSH", f"{ssh} -F {config}")
    return config


@pytest.fixture
def native(tmp_path: Path) -> Path:
    return copy_store(tmp_path / "box1-runs")


@pytest.fixture
def foreign(tmp_path: Path) -> Path:
    dest = tmp_path / "box2-runs"
    shutil.copytree(FIXTURES / "ultralytics" / "runs", dest)
    old = time.time() - 86400  # copied files would look freshly written
    for path in dest.rglob("*"):
        os.utime(path, (old, old))
    return dest


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[trackui.Run]:
    """A run being written on box1, system sampling off (only metric lines)."""
    monkeypatch.setenv("TRACKUI_SYSTEM_INTERVAL", "0")
    run = trackui.init(
        project="live",
        name="writer",
        config={"lr": 0.1},
        dir=tmp_path / "box1-live",
        console=False,
    )
    for step in range(20):
        run.log({"loss": 1.0 / (step + 1)}, step=step)
    yield run
    run.finish()


def metrics_size(run: trackui.Run) -> int:
    return (Path(run.dir) / "metrics.jsonl").stat().st_size


def remote(store: Any, box: str) -> Any:
    """The RemoteSource of ``box`` in a Store's catalog."""
    return next(s for s in store.catalog.sources if s.box == box)


def by_box(store: Any) -> dict[str, list]:
    out: dict[str, list] = {}
    for run in store.list_runs():
        out.setdefault(run.box, []).append(run)
    return out
