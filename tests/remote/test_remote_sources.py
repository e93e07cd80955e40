"""Remote boxes wired into the catalog, over a loopback sshd the test starts.

Two aliases, ``box1`` and ``box2``, name the same sshd (loopback.py); box1's
path holds a trackui store, box2's a folder of Ultralytics runs. The code
under test runs ``$TRACKUI_SSH`` (``ssh -F CONFIG``) as a user's own ssh.
Where sshd is missing these tests skip; CI installs openssh-server.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import trackui
from trackui.store.queries import Store
from trackui.store.remote.mirror import is_stub
from trackui.store.sources.session import SourceError, parse_specs, session_root

from ..conftest import copy_store
from .conftest import by_box, metrics_size, remote

pytestmark = pytest.mark.e2e


def test_two_boxes_one_catalog(ssh_env: Path, native: Path, foreign: Path) -> None:
    specs = [f"box1:{native}", f"box2:{foreign}"]
    root = session_root(specs)
    assert session_root(specs) == root  # the same set, the same session
    with Store(root) as store:
        runs = by_box(store)
        assert {r.ref for r in runs["box1"]} == {
            "cls/resnet-crash",
            "cls/resnet-kill",
            "detect/yolo-oom",
            "detect/yolo-adamw",
            "detect/yolo-sgd",
        }
        assert {r.location for r in runs["box1"]} == {f"box1:{native}"}
        assert {r.host for r in runs["box1"]} == {"gpu-box-7", "vm"}  # as the runs recorded
        assert {r.source_kind for r in runs["box2"]} == {"ultralytics"}
        assert {r.location for r in runs["box2"]} == {f"box2:{foreign}"}
        assert len(runs["box2"]) == 6
        assert [r.box for r in store.list_runs(where="box:box2")] == ["box2"] * 6
        detail = store.get_run(runs["box1"][0].id)
        assert (detail.box, detail.location) == ("box1", f"box1:{native}")
        states = {s.box: s for s in store.sources()}
        assert states["box1"].kind == "trackui" and states["box2"].kind == "ultralytics"
        for state in states.values():
            assert state.state == "ok" and state.error is None
            assert state.bytes_read > 0
        assert (states["box1"].runs, states["box2"].runs) == (5, 6)
        # The sql views say which box too.
        boxes = store.catalog.query("SELECT DISTINCT box FROM runs ORDER BY box")
        assert boxes == [("box1",), ("box2",)]
        remote_status = {r.ref: (r.status, r.status_reason) for r in runs["box2"]}
    # Over ssh a foreign run reads as it does here: the evidence its reader
    # looks at (results.png, weights/best.pt) is on the mirror too.
    with Store(session_root([str(foreign)])) as store:
        local_status = {r.ref: (r.status, r.status_reason) for r in store.list_runs()}
    assert remote_status == local_status


def test_local_and_remote_specs(ssh_env: Path, native: Path, foreign: Path) -> None:
    """A local store beside a remote folder; a missing local path is one line."""
    root = session_root([str(native), f"box2:{foreign}"])
    with Store(root) as store:
        runs = by_box(store)
        assert len(runs["local"]) == 5 and len(runs["box2"]) == 6
        assert {r.location for r in runs["local"]} == {str(native)}
    with pytest.raises(SourceError, match="no such directory: ./nope/runs"):
        parse_specs(["./nope/runs"])
    (spec,) = parse_specs(["box1:~/runs"])
    assert (spec.box, spec.location, spec.is_remote) == ("box1", "box1:~/runs", True)


def test_appends_cross_the_wire_and_nothing_else(
    ssh_env: Path, live: trackui.Run, foreign: Path, tmp_path: Path
) -> None:
    box_root = tmp_path / "box1-live"
    root = session_root([f"box1:{box_root}", f"box2:{foreign}"])
    with Store(root) as store:
        (run,) = store.list_runs(where="box:box1")
        assert store.metric_summaries(run.id)[0].count == 20
        assert run.status == "running"  # a fresh heartbeat on the box
        box1 = remote(store, "box1")
        # An idle refresh: a request and a header-only answer per box.
        before = {s.box: (s.bytes_read, s.bytes_sent) for s in store.sources()}
        store.refresh(full=False)
        for state in store.sources():
            got = state.bytes_read - before[state.box][0]
            sent = state.bytes_sent - before[state.box][1]
            assert 0 < got + sent <= 2048, (state.box, got, sent)
        # 100 new points: one refresh shows them; only the appended bytes
        # (and the overlap that checks they were appended) were fetched.
        size = metrics_size(live)
        for step in range(20, 120):
            live.log({"loss": 1.0 / (step + 1)}, step=step)
        appended = metrics_size(live) - size
        fetched, got = box1.mirror.fetched, box1.bytes_read
        store.refresh(full=False)
        assert store.metric_summaries(run.id)[0].count == 120
        assert box1.mirror.fetched - fetched == appended + 64
        assert box1.bytes_read - got <= appended + 64 + 2048
        mirrored = box1.files / "live" / Path(live.dir).name / "metrics.jsonl"
        assert mirrored.read_bytes() == (Path(live.dir) / "metrics.jsonl").read_bytes()
        # A second trackui on the same session shares the mirror: both stay right.
        with Store(root, private=True) as other:
            for step in range(120, 140):
                live.log({"loss": 1.0 / (step + 1)}, step=step)
            other.refresh(full=False)
            store.refresh(full=False)
            assert mirrored.read_bytes() == (Path(live.dir) / "metrics.jsonl").read_bytes()
            for s in (store, other):
                assert s.metric_summaries(run.id)[0].count == 140
        # A file rewritten in place (same inode, longer) is fetched whole.
        lines = Path(live.dir) / "metrics.jsonl"
        text = lines.read_bytes()
        with open(lines, "r+b") as fh:
            fh.write(text.replace(b'"loss"', b'"LOSS"') + b'{"_step": 999, "LOSS": 0.5}\n')
        fetched = box1.mirror.fetched
        store.refresh(full=False)
        assert mirrored.read_bytes() == lines.read_bytes()
        assert box1.mirror.fetched - fetched >= len(text)


def test_liveness_on_the_box_clock(
    ssh_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run alive on a box whose clock is an hour behind ours: its heartbeat
    is fresh on the box's clock. Its pid (here, a process gone on this host,
    loopback being this host) is not looked up: pids are the box's."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    behind = 3600.0
    run_dir = tmp_path / "box1-clock" / "proj" / "alive"
    run_dir.mkdir(parents=True)
    meta = {
        "format": 1,
        "id": "alive",
        "project": "proj",
        "name": "alive",
        "created": time.time() - behind - 60,
        "host": socket.gethostname(),
        "pid": dead.pid,
        "heartbeat_interval": 5.0,
    }
    (run_dir / "meta.json").write_text(json.dumps(meta))
    (run_dir / "metrics.jsonl").write_text('{"_step": 0, "_t": 1.0, "loss": 1.0}\n')
    beat = run_dir / "heartbeat"
    beat.write_bytes(b"")
    box_now = time.time() - behind
    os.utime(beat, (box_now, box_now))
    root = session_root([f"box1:{tmp_path / 'box1-clock'}"])
    with Store(root, refresh=False) as store:
        box1 = remote(store, "box1")
        box1.remote.connect()
        hello = box1.remote.connection.hello
        box1.remote.connection.hello = dataclasses.replace(hello, clock_offset=-behind)
        store.refresh()
        (run,) = store.list_runs()
        assert run.status == "running", run.status_reason
        beat_mirror = box1.files / "proj" / "alive" / "heartbeat"
        assert abs(beat_mirror.stat().st_mtime - (box_now + behind)) < 5


def test_tidy_refuses_a_remote_run(ssh_env: Path, native: Path) -> None:
    from trackui.store.tidy import tag_runs, trash_runs

    with Store(session_root([f"box1:{native}", str(native)])) as store:
        remote_ids = [r.id for r in store.list_runs(where="box:box1")]
        assert remote_ids
        out = trash_runs(store, remote_ids[:1])
        assert out.done == ()
        assert "box1" in out.refused[0] and "\n" not in out.refused[0]
        assert tag_runs(store, remote_ids[:1], ["x"], []).done == ()


def test_what_the_mirror_leaves_out(ssh_env: Path, tmp_path: Path) -> None:
    """A link out of the root, a 10 GB sparse file a reader would read, a
    checkpoint: none of their content is mirrored (the checkpoint is a stub
    of its size), and the box reads fine."""
    root = copy_store(tmp_path / "contained")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "meta.json").write_text('{"format": 1, "name": "secret"}')
    os.symlink(secret, root / "detect" / "linked")
    run = next((root / "detect").iterdir())
    with open(run / "huge.csv", "wb") as fh:
        fh.truncate(10 * 1024**3)
    (run / "best.pt").write_bytes(b"\0" * 4096)
    with Store(session_root([f"box1:{root}"])) as store:
        (state,) = store.sources()
        assert state.state == "ok" and state.runs == 5
        box1 = remote(store, "box1")
        mirrored = {str(p.relative_to(box1.files)) for p in box1.files.rglob("*") if p.is_file()}
        assert not any("linked" in p or p.endswith("huge.csv") for p in mirrored)
        # the checkpoint's content never crossed: a stub of its size, no blocks
        st = (box1.files / run.relative_to(root) / "best.pt").stat()
        assert st.st_size == 4096 and st.st_blocks == 0 and is_stub(st)
        assert state.bytes_read < 1024 * 1024
