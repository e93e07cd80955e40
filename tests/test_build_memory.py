"""A cold build writes its batches under a low DuckDB ``memory_limit``
(``cold_batches.BUILD_MEMORY_MIB``), restored after it, so a big query still
runs once the build is over; the reads of a build fit under such a limit."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from trackui.store import catalog, cold_batches
from trackui.store.catalog_schema import SCHEMA
from trackui.store.cold_batches import restore_memory_limit, size_bytes
from trackui.store.ingest_small import ingest_small
from trackui.store.queries import Store

from .test_cold_batches import NOW, digest, write_store

#: A query that needs about 40 MB at once (one list value: it cannot spill).
BIG_QUERY = "SELECT max(len(l)) FROM (SELECT list(i) AS l FROM range(5000000) t(i))"


@pytest.fixture
def store_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(catalog, "BATCH_RUNS", (3,))
    monkeypatch.setattr(cold_batches, "OVERLAP_MIN_RUNS", 0)
    monkeypatch.setattr(cold_batches, "BUILD_MEMORY_MIN_RUNS", 0)
    monkeypatch.setattr(cold_batches, "BUILD_MEMORY_PER_THREAD_MIB", 0)
    root = tmp_path / "store"
    write_store(root)
    return root


def limits_while_writing(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    during: list[str] = []
    real = cold_batches.ColdBatches._write_ahead

    def write_ahead(self, batch, now, *, statuses):  # type: ignore[no-untyped-def]
        during.append(self.query("SELECT current_setting('memory_limit')")[0][0])
        return real(self, batch, now, statuses=statuses)

    monkeypatch.setattr(cold_batches.ColdBatches, "_write_ahead", write_ahead)
    return during


def test_the_build_writes_under_a_low_limit_restored_after_and_a_big_query_runs(
    store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cold_batches, "BUILD_MEMORY_MIB", 16)
    during = limits_while_writing(monkeypatch)
    with Store(store_root, catalog_path=tmp_path / "c.duckdb", refresh=False) as store:
        before = store.catalog.query("SELECT current_setting('memory_limit')")[0][0]
        store.refresh()
        assert store.count_runs() == 14
        assert during[0] == "16.0 MiB"  # (lifted after a batch it was too low for)
        assert store.catalog.query("SELECT current_setting('memory_limit')")[0][0] == before
        # The query is big for the build's limit, and runs once it is lifted.
        cur = store.catalog.cursor()
        cur.execute("SET memory_limit = '16MiB'")
        with pytest.raises(duckdb.OutOfMemoryException):
            cur.execute(BIG_QUERY).fetchall()
        restore_memory_limit(cur, before)
        assert store.catalog.query(BIG_QUERY) == [(5_000_000,)]


def test_a_lower_limit_is_kept_and_a_failed_build_restores_the_limit(
    store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cold_batches, "BUILD_MEMORY_MIB", 4096)
    during = limits_while_writing(monkeypatch)
    with Store(store_root, catalog_path=tmp_path / "c.duckdb", refresh=False) as store:
        store.catalog.query("SET memory_limit = '1GiB'")
        store.refresh()
        assert set(during) == {"1.0 GiB"}  # never raised
    monkeypatch.setattr(cold_batches, "BUILD_MEMORY_MIB", 16)

    def broken(self, parts, now, progress, total, done=0):  # type: ignore[no-untyped-def]
        seen.append(self.query("SELECT current_setting('memory_limit')")[0][0])
        raise KeyboardInterrupt

    seen: list[str] = []
    monkeypatch.setattr(cold_batches.ColdBatches, "_overlapped", broken)
    with Store(store_root, catalog_path=tmp_path / "d.duckdb", refresh=False) as store:
        before = store.catalog.query("SELECT current_setting('memory_limit')")[0][0]
        with pytest.raises(KeyboardInterrupt):
            store.refresh()
        assert seen == ["16.0 MiB"]
        assert store.catalog.query("SELECT current_setting('memory_limit')")[0][0] == before


def test_no_limit_where_duckdb_would_spill_into_the_working_directory(
    tmp_path: Path,
) -> None:
    """An in-memory catalog's temp directory is ``.tmp`` of the working directory."""
    con = duckdb.connect(":memory:")
    before = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]

    class Fake(cold_batches.ColdBatches):
        def cursor(self):  # type: ignore[no-untyped-def]
            return con

    with Fake()._memory_for_build(10**6):
        assert con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] == before


def test_a_batch_failing_under_the_limit_lifts_it_and_the_build_goes_on_overlapped(
    store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Points parsed in Python are read with 64 MiB objects (DuckDB reserves
    128 MiB): over a 64 MiB limit. The build lifts it and goes on, overlapped,
    to the catalog the one-batch-at-a-time build gives."""
    with monkeypatch.context() as m:
        m.setattr(cold_batches, "OVERLAP_MIN_RUNS", 10**9)
        plain = digest_of(store_root, tmp_path / "plain.duckdb")
    monkeypatch.setattr(cold_batches, "BUILD_MEMORY_MIB", 64)
    during = limits_while_writing(monkeypatch)
    one_by_one: list[int] = []
    real = catalog.Catalog._sync_isolated
    monkeypatch.setattr(
        catalog.Catalog,
        "_sync_isolated",
        lambda self, part: one_by_one.append(len(part)) or real(self, part),
    )
    with Store(
        store_root, catalog_path=tmp_path / "c.duckdb", refresh=False, clock=lambda: NOW
    ) as store:
        before = store.catalog.query("SELECT current_setting('memory_limit')")[0][0]
        store.refresh()
        assert digest(store) == plain
        assert store.catalog.query("SELECT current_setting('memory_limit')")[0][0] == before
    assert during[0] == "64.0 MiB" and during[-1] == before
    assert one_by_one == []


def digest_of(root: Path, path: Path) -> dict:
    with Store(root, catalog_path=path, refresh=False, clock=lambda: NOW) as store:
        store.refresh()
        return digest(store)


def test_size_bytes_reads_what_duckdb_prints() -> None:
    assert size_bytes("18.8 GiB") == 18.8 * 2**30
    assert size_bytes("122.0 MiB") == 122 * 2**20
    assert size_bytes("976.5 KiB") == 976.5 * 1024
    assert size_bytes("0 bytes") == 0
    assert size_bytes("500MB") == 500e6
    assert size_bytes("unlimited") == float("inf")


def test_small_chunks_are_read_under_a_limit(tmp_path: Path) -> None:
    """Their reader asks for an object size that fits the chunks (it asked
    for 64 MiB: DuckDB reserved 128 MiB, over any low limit)."""
    con = duckdb.connect(str(tmp_path / "c.duckdb"))
    con.execute(SCHEMA)
    con.execute("INSERT INTO runs (run_id, run_no) VALUES ('a', 1)")
    con.execute("CREATE TEMP TABLE chunk_summaries AS FROM summaries LIMIT 0")
    con.execute("SET memory_limit = '100MiB'")
    chunk = b"".join(b'{"_step": %d, "x": %d.5}\n' % (i, i) for i in range(10))
    assert ingest_small(con, str(tmp_path), [("a", chunk, 0, 10)]) == 10
    assert con.execute("SELECT count(*) FROM metrics").fetchall() == [(10,)]
