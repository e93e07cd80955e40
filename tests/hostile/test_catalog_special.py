"""Special files in a run directory: a FIFO would hang a reader, /dev/zero
would never end, a link out of the store would show what is not the
store's. None is read; the run says which file and why; the rest of the
store is listed. Each read runs under a deadline, so a hang fails the test."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from trackui.store.opener import FileTooLarge, Opener, UnsafeFile
from trackui.store.queries import Store

from .catalog_helpers import (
    age,
    assert_good_pair,
    deadline,
    good_pair,
    metric_lines,
    statuses,
    write_run,
)

BAD = "20260101-000000000-bad"


def test_fifo_metrics_file_is_not_read(tmp_path: Path) -> None:
    root = tmp_path / "store"
    good_pair(root)
    run_dir = write_run(root, BAD)
    (run_dir / "metrics.jsonl").unlink()
    os.mkfifo(run_dir / "metrics.jsonl")
    with deadline(30), Store(root) as store:
        assert_good_pair(store)
        status, reason = statuses(store)[BAD]
        assert status == "unreadable"
        assert "metrics.jsonl" in reason and "FIFO" in reason
        store.refresh(full=False)  # a live refresh does not hang either


@pytest.mark.parametrize("name", ["metrics.jsonl", "config.json", "meta.json", "events.jsonl"])
def test_link_to_dev_zero_is_not_read(tmp_path: Path, name: str) -> None:
    root = tmp_path / "store"
    good_pair(root)
    run_dir = write_run(root, BAD)
    (run_dir / name).unlink()
    os.symlink("/dev/zero", run_dir / name)
    with deadline(30), Store(root) as store:
        assert_good_pair(store)
        status, reason = statuses(store)[BAD]
        assert status == "unreadable" and name in reason


@pytest.mark.parametrize("name", ["console.log", "code.diff", "metrics.jsonl", "config.json"])
def test_link_out_of_the_store_is_never_read(tmp_path: Path, name: str) -> None:
    root = tmp_path / "store"
    good_pair(root)
    secret = tmp_path / "secret"
    secret.write_bytes(metric_lines(3) if name == "metrics.jsonl" else b'{"secret": 1}\n')
    run_dir = write_run(root, BAD)
    (run_dir / name).unlink(missing_ok=True)
    os.symlink(secret, run_dir / name)
    with deadline(30), Store(root) as store:
        assert_good_pair(store)
        status, reason = statuses(store)[BAD]
        assert status == "unreadable" and name in reason and "outside" in reason
        detail = store.get_run(BAD)
        assert detail.console_path is None and detail.diff_path is None
        assert "secret" not in dict(detail.params)
        assert store.metric_keys([BAD]) == [] if name == "metrics.jsonl" else True


def test_link_inside_the_store_is_read(tmp_path: Path) -> None:
    root = tmp_path / "store"
    good_pair(root)
    run_dir = write_run(root, BAD)
    shared = root / "p" / "shared-config.json"
    shared.write_text('{"lr": 0.25}')
    (run_dir / "config.json").unlink()
    os.symlink("../shared-config.json", run_dir / "config.json")
    with Store(root) as store:
        assert statuses(store)[BAD][0] == "finished"
        assert dict(store.get_run(BAD).params)["lr"] == 0.25


def test_socket_as_a_run_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "store"
    good_pair(root)
    run_dir = write_run(root, BAD)
    (run_dir / "events.jsonl").unlink()
    sock = socket.socket(socket.AF_UNIX)
    try:
        # bound by a relative name: a socket's path is capped near 108 bytes,
        # which a deep temporary folder (a parallel test worker's) passes
        monkeypatch.chdir(run_dir)
        sock.bind("events.jsonl")
        with deadline(30), Store(root) as store:
            assert_good_pair(store)
            status, reason = statuses(store)[BAD]
            assert status == "unreadable" and "socket" in reason
    finally:
        sock.close()


def test_run_directory_linked_from_outside_is_not_listed(tmp_path: Path) -> None:
    root = tmp_path / "store"
    good_pair(root)
    outside = write_run(tmp_path / "elsewhere", BAD)
    os.symlink(outside, root / "p" / BAD)
    with Store(root) as store:
        assert_good_pair(store)
        assert BAD not in statuses(store)


def test_directory_without_meta_json_is_listed_unreadable_once_old(tmp_path: Path) -> None:
    """A run killed early in init: a directory, maybe a temp file, no meta.json."""
    root = tmp_path / "store"
    good_pair(root)
    run_dir = root / "p" / BAD
    run_dir.mkdir()
    (run_dir / ".meta.json.x1y2").write_bytes(b'{"id": "half')  # an atomic write cut short
    with Store(root) as store:
        assert BAD not in statuses(store)  # young: maybe being made right now
        age(run_dir)
        store.refresh()
        status, reason = statuses(store)[BAD]
        assert status == "unreadable" and "meta.json" in reason
        assert_good_pair(store)
        # once its meta.json appears, the run reads normally
        write_run(root, "tmp-src")
        for name in ("meta.json", "metrics.jsonl", "events.jsonl", "heartbeat"):
            os.replace(root / "p" / "tmp-src" / name, run_dir / name)
        (root / "p" / "tmp-src" / "config.json").unlink()
        (root / "p" / "tmp-src").rmdir()
        store.refresh()
        assert statuses(store)[BAD][0] == "finished"


# -- the opener itself -------------------------------------------------------


def test_opener_refuses_special_files_and_links_out(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "ok").write_bytes(b"a\nb\n")
    os.mkfifo(root / "fifo")
    os.symlink("/dev/null", root / "null")
    os.symlink(tmp_path, root / "up")
    (tmp_path / "outside.txt").write_bytes(b"secret")
    opener = Opener(root)
    with deadline(10):
        for name, word in (("fifo", "FIFO"), ("null", "outside"), ("up/outside.txt", "outside")):
            with pytest.raises(UnsafeFile) as info:
                opener.read(name)
            assert word in str(info.value) and name.split("/")[0] in str(info.value)
        assert opener.read("ok")[0] == b"a\nb\n"
        assert opener.read("up/root/ok")[0] == b"a\nb\n"  # out and back in: inside
        assert not opener.exists("fifo") and opener.stat("missing") is None
        with pytest.raises(FileNotFoundError):
            opener.read("missing")


def test_opener_caps_whole_files_and_lines(tmp_path: Path) -> None:
    root = tmp_path
    (root / "big").write_bytes(b"x" * 1000)
    (root / "lines").write_bytes(b"short\n" + b"y" * 500 + b"\nlast\ntorn")
    opener = Opener(root, max_file=100, max_line=100, max_chunk=200)
    with pytest.raises(FileTooLarge):
        opener.read("big")
    got = opener.read_lines("lines")
    data, end, skipped = got.data, got.end, got.skipped
    while True:  # read on to the torn line, in capped steps
        more = opener.read_lines("lines", end)
        if not more.data:
            break
        data, end, skipped = data + more.data, more.end, skipped + more.skipped
    assert data == b"short\n\nlast\n"  # the long line kept as an empty one, so lines count
    assert skipped == 1 and end == len(b"short\n" + b"y" * 500 + b"\nlast\n")
    chunk, st = opener.read_range("lines", 0, 5)
    assert chunk == b"short" and st.size == os.path.getsize(root / "lines")


def test_read_json_of_runfiles_is_bounded_too(tmp_path: Path) -> None:
    """The helper importers use to read a store's meta.json and source.json."""
    from trackui.store.runfiles import complete_lines, read_json

    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "deep").write_bytes(b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    (tmp_path / "latin1").write_bytes(b'{"name": "caf\xe9"}')
    with deadline(10):
        assert read_json(tmp_path / "fifo") is None
        assert complete_lines(tmp_path / "fifo") == (b"", 0)
    assert read_json(tmp_path / "deep") is None
    assert read_json(tmp_path / "latin1") == {"name": "caf\ufffd"}


def test_opener_lists_without_following_links_out(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "proj" / "run").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "file").write_text("x")
    os.symlink(tmp_path, root / "out")  # a directory, but outside
    os.symlink(root / "proj", root / "alias")  # a directory inside
    listed = dict(Opener(root).list())
    assert listed == {"proj": True, "file": False, "out": False, "alias": True}
    assert Opener(root).list("proj") == [("run", True)]
    with pytest.raises(UnsafeFile):
        Opener(root).list("out")
