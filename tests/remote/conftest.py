"""Fixtures of the remote-source tests: a loopback sshd and a client config
naming it ``box1`` (see loopback.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
