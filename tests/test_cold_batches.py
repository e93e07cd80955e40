"""A cold build that reads batch k + 1 while batch k is written gives the
catalog the one-batch-at-a-time build gives, hostile runs included, and
still does when a read ahead or a write fails (it goes back to one batch at
a time from the batch that failed)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from trackui.store import catalog, cold_batches
from trackui.store.catalog_schema import TABLES
from trackui.store.queries import Store

from .hostile.catalog_helpers import write_run

NOW = 1_790_000_100.0


def write_store(root: Path) -> None:
    for n in range(9):
        write_run(
            root,
            f"run{n:02d}",
            project=f"p{n % 2}",
            points=3 + n,
            config={"lr": n / 10, "opt": {"name": "sgd", "m": [n, None]}, "s": "é\u2028"},
            finished=n % 3 != 0,
        )
    write_run(root, "run-bad-meta", files={"meta.json": b'{"name": '})
    write_run(root, "run-odd-metrics", files={"metrics.jsonl": b'{"_step": 0, "x": "1.5"}\n{"_'})
    write_run(
        root,
        "run-artifacts",
        files={"artifacts.jsonl": json.dumps({"name": "w", "path": "a/w.pt", "size": 3}).encode()},
    )
    run = write_run(root, "run-fifo", files={"metrics.jsonl": b""})
    os.unlink(run / "metrics.jsonl")
    os.mkfifo(run / "metrics.jsonl")
    write_run(root, "run-summary", files={"summary.json": b'{"best": 0.5, "n": {"k": 1}}'})


def digest(store: Store) -> dict[str, tuple[int, str]]:
    out = {}
    for table in TABLES:
        columns = [row[0] for row in store._rows(f"DESCRIBE {table}")]
        shown = ", ".join(f'"{c}"::VARCHAR' for c in columns if c not in ("ino", "mtime_ns"))
        rows = store._rows(f"SELECT {shown} FROM {table} ORDER BY ALL")
        out[table] = (len(rows), hashlib.sha1(repr(rows).encode()).hexdigest())
    return out


def build(root: Path, catalog_path: Path) -> tuple[dict[str, tuple[int, str]], list[int]]:
    seen: list[int] = []
    with Store(root, catalog_path=catalog_path, refresh=False, clock=lambda: NOW) as store:
        store.refresh(progress=lambda done, total: seen.append(done))
        return digest(store), seen


@pytest.fixture
def store_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(catalog, "BATCH_RUNS", (3,))
    root = tmp_path / "store"
    write_store(root)
    return root


def one_at_a_time(store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple:
    with monkeypatch.context() as m:
        m.setattr(cold_batches, "OVERLAP_MIN_RUNS", 10**9)
        return build(store_root, tmp_path / "plain.duckdb")


def test_overlapped_build_is_the_plain_build(
    store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain, plain_progress = one_at_a_time(store_root, tmp_path, monkeypatch)
    monkeypatch.setattr(cold_batches, "OVERLAP_MIN_RUNS", 0)
    threads: list[int] = []
    real = cold_batches._Writer.__init__

    def counted(self, work):  # type: ignore[no-untyped-def]
        threads.append(1)
        real(self, work)

    monkeypatch.setattr(cold_batches._Writer, "__init__", counted)
    overlapped, progress = build(store_root, tmp_path / "overlapped.duckdb")
    assert len(threads) == 5  # 14 runs in batches of 3: each written in a thread
    assert overlapped == plain
    assert progress == plain_progress == [3, 6, 9, 12]
    assert plain["runs"][0] == 14 and plain["params"][0] > 0


@pytest.mark.parametrize("fails", ["read", "write", "both"])
def test_a_failure_while_overlapped_goes_back_to_one_batch_at_a_time(
    store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails: str
) -> None:
    plain, plain_progress = one_at_a_time(store_root, tmp_path, monkeypatch)
    monkeypatch.setattr(cold_batches, "OVERLAP_MIN_RUNS", 0)
    calls = {"read": 0, "write": 0}
    real_read = cold_batches.ColdBatches._read_ahead
    real_write = cold_batches.ColdBatches._write_ahead

    def read_ahead(self, part, next_no):  # type: ignore[no-untyped-def]
        calls["read"] += 1
        if fails in ("read", "both") and calls["read"] == 3:
            real_read(self, part[:1], next_no)  # half read, then it breaks
            raise RuntimeError("read ahead broke")
        return real_read(self, part, next_no)

    def write_ahead(self, batch, now, *, statuses):  # type: ignore[no-untyped-def]
        calls["write"] += 1
        if fails in ("write", "both") and calls["write"] == 2:
            raise RuntimeError("write broke")
        return real_write(self, batch, now, statuses=statuses)

    monkeypatch.setattr(cold_batches.ColdBatches, "_read_ahead", read_ahead)
    monkeypatch.setattr(cold_batches.ColdBatches, "_write_ahead", write_ahead)
    got, progress = build(store_root, tmp_path / "failed.duckdb")
    assert calls["read"] >= 2 and calls["write"] >= 1
    assert got == plain
    assert progress == plain_progress


def test_a_read_ahead_never_writes(
    store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(RuntimeError, match="read ahead tried to write"):
        cold_batches._NO_CURSOR.execute("SELECT 1")
    monkeypatch.setattr(cold_batches, "OVERLAP_MIN_RUNS", 0)
    with Store(store_root, catalog_path=tmp_path / "c.duckdb", clock=lambda: NOW) as store:
        assert store.count_runs() == 14
        # A second refresh finds every run known: nothing is read ahead.
        read: list[int] = []
        real = cold_batches.ColdBatches._read_ahead
        monkeypatch.setattr(
            cold_batches.ColdBatches,
            "_read_ahead",
            lambda self, part, no: read.append(1) or real(self, part, no),
        )
        store.refresh()
        assert read == []


def test_duckdb_leaves_a_core_to_the_reader_meanwhile_and_gets_it_back(
    store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cold_batches, "OVERLAP_MIN_RUNS", 0)
    during: list[int] = []
    real = cold_batches.ColdBatches._write_ahead

    def write_ahead(self, batch, now, *, statuses):  # type: ignore[no-untyped-def]
        during.append(int(self.query("SELECT current_setting('threads')")[0][0]))
        return real(self, batch, now, statuses=statuses)

    monkeypatch.setattr(cold_batches.ColdBatches, "_write_ahead", write_ahead)
    with Store(store_root, catalog_path=tmp_path / "c.duckdb", refresh=False) as store:
        store.catalog.query("SET threads = 3")
        store.refresh()
        assert store.count_runs() == 14
        assert during and set(during) == {2}
        assert store.catalog.query("SELECT current_setting('threads')")[0][0] == 3
