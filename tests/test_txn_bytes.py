"""A cold build commits when the metric bytes read since the last commit
pass ``TXN_BYTES`` (DuckDB holds what a transaction inserted until it
commits): cut that way, one batch at a time or read ahead, the catalog is
the one a single transaction gives, hostile runs included, and a failure in
a later transaction of a batch costs no run."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackui.store import catalog, cold_batches

from .hostile.catalog_helpers import write_run
from .test_cold_batches import build, write_store


@pytest.fixture
def store_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(catalog, "BATCH_RUNS", (5,))
    root = tmp_path / "store"
    write_store(root)
    for n in range(4):  # a few longer runs
        write_run(root, f"long{n}", project="p9", points=200 + n)
    return root


def uncapped(root: Path, path: Path, monkeypatch: pytest.MonkeyPatch, overlap: bool) -> tuple:
    with monkeypatch.context() as m:
        m.setattr(catalog, "TXN_BYTES", 10**12)
        m.setattr(cold_batches, "OVERLAP_MIN_RUNS", 0 if overlap else 10**9)
        return build(root, path)


def counting_commits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Runs synced by each transaction of the one-batch-at-a-time path."""
    taken: list[int] = []
    real = catalog.Catalog._sync_prefix

    def counted(self, cur, runs, python_only, cap):  # type: ignore[no-untyped-def]
        got = real(self, cur, runs, python_only, cap)
        taken.append(got[2])
        return got

    monkeypatch.setattr(catalog.Catalog, "_sync_prefix", counted)
    return taken


def test_transactions_cut_by_bytes_give_the_catalog_of_one(
    store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole, whole_progress = uncapped(store_root, tmp_path / "whole.duckdb", monkeypatch, False)
    taken = counting_commits(monkeypatch)
    monkeypatch.setattr(cold_batches, "OVERLAP_MIN_RUNS", 10**9)
    monkeypatch.setattr(catalog, "TXN_BYTES", 1)  # every run with metrics ends one
    cut, progress = build(store_root, tmp_path / "cut.duckdb")
    assert cut == whole
    assert progress == whole_progress == [5, 10, 15]  # progress still comes batch by batch
    assert len(taken) > len(whole_progress) + 1 and sum(taken) == 18
    assert max(taken) <= 2  # a run without metrics reads no bytes: it goes with the next
    assert whole["metrics"][0] > 800


def test_read_ahead_batches_cut_by_bytes_give_the_catalog_of_one(
    store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole, _ = uncapped(store_root, tmp_path / "whole.duckdb", monkeypatch, True)
    plain, _ = uncapped(store_root, tmp_path / "plain.duckdb", monkeypatch, False)
    assert whole == plain
    monkeypatch.setattr(cold_batches, "OVERLAP_MIN_RUNS", 0)
    monkeypatch.setattr(catalog, "TXN_BYTES", 1)
    read: list[int] = []
    real = cold_batches.ColdBatches._read_ahead

    def read_ahead(self, part, next_no):  # type: ignore[no-untyped-def]
        got = real(self, part, next_no)
        read.append(got[2])
        return got

    monkeypatch.setattr(cold_batches.ColdBatches, "_read_ahead", read_ahead)
    cut, progress = build(store_root, tmp_path / "cut.duckdb")
    assert cut == whole
    assert len(read) > 4 and max(read) <= 2
    assert progress == sorted(set(progress)) and progress[-1] < 18


def test_a_failure_in_a_later_transaction_of_a_batch_costs_no_run(
    store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole, whole_progress = uncapped(store_root, tmp_path / "whole.duckdb", monkeypatch, False)
    monkeypatch.setattr(cold_batches, "OVERLAP_MIN_RUNS", 10**9)
    monkeypatch.setattr(catalog, "TXN_BYTES", 1)
    calls = [0]
    real = catalog.Catalog._sync_prefix

    def failing(self, cur, runs, python_only, cap):  # type: ignore[no-untyped-def]
        calls[0] += 1
        got = real(self, cur, runs, python_only, cap)
        if calls[0] in (2, 5):  # written, then it breaks before the commit
            raise RuntimeError("broke")
        return got

    monkeypatch.setattr(catalog.Catalog, "_sync_prefix", failing)
    got, progress = build(store_root, tmp_path / "failed.duckdb")
    assert calls[0] > 5
    assert got == whole
    assert progress == whole_progress
