"""The opener's held-directory path (``Opener.holding``: a run's files
opened as one name under a held descriptor of its directory, no /proc check
per file) answers every hostile case exactly as the path-by-path reads do,
keeps no descriptor past its scope, and a cold catalog built through it
equals one built without it."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from trackui.store import opener as opener_mod
from trackui.store.opener import Opener, UnsafeFile
from trackui.store.queries import Store

from .hostile.catalog_helpers import deadline
from .test_cold_batches import NOW, digest, write_store


def hostile_tree(tmp_path: Path) -> tuple[Path, list[str]]:
    """A store whose run directory holds every kind of file a reader must
    refuse or read, and the paths (relative and absolute) to try."""
    root, outside = tmp_path / "store", tmp_path / "outside"
    run = root / "p" / "r"
    run.mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret\n")
    (outside / "meta.json").write_bytes(b'{"secret": 1}')
    (run / "meta.json").write_bytes(b'{"name": "r"}')
    (run / "lines").write_bytes(b"short\n" + b"y" * 500 + b"\nlast\ntorn")
    (run / "big").write_bytes(b"x" * 1000)
    (run / "empty").write_bytes(b"")
    (run / "dir").mkdir()
    os.mkfifo(run / "fifo")
    os.symlink("/dev/null", run / "null")
    os.symlink(outside / "secret.txt", run / "secret")
    os.symlink(run / "meta.json", run / "inner")  # a link inside: read
    os.symlink("../r/meta.json", run / "relative")
    os.symlink("loop", run / "loop")
    os.symlink(outside, root / "p" / "out")  # a run directory linked out
    os.symlink(run, root / "p" / "alias")  # a run directory linked inside
    os.symlink(tmp_path, root / "up")
    names = ["meta.json", "lines", "big", "empty", "dir", "fifo", "null", "secret", "inner"]
    names += ["relative", "loop", "missing", "sock"]
    with contextlib.suppress(OSError):  # a device node needs root (CI runs as root)
        os.mknod(run / "dev", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
        names.append("dev")
    paths = [f"p/r/{name}" for name in names]
    paths += ["p/out/meta.json", "p/alias/meta.json", "p/alias/secret", "up/outside/secret.txt"]
    paths += ["up/store/p/r/meta.json", "p/r/../r/meta.json", "p/nothere/meta.json", "p/r"]
    paths += ["p/r/meta.json/x", str(run / "meta.json"), str(outside / "secret.txt")]
    return root, paths


def outcome(call: Any) -> tuple[Any, ...]:
    try:
        got = call()
    except Exception as exc:  # the class and the one line it says
        return (type(exc).__name__, str(exc))
    if hasattr(got, "data"):
        return ("lines", got.data, got.end, got.skipped, got.stat)
    return ("ok", got)


def answers(op: Opener, paths: list[str]) -> list[tuple[Any, ...]]:
    out = []
    for rel in paths:
        out.append(outcome(lambda: op.read(rel)))  # noqa: B023
        out.append(outcome(lambda: op.read_lines(rel)))  # noqa: B023
        out.append(outcome(lambda: op.read_lines(rel, 6)))  # noqa: B023
        out.append(outcome(lambda: op.read_range(rel, 1, 4)))  # noqa: B023
        out.append(outcome(lambda: op.stat(rel)))  # noqa: B023
        out.append(outcome(lambda: op.exists(rel)))  # noqa: B023
    return out


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not opener_mod._HOLDABLE, reason="no O_NOFOLLOW/openat here: no held path")
def test_held_reads_answer_every_hostile_case_as_plain_reads(tmp_path: Path) -> None:
    root, paths = hostile_tree(tmp_path)
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(root / "p" / "r" / "sock"))
    try:
        with deadline(20):
            for caps in ({}, {"max_file": 100, "max_line": 100, "max_chunk": 200}):
                plain = answers(Opener(root, **caps), paths)
                held_opener = Opener(root, **caps)
                before = open_fds()
                with held_opener.holding():
                    held = answers(held_opener, paths)
                    assert held_opener._held.dirs  # the held path was taken
                assert open_fds() == before
                assert held == plain
        refused = [a for a in plain if a[0] in ("UnsafeFile", "FileTooLarge")]
        assert any("outside" in a[1] for a in refused) and any("FIFO" in a[1] for a in refused)
        assert all(b"secret" not in repr(a).encode() for a in plain if a[0] != "UnsafeFile")
    finally:
        server.close()


@pytest.mark.skipif(not opener_mod._HOLDABLE, reason="no O_NOFOLLOW/openat here: no held path")
def test_held_run_files_skip_the_proc_check_per_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "store"
    names = ("meta.json", "config.json", "metrics.jsonl", "events.jsonl")
    for n in range(3):
        (root / "p" / f"r{n}").mkdir(parents=True)
        for name in names:
            (root / "p" / f"r{n}" / name).write_bytes(b"{}\n")
    calls: list[str] = []
    real = os.readlink

    def counted(path: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(os.fspath(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "readlink", counted)

    def read_all(op: Opener) -> list[bytes]:
        return [op.read(f"p/r{n}/{name}")[0] for n in range(3) for name in names]

    plain = read_all(Opener(root))
    assert len(calls) == 12  # one /proc check per file
    calls.clear()
    op = Opener(root)
    with op.holding():
        assert read_all(op) == plain
    assert len(calls) == 2  # the first run's directory, then the project's
    calls.clear()
    for n in range(3):  # a scope per run: its directory checked alone
        with op.holding():
            assert [op.read(f"p/r{n}/{name}")[0] for name in names] == plain[4 * n : 4 * n + 4]
    assert len(calls) == 3


@pytest.mark.skipif(not opener_mod._HOLDABLE, reason="no O_NOFOLLOW/openat here: no held path")
def test_swaps_while_held_never_reach_outside(tmp_path: Path) -> None:
    root, outside = tmp_path / "store", tmp_path / "outside"
    for folder in (root / "p" / "r", root / "p" / "s", outside):
        folder.mkdir(parents=True)
    (outside / "meta.json").write_bytes(b'{"secret": 1}')
    (outside / "config.json").write_bytes(b'{"secret": 2}')
    for run in ("r", "s"):
        (root / "p" / run / "meta.json").write_bytes(b'{"run": "%s"}' % run.encode())
        (root / "p" / run / "config.json").write_bytes(b"{}")
    op = Opener(root)
    with op.holding():
        assert op.read("p/r/meta.json")[0] == b'{"run": "r"}'
        # A file swapped for a link out after its directory was held: refused.
        os.unlink(root / "p" / "r" / "config.json")
        os.symlink(outside / "config.json", root / "p" / "r" / "config.json")
        with pytest.raises(UnsafeFile, match="outside"):
            op.read("p/r/config.json")
        # The held directory swapped for a link out: the link is not followed
        # (the directory that was there is read, never the outside one).
        os.rename(root / "p" / "r", tmp_path / "r-away")
        os.symlink(outside, root / "p" / "r")
        assert op.read("p/r/meta.json")[0] == b'{"run": "r"}'
        # A directory not held yet, swapped before it is: refused.
        os.rename(root / "p" / "s", tmp_path / "s-away")
        os.symlink(outside, root / "p" / "s")
        with pytest.raises(UnsafeFile, match="outside"):
            op.read("p/s/meta.json")
    # Out of the scope nothing is held: the link is seen and refused.
    with pytest.raises(UnsafeFile, match="outside"):
        op.read("p/r/meta.json")
    # A directory replaced between scopes is read anew, not from a stale descriptor.
    os.unlink(root / "p" / "r")
    (root / "p" / "r").mkdir()
    (root / "p" / "r" / "meta.json").write_bytes(b'{"run": "new"}')
    with op.holding():
        assert op.read("p/r/meta.json")[0] == b'{"run": "new"}'


@pytest.mark.skipif(not opener_mod._HOLDABLE, reason="no O_NOFOLLOW/openat here: no held path")
def test_held_descriptors_are_few_per_thread_and_closed(tmp_path: Path) -> None:
    root = tmp_path / "store"
    for n in range(3 * opener_mod.HELD_DIRS):
        (root / f"p{n % 3}" / f"r{n}").mkdir(parents=True)
        (root / f"p{n % 3}" / f"r{n}" / "meta.json").write_bytes(b"%d" % n)
    op = Opener(root)
    before = open_fds()
    seen_elsewhere: list[Any] = []
    with op.holding():
        with op.holding():  # nested: the outer scope's descriptors
            for n in range(3 * opener_mod.HELD_DIRS):
                assert op.read(f"p{n % 3}/r{n}/meta.json")[0] == b"%d" % n
                assert open_fds() - before <= opener_mod.HELD_DIRS
        assert op._held.dirs  # still held by the outer scope
        thread = threading.Thread(target=lambda: seen_elsewhere.append(op._held_dir("p0/r0/x")))
        thread.start()
        thread.join()
    assert seen_elsewhere == [None]  # another thread reads the long way
    assert open_fds() == before and op._held.dirs is None


def test_cold_catalog_through_held_directories_equals_plain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "store"
    write_store(root)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "config.json").write_bytes(b'{"secret": 1}')
    run = root / "p0" / "run00"
    os.unlink(run / "config.json")
    os.symlink(outside / "config.json", run / "config.json")
    os.symlink(outside, root / "p1" / "run-linked-out")
    held_calls: list[int] = []
    real = Opener.holding

    def counted(self: Opener) -> Any:
        held_calls.append(1)
        return real(self)

    monkeypatch.setattr(Opener, "holding", counted)
    with Store(root, catalog_path=tmp_path / "held.duckdb", clock=lambda: NOW) as store:
        held = digest(store)
    assert held_calls  # the catalog read its runs through held directories
    monkeypatch.setattr(Opener, "holding", lambda self: contextlib.nullcontext())
    with Store(root, catalog_path=tmp_path / "plain.duckdb", clock=lambda: NOW) as store:
        plain = digest(store)
        problems = store._rows("SELECT problems FROM runs WHERE rel_dir = 'p0/run00'")
    assert held == plain
    assert "outside" in problems[0][0]
