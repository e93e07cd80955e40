"""The remote transport over a real ssh: a loopback sshd the tests start.

The client runs ``ssh -F CONFIG box1 …``, the config naming the test's sshd
(see loopback.py), exactly as a user's ``~/.ssh/config`` alias would. Where
sshd is missing these tests skip; CI installs openssh-server and runs them.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from trackui.store.opener import FileTooLarge, UnsafeFile
from trackui.store.remote import Connection, RemoteBox, RemoteError, Unreachable, ssh_argv

from .loopback import TIMEOUT, LoopbackSshd

pytestmark = pytest.mark.e2e

GIB = 1024**3


class FakeClock:
    """The backoff's clock, moved by the test instead of slept on."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_store(root: Path, runs: int = 2) -> Path:
    for i in range(runs):
        run = root / "proj" / f"run{i}"
        run.mkdir(parents=True)
        (run / "meta.json").write_text(json.dumps({"name": f"run{i}"}))
        (run / "metrics.jsonl").write_text(
            "".join(json.dumps({"step": s, "loss": 1 / (s + 1)}) + "\n" for s in range(2000))
        )
    return root


def ssh_config(sshd: LoopbackSshd, tmp_path: Path, **aliases: dict[str, str]) -> list[str]:
    config = sshd.client_config(tmp_path / "ssh_config", {"box1": {}, **aliases})
    ssh = shutil.which("ssh")
    assert ssh is not None
    return [ssh, "-F", str(config)]


def open_box(
    ssh: list[str], root: str, host: str = "box1", clock: FakeClock | None = None
) -> RemoteBox:
    argv = ssh_argv(host, ssh_command=ssh, connect_timeout=10)
    conn = Connection(
        argv,
        name=host,
        connect_timeout=10,
        request_timeout=TIMEOUT,
        backoff=(5.0, 60.0),
        clock=clock or time.monotonic,
    )
    return RemoteBox(host, root, connection=conn)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return make_store(tmp_path / "runs")


@pytest.fixture
def box(sshd: LoopbackSshd, store: Path, tmp_path: Path) -> Iterator[RemoteBox]:
    box = open_box(ssh_config(sshd, tmp_path), str(store))
    try:
        box.connect()
    except RemoteError as exc:
        raise AssertionError(f"{exc}\n--- sshd log ---\n{sshd.log_text()}") from None
    try:
        yield box
    finally:
        box.close()


def append(path: Path, steps: range) -> bytes:
    data = "".join(json.dumps({"step": s, "loss": 1 / (s + 1)}) + "\n" for s in steps).encode()
    with path.open("ab") as fh:
        fh.write(data)
    return data


def test_list_then_only_the_appended_file_and_bytes_cross(box: RemoteBox, store: Path) -> None:
    paths = {e.path for e in box.walk().entries}
    assert "proj/run1/metrics.jsonl" in paths and len(paths) == 7
    first = box.changes()
    assert first.full and len(first.added) == 7

    sent, received = box.bytes_sent, box.bytes_received
    assert not box.changes()
    idle = (box.bytes_sent - sent) + (box.bytes_received - received)
    print(
        f"\nidle refresh over ssh: {box.bytes_sent - sent} B sent, {box.bytes_received - received} B received"
    )
    assert idle <= 2048, idle  # the goal per box; a byte count, not a timing

    metrics = store / "proj/run1/metrics.jsonl"
    offset = metrics.stat().st_size
    appended = append(metrics, range(2000, 2100))
    moved = box.changes()
    assert [e.path for e in moved.changed] == ["proj/run1/metrics.jsonl"]
    assert not moved.added and not moved.removed
    assert moved.changed[0].size == offset + len(appended)

    received = box.bytes_received
    lines = box.read_lines("proj/run1/metrics.jsonl", offset)
    assert lines.data == appended and lines.end == offset + len(appended)
    # Only the new bytes came back (compressed, plus a header), not the file.
    assert box.bytes_received - received < len(appended) + 512


def test_box_gone_mid_session_then_back_reads_on_from_its_offset(
    sshd: LoopbackSshd, store: Path, tmp_path: Path
) -> None:
    clock = FakeClock()
    box = open_box(ssh_config(sshd, tmp_path), str(store), clock=clock)
    try:
        box.connect()
        metrics = store / "proj/run0/metrics.jsonl"
        data, st = box.read_range("proj/run0/metrics.jsonl", 0, 1 << 20)
        offset = len(data)
        assert offset == st.size > 50_000
        box.changes()

        killed = sshd.kill_all()
        assert box.hello is not None and box.hello.pid in killed  # the helper went too
        with pytest.raises(Unreachable) as caught:
            box.changes()
        line = str(caught.value)
        state = box.state
        assert state.status == "unreachable" and state.error == line
        assert line.startswith("box1: ") and "\n" not in line and len(line) < 300, line
        assert state.since <= time.time()

        # Until the backoff is over, requests fail at once: no new ssh is started.
        attempts = box.connection.attempts
        for _ in range(3):
            with pytest.raises(Unreachable):
                box.read_range("proj/run0/metrics.jsonl", offset, 100)
        assert box.connection.attempts == attempts

        # The box is still down when the backoff ends: one attempt, refused.
        clock.now = box.connection.next_attempt
        with pytest.raises(Unreachable) as again:
            box.stat("proj/run0/meta.json")
        assert box.connection.attempts == attempts + 1
        assert "\n" not in str(again.value) and box.state.since == state.since

        appended = append(metrics, range(2000, 2050))
        sshd.start()  # same port, same keys
        clock.now = box.connection.next_attempt
        received = box.bytes_received
        data, after = box.read_range("proj/run0/metrics.jsonl", offset, 1 << 20)
        assert box.state.connected
        assert data == appended and after.ino == st.ino
        # Caught up without re-reading the old bytes.
        assert box.bytes_received - received < len(appended) + 1024 < offset
        moved = box.changes()  # the new helper sent its table; the box diffed it
        assert [e.path for e in moved.changed] == ["proj/run0/metrics.jsonl"]
        assert not moved.added and not moved.removed
    finally:
        box.close()


