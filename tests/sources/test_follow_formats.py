"""Lightning's ``metrics.csv`` and MLflow's SQLite database are followed,
not read again: rows appended to the CSV are read from the cursor (and the
header, to see it did not change), rows added to the database are read past
the last row id. A CSV whose header gained a column (Lightning writes the
file again) reads that one run again; a new run in the database reads the
database again. Every point matches the files, read here independently."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from trackui.store.queries import Store
from trackui.store.sources import bind

from ..importers.helpers import materialized

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
NOW = 1_900_000_000.0


def aged(src: Path) -> Path:
    for path in sorted(src.rglob("*"), reverse=True):
        os.utime(path, (1_700_000_000, 1_700_000_000), follow_symlinks=False)
    return src


def open_store(tmp_path: Path, src: Path) -> Store:
    root = tmp_path / "store"
    bind(root, src)
    return Store(root, catalog_path=tmp_path / "cat.duckdb", clock=lambda: NOW, private=True)


def points_of(store: Store, run_id: str) -> list[tuple[str, int, float]]:
    return sorted(
        store.catalog.query(
            "SELECT k.key, m.step, m.value FROM metrics m JOIN metric_keys k USING (key_no) "
            "JOIN runs r USING (run_no) WHERE r.run_id = ? AND NOT starts_with(k.key, 'system/')",
            [run_id],
        )
    )


def csv_points(path: Path) -> list[tuple[str, int, float]]:
    """metrics.csv as Lightning's docs describe it: a header, a ``step``
    column, every other non-empty cell one value at that step."""
    rows = list(csv.DictReader(io.StringIO(path.read_text(), newline="")))
    return sorted(
        (key, int(row["step"]), float(cell))
        for row in rows
        for key, cell in row.items()
        if key != "step" and cell
    )


def run_of(store: Store, folder: str) -> str:
    rows = store.catalog.query("SELECT run_id, source_path FROM runs")
    return next(rid for rid, path in rows if Path(path).name == folder)


def test_lightning_metrics_csv_rows_are_followed_by_what_was_appended(tmp_path: Path) -> None:
    src = aged(shutil.copytree(FIXTURES / "lightning", tmp_path / "src"))
    metrics = src / "proj_a" / "lightning_logs" / "version_0" / "metrics.csv"
    header = metrics.read_bytes().split(b"\n", 1)[0] + b"\n"  # with its \r
    with open_store(tmp_path, src) as store:
        source = store.catalog.sources[0]
        rid = run_of(store, "version_0")
        assert points_of(store, rid) == csv_points(metrics)
        row = b"3,39,,0.05,,\r\n"
        with open(metrics, "ab") as fh:
            fh.write(row)
        before = source.progress.bytes_read
        stats = store.refresh(full=False)
        # the appended row, and the header it is checked against
        assert source.progress.bytes_read - before == len(row) + len(header)
        assert stats.points == 2
        assert points_of(store, rid) == csv_points(metrics)
        # a row cut mid-write waits for its line end
        with open(metrics, "ab") as fh:
            fh.write(b"3,40,,0.0")
        store.refresh(full=False)
        assert ("train_loss_step", 40, 0.0) not in points_of(store, rid)
        with open(metrics, "ab") as fh:
            fh.write(b"1,,\r\n")
        store.refresh(full=False)
        assert points_of(store, rid) == csv_points(metrics)


def test_a_lightning_csv_that_gained_a_column_reads_that_run_again(tmp_path: Path) -> None:
    src = aged(shutil.copytree(FIXTURES / "lightning", tmp_path / "src"))
    logs = src / "proj_a" / "lightning_logs"
    metrics = logs / "version_0" / "metrics.csv"
    with open_store(tmp_path, src) as store:
        source = store.catalog.sources[0]
        rid = run_of(store, "version_0")
        other = points_of(store, run_of(store, "version_1"))
        rows = list(csv.reader(io.StringIO(metrics.read_text(), newline="")))
        rows = (
            [rows[0] + ["lr"]]
            + [r + [""] for r in rows[1:]]
            + [["3", "39", "", "", "", "", "0.01"]]
        )
        out = io.StringIO()
        csv.writer(out).writerows(rows)  # as Lightning writes it: \r\n line ends
        metrics.write_text(out.getvalue(), newline="")
        before = source.progress.bytes_read
        store.refresh(full=False)
        read = source.progress.bytes_read - before
        assert read <= sum(p.stat().st_size for p in (logs / "version_0").rglob("*") if p.is_file())
        assert points_of(store, rid) == csv_points(metrics)
        assert ("lr", 39, 0.01) in points_of(store, rid)
        assert points_of(store, run_of(store, "version_1")) == other


def db_points(db: Path, uuid: str) -> list[tuple[str, int, float]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT key, step, value FROM metrics WHERE run_uuid = ? AND key NOT LIKE 'system/%'",
            [uuid],
        ).fetchall()
    return sorted((k, int(s), float(v)) for k, s, v in rows)


def test_mlflow_database_rows_are_followed_past_the_last_row_id(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(materialized(FIXTURES / "mlflow" / "sqlite"), src)
    db = src / "mlflow.db"
    with sqlite3.connect(db) as conn:
        (uuid,) = conn.execute("SELECT run_uuid FROM runs ORDER BY run_uuid LIMIT 1").fetchone()
    aged(src)
    with open_store(tmp_path, src) as store:
        source = store.catalog.sources[0]
        rid = next(
            r for r, sid in store.catalog.query("SELECT run_id, source_id FROM runs") if sid == uuid
        )
        assert points_of(store, rid) == db_points(db, uuid)
        with sqlite3.connect(db) as conn:
            conn.execute(
                "INSERT INTO metrics VALUES ('train/loss', 0.125, 1795703500000, ?, 9999, 0)",
                [uuid],
            )
        rows, read = source.progress.rows_read, source.progress.bytes_read
        stats = store.refresh(full=False)
        assert source.progress.rows_read - rows == 1  # the one row past the last row id
        assert source.progress.bytes_read == read  # nothing read again
        assert stats.points == 1
        assert points_of(store, rid) == db_points(db, uuid)
        assert ("train/loss", 9999, 0.125) in points_of(store, rid)


def test_a_new_run_in_an_mlflow_database_reads_the_database_again(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(materialized(FIXTURES / "mlflow" / "sqlite"), src)
    db = src / "mlflow.db"
    aged(src)
    with open_store(tmp_path, src) as store:
        (count,) = store.catalog.query("SELECT count(*) FROM runs")[0]
        with sqlite3.connect(db) as conn:
            row = conn.execute("SELECT * FROM runs LIMIT 1").fetchone()
            new = ("f" * 32, "a-new-run", *row[2:])
            conn.execute(f"INSERT INTO runs VALUES ({', '.join('?' for _ in new)})", new)
            conn.execute(
                "INSERT INTO metrics VALUES ('train/loss', 0.5, 1795703500000, ?, 0, 0)",
                ["f" * 32],
            )
        store.refresh(full=False)
        names = [n for (n,) in store.catalog.query("SELECT name FROM runs")]
        assert len(names) == count + 1 and "a-new-run" in names
        rid = next(
            r for r, n in store.catalog.query("SELECT run_id, name FROM runs") if n == "a-new-run"
        )
        assert points_of(store, rid) == [("train/loss", 0, 0.5)]


@pytest.mark.anyio
async def test_new_points_of_each_format_show_in_the_app_after_one_refresh(
    tmp_path: Path,
) -> None:
    """With the app open on a run: a row appended to a Lightning
    ``metrics.csv``, a metric row added to an MLflow database, and a
    Hugging Face ``trainer_state.json`` saved with one more entry each show
    after one refresh the test drives."""
    from textual.widgets import DataTable

    from trackui.tui.messages import StoreRefreshed
    from trackui.tui.run_screen import RunScreen

    from ..tui.helpers import RunApp, settle

    src = tmp_path / "src"
    shutil.copytree(FIXTURES / "lightning", src / "pl")
    shutil.copytree(materialized(FIXTURES / "mlflow" / "sqlite"), src / "mlf")
    shutil.copytree(
        FIXTURES / "hf" / "nlp" / "gpt2-killed",
        src / "hf" / "gpt2",
        ignore=shutil.ignore_patterns("runs"),
    )
    aged(src)
    db = src / "mlf" / "mlflow.db"
    with sqlite3.connect(db) as conn:
        (uuid,) = conn.execute("SELECT run_uuid FROM runs ORDER BY run_uuid LIMIT 1").fetchone()
    conn.close()

    def grow_csv() -> None:
        with open(
            src / "pl" / "proj_a" / "lightning_logs" / "version_0" / "metrics.csv", "ab"
        ) as fh:
            fh.write(b"3,39,,0.0625,,\r\n")

    def grow_db() -> None:
        with sqlite3.connect(db) as c:
            c.execute(
                "INSERT INTO metrics VALUES ('train/loss', 0.1875, 1795703500000, ?, 9999, 0)",
                [uuid],
            )
        c.close()

    def save_state() -> None:
        state = json.loads(
            (src / "hf" / "gpt2" / "checkpoint-40" / "trainer_state.json").read_text()
        )
        state["log_history"].append({"epoch": 1.25, "loss": 0.3125, "step": 50})
        (src / "hf" / "gpt2" / "checkpoint-60").mkdir()
        (src / "hf" / "gpt2" / "checkpoint-60" / "trainer_state.json").write_text(json.dumps(state))

    with open_store(tmp_path, src) as store:
        cases = [
            (run_of(store, "version_0"), "train_loss_step", grow_csv, "0.0625", 2),  # and epoch
            (
                next(
                    r
                    for r, s in store.catalog.query("SELECT run_id, source_id FROM runs")
                    if s == uuid
                ),
                "train/loss",
                grow_db,
                "0.1875",
                1,
            ),
            (run_of(store, "gpt2"), "loss", save_state, "0.3125", 2),  # and epoch
        ]
        for rid, key, grow, shown, points in cases:
            app = RunApp(store, rid, tab="metrics")
            async with app.run_test(size=(160, 50)) as pilot:
                await settle(pilot)
                assert isinstance(app.screen, RunScreen)
                grow()
                stats = store.refresh(full=False)
                assert stats.points == points, key
                app.screen.post_message(StoreRefreshed(stats))
                await settle(pilot)
                table = app.screen.query_one("#metric-summary", DataTable)
                rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
                row = next(r for r in rows if r[0] == key)
                assert row[1] == shown, (key, row)


def test_a_lightning_run_logged_by_tensorboard_alone_follows_its_event_file(
    tmp_path: Path,
) -> None:
    from .test_live_sources import tb_event

    src = aged(shutil.copytree(FIXTURES / "lightning", tmp_path / "src"))
    version = src / "proj_a" / "lightning_logs" / "version_2"  # no metrics.csv
    events = next(version.glob("events.out.tfevents.*"))
    with open_store(tmp_path, src) as store:
        source = store.catalog.sources[0]
        rid = run_of(store, "version_2")
        record = tb_event("val_loss", 999, 0.125, NOW - 5)
        with open(events, "ab") as fh:
            fh.write(record)
        before = source.progress.bytes_read
        stats = store.refresh(full=False)
        assert source.progress.bytes_read - before == len(record)  # what was appended alone
        assert stats.points == 1
        assert ("val_loss", 999, 0.125) in points_of(store, rid)


def test_a_hugging_face_runs_tensorboard_writer_is_followed_under_log_history_names(
    tmp_path: Path,
) -> None:
    from .test_live_sources import tb_event

    src = tmp_path / "src"
    shutil.copytree(FIXTURES / "hf" / "nlp" / "gpt2-killed", src / "gpt2")
    aged(src)
    events = next((src / "gpt2" / "runs").rglob("events.out.tfevents.*"))
    with open_store(tmp_path, src) as store:
        source = store.catalog.sources[0]
        rid = run_of(store, "gpt2")
        record = tb_event("train/loss", 999, 0.125, NOW - 5) + tb_event(
            "eval/loss", 999, 0.25, NOW - 5
        )
        with open(events, "ab") as fh:
            fh.write(record)
        before = source.progress.bytes_read
        stats = store.refresh(full=False)
        assert source.progress.bytes_read - before == len(record)  # what was appended alone
        assert stats.points == 2
        got = points_of(store, rid)
        assert ("loss", 999, 0.125) in got and ("eval_loss", 999, 0.25) in got


def test_after_followed_appends_a_reopen_reads_nothing(tmp_path: Path) -> None:
    """The cursors that moved are stored as they moved (one row per file, a
    run's own row replaced when its name changes), so reopening the folder
    finds nothing to read."""
    src = aged(shutil.copytree(FIXTURES / "lightning", tmp_path / "src"))
    metrics = src / "proj_a" / "lightning_logs" / "version_0" / "metrics.csv"
    root = tmp_path / "store"
    bind(root, src)
    catalog = tmp_path / "cat.duckdb"
    count = "SELECT run_id, name, count(*) FROM files GROUP BY ALL HAVING count(*) > 1"
    with Store(root, catalog_path=catalog, clock=lambda: NOW) as store:
        files = store.catalog.query("SELECT count(*) FROM files")[0][0]
        for step in (39, 40):
            with open(metrics, "ab") as fh:
                fh.write(f"3,{step},,0.05,,\r\n".encode())
            assert store.refresh(full=False).points == 2
        assert store.catalog.query(count) == []
        assert store.catalog.query("SELECT count(*) FROM files")[0][0] == files
        points = store.catalog.query("SELECT count(*) FROM metrics")[0][0]
    with Store(root, catalog_path=catalog, clock=lambda: NOW) as store:
        assert store.catalog.sources[0].progress.bytes_read == 0
        assert store.catalog.query("SELECT count(*) FROM metrics")[0][0] == points
