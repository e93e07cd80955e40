"""A cold build whose batches are read in a child process (``cold_reader``)
gives the catalog the in-process builds give (one batch at a time, or read
ahead in a thread), hostile runs and the opener's caps included; and still
does when the child cannot start, reports a failure, or dies in the middle of
sending a batch: the parent reads from that batch on itself, and nothing is
written twice."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import pytest

from trackui.store import catalog, cold_batches, cold_reader
from trackui.store.queries import Store

from .hostile.catalog_helpers import write_run
from .test_cold_batches import NOW, digest, write_store

#: A child that runs the real reader but dies after sending ``LIMIT`` bytes
#: (part of a pickled batch: the parent's unpickling finds the stream cut).
DYING = """
import os, sys
from trackui.store import cold_reader
LIMIT = int(sys.argv[1])
class Cut:
    def __init__(self, out):
        self.out, self.sent = out, 0
    def write(self, data):
        room = LIMIT - self.sent
        if len(data) >= room:
            self.out.write(bytes(data)[:room]); self.out.flush(); os._exit(1)
        self.sent += len(data)
        return self.out.write(data)
    def flush(self):
        self.out.flush()
cold_reader._serve(sys.stdin.buffer, Cut(sys.stdout.buffer))
"""
#: A child that reports a failure instead of a batch.
FAILING = """
import pickle, sys
pickle.load(sys.stdin.buffer)
pickle.dump(("error", "RuntimeError: broke"), sys.stdout.buffer)
"""


def write_hostile_store(root: Path) -> None:
    write_store(root)  # bad meta, odd metrics, a FIFO, artifacts, summary
    outside = root.parent / "outside.jsonl"
    outside.write_bytes(b'{"_step": 0, "secret": 1}\n')
    run = write_run(root, "run-link-out", points=0)
    os.unlink(run / "metrics.jsonl")
    os.symlink(outside, run / "metrics.jsonl")
    write_run(root, "run-big-config", config={"blob": "x" * 5000})
    write_run(root, "run-system", files={"system.jsonl": b'{"t": 1790000000.0, "cpu": 12.5}\n'})
    write_run(root, "run-source", files={"source.json": b'{"kind": "tb", "path": "a/b"}'})
    write_run(root, "run-console", files={"console.log": b"hello\n"})
    write_run(root, "run-\udcff-bytes", project="p\u00e9")
    write_run(root, "run-running", finished=False)


@pytest.fixture
def store_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(catalog, "BATCH_RUNS", (3, 4))
    monkeypatch.setattr(cold_batches, "PROCESS_MIN_RUNS", 0)  # the child from any size
    root = tmp_path / "store"
    write_hostile_store(root)
    return root


def build(root: Path, catalog_path: Path, *, max_file: int | None = None) -> tuple[dict, list]:
    seen: list[int] = []
    with Store(root, catalog_path=catalog_path, refresh=False, clock=lambda: NOW) as store:
        if max_file is not None:
            store.catalog.opener.main.max_file = max_file
        store.refresh(progress=lambda done, total: seen.append(done))
        return digest(store), seen


def plain_build(root: Path, path: Path, monkeypatch: pytest.MonkeyPatch, **kw: int) -> tuple:
    with monkeypatch.context() as m:
        m.setattr(cold_batches, "OVERLAP_MIN_RUNS", 10**9)
        return build(root, path, **kw)


def counted_takes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Batches the parent took from a child (a list that grows by one each)."""
    taken: list[int] = []
    real = cold_reader.ReaderProcess.take

    def take(self, part, next_no):  # type: ignore[no-untyped-def]
        got = real(self, part, next_no)
        taken.append(got[2])
        return got

    monkeypatch.setattr(cold_reader.ReaderProcess, "take", take)
    return taken


@pytest.mark.parametrize("process", [True, False])
def test_batches_read_by_a_child_give_the_plain_catalog(
    store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, process: bool
) -> None:
    plain, plain_progress = plain_build(store_root, tmp_path / "plain.duckdb", monkeypatch)
    monkeypatch.setattr(cold_batches, "OVERLAP_MIN_RUNS", 0)
    monkeypatch.setattr(cold_batches, "PROCESS_MIN_RUNS", 0 if process else 10**9)
    taken = counted_takes(monkeypatch)
    got, progress = build(store_root, tmp_path / "got.duckdb")
    assert got == plain
    assert progress == plain_progress == [3, 7, 11, 15, 19]
    # The first batch is read here; with the child on, it reads all the others.
    assert sum(taken) == (21 - 3 if process else 0)
    assert plain["runs"][0] == 21 and plain["params"][0] > 0 and plain["metrics"][0] > 0


