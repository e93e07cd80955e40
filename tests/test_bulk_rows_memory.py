"""Rows staged column by column (``bulk_rows.stage_columns``) read back under a
``memory_limit``: DuckDB's JSON reader reserves about twice its
``maximum_object_size``, and asking for the 4 GiB cap at every read made
any limit on the catalog fail a cold build ("failed to allocate data of
size 7.9 GiB"). The size asked for now fits the longest line written."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from trackui.store.bulk_rows import object_size, stage_columns

COLUMNS = {"run_id": "VARCHAR", "n": "BIGINT", "v": "DOUBLE", "doc": "VARCHAR"}


@pytest.mark.parametrize("doc_bytes", [10, 20_000_000])  # a big document: past the 16 MiB default
def test_staged_rows_read_back_under_a_memory_limit(tmp_path: Path, doc_bytes: int) -> None:
    con = duckdb.connect()
    con.execute("SET memory_limit = '256MB'")
    rows = [(f"run-{i}", i, i / 3, "x" * (doc_bytes if i == 7 else 3)) for i in range(5000)]
    stage_columns(con, str(tmp_path), "staged", COLUMNS, rows)
    got = con.execute("SELECT run_id, n, v, length(doc) FROM staged ORDER BY n").fetchall()
    assert got == [(r, n, v, len(d)) for r, n, v, d in rows]
    assert list(tmp_path.iterdir()) == []  # the staging file is gone


def test_the_object_size_fits_the_longest_line() -> None:
    assert object_size(10) == 1 << 24  # DuckDB's own default
    assert object_size(50_000_000) == 50_000_001
    assert object_size(2**40) == 2**32 - 1