def test_the_helper_exits_when_the_connection_drops(box: RemoteBox) -> None:
    assert box.hello is not None
    helper_pid = box.hello.pid
    assert os.path.exists(f"/proc/{helper_pid}")
    proc = box.connection._proc
    assert proc is not None
    proc.kill()  # the laptop's ssh dies: the box sees its connection close
    proc.wait(timeout=TIMEOUT)
    deadline = time.monotonic() + TIMEOUT
    while os.path.exists(f"/proc/{helper_pid}") and _state(helper_pid) != "Z":
        assert time.monotonic() < deadline, "the helper outlived its connection"
        time.sleep(0.05)
    with pytest.raises(Unreachable):
        box.changes()


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0].decode()
    except OSError:
        return "gone"


def test_containment_over_ssh(box: RemoteBox, store: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("not yours")
    run = store / "proj/run0"
    (run / "console.log").symlink_to(secret)
    with (run / "huge.bin").open("wb") as fh:
        fh.truncate(10 * GIB)

    listing = box.walk("proj/run0")
    names = {e.path.rpartition("/")[2]: e for e in listing.entries}
    assert "console.log" not in names and listing.skipped == 1
    with pytest.raises(UnsafeFile, match="outside the source root"):
        box.read_range("proj/run0/console.log", 0, 100)

    assert names["huge.bin"].size == 10 * GIB == box.stat("proj/run0/huge.bin").size
    received = box.bytes_received
    with pytest.raises(FileTooLarge):
        box.read("proj/run0/huge.bin")
    data, _ = box.read_range("proj/run0/huge.bin", 0, 10 * GIB)
    assert len(data) == box.max_chunk < 10 * GIB
    assert box.bytes_received - received < box.max_chunk  # zeros travel compressed

    meta = run / "meta.json"
    _, before = box.read_range("proj/run0/meta.json", 0, 10)
    fresh = run / "meta.tmp"
    fresh.write_bytes(b"Z" * before.size)
    os.utime(fresh, ns=(before.mtime_ns, before.mtime_ns))
    os.replace(fresh, meta)
    data, after = box.read_range("proj/run0/meta.json", 0, 10)
    assert data == b"Z" * 10 and after.ino != before.ino
    assert (after.size, after.mtime_ns) == (before.size, before.mtime_ns)


# -- one clear line each ------------------------------------------------------------


def test_a_path_that_does_not_exist(sshd: LoopbackSshd, tmp_path: Path) -> None:
    box = open_box(ssh_config(sshd, tmp_path), str(tmp_path / "no-such-runs"))
    try:
        with pytest.raises(RemoteError) as caught:
            box.connect()
        assert str(caught.value) == f"box1:{tmp_path / 'no-such-runs'}: no such directory"
        assert box.state.connected  # the box answers; only the path is wrong
    finally:
        box.close()


def test_a_host_that_does_not_resolve(sshd: LoopbackSshd, tmp_path: Path) -> None:
    box = open_box(ssh_config(sshd, tmp_path), "runs", host="gpu9.trackui-test.invalid")
    try:
        with pytest.raises(Unreachable) as caught:
            box.connect()
        line = str(caught.value)
        assert line.startswith("gpu9.trackui-test.invalid: host not found: "), line
        assert "Could not resolve hostname" in line and "\n" not in line
        assert box.state.status == "unreachable" and box.state.error == line
    finally:
        box.close()


def test_an_sshd_that_wants_a_password_fails_at_once(
    password_sshd: LoopbackSshd, tmp_path: Path
) -> None:
    box = open_box(ssh_config(password_sshd, tmp_path), "runs")
    try:
        with pytest.raises(Unreachable) as caught:
            box.connect()
        line = str(caught.value)
        assert line.startswith("box1: login refused (ssh runs in BatchMode"), line
        assert "Permission denied" in line and "\n" not in line
    finally:
        box.close()


def test_an_unknown_host_key_fails_at_once(sshd: LoopbackSshd, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    ssh = ssh_config(
        sshd,
        tmp_path,
        strict={"StrictHostKeyChecking": "ask", "UserKnownHostsFile": str(known)},
    )
    box = open_box(ssh, "runs", host="strict")
    try:
        with pytest.raises(Unreachable) as caught:
            box.connect()
        line = str(caught.value)
        assert line.startswith("strict: host key not confirmed"), line
        assert "\n" not in line
    finally:
        box.close()
