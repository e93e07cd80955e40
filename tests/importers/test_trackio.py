"""The Trackio reader against a real Trackio database (``fixtures/trackio``).

Expected values come from the database itself, read here with ``sqlite3`` and
``json`` (every ``metrics`` row, every config), and run-level facts from
``fixtures/trackio/EXPECTED.json``. Trackio records no status; the reader
infers one from the time of the last row and the epochs logged, so tests that
look at status pass ``now``.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import sqlite3
from datetime import datetime
from functools import partial
from pathlib import Path

import pytest

from trackui.store.importers import trackio

from .helpers import listing, materialized, read_runs, same, series

_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
# The Trackio database is kept as an SQL dump in fixtures/; this is the built copy.
FIXTURES = materialized(_FIXTURES / "trackio")
materialized(_FIXTURES / "mlflow")  # beside it, for the detection tests
DB = FIXTURES / "yolo-fake.db"
EXPECTED = {r["run_id"]: r for r in json.loads((FIXTURES / "EXPECTED.json").read_text())["trackio"]}
DAY = 86400.0
#: Long after the fixture runs: nothing is fresh any more.
LATER = 4_000_000_000.0
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


# -- helpers -------------------------------------------------------------------


read_all = partial(read_runs, trackio)


def rows(db: Path, sql: str, *args: object) -> list[tuple]:
    # immutable: the test's own reads must not touch the fixture's -shm either
    conn = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def iso(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def db_series(db: Path, run_id: str) -> dict[str, list[tuple[int, float, float]]]:
    """Every numeric value of every row, in row order, parsed with json."""
    out: dict[str, list[tuple[int, float, float]]] = {}
    for step, ts, blob in rows(
        db, "SELECT step, timestamp, metrics FROM metrics WHERE run_id = ? ORDER BY id", run_id
    ):
        for key, value in json.loads(blob).items():
            number = NON_FINITE[value] if isinstance(value, str) else float(value)
            out.setdefault(key, []).append((step, number, iso(ts)))
    return out


def last_row_time(run_id: str) -> float:
    (ts,) = rows(DB, "SELECT MAX(timestamp) FROM metrics WHERE run_id = ?", run_id)[0]
    return iso(ts)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    root = tmp_path / "trackio"
    shutil.copytree(FIXTURES, root)
    return root / DB.name


def insert_rows(db: Path, run_id: str, *records: tuple[int, dict[str, object]]) -> None:
    name = rows(db, "SELECT run_name FROM configs WHERE run_id = ?", run_id)[0][0]
    conn = sqlite3.connect(db)
    conn.executemany(
        "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?, ?, ?, ?, ?)",
        [
            (run_id, "2026-11-26T14:40:00+00:00", name, step, json.dumps(m).encode())
            for step, m in records
        ],
    )
    conn.commit()
    conn.close()


# -- detection -----------------------------------------------------------------


def test_detect() -> None:
    assert trackio.detect(FIXTURES)
    assert trackio.detect(DB)
    assert trackio.detect(FIXTURES.parent)


def test_detect_rejects_other_databases(tmp_path: Path) -> None:
    assert not trackio.detect(tmp_path)
    (tmp_path / "junk.db").write_bytes(b"\x00" * 4096)
    assert not trackio.detect(tmp_path)
    assert not trackio.detect(FIXTURES.parent / "mlflow")
    assert not trackio.detect(FIXTURES.parent / "mlflow" / "sqlite" / "mlflow.db")


# -- the runs ------------------------------------------------------------------


def test_every_run_matches_the_database() -> None:
    runs, problems = read_all(FIXTURES, now=LATER)
    assert problems == []
    assert list(runs) == list(EXPECTED)  # in the order the runs started
    for run_id, want in EXPECTED.items():
        run = runs[run_id]
        assert run.kind == "trackio"
        assert run.project == "yolo-fake"
        assert run.name == want["run_name"]
        assert Path(run.source_path) == DB.resolve()

        (blob, created_at) = rows(
            DB, "SELECT config, created_at FROM configs WHERE run_id = ?", run_id
        )[0]
        config = json.loads(blob)
        assert run.params == {k: v for k, v in config.items() if not k.startswith("_")}
        assert run.params["epochs"] == 30 and run.params["lr0"] == config["lr0"]
        assert run.created == iso(config["_Created"])
        assert run.group is None and "user" not in run.extra  # both null in the config

        want_series = db_series(DB, run_id)
        got = series(run)
        assert sorted(got) == sorted(want_series)
        for key, points in want_series.items():
            assert len(got[key]) == len(points), key
            for (gs, gv, gt), (ws, wv, wt) in zip(got[key], points, strict=True):
                assert gs == ws and gt == wt and same(gv, wv), (key, gs, ws)

        (n_rows,) = rows(DB, "SELECT count(*) FROM metrics WHERE run_id = ?", run_id)[0]
        assert n_rows == want["metric_rows"]
        assert len(got["train/loss"]) == want["train_loss_points"]
        assert got["train/loss"][-1][0] == want["train_loss_last_step"]
        assert len(got["metrics/mAP50-95(B)"]) == want["epochs_logged"]
        assert got["metrics/mAP50-95(B)"][-1][1] == want["final_mAP50-95"]
        # the config row counts too: the kill -9 run's was written after its last flush
        assert run.last_activity == max(last_row_time(run_id), iso(created_at))


def test_artifacts_point_at_their_blobs() -> None:
    runs, problems = read_all(DB)
    assert problems == []
    for run_id, want in EXPECTED.items():
        (artifact,) = runs[run_id].artifacts
        (name,) = want["artifacts"]
        assert artifact.name == ("best.pt" if name.endswith("-best") else "last.pt")
        blob = Path(artifact.path)
        assert blob.is_relative_to(FIXTURES.resolve() / "artifacts" / "yolo-fake")
        data = blob.read_bytes()
        assert hashlib.sha256(data).hexdigest() == artifact.sha256 == blob.name
        assert artifact.size == len(data) == 32786


def test_status_inferred_from_epochs_once_quiet() -> None:
    runs, _ = read_all(DB, now=LATER)
    for run_id, want in EXPECTED.items():
        run = runs[run_id]
        assert want["status"] == "none recorded"
        if want["epochs_logged"] == run.params["epochs"]:
            assert (run.status, run.status_reason) == ("finished", None)
        else:
            assert run.status == "crashed"
            assert run.status_reason is not None
            assert f"{want['epochs_logged']} of 30 epochs" in run.status_reason
        assert run.ended == run.last_activity


def test_status_reason_says_how_long_it_has_been_quiet() -> None:
    killed = next(r for r, w in EXPECTED.items() if w["run_name"].endswith("kill9"))
    last = last_row_time(killed)
    runs, _ = read_all(DB, now=last + 3 * DAY + 60)
    assert runs[killed].status_reason == (
        "no status in Trackio; 10 of 30 epochs, no activity for 3 d"
    )


def test_a_run_with_fresh_rows_is_running() -> None:
    killed = next(r for r, w in EXPECTED.items() if w["run_name"].endswith("kill9"))
    last = last_row_time(killed)
    runs, _ = read_all(DB, now=last + 30)
    assert (runs[killed].status, runs[killed].ended) == ("running", None)
    runs, _ = read_all(DB, now=last + 30, stale_after=10)
    assert runs[killed].status == "crashed"


def test_a_quiet_run_without_epoch_count_is_finished(copy: Path) -> None:
    run_id = next(iter(EXPECTED))
    conn = sqlite3.connect(copy)
    conn.execute(
        "UPDATE configs SET config = ? WHERE run_id = ?",
        (json.dumps({"lr0": 0.1}).encode(), run_id),
    )
    conn.commit()
    conn.close()
    runs, _ = read_all(copy, now=LATER)
    assert runs[run_id].status == "finished"
    assert runs[run_id].params == {"lr0": 0.1}
    assert "no epoch count" in runs[run_id].extra["status_inferred"]


def test_non_finite_and_non_scalar_values(copy: Path) -> None:
    run_id = next(iter(EXPECTED))
    image = {"_type": "trackio.image", "file_path": "media/x.png"}
    insert_rows(
        copy,
        run_id,
        (6000, {"val/odd": "NaN"}),
        (6001, {"val/odd": "Infinity", "sample": image}),
        (6002, {"val/odd": "-Infinity", "flag": True}),
    )
    runs, problems = read_all(copy)
    assert problems == []
    got = series(runs[run_id])
    values = [v for _, v, _ in got["val/odd"]]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf]
    assert got["flag"] == [(6002, 1.0, iso("2026-11-26T14:40:00+00:00"))]
    assert runs[run_id].extra["non_scalar_keys"] == ["sample"]


def test_a_broken_row_is_skipped_and_named(copy: Path) -> None:
    run_id = next(iter(EXPECTED))
    conn = sqlite3.connect(copy)
    conn.execute(
        "UPDATE metrics SET metrics = ? WHERE id = (SELECT MIN(id) FROM metrics WHERE run_id = ?)",
        (b'{"train/loss": 1.5', run_id),
    )
    conn.commit()
    conn.close()
    runs, problems = read_all(copy)
    assert len(problems) == 1
    assert problems[0].startswith(f"{copy}: run '{EXPECTED[run_id]['run_name']}': 1 unreadable")
    assert set(runs) == set(EXPECTED)
    assert len(series(runs[run_id])["train/loss"]) == EXPECTED[run_id]["train_loss_points"] - 1


def test_damaged_databases_are_named_and_the_rest_imported(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES, tmp_path / "good")
    data = DB.read_bytes()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "truncated.db").write_bytes(data[: len(data) // 3])
    (bad / "truncated.lock").touch()
    (bad / "garbage.db").write_bytes(b"\x13\x37" * 5000)
    (bad / "garbage.lock").touch()

    runs, problems = read_all(tmp_path, now=LATER)
    assert set(runs) == set(EXPECTED)
    for name in ("truncated.db", "garbage.db"):
        assert any(p.startswith(f"{bad / name}: ") for p in problems), (name, problems)

    problems = []
    assert list(trackio.read(bad / "garbage.db", problems)) == []
    assert problems == [f"{bad / 'garbage.db'}: not a SQLite database"]


def test_missing_artifact_blob_is_named(copy: Path) -> None:
    shutil.rmtree(copy.parent / "artifacts")
    runs, problems = read_all(copy)
    assert set(runs) == set(EXPECTED)
    assert all(r.artifacts == [] for r in runs.values())
    assert len(problems) == len(EXPECTED)
    assert all(": missing (artifact " in p for p in problems)


def test_a_live_wal_is_read_and_nothing_written(copy: Path) -> None:
    """Trackio keeps its database in WAL mode; recent rows live only in the -wal file."""
    run_id = next(r for r, w in EXPECTED.items() if w["run_name"].endswith("kill9"))
    name = EXPECTED[run_id]["run_name"]
    writer = sqlite3.connect(copy)
    try:
        assert writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.execute(
            "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?, ?, ?, ?, ?)",
            (run_id, "2026-11-26T14:41:00+00:00", name, 2000, b'{"train/loss":0.75}'),
        )
        writer.commit()
        assert copy.with_name(copy.name + "-wal").stat().st_size > 0
        assert copy.with_name(copy.name + "-shm").exists()
        before = listing(copy.parent)

        assert trackio.detect(copy.parent)
        runs, problems = read_all(copy.parent)
        assert problems == []
        assert series(runs[run_id])["train/loss"][-1] == (
            2000,
            0.75,
            iso("2026-11-26T14:41:00+00:00"),
        )
        assert listing(copy.parent) == before
    finally:
        writer.close()


def test_reading_the_fixture_writes_nothing() -> None:
    before = listing(FIXTURES)
    assert trackio.detect(FIXTURES)
    runs, _ = read_all(FIXTURES)
    assert len(runs) == len(EXPECTED)
    assert listing(FIXTURES) == before
    assert not DB.with_name(DB.name + "-shm").exists()
    assert not DB.with_name(DB.name + "-wal").exists()


def test_early_trackio_schema_without_run_id(tmp_path: Path) -> None:
    """Early Trackio: one metrics table keyed by project_name and run_name, no configs."""
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.execute(
        "CREATE TABLE metrics (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp TEXT NOT NULL,"
        " project_name TEXT NOT NULL, run_name TEXT NOT NULL, step INTEGER NOT NULL,"
        " metrics TEXT NOT NULL)"
    )
    conn.executemany(
        "INSERT INTO metrics (timestamp, project_name, run_name, step, metrics) VALUES (?, ?, ?, ?, ?)",
        [
            ("2025-07-01T10:00:00", "my project", "dainty-sunset-0", 0, '{"loss": 2.0}'),
            ("2025-07-01T10:00:01", "my project", "dainty-sunset-0", 1, '{"loss": 1.5}'),
            ("2025-07-01T10:00:02", "my project", "brave-forest-1", 0, '{"loss": 3.0}'),
        ],
    )
    conn.commit()
    conn.close()
    assert trackio.detect(db)
    runs, problems = read_all(tmp_path, now=LATER)
    assert problems == []
    assert list(runs) == ["dainty-sunset-0", "brave-forest-1"]
    assert {r.project for r in runs.values()} == {"my project"}
    assert [(p.step, p.value) for p in runs["dainty-sunset-0"].points] == [(0, 2.0), (1, 1.5)]
    assert runs["brave-forest-1"].status == "finished"


def test_missing_path_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    problems: list[str] = []
    assert list(trackio.read(tmp_path / "nope.db", problems)) == []
    assert problems == [f"{tmp_path / 'nope.db'}: no such file or directory"]
