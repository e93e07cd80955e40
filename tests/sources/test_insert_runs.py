"""Foreign runs' catalog rows written for a whole batch at once
(``rows.insert_runs``) are the rows ``insert_run`` writes run by run:
every table, run numbers included, odd values and hostile strings too."""

from __future__ import annotations

import datetime
import tempfile
from typing import Any

import duckdb
import pytest

from trackui.store.catalog_schema import SCHEMA, TABLES
from trackui.store.importers.base import Artifact, ForeignRun
from trackui.store.sources.rows import insert_run, insert_runs


def runs() -> list[tuple[str, ForeignRun, float]]:
    odd = "é/日本語 😀 it's \u202e\x1b[31m"
    out = [
        ForeignRun(
            kind="mlflow",
            source_path="/data/mlruns/1/abc",
            source_id="abc",
            project="exp",
            name="run-a",
            params={"lr": 0.001, "opt": {"name": "adam", "betas": [0.9, 0.999]}, "big": 2**70},
            status="finished",
            created=1.7e9,
            ended=1.7e9 + 60,
            tags=["x", odd],
            artifacts=[Artifact("w/best.pt", "/data/mlruns/1/abc/w/best.pt", 3, "ab" * 32)],
            extra={"host": "box", "user": "me", "argv": ["train.py", "--lr", 1], "git": {"c": 1}},
        ),
        ForeignRun(
            kind="tensorboard",
            source_path=f"/logs/{odd}",
            source_id=odd,
            project="",  # the tool's kind stands in
            name=odd,
            params={odd: odd, "n": None, "f": float("inf"), "s": "1.5"},
            status="running",
            created=None,
            extra={"started": datetime.datetime(2026, 1, 2, 3, 4, 5)},  # not JSON: as text
        ),
        ForeignRun(
            kind="dvclive",
            source_path="/repo/dvclive",
            source_id="dvclive",
            project="repo",
            name="",
            status="crashed",
            status_reason="5 of 10 epochs",
            created=1.6e9,
            ended=None,
            parent_id="p",
            notes="n",
            group="g",
            artifacts=[Artifact("m.pkl", "/repo/m.pkl"), Artifact("b", "/repo/b", None, None)],
        ),
    ]
    for n in range(40):  # more than one of each kind, as a first read of a folder gives
        out.append(
            ForeignRun(
                kind="tensorboard",
                source_path=f"/logs/r{n}",
                source_id=f"r{n}",
                project="tb",
                name=f"r{n}",
                params={"seed": n, "nested": {"k": [n, {"deep": str(n)}]}} if n % 3 else {},
                status=("finished", "running", "failed")[n % 3],
                created=1.7e9 + n,
                ended=1.7e9 + n + 1,
            )
        )
    return [(f"tb:{i}:{run.source_id}", run, 10.0 + i) for i, run in enumerate(out)]


def catalog() -> Any:
    con = duckdb.connect()
    con.execute(SCHEMA)
    # A native run before them (run numbers continue from it) and params left
    # behind under a foreign run's key (``write_config`` deletes them first).
    con.execute(
        "INSERT INTO runs (run_id, run_no, dir, project, name) VALUES ('n1', 7, '/s/p/n1', 'p', 'n1')"
    )
    con.execute("INSERT INTO params VALUES ('tb:0:abc', 'stale', '1', 1, '1')")
    con.execute("INSERT INTO params VALUES ('n1', 'lr', '1', 1, '1')")
    return con


def everything(con: Any) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for table in TABLES:
        columns = [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]
        shown = ", ".join(f'"{c}"::VARCHAR' for c in columns)
        out[table] = con.execute(f"SELECT {shown} FROM {table} ORDER BY ALL").fetchall()
    return out


@pytest.mark.parametrize("split", [None, 1, 7], ids=["one batch", "batches of 1", "batches of 7"])
def test_batched_rows_equal_run_by_run(split: int | None) -> None:
    given = runs()
    one_by_one = catalog()
    for key, run, interval in given:
        insert_run(one_by_one, key, run, interval, "box-1", "/data")
    batched = catalog()
    step = split or len(given)
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(0, len(given), step):
            insert_runs(batched, given[i : i + step], "box-1", "/data", tmp)
        insert_runs(batched, [], "box-1", "/data", tmp)  # nothing: no statement fails
    expected, got = everything(one_by_one), everything(batched)
    assert len(expected["runs"]) == len(given) + 1 and expected["params"] and expected["artifacts"]
    for table in TABLES:
        assert got[table] == expected[table], table
