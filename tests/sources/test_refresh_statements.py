"""The cheaper statements of a live refresh write what the plain ones did:
cursors saved from NumPy columns or from written-out VALUES (no NumPy; a
NUL, which neither fixed-width NumPy strings nor SQL text hold), run and key ids looked up with the ids written
into the statement (quotes, non-ASCII, NUL), summaries merged from a query
as from a table, and small inserts without the thread-setting pair."""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any

import duckdb
import pytest

from trackui.store import columns, ingest
from trackui.store.catalog_schema import SCHEMA
from trackui.store.sources import follow, points

NAMES = ["plain", "it's", "é/日本語 😀", "a nul\0 inside"]


def catalog() -> Any:
    con = duckdb.connect()
    con.execute(SCHEMA)
    return con


def files_rows(con: Any) -> list[tuple[Any, ...]]:
    return sorted(con.execute("SELECT * FROM files").fetchall())


@pytest.mark.parametrize(
    "names",
    [NAMES[:3], NAMES, [*NAMES[:3], "long " * 2000]],
    ids=["numpy columns", "odd strings", "one long string"],
)
@pytest.mark.parametrize("numpy", [True, False], ids=["numpy", "no numpy"])
def test_cursors_saved_whichever_way(
    monkeypatch: pytest.MonkeyPatch, names: list[str], numpy: bool
) -> None:
    con = catalog()
    for i, run in enumerate(names):
        con.execute("INSERT INTO files VALUES (?, ?, 1, 2, 3, 4, 5)", [run, f"{{{i}}}"])
        con.execute("INSERT INTO files VALUES (?, 'other', 1, 2, 3, 4, 5)", [run])
    if not numpy:
        monkeypatch.setattr(follow, "numpy_or_none", lambda: None)
    moved = [
        [run, f"{{{i}}}", 10 + i, 2**40 + i, 2**62 + i, 7 * i, 9] for i, run in enumerate(names)
    ]
    follow._save_cursors(con, moved)
    want = [tuple(r) for r in moved] + [(run, "other", 1, 2, 3, 4, 5) for run in names]
    assert files_rows(con) == sorted(want)


def test_ids_looked_up_with_any_text() -> None:
    con = catalog()
    for i, name in enumerate(NAMES):
        con.execute("INSERT INTO runs (run_id, run_no) VALUES (?, ?)", [name, i + 1])
        con.execute("INSERT INTO metric_keys VALUES (?, ?)", [i + 1, name])
    con.execute("INSERT INTO runs (run_id, run_no) VALUES ('not asked', 99)")
    want = {name: i + 1 for i, name in enumerate(NAMES)}
    assert points._run_numbers(con, NAMES) == want
    assert points._run_numbers(con, NAMES[:3]) == {n: want[n] for n in NAMES[:3]}
    assert points._run_numbers(con, []) == {}
    assert points._key_numbers(con, NAMES) == want
    assert points._key_numbers(con, NAMES[:2] + ["new key"])["new key"] == len(NAMES) + 1


SUMMARY = ["run_id", "key", *ingest._SUMMARY_STATS]


def test_summaries_merged_from_a_query_as_from_a_table() -> None:
    """A new series is inserted whole; a known one keeps its first value and
    first time, takes the new last ones, combines min/max (with their steps)
    and count, and keeps a step or time the new points lack; the run's last
    time is the latest of the series merged."""
    old = [
        ("r", "a", 1.0, 2.0, 0.5, 3.0, 4, 1, 2, 3, 10.0, 13.0, 3),
        ("r", "b", 5.0, 6.0, 5.0, 6.0, 2, 0, 1, 1, None, None, 1),
    ]
    new = [
        ("r", "a", 9.0, 8.0, 0.25, 2.5, 2, 7, 6, None, 14.0, None, 5),
        ("r", "b", 7.0, 7.5, 7.0, 7.5, 2, 2, 3, 3, 20.0, 21.0, 3),
        ("r", "c", math.nan, math.nan, None, None, 1, None, None, 4, None, None, 0),
    ]
    merged = []
    for how in ("table", "query"):
        con = catalog()
        con.execute("INSERT INTO runs (run_id, run_no, last_t) VALUES ('r', 1, 13.0)")
        marks = ", ".join("?" * len(SUMMARY))
        con.executemany(f"INSERT INTO summaries VALUES ({marks})", old)
        con.execute("CREATE TEMP TABLE src AS FROM summaries LIMIT 0")
        con.executemany(f"INSERT INTO src VALUES ({marks})", new)
        ingest.merge_summaries(con, "src" if how == "table" else "(SELECT * FROM src)")
        merged.append(
            (
                [
                    tuple(map(repr, r))
                    for r in con.execute("FROM summaries ORDER BY key").fetchall()
                ],
                con.execute("SELECT last_t FROM runs").fetchall(),
            )
        )
    assert merged[0] == merged[1]
    got, last_t = merged[0]
    assert got == [
        tuple(map(repr, r))
        for r in [
            ("r", "a", 1.0, 8.0, 0.25, 3.0, 6, 7, 2, 3, 10.0, 13.0, 5),
            ("r", "b", 5.0, 7.5, 5.0, 7.5, 4, 0, 3, 3, 20.0, 21.0, 3),
            ("r", "c", math.nan, math.nan, None, None, 1, None, None, 4, None, None, 0),
        ]
    ]
    assert last_t == [(21.0,)]


@pytest.mark.parametrize("threshold", [10, 2], ids=["small insert", "big insert"])
def test_thread_setting_only_around_big_inserts(
    monkeypatch: pytest.MonkeyPatch, threshold: int
) -> None:
    con = catalog()
    used: list[int] = []

    @contextmanager
    def one_thread(cur: Any) -> Any:
        used.append(1)
        yield

    monkeypatch.setattr(columns, "one_thread", one_thread)
    monkeypatch.setattr(columns, "ONE_THREAD_ROWS", threshold)
    pts = columns.Points([1, 1, 1], [1, 1, 1], [0, 1, 2], [0, 1, 2], [0.0, None, 2.0], [1, 2, 3])
    assert columns.insert_metrics(con, "/nowhere", pts, None, ordered=True) == 3
    assert con.execute("SELECT seq, t, value FROM metrics ORDER BY seq").fetchall() == [
        (0, 0.0, 1.0),
        (1, None, 2.0),
        (2, 2.0, 3.0),
    ]
    assert used == ([1] if threshold <= 3 else [])
