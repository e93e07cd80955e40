"""Remote boxes that go away, come back, or never answer, seen from the
catalog (loopback sshd, as test_remote_sources.py). Where sshd is missing
these tests skip; CI installs openssh-server."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

import trackui
from trackui.store.queries import Store
from trackui.store.sources.session import session_root

from .conftest import metrics_size, remote
from .loopback import LoopbackSshd

pytestmark = pytest.mark.e2e


class FakeClock:
    """The reconnect backoff's clock, moved by the test instead of slept on."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_box_goes_away_and_comes_back(
    sshd: LoopbackSshd, ssh_env: Path, live: trackui.Run, foreign: Path, tmp_path: Path
) -> None:
    box_root = tmp_path / "box1-live"
    root = session_root([f"box1:{box_root}", f"box2:{foreign}"])
    later = [0.0]  # how far the catalog's clock is ahead of real time
    with Store(root, clock=lambda: time.time() + later[0]) as store:
        clock = FakeClock()
        for source in store.catalog.sources:
            source.remote.connection.clock = clock
        (run,) = store.list_runs(where="box:box1")
        held = metrics_size(live)
        sshd.kill_all()  # the box is gone, sessions and helpers with it
        for step in range(20, 70):
            live.log({"loss": 1.0 / (step + 1)}, step=step)
        store.refresh(full=False)  # returns: the test would hang otherwise
        states = {s.box: s for s in store.sources()}
        for state in states.values():
            assert state.state == "unreachable"
            assert state.since is not None and state.since <= time.time()
            assert state.error and "\n" not in state.error
        assert len(store.list_runs()) == 7  # still listed, from what was read
        assert store.metric_summaries(run.id)[0].count == 20
        since = states["box1"].since
        # An hour on, the run is still judged as last heard from: its box
        # cannot be asked, so its heartbeat going stale says nothing.
        assert run.status == "running"
        later[0] = 3600.0
        store.refresh(full=False)  # before the backoff is up: no new attempt
        assert {s.box: s.since for s in store.sources()}["box1"] == since
        assert store.run_summaries([run.id])[0].status == "running"
        later[0] = 0.0
        # A rebuild of the catalog keeps an unreachable box's runs.
        store.reindex()
        assert len(store.list_runs(where="box:box2")) == 6
        assert len(store.list_runs()) == 7
        assert store.metric_summaries(run.id)[0].count == 20
        # So does another trackui opening the session while the boxes are away.
        with Store(root, private=True) as other:
            assert len(other.list_runs()) == 7
            assert {s.state for s in other.sources()} == {"unreachable"}
        # Back again: once the backoff is up it reconnects and catches up.
        sshd.start()
        clock.now += 3600
        box1 = remote(store, "box1")
        fetched = box1.mirror.fetched
        size = metrics_size(live)
        store.refresh(full=False)
        assert {s.state for s in store.sources()} == {"ok"}
        assert store.metric_summaries(run.id)[0].count == 70
        # Only what was appended while it was away (the 50 new points), not
        # the bytes it already had.
        mirrored = box1.files / "live" / Path(live.dir).name / "metrics.jsonl"
        assert mirrored.read_bytes() == (Path(live.dir) / "metrics.jsonl").read_bytes()
        appended = size - held
        assert appended + 64 <= box1.mirror.fetched - fetched <= appended + 64 + 512
        assert box1.mirror.fetched - fetched < size


def test_a_box_that_asks_for_a_password(
    password_sshd: LoopbackSshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = password_sshd.client_config(tmp_path / "ssh_config", {"box1": {}})
    monkeypatch.setenv("TRACKUI_SSH", f"{shutil.which('ssh')} -F {config}")
    with Store(session_root([f"box1:{tmp_path}"])) as store:
        (state,) = store.sources()
        assert state.state == "unreachable"
        assert state.error and "\n" not in state.error
        assert "box1" in state.error
        assert store.list_runs() == []


def test_a_remote_path_that_does_not_exist(ssh_env: Path, tmp_path: Path) -> None:
    with Store(session_root([f"box1:{tmp_path / 'runz'}"])) as store:
        (state,) = store.sources()
        assert state.state == "unreachable"
        assert "runz" in (state.error or "") and "no such" in (state.error or "")


def test_a_host_that_does_not_resolve(ssh_env: Path, tmp_path: Path) -> None:
    with Store(session_root([f"nosuchhost.invalid:{tmp_path}"])) as store:
        (state,) = store.sources()
        assert state.state == "unreachable" and state.since is not None
        assert "nosuchhost.invalid" in (state.error or "") and "\n" not in (state.error or "")
        assert store.list_runs() == []
