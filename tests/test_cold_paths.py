"""The cold catalog's cheaper paths give what the general ones give: rows
staged column by column (``bulk_rows``) equal rows staged line by line
(``ingest.temp_table``), a param's JSON text written without ``json.dumps``
equals ``json.dumps``, the JSON parser's C path equals its big-int path, and
the opener's one-``lstat`` check of a run directory still refuses a run
directory that is a symlink out of the root."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import duckdb
import pytest

from trackui.store import bounded_json, bulk_rows, run_sync
from trackui.store.ingest import temp_table
from trackui.store.opener import Opener, UnsafeFile

COLUMNS = {
    "run_id": "VARCHAR",
    "n": "BIGINT",
    "x": "DOUBLE",
    "ok": "BOOLEAN",
    "tags": "VARCHAR[]",
    "body": "VARCHAR",
}
ROWS = [
    ("a", 1, 1.5, True, ["x", "y"], '{"k": "é\\u0000"}'),
    ("b\u00e9", None, math.nan, None, [], None),
    ("c'\"\\", -(2**63), math.inf, False, None, "line\nbreak\x00"),
    ("d", 2**63 - 1, -math.inf, True, ["\u2028"], ""),
    ("e", 0, -0.0, False, ["a"] * 3, "z" * 10_000),
]


def staged(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    return con.execute(
        f"SELECT run_id, n, x::VARCHAR, ok, tags, body FROM {table} ORDER BY run_id"
    ).fetchall()


@pytest.mark.parametrize("block", [1, 2, bulk_rows.BLOCK_ROWS])
def test_columns_stage_the_rows_json_lines_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(bulk_rows, "BLOCK_ROWS", block)
    con = duckdb.connect()
    lines = [json.dumps(dict(zip(COLUMNS, row))) + "\n" for row in ROWS]
    temp_table(con, str(tmp_path), "by_lines", COLUMNS, lines)
    bulk_rows.stage_columns(con, str(tmp_path), "by_columns", COLUMNS, ROWS)
    assert staged(con, "by_columns") == staged(con, "by_lines")
    assert len(staged(con, "by_columns")) == len(ROWS)
    records = [dict(zip(COLUMNS, row)) for row in ROWS]
    del records[1]["tags"]  # missing: NULL, as a line without the key
    bulk_rows.stage_records(con, str(tmp_path), "by_records", COLUMNS, records)
    lines[1] = json.dumps(records[1]) + "\n"
    temp_table(con, str(tmp_path), "by_lines", COLUMNS, lines)
    assert staged(con, "by_records") == staged(con, "by_lines")


def test_no_rows_stage_an_empty_table(tmp_path: Path) -> None:
    con = duckdb.connect()
    bulk_rows.stage_columns(con, str(tmp_path), "empty", COLUMNS, [])
    assert con.execute("SELECT count(*) FROM empty").fetchall() == [(0,)]
    assert [d[0] for d in con.execute("FROM empty").description] == list(COLUMNS)


VALUES = [
    "plain",
    "é and 漢字",
    "\udc80 lone",
    '"\\\n\x00\x7f\u2028',
    0,
    -5,
    10**40,
    1.5,
    1e300,
    -0.0,
    1e-7,
    math.nan,
    math.inf,
    -math.inf,
    True,
    False,
    None,
    [1, "x", None],
    {"a": {"b": 1.5}},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_param_text_without_dumps_is_dumps(value: object) -> None:
    dumped = run_sync.repair(json.dumps(value, default=str))
    assert run_sync.value_json(value) == dumped
    if isinstance(value, str):
        assert run_sync.text(value) == run_sync.repair(value)
    else:
        assert run_sync.text(value) == (None if value is None else dumped)


def test_config_rows_are_what_each_value_gives() -> None:
    doc = {"opt": {"lr": 0.01, "name": "sgd"}, "k\udc80": None, "e": [1], "f": {}, "s": "é"}
    expected = [
        ("r", run_sync.repair(k), run_sync.value_json(v), run_sync.number(v), run_sync.text(v))
        for k, v in run_sync.flatten(doc).items()
    ]
    assert run_sync.config_rows("r", doc) == expected


@pytest.mark.parametrize(
    "doc",
    [
        b'{"a": 1, "b": [2, 3.5, "4"], "c": {"d": null}}',
        b'{"a": ' + b"9" * 4000 + b"}",
        b'{"a": -' + b"9" * 4001 + b', "b": 2}',
        b'{"s": "' + b"1" * 5000 + b'", "n": 7}',
        b'{"a": 1, "a": 2}',
    ],
)
def test_json_c_path_equals_big_int_path(doc: bytes) -> None:
    slow = json.loads(doc, parse_int=bounded_json._parse_int)
    assert bounded_json.loads(doc) == slow
    if b"9" * 4001 in doc:
        assert bounded_json.loads(doc)["a"] == -math.inf


def test_json_errors_stay_value_errors() -> None:
    for bad in (b"{", b'{"a": 1,}', b"[" * 200 + b"]" * 200, b"\xff"):
        with pytest.raises(ValueError):
            bounded_json.loads_object(bad)


def test_run_directory_swapped_for_a_symlink_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "store", tmp_path / "outside"
    for folder in (root / "p" / "r1", root / "p" / "r2", outside):
        folder.mkdir(parents=True)
    for folder in (root / "p" / "r1", root / "p" / "r2", outside):
        (folder / "meta.json").write_text('{"secret": 1}')
    os.symlink(outside, root / "p" / "r3")
    opener = Opener(root)
    # r1 is checked the long way (its project too); r2 by one lstat; r3 is a link out.
    assert opener.read("p/r1/meta.json")[0] == b'{"secret": 1}'
    assert opener.read("p/r2/meta.json")[0] == b'{"secret": 1}'
    with pytest.raises(UnsafeFile):
        opener.read("p/r3/meta.json")
    with pytest.raises(UnsafeFile):
        opener.stat("p/r3/meta.json")
    # A checked run directory later swapped for a link: the read still refuses it.
    os.rename(root / "p" / "r2", tmp_path / "r2-away")
    os.symlink(outside, root / "p" / "r2")
    with pytest.raises(UnsafeFile):
        opener.read("p/r2/meta.json")


def test_reads_are_whole_however_the_file_changed(tmp_path: Path) -> None:
    (tmp_path / "p" / "r").mkdir(parents=True)
    path = tmp_path / "p" / "r" / "metrics.jsonl"
    path.write_bytes(b'{"_step": 0}\n' * 1000)
    opener = Opener(tmp_path)
    data, st = opener.read("p/r/metrics.jsonl")
    assert data == path.read_bytes() and st.size == len(data)
    got = opener.read_lines("p/r/metrics.jsonl", 13)
    assert got.data == b'{"_step": 0}\n' * 999 and got.end == st.size
    with open(path, "ab") as fh:
        fh.write(b'{"_step": 1}\n{"_st')
    got = opener.read_lines("p/r/metrics.jsonl", got.end)
    assert got.data == b'{"_step": 1}\n'
    assert opener.read_range("p/r/metrics.jsonl", 0, 5)[0] == b'{"_st'
    path.write_bytes(b"")
    assert opener.read("p/r/metrics.jsonl")[0] == b""
    assert opener.read_lines("p/r/metrics.jsonl", 0).data == b""


def test_a_page_fetched_by_stale_rowids_is_fetched_again_by_run_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trackui.store import run_list
    from trackui.store.queries import Store

    root = tmp_path / "store"
    for n in range(6):
        run_dir = root / "p" / f"20260101-00000{n}-run{n}"
        run_dir.mkdir(parents=True)
        meta = {"format": 1, "project": "p", "name": f"run-{n}", "created": 1e9 + n}
        (run_dir / "meta.json").write_text(json.dumps(meta))
        (run_dir / "config.json").write_text(json.dumps({"lr0": n / 10}))
    with Store(root, catalog_path=tmp_path / "c.duckdb", private=True) as store:
        columns = ["param:lr0"]
        expected = store.list_runs(columns=columns)
        assert [r.name for r in expected] == [f"run-{n}" for n in range(5, -1, -1)]
        assert store.page_runs(limit=3, offset=1, columns=columns)[0] == expected[1:4]
        real = run_list.RunList._page_rows
        asked: list[dict[int, str]] = []

        def stale(self, join_sql, params, exprs, ids):  # type: ignore[no-untyped-def]
            # A refresh moved the rows: each rowid now names a run off the page.
            off_page = sorted({row[0] for row in store._rows("SELECT rowid FROM runs")} - set(ids))
            shifted = dict(zip(off_page, ids.values()))
            assert len(shifted) == len(ids)
            asked.append(shifted)
            return real(self, join_sql, params, exprs, shifted)

        monkeypatch.setattr(run_list.RunList, "_page_rows", stale)
        assert store.page_runs(limit=3, offset=1, columns=columns)[0] == expected[1:4]
        assert asked
