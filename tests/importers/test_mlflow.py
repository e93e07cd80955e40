"""The MLflow reader against real MLflow output (``fixtures/mlflow``).

Expected values come from MLflow's own files, read here independently: metric
files split with ``str.split``, params and tags read as plain files, the
SQLite store queried with ``sqlite3``; run-level facts (status, times, counts,
artifacts) from ``fixtures/mlflow/EXPECTED.json``. Status depends on time, so
tests that look at it pass ``now`` (and, for the file store, work on a copy
whose mtimes are set with ``os.utime``, since git does not keep them).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
from functools import partial
from pathlib import Path

import pytest

from trackui.store.importers import mlflow

from .helpers import listing, materialized, read_runs, same, series

_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
# The SQLite stores are kept as SQL dumps in fixtures/; these are the built copies.
FIXTURES = materialized(_FIXTURES / "mlflow")
materialized(_FIXTURES / "trackio")  # beside it, for the detection tests
FILE_STORE = FIXTURES / "file" / "mlruns"
DB = FIXTURES / "sqlite" / "mlflow.db"
EXPERIMENT = FILE_STORE / "747216036630819324"
EXPECTED = json.loads((FIXTURES / "EXPECTED.json").read_text())
FILE_RUNS = {r["run_id"]: r for r in EXPECTED["mlflow_file"]}
DB_RUNS = {r["run_id"]: r for r in EXPECTED["mlflow_sqlite"]}
KILLED_FILE = next(r for r in FILE_RUNS if FILE_RUNS[r]["status"] == "RUNNING")
KILLED_DB = next(r for r in DB_RUNS if DB_RUNS[r]["status"] == "RUNNING")
DAY = 86400.0
#: Long after every fixture run and every checkout: the kill -9 runs are stale.
LATER = 4_000_000_000.0
STATUS_MAP = {"FINISHED": "finished", "FAILED": "failed", "RUNNING": "crashed"}


# -- helpers -------------------------------------------------------------------


read_all = partial(read_runs, mlflow)


def assert_same_series(
    got: dict[str, list[tuple[int, float, float | None]]],
    want: dict[str, list[tuple[int, float, float | None]]],
) -> None:
    assert sorted(got) == sorted(want)
    for key, points in want.items():
        assert len(got[key]) == len(points), key
        for (gs, gv, gt), (ws, wv, wt) in zip(got[key], points, strict=True):
            assert gs == ws and gt == wt and same(gv, wv), (key, (gs, gv, gt), (ws, wv, wt))


def file_series(run_dir: Path) -> dict[str, list[tuple[int, float, float | None]]]:
    """metrics/<key...>: lines "<ts_ms> <value> <step>", split by hand."""
    out: dict[str, list[tuple[int, float, float | None]]] = {}
    root = run_dir / "metrics"
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        key = path.relative_to(root).as_posix()
        for line in path.read_text().splitlines():
            ts, value, step = line.split(" ")
            out.setdefault(key, []).append((int(step), float(value), int(ts) / 1000))
    return out


def file_values(directory: Path) -> dict[str, str]:
    return {
        p.relative_to(directory).as_posix(): p.read_text()
        for p in directory.rglob("*")
        if p.is_file()
    }


def db_rows(db: Path, sql: str, *args: object) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def db_series(db: Path, run_id: str) -> dict[str, list[tuple[int, float, float | None]]]:
    out: dict[str, list[tuple[int, float, float | None]]] = {}
    rows = db_rows(
        db,
        "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ?"
        " ORDER BY timestamp, step, rowid",
        run_id,
    )
    for key, value, ts, step, is_nan in rows:
        out.setdefault(key, []).append((step, math.nan if is_nan else value, ts / 1000))
    return out


def set_mtimes(root: Path, stamp: float) -> None:
    for path in root.rglob("*"):
        os.utime(path, (stamp, stamp))


@pytest.fixture
def file_copy(tmp_path: Path) -> Path:
    root = tmp_path / "mlruns"
    shutil.copytree(FILE_STORE, root)
    return root


@pytest.fixture
def db_copy(tmp_path: Path) -> Path:
    root = tmp_path / "sqlite"
    shutil.copytree(FIXTURES / "sqlite", root)
    return root / "mlflow.db"


# -- detection -----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        FIXTURES,
        FILE_STORE,
        FILE_STORE.parent,
        EXPERIMENT,
        EXPERIMENT / KILLED_FILE,
        DB,
        DB.parent,
    ],
    ids=["fixtures", "mlruns", "above-mlruns", "experiment", "run", "db", "db-dir"],
)
def test_detect_finds_both_stores(path: Path) -> None:
    assert mlflow.detect(path)


def test_detect_rejects_other_things(tmp_path: Path) -> None:
    assert not mlflow.detect(tmp_path)
    (tmp_path / "notes.db").write_bytes(b"not a database at all")
    (tmp_path / "meta.yaml").write_text("name: x\n")
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE runs (id INTEGER, name TEXT)")
    conn.execute("CREATE TABLE metrics (run_name TEXT, step INTEGER, metrics TEXT)")
    conn.execute("CREATE TABLE experiments (id INTEGER)")
    conn.commit()
    conn.close()
    assert not mlflow.detect(tmp_path)
    assert not mlflow.detect(other)
    assert not mlflow.detect(FIXTURES.parent / "trackio")


# -- the file store ------------------------------------------------------------


def test_file_store_every_run_matches_its_files() -> None:
    runs, problems = read_all(FILE_STORE, now=LATER)
    assert problems == []
    assert set(runs) == set(FILE_RUNS)
    for run_id, want in FILE_RUNS.items():
        run, run_dir = runs[run_id], EXPERIMENT / run_id
        assert run.kind == "mlflow"
        assert run.project == "yolo-fake"
        assert run.name == want["run_name"] == (run_dir / "tags" / "mlflow.runName").read_text()
        assert Path(run.source_path) == run_dir.resolve()
        assert run.params == file_values(run_dir / "params") == want["params"]
        assert_same_series(series(run), file_series(run_dir))
        assert run.created == want["start_time_ms"] / 1000
        assert run.ended == (None if want["end_time_ms"] is None else want["end_time_ms"] / 1000)
        assert run.status == STATUS_MAP[want["status"]]
        loss = [p for p in run.points if p.key == "train/loss"]
        assert len(loss) == want["train_loss_points"]
        assert loss[-1].step == want["train_loss_last_step"]
        final = [p for p in run.points if p.key == "metrics/mAP50-95B"]
        assert len(final) == want["epochs_logged"] and final[-1].value == want["final_mAP50-95"]
        tags = file_values(run_dir / "tags")
        user_tags = {k: v for k, v in tags.items() if not k.startswith("mlflow.")}
        assert run.extra["tags"] == user_tags == {"task": "detect", "trainer": "fake-ultralytics"}
        assert sorted(run.tags) == ["task=detect", "trainer=fake-ultralytics"]
        assert run.extra["user"] == tags["mlflow.user"]
        assert run.parent_id is None
        assert [a.name for a in run.artifacts] == want["artifacts"]
        for art in run.artifacts:
            # resolved under the fixture, not through the baked /home/user/... artifact_uri
            assert Path(art.path) == (run_dir / "artifacts" / art.name).resolve()
            assert art.size == Path(art.path).stat().st_size == 32786


def test_file_store_points_interleave_by_time_but_keep_each_file_order() -> None:
    runs, _ = read_all(EXPERIMENT / next(iter(FILE_RUNS)))
    (run,) = runs.values()
    times = [p.t for p in run.points]
    assert times == sorted(times)
    assert [p.step for p in run.points if p.key == "train/loss"] == list(range(6000))


def test_single_experiment_and_single_run_paths() -> None:
    runs, problems = read_all(EXPERIMENT)
    assert set(runs) == set(FILE_RUNS) and problems == []
    runs, problems = read_all(EXPERIMENT / KILLED_FILE)
    assert list(runs) == [KILLED_FILE] and problems == []
    assert runs[KILLED_FILE].project == "yolo-fake"


def test_file_store_kill9_run_is_running_while_fresh_then_crashed(file_copy: Path) -> None:
    run_dir = file_copy / EXPERIMENT.name / KILLED_FILE
    last = max(t for pts in file_series(run_dir).values() for _, _, t in pts)
    assert last is not None
    set_mtimes(file_copy, last)

    runs, _ = read_all(file_copy, now=last + 60)
    run = runs[KILLED_FILE]
    assert (run.status, run.status_reason, run.ended) == ("running", None, None)
    assert run.last_activity == last

    runs, _ = read_all(file_copy, now=last + 3 * DAY + 300)
    run = runs[KILLED_FILE]
    assert run.status == "crashed"
    assert run.status_reason == "RUNNING in MLflow, no activity for 3 d"
    # ended runs keep MLflow's verdict however old they are
    finished = [r for r in runs.values() if r.source_id != KILLED_FILE]
    assert {r.status for r in finished} == {"finished", "failed"}


def test_file_store_appended_metric_line_keeps_the_run_alive(file_copy: Path) -> None:
    run_dir = file_copy / EXPERIMENT.name / KILLED_FILE
    last = max(t for pts in file_series(run_dir).values() for _, _, t in pts)
    assert last is not None
    set_mtimes(file_copy, last)
    # a line appended an hour later carries its own timestamp: that is the news
    with open(run_dir / "metrics" / "train" / "loss", "a") as fh:
        fh.write(f"{int((last + 3600) * 1000)} 0.5 999999\n")
    runs, _ = read_all(file_copy, now=last + 3600 + 10)
    assert runs[KILLED_FILE].status == "running"


def test_killed_run_copied_with_fresh_file_times_is_not_running(file_copy: Path) -> None:
    """``cp -r`` of a killed run: every file time is now, every line is old."""
    run_dir = file_copy / EXPERIMENT.name / KILLED_FILE
    last = max(t for pts in file_series(run_dir).values() for _, _, t in pts)
    now = last + 2 * DAY
    set_mtimes(file_copy, now - 5)  # copied five seconds ago
    runs, _ = read_all(file_copy, now=now)
    assert runs[KILLED_FILE].status == "crashed"
    assert runs[KILLED_FILE].status_reason == "RUNNING in MLflow, no activity for 2 d"


def test_file_store_nan_inf_and_old_and_dataset_lines(file_copy: Path) -> None:
    metric = file_copy / EXPERIMENT.name / KILLED_FILE / "metrics" / "val" / "odd"
    metric.parent.mkdir()
    metric.write_text(
        "1795703410000 nan 1\n"
        "1795703410001 inf 2\n"
        "1795703410002 -inf 3\n"
        "1795703410003 0.5\n"  # MLflow < 1.x: no step
        "1795703410004 0.25 7 eval-set 3f2a9c\n"  # logged with a dataset
    )
    runs, problems = read_all(file_copy, now=LATER)
    assert problems == []
    got = series(runs[KILLED_FILE])["val/odd"]
    assert [s for s, _, _ in got] == [1, 2, 3, 0, 7]
    values = [v for _, v, _ in got]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf, 0.5, 0.25]


def test_file_store_garbage_line_is_skipped_and_named(file_copy: Path) -> None:
    metric = file_copy / EXPERIMENT.name / KILLED_FILE / "metrics" / "train" / "loss"
    lines = metric.read_text().splitlines(keepends=True)
    lines.insert(10, "this is \x00 not a metric line\n")
    metric.write_text("".join(lines))
    runs, problems = read_all(file_copy, now=LATER)
    assert len(problems) == 1 and problems[0].startswith(f"{metric}: 1 unreadable line")
    assert "line 11" in problems[0]
    assert set(runs) == set(FILE_RUNS)
    loss = [p for p in runs[KILLED_FILE].points if p.key == "train/loss"]
    assert len(loss) == 2500 and [p.step for p in loss] == list(range(2500))


def test_file_store_torn_last_line(file_copy: Path) -> None:
    exp = file_copy / EXPERIMENT.name
    finished = next(r for r in FILE_RUNS if FILE_RUNS[r]["status"] == "FINISHED")
    # the kill -9 run: a line without its newline is a write in progress, ignored
    with open(exp / KILLED_FILE / "metrics" / "train" / "loss", "a") as fh:
        fh.write("1795703412000 0.4")
    # a finished run: the last line merely lacks its newline, and counts
    with open(exp / finished / "metrics" / "train" / "loss", "a") as fh:
        fh.write("1795703412000 0.125 6000")
    runs, problems = read_all(file_copy, now=LATER)
    assert problems == []
    assert len([p for p in runs[KILLED_FILE].points if p.key == "train/loss"]) == 2500
    loss = [p for p in runs[finished].points if p.key == "train/loss"]
    assert (len(loss), loss[-1].step, loss[-1].value) == (6001, 6000, 0.125)


def test_file_store_broken_run_meta_yaml(file_copy: Path) -> None:
    broken = next(r for r in FILE_RUNS if FILE_RUNS[r]["status"] == "FINISHED")
    meta = file_copy / EXPERIMENT.name / broken / "meta.yaml"
    meta.write_text("artifact_uri: [unclosed\n  status: : 3\n")
    runs, problems = read_all(file_copy, now=LATER)
    assert len(problems) == 1 and problems[0].startswith(f"{meta}: unreadable YAML")
    assert set(runs) == set(FILE_RUNS)
    for run_id, want in FILE_RUNS.items():
        if run_id != broken:
            assert runs[run_id].status == STATUS_MAP[want["status"]]
    # salvaged: name from the mlflow.runName tag, data intact, status unknown so judged by age
    run = runs[broken]
    assert run.name == FILE_RUNS[broken]["run_name"]
    assert run.params == FILE_RUNS[broken]["params"]
    assert run.status == "crashed" and run.status_reason is not None


def test_file_store_broken_experiment_meta_yaml(file_copy: Path) -> None:
    meta = file_copy / EXPERIMENT.name / "meta.yaml"
    meta.write_bytes(b"\xff\xfe{{{ name: yolo")
    assert mlflow.detect(file_copy)
    runs, problems = read_all(file_copy, now=LATER)
    assert problems == [f"{meta}: unreadable YAML; experiment named after its directory"]
    assert set(runs) == set(FILE_RUNS)
    assert {r.project for r in runs.values()} == {EXPERIMENT.name}


def test_deleted_runs_and_trashed_experiments_are_skipped_unless_asked(file_copy: Path) -> None:
    exp = file_copy / EXPERIMENT.name
    gone = next(r for r in FILE_RUNS if FILE_RUNS[r]["status"] == "FAILED")
    meta = exp / gone / "meta.yaml"
    meta.write_text(meta.read_text().replace("lifecycle_stage: active", "lifecycle_stage: deleted"))
    runs, problems = read_all(file_copy, now=LATER)
    assert problems == [] and set(runs) == set(FILE_RUNS) - {gone}
    runs, _ = read_all(file_copy, now=LATER, include_deleted=True)
    assert set(runs) == set(FILE_RUNS) and runs[gone].extra["deleted"] is True

    (file_copy / ".trash").mkdir()
    exp.rename(file_copy / ".trash" / exp.name)
    runs, problems = read_all(file_copy, now=LATER)
    assert runs == {} and problems == []
    runs, _ = read_all(file_copy, now=LATER, include_deleted=True)
    assert set(runs) == set(FILE_RUNS)
    assert all(r.extra["deleted"] for r in runs.values())


def test_nested_run_parent_and_notes(file_copy: Path) -> None:
    exp = file_copy / EXPERIMENT.name
    parent, child = sorted(FILE_RUNS)[:2]
    (exp / child / "tags" / "mlflow.parentRunId").write_text(parent)
    (exp / child / "tags" / "mlflow.note.content").write_text("lr sweep\nsecond line")
    (exp / child / "tags" / "long").write_text("x" * 200)
    runs, _ = read_all(file_copy)
    assert runs[child].parent_id == parent and runs[parent].parent_id is None
    assert runs[child].notes == "lr sweep\nsecond line"
    assert runs[child].extra["tags"]["long"] == "x" * 200
    assert not any(t.startswith("long=") for t in runs[child].tags)


def test_reading_the_file_store_writes_nothing() -> None:
    before = listing(FIXTURES)
    assert mlflow.detect(FIXTURES)
    runs, _ = read_all(FIXTURES, now=LATER)
    assert len(runs) == len(FILE_RUNS) + len(DB_RUNS)
    assert listing(FIXTURES) == before


# -- the SQLite store ----------------------------------------------------------


def test_sqlite_store_every_run_matches_its_rows() -> None:
    runs, problems = read_all(DB, now=LATER)
    assert problems == []
    assert set(runs) == set(DB_RUNS)
    for run_id, want in DB_RUNS.items():
        run = runs[run_id]
        (name, status, start, end) = db_rows(
            DB, "SELECT name, status, start_time, end_time FROM runs WHERE run_uuid = ?", run_id
        )[0]
        assert run.name == name == want["run_name"]
        assert run.project == "yolo-fake"
        assert Path(run.source_path) == DB.resolve()
        params = dict(db_rows(DB, "SELECT key, value FROM params WHERE run_uuid = ?", run_id))
        assert run.params == params == want["params"]
        assert_same_series(series(run), db_series(DB, run_id))
        assert status == want["status"] and run.status == STATUS_MAP[status]
        assert run.created == start / 1000 == want["start_time_ms"] / 1000
        assert run.ended == (None if end is None else end / 1000)
        loss = [p for p in run.points if p.key == "train/loss"]
        assert len(loss) == want["train_loss_points"]
        assert max(p.step for p in loss) == want["train_loss_last_step"]
        final = [p for p in run.points if p.key == "metrics/mAP50-95B"]
        assert len(final) == want["epochs_logged"] and final[-1].value == want["final_mAP50-95"]
        tags = dict(db_rows(DB, "SELECT key, value FROM tags WHERE run_uuid = ?", run_id))
        assert run.extra["tags"] == {k: v for k, v in tags.items() if not k.startswith("mlflow.")}
        assert sorted(run.tags) == ["task=detect", "trainer=fake-ultralytics"]
        assert [a.name for a in run.artifacts] == want["artifacts"]
        for art in run.artifacts:
            expected = DB.parent / "mlruns" / "1" / run_id / "artifacts" / art.name
            assert Path(art.path) == expected.resolve() and art.size == 32786


def test_sqlite_kill9_run_running_while_fresh_then_crashed() -> None:
    (last,) = db_rows(DB, "SELECT MAX(timestamp) FROM metrics WHERE run_uuid = ?", KILLED_DB)[0]
    runs, _ = read_all(DB, now=last / 1000 + 30)
    assert runs[KILLED_DB].status == "running"
    assert runs[KILLED_DB].last_activity == last / 1000
    runs, _ = read_all(DB, now=last / 1000 + 2 * 3600 + 5)
    assert runs[KILLED_DB].status == "crashed"
    assert runs[KILLED_DB].status_reason == "RUNNING in MLflow, no activity for 2 h"
    assert {runs[r].status for r in DB_RUNS if r != KILLED_DB} == {"finished", "failed"}


def test_sqlite_nan_inf_killed_and_nested(db_copy: Path) -> None:
    some = sorted(DB_RUNS)[0]
    other = sorted(DB_RUNS)[1]
    conn = sqlite3.connect(db_copy)
    # what MLflow's SQL store writes for nan, inf and -inf
    conn.executemany(
        "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)",
        [
            ("val/odd", 0.0, 1795703500000, some, 1, 1),
            ("val/odd", 1.7976931348623157e308, 1795703500001, some, 2, 0),
            ("val/odd", -1.7976931348623157e308, 1795703500002, some, 3, 0),
        ],
    )
    conn.execute("UPDATE runs SET status = 'KILLED' WHERE run_uuid = ?", (other,))
    conn.execute(
        "INSERT INTO tags (key, value, run_uuid) VALUES ('mlflow.parentRunId', ?, ?)", (some, other)
    )
    conn.commit()
    conn.close()
    runs, problems = read_all(db_copy, now=LATER)
    assert problems == []
    values = [v for _, v, _ in series(runs[some])["val/odd"]]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf]
    assert runs[other].status == "killed" and runs[other].parent_id == some


def test_sqlite_deleted_runs_are_skipped_unless_asked(db_copy: Path) -> None:
    gone = sorted(DB_RUNS)[2]
    conn = sqlite3.connect(db_copy)
    conn.execute("UPDATE runs SET lifecycle_stage = 'deleted' WHERE run_uuid = ?", (gone,))
    conn.commit()
    conn.close()
    runs, _ = read_all(db_copy)
    assert set(runs) == set(DB_RUNS) - {gone}
    runs, _ = read_all(db_copy, include_deleted=True)
    assert set(runs) == set(DB_RUNS)


def test_sqlite_damaged_databases_are_named_and_the_rest_imported(tmp_path: Path) -> None:
    shutil.copytree(FILE_STORE, tmp_path / "mlruns")
    data = DB.read_bytes()
    (tmp_path / "truncated").mkdir()
    truncated = tmp_path / "truncated" / "mlflow.db"
    truncated.write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage").mkdir()
    garbage = tmp_path / "garbage" / "mlflow.db"
    garbage.write_bytes(bytes(range(256)) * 64)
    (tmp_path / "damaged").mkdir()
    damaged = tmp_path / "damaged" / "mlflow.db"
    # zero three leaf pages of the metrics table, while the schema and the runs table survive
    conn = sqlite3.connect(f"file:{DB}?mode=ro", uri=True)
    try:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        leaves = [
            n
            for (n,) in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = 'metrics' AND pagetype = 'leaf' ORDER BY pageno"
            )
        ]
    finally:
        conn.close()
    assert len(leaves) >= 5
    broken = bytearray(data)
    for page in leaves[len(leaves) // 2 - 1 : len(leaves) // 2 + 2]:
        start = (page - 1) * size
        broken[start : start + size] = bytes(size)
    damaged.write_bytes(bytes(broken))

    runs, problems = read_all(tmp_path, now=LATER)
    assert set(FILE_RUNS) <= set(runs)
    for bad in (truncated, garbage, damaged):
        assert any(p.startswith(f"{bad}: ") for p in problems), (bad, problems)
    # the damaged database still gives its runs, read as far as it goes
    assert set(DB_RUNS) <= set(runs)
    assert any(p.startswith(f"{damaged}: run ") for p in problems)
    assert all(
        r.name == DB_RUNS[r.source_id]["run_name"] for r in runs.values() if r.source_id in DB_RUNS
    )

    problems = []
    assert list(mlflow.read(garbage, problems)) == []
    assert problems == [f"{garbage}: not a SQLite database"]


def test_sqlite_in_wal_mode_is_read_from_a_copy(db_copy: Path) -> None:
    some = sorted(DB_RUNS)[0]
    writer = sqlite3.connect(db_copy)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.execute(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan)"
            " VALUES ('late/metric', 0.5, 1795703600000, ?, 9, 0)",
            (some,),
        )
        writer.commit()
        wal = db_copy.with_name("mlflow.db-wal")
        assert wal.stat().st_size > 0  # the new row lives only in the WAL
        before = listing(db_copy.parent)
        assert mlflow.detect(db_copy)
        runs, problems = read_all(db_copy.parent)
        assert problems == []
        assert series(runs[some])["late/metric"] == [(9, 0.5, 1795703600.0)]
        assert listing(db_copy.parent) == before
    finally:
        writer.close()


def test_reading_the_sqlite_store_writes_nothing() -> None:
    before = listing(DB.parent)
    runs, _ = read_all(DB.parent)
    assert set(runs) == set(DB_RUNS)
    assert listing(DB.parent) == before
    assert not DB.with_name("mlflow.db-journal").exists()


def test_missing_path_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    problems: list[str] = []
    assert list(mlflow.read(tmp_path / "nope", problems)) == []
    assert problems == [f"{tmp_path / 'nope'}: no such file or directory"]
