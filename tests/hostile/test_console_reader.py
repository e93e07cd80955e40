"""The Run screen's console tail reads through the bounded opener: a console.log
that is a FIFO, a device or a link out of its run is never opened."""

from __future__ import annotations

import os
import signal

import pytest

from trackui.tui.run_details import read_console


@pytest.fixture
def deadline():
    def expired(signum, frame):
        raise TimeoutError("read_console blocked")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def test_a_fifo_console_log_is_not_opened(tmp_path, deadline):
    os.mkfifo(tmp_path / "console.log")
    assert read_console(tmp_path / "console.log", None) == ([], 0, False)


def test_a_console_log_linked_out_of_its_run_is_not_shown(tmp_path, deadline):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:$6$hash:19000:0:99999:7:::\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "console.log").symlink_to(secret)
    lines, _, _ = read_console(run / "console.log", None, whole=True)
    assert lines == []


def test_a_device_console_log_is_not_read(tmp_path, deadline):
    run = tmp_path / "run"
    run.mkdir()
    (run / "console.log").symlink_to("/dev/zero")
    assert read_console(run / "console.log", None)[0] == []


def test_a_plain_console_log_is_read_incrementally(tmp_path):
    log = tmp_path / "console.log"
    log.write_bytes(b"one\ntwo\npart")
    lines, offset, reset = read_console(log, None)
    assert lines == ["one", "two"] and reset
    with open(log, "ab") as fh:
        fh.write(b"ial\n")
    lines, offset2, reset = read_console(log, offset)
    assert lines == ["partial"] and not reset and offset2 == log.stat().st_size