def test_the_child_reads_with_the_catalog_openers_caps(
    store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain, _ = plain_build(store_root, tmp_path / "plain.duckdb", monkeypatch, max_file=1000)
    monkeypatch.setattr(cold_batches, "OVERLAP_MIN_RUNS", 0)
    taken = counted_takes(monkeypatch)
    got, _ = build(store_root, tmp_path / "got.duckdb", max_file=1000)
    assert sum(taken) == 21 - 3
    assert got == plain
    with Store(store_root, catalog_path=tmp_path / "got.duckdb", refresh=False) as store:
        (problems,) = store.catalog.query(
            "SELECT problems FROM runs WHERE run_id = 'run-big-config'"
        )[0]
        assert "over the 1000-byte cap" in problems


@pytest.mark.parametrize(
    "child",
    [
        pytest.param([sys.executable, "-c", DYING, "200"], id="dies-in-first-batch"),
        pytest.param([sys.executable, "-c", DYING, "40000"], id="dies-in-a-later-batch"),
        pytest.param([sys.executable, "-c", FAILING], id="reports-a-failure"),
        pytest.param([os.devnull], id="cannot-start"),
    ],
)
def test_a_child_that_fails_leaves_the_reading_to_the_parent(
    store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, child: list[str]
) -> None:
    plain, plain_progress = plain_build(store_root, tmp_path / "plain.duckdb", monkeypatch)
    monkeypatch.setattr(cold_batches, "OVERLAP_MIN_RUNS", 0)
    monkeypatch.setattr(cold_reader, "child_command", lambda: child)
    taken = counted_takes(monkeypatch)
    read_here: list[int] = []
    real_read = cold_reader.read_batch

    def read_batch(reader, part, next_no, cap):  # type: ignore[no-untyped-def]
        got = real_read(reader, part, next_no, cap)
        read_here.append(got[2])
        return got

    monkeypatch.setattr(cold_batches, "read_batch", read_batch)
    got, progress = build(store_root, tmp_path / "got.duckdb")
    assert got == plain
    assert progress == plain_progress
    # Every run read once: some by the child (until it failed), the rest here.
    assert sum(taken) + sum(read_here) == 21
    assert sum(read_here) > 3 or child[-1] == "40000"
    if child[-1] == "40000":
        assert sum(taken) >= 4  # a whole batch came before it died


def test_a_failed_child_is_not_left_running(
    store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cold_batches, "OVERLAP_MIN_RUNS", 0)
    monkeypatch.setattr(cold_reader, "child_command", lambda: [sys.executable, "-c", FAILING])
    started: list[cold_reader.ReaderProcess] = []
    real_init = cold_reader.ReaderProcess.__init__

    def init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        real_init(self, *args, **kwargs)
        started.append(self)

    monkeypatch.setattr(cold_reader.ReaderProcess, "__init__", init)
    with Store(store_root, catalog_path=tmp_path / "c.duckdb", clock=lambda: NOW) as store:
        assert store.count_runs() == 21
    assert len(started) == 1 and started[0]._proc is None  # closed and waited for


def test_overlapped_batches_are_cut_smaller_and_collections_paused_meanwhile(
    store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain, _ = plain_build(store_root, tmp_path / "plain.duckdb", monkeypatch)
    monkeypatch.setattr(cold_batches, "OVERLAP_MIN_RUNS", 0)
    monkeypatch.setattr(cold_batches, "OVERLAP_RUNS", 2)
    collecting: list[bool] = []
    real = cold_batches.ColdBatches._write_ahead

    def write_ahead(self, batch, now, *, statuses):  # type: ignore[no-untyped-def]
        collecting.append(gc.isenabled())
        return real(self, batch, now, statuses=statuses)

    monkeypatch.setattr(cold_batches.ColdBatches, "_write_ahead", write_ahead)
    assert gc.isenabled()
    got, progress = build(store_root, tmp_path / "got.duckdb")
    assert gc.isenabled()
    assert got == plain
    # Batches of 3 and 4 cut to at most 2: 2, 1, 2, 2, 2, 2, ... 2.
    assert progress == [2, 3, *range(5, 21, 2)]
    assert collecting and not any(collecting)


@pytest.mark.parametrize("least, started", [(18, 1), (19, 0)])
def test_a_child_starts_only_for_enough_runs_to_read_ahead(
    store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, least: int, started: int
) -> None:
    monkeypatch.setattr(cold_batches, "OVERLAP_MIN_RUNS", 0)
    monkeypatch.setattr(cold_batches, "PROCESS_MIN_RUNS", least)  # 21 runs, 18 after the first 3
    made: list[int] = []
    real_init = cold_reader.ReaderProcess.__init__

    def init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        made.append(1)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(cold_reader.ReaderProcess, "__init__", init)
    with Store(store_root, catalog_path=tmp_path / "c.duckdb", clock=lambda: NOW) as store:
        assert store.count_runs() == 21
    assert len(made) == started


@pytest.mark.parametrize("shown, started", [(True, 1), (False, 0)])
def test_the_child_reads_from_fewer_runs_where_batches_are_shown(
    store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shown: bool, started: int
) -> None:
    monkeypatch.setattr(cold_batches, "OVERLAP_MIN_RUNS", 0)
    monkeypatch.setattr(cold_batches, "PROCESS_MIN_RUNS", 10**9)
    # Where the batches are shown as they land (``progress``: the TUI painting
    # meanwhile) the child starts from ``PROCESS_MIN_RUNS_SHOWN`` runs.
    monkeypatch.setattr(cold_batches, "PROCESS_MIN_RUNS_SHOWN", 18)  # 21 runs, 18 after the first 3
    made: list[int] = []
    real_init = cold_reader.ReaderProcess.__init__

    def init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        made.append(1)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(cold_reader.ReaderProcess, "__init__", init)
    seen: list[int] = []
    with Store(store_root, catalog_path=tmp_path / "c.duckdb", refresh=False) as store:
        store.refresh(progress=(lambda done, total: seen.append(done)) if shown else None)
        assert store.count_runs() == 21
    assert len(made) == started
