"""MLflow runs read through and followed: ``system/`` metrics appended after
the first read show after one refresh under trackui's names and units,
reading only what was appended (file store: the bytes; SQLite store: the
rows); params logged (and runs ended) after the first read show after the
next refresh, in both stores."""

from __future__ import annotations

import os
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

from trackui.store.queries import Store
from trackui.store.sources import bind

from ..importers.helpers import materialized

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
NOW = 1_900_000_000.0


def store_for(tmp_path: Path, src: Path) -> Store:
    root = tmp_path / "store"
    bind(root, src)
    return Store(root, clock=lambda: NOW, private=True)


def append(path: Path, text: str) -> int:
    with open(path, "ab") as fh:
        fh.write(text.encode())
    return len(text.encode())


def aged(src: Path) -> Path:
    """File times of a finished training's (fresh ones would not change a
    reader that judges by the lines, but keep every run settled)."""
    for path in sorted(src.rglob("*"), reverse=True):
        os.utime(path, (1_700_000_000, 1_700_000_000), follow_symlinks=False)
    return src


def params_of(store: Store, run_id: str) -> dict[str, object]:
    return dict(store.get_run(run_id).params)


def history(store: Store, run_id: str, key: str) -> list[tuple[int, float, float | None]]:
    return [(p.step, p.value, p.t) for p in store.history(run_id, key)]


def test_file_store_system_metric_lines_are_followed(tmp_path: Path) -> None:
    src = aged(shutil.copytree(FIXTURES / "mlflow-system" / "mlruns", tmp_path / "mlruns"))
    (run_dir,) = [p.parent for p in src.glob("*/*/meta.yaml")]
    cpu = run_dir / "metrics" / "system" / "cpu_utilization_percentage"
    mem = run_dir / "metrics" / "system" / "system_memory_usage_megabytes"
    last_step = int(cpu.read_text().splitlines()[-1].split()[2])
    with store_for(tmp_path, src) as store:
        source = store.catalog.sources[0]
        ((run_id,),) = store.catalog.query("SELECT run_id FROM runs")
        before = history(store, run_id, "system/host.cpu")
        assert before and before[-1][0] == last_step
        read = source.progress.bytes_read
        sent = append(cpu, f"{int(NOW * 1000)} 42.5 {last_step + 1}\n")
        sent += append(mem, f"{int(NOW * 1000)} 1234.5 {last_step + 1}\n")
        assert store.refresh(full=False).points == 2
        assert source.progress.bytes_read - read == sent  # the appended lines alone
        assert history(store, run_id, "system/host.cpu") == [
            *before,
            (last_step + 1, 42.5, NOW),
        ]
        assert history(store, run_id, "system/host.mem_used")[-1] == (
            last_step + 1,
            1234.5e6,
            NOW,
        )
        keys = {m.key for m in store.metric_summaries(run_id)}
        assert "system/cpu_utilization_percentage" not in keys  # only trackui's name
        assert store.refresh(full=False).points == 0


def test_file_store_params_logged_later_show_after_the_next_refresh(tmp_path: Path) -> None:
    src = aged(shutil.copytree(FIXTURES / "mlflow" / "file" / "mlruns", tmp_path / "mlruns"))
    with store_for(tmp_path, src) as store:
        (run_id, run_dir) = store.catalog.query(
            "SELECT run_id, source_path FROM runs WHERE name = 'yolo26n-lr0.01-b16-sgd'"
        )[0]
        assert "late_param" not in params_of(store, run_id)
        (Path(run_dir) / "params" / "late_param").write_text("0.125")
        (Path(run_dir) / "params" / "optim").mkdir()
        (Path(run_dir) / "params" / "optim" / "betas").write_text("[0.9, 0.999]")
        store.refresh(full=False)
        params = params_of(store, run_id)
        assert params["late_param"] == "0.125"
        assert params["optim/betas"] == [0.9, 0.999]  # a repr, parsed as at first read


def mlflow_db(tmp_path: Path) -> Path:
    db = tmp_path / "src" / "mlflow.db"
    db.parent.mkdir()
    shutil.copy2(materialized(FIXTURES / "mlflow") / "sqlite" / "mlflow.db", db)
    return db


def test_sqlite_system_metric_rows_are_followed(tmp_path: Path) -> None:
    db = mlflow_db(tmp_path)
    with store_for(tmp_path, db) as store:
        source = store.catalog.sources[0]
        name, uuid = "yolo26n-lr0.01-b16-sgd", None
        with closing(sqlite3.connect(db)) as conn:
            (uuid,) = conn.execute("SELECT run_uuid FROM runs WHERE name = ?", (name,)).fetchone()
        (run_id,) = store.catalog.query("SELECT run_id FROM runs WHERE name = ?", [name])[0]
        rows = source.progress.rows_read
        with closing(sqlite3.connect(db)) as conn, conn:
            conn.executemany(
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                "VALUES (?, ?, ?, ?, ?, 0)",
                [
                    ("system/gpu_0_utilization_percentage", 77.0, int(NOW * 1000), uuid, 0),
                    ("system/gpu_0_memory_usage_megabytes", 2048.5, int(NOW * 1000), uuid, 0),
                ],
            )
        assert store.refresh(full=False).points == 2
        assert source.progress.rows_read - rows == 2  # the new rows alone
        assert history(store, run_id, "system/gpu0.util") == [(0, 77.0, NOW)]
        assert history(store, run_id, "system/gpu0.mem_used") == [(0, 2048.5e6, NOW)]


def test_sqlite_params_and_status_changed_later_show_after_the_next_refresh(
    tmp_path: Path,
) -> None:
    db = mlflow_db(tmp_path)
    with store_for(tmp_path, db) as store:
        with closing(sqlite3.connect(db)) as conn:
            (uuid, name) = conn.execute(
                "SELECT run_uuid, name FROM runs WHERE status = 'RUNNING'"
            ).fetchone()
        (run_id,) = store.catalog.query("SELECT run_id FROM runs WHERE name = ?", [name])[0]
        points = store.catalog.query(
            "SELECT count(*) FROM metrics m JOIN runs r USING (run_no) WHERE r.run_id = ?",
            [run_id],
        )[0][0]
        assert store.get_run(run_id).run.status == "crashed"  # RUNNING long ago
        assert "late" not in params_of(store, run_id)
        with closing(sqlite3.connect(db)) as conn, conn:
            conn.execute(
                "INSERT INTO params (key, value, run_uuid) VALUES ('late', '7', ?)", (uuid,)
            )
        store.refresh(full=False)
        assert params_of(store, run_id)["late"] == "7"
        with closing(sqlite3.connect(db)) as conn, conn:
            conn.execute(
                "UPDATE runs SET status = 'FAILED', end_time = start_time + 1000 "
                "WHERE run_uuid = ?",
                (uuid,),
            )
        store.refresh(full=False)
        assert store.get_run(run_id).run.status == "failed"
        assert params_of(store, run_id)["late"] == "7"
        # read again, not added twice
        assert (
            store.catalog.query(
                "SELECT count(*) FROM metrics m JOIN runs r USING (run_no) WHERE r.run_id = ?",
                [run_id],
            )[0][0]
            == points
        )
        # nothing changed: nothing read again
        rows = store.catalog.sources[0].progress.rows_read
        assert store.refresh(full=False).points == 0
        assert store.catalog.sources[0].progress.rows_read == rows
