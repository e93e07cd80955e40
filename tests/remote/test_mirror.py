"""The mirror of a remote root (store/remote/mirror.py), with the helper run
on this machine over plain pipes (no ssh): what is fetched, and when."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from trackui.store.remote import Connection, RemoteBox, local_argv
from trackui.store.remote import mirror as mirror_module
from trackui.store.remote.box import Changes, Entry
from trackui.store.remote.mirror import OVERLAP, Mirror, is_stub, safe
from trackui.store.remote.source import native_file


@pytest.fixture
def box_root(tmp_path: Path) -> Path:
    run = tmp_path / "box" / "proj" / "run1"
    run.mkdir(parents=True)
    (run / "meta.json").write_text('{"format": 1, "name": "run1"}')
    (run / "metrics.jsonl").write_text("".join(f'{{"_step": {s}}}\n' for s in range(100)))
    (run / "heartbeat").write_bytes(b"")
    (run / "model.pt").write_bytes(b"\0" * 10000)
    return tmp_path / "box"


@pytest.fixture
def mirror(box_root: Path, tmp_path: Path) -> Iterator[Mirror]:
    box = RemoteBox("box1", str(box_root), connection=Connection(local_argv(), name="box1"))
    try:
        yield Mirror(box, tmp_path / "mirror", native_file)
    finally:
        box.close()


def same(mirror: Mirror, box_root: Path, rel: str) -> bool:
    return (mirror.files / rel).read_bytes() == (box_root / rel).read_bytes()


def test_first_read_then_only_appends(mirror: Mirror, box_root: Path) -> None:
    mirror.sync()
    rel = "proj/run1/metrics.jsonl"
    assert same(mirror, box_root, rel) and same(mirror, box_root, "proj/run1/meta.json")
    # no reader reads it: a stub of its size, with no content fetched
    stub = (mirror.files / "proj/run1/model.pt").stat()
    assert stub.st_size == 10000 and is_stub(stub)
    first = mirror.fetched
    assert first == sum(
        (box_root / "proj/run1" / n).stat().st_size for n in ("meta.json", "metrics.jsonl")
    )
    mirror.sync()
    assert mirror.fetched == first  # nothing changed, nothing fetched
    with open(box_root / rel, "a") as fh:
        fh.write('{"_step": 100}\n')
    mirror.sync()
    assert same(mirror, box_root, rel)
    assert mirror.fetched - first == len('{"_step": 100}\n') + OVERLAP


def test_heartbeat_mtime_only(mirror: Mirror, box_root: Path) -> None:
    mirror.sync()
    beat = box_root / "proj/run1/heartbeat"
    os.utime(beat, (12345.0, 12345.0))
    before = mirror.fetched
    mirror.sync()
    assert mirror.fetched == before
    offset = mirror.box.hello.clock_offset
    got = (mirror.files / "proj/run1/heartbeat").stat().st_mtime
    assert abs(got - (12345.0 - offset)) < 1e-3


def test_replaced_truncated_and_removed(mirror: Mirror, box_root: Path) -> None:
    mirror.sync()
    meta = box_root / "proj/run1/meta.json"
    tmp = meta.with_name("meta.tmp")
    tmp.write_text('{"format": 1, "name": "renamed"}')
    os.replace(tmp, meta)  # a new inode, as the writer's atomic rename
    lines = box_root / "proj/run1/metrics.jsonl"
    lines.write_text('{"_step": 0}\n')  # truncated
    mirror.sync()
    assert same(mirror, box_root, "proj/run1/meta.json")
    assert same(mirror, box_root, "proj/run1/metrics.jsonl")
    lines.unlink()
    mirror.sync()
    assert not (mirror.files / "proj/run1/metrics.jsonl").exists()


def test_a_backlog_is_caught_up_over_syncs(
    mirror: Mirror, box_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mirror_module, "MAX_FETCH", 500)
    monkeypatch.setattr(mirror_module, "BATCH_BYTES", 300)
    rel = "proj/run1/metrics.jsonl"
    size = (box_root / rel).stat().st_size
    syncs = 0
    while not (mirror.files / rel).exists() or not same(mirror, box_root, rel):
        mirror.sync()
        syncs += 1
        assert syncs < 20
    assert syncs >= size // 500


def test_a_new_mirror_object_reads_nothing_it_has(
    mirror: Mirror, box_root: Path, tmp_path: Path
) -> None:
    mirror.sync()
    again = Mirror(mirror.box, mirror.top, native_file)
    again.box._table = None  # as a new process: the box lists everything once
    again.box._gen = None
    again.sync()
    assert again.fetched == 0


class HostileBox:
    """A box that lists paths out of the root (the box is not trusted)."""

    hello = None

    def changes(self) -> Changes:
        bad = ["../escape/proj/run1/meta.json", "/etc/proj/run/meta.json", "proj/../../meta.json"]
        return Changes(added=[Entry(p, "f", 1, 10, 0) for p in bad], full=True)

    def read_many(self, ranges: list) -> list:
        raise AssertionError(f"asked to read {ranges}")


def test_paths_out_of_the_mirror_are_never_written(tmp_path: Path) -> None:
    mirror = Mirror(HostileBox(), tmp_path / "m", lambda rel: True)  # type: ignore[arg-type]
    assert mirror.sync() == 0
    assert not (tmp_path / "escape").exists()
    assert [safe(p) for p in ("a/b/c", "a/../b", "/a", "", "a//b", "./a")] == [
        True,
        False,
        False,
        False,
        False,
        False,
    ]
