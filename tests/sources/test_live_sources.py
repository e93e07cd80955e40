"""Foreign runs read through and followed live (DESIGN §9): a folder holding
TensorBoard, MLflow (file store), dvclive, Ultralytics and Trackio runs is
browsed with the app open; points appended to each tool's own files show
after one refresh the test drives, and each refresh of a followed file reads
only the bytes appended (``Progress.bytes_read``). Nothing is written into
the folder."""

from __future__ import annotations

import os
import shutil
import sqlite3
import struct
import zlib
from pathlib import Path

import pytest
from textual.widgets import DataTable

from trackui.store.queries import Store
from trackui.store.sources import bind
from trackui.tui.messages import StoreRefreshed
from trackui.tui.run_screen import RunScreen

from ..importers.helpers import f32, hashes, listing, materialized, record, varint
from ..tui.helpers import RunApp, settle

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
NOW = 1_900_000_000.0
pytestmark = pytest.mark.anyio


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    src = tmp_path / "runs"
    shutil.copytree(
        FIXTURES / "tensorboard", src / "tb", ignore=shutil.ignore_patterns("*.md", "*.json")
    )
    shutil.copytree(FIXTURES / "mlflow" / "file" / "mlruns", src / "mlruns")
    shutil.copytree(
        FIXTURES / "dvclive", src / "dvc", ignore=shutil.ignore_patterns("*.md", "EXPECTED.json")
    )
    shutil.copytree(FIXTURES / "ultralytics" / "runs", src / "yolo")
    shutil.copytree(materialized(FIXTURES / "trackio"), src / "trackio")
    shutil.copytree(FIXTURES / "wandb", src / "wb", ignore=shutil.ignore_patterns("*.md", "*.json"))
    # Files as old as a finished training's: a fresh checkout's new mtimes
    # would make readers that judge liveness by file times (Ultralytics) take
    # the fixture runs as running.
    for path in sorted(src.rglob("*"), reverse=True):
        os.utime(path, (1_700_000_000, 1_700_000_000), follow_symlinks=False)
    return src


def store_for(tmp_path: Path, src: Path) -> Store:
    root = tmp_path / "store"
    bind(root, src)
    return Store(root, clock=lambda: NOW, private=True)


def tb_event(tag: str, step: int, value: float, t: float) -> bytes:
    value_msg = b"\x0a" + varint(len(tag)) + tag.encode() + b"\x15" + f32(value)
    summary = b"\x0a" + varint(len(value_msg)) + value_msg
    event = b"\x09" + struct.pack("<d", t) + b"\x10" + varint(step) + b"\x2a"
    return record(event + varint(len(summary)) + summary)


def wandb_history(path: Path, step: int, key: str, value: float) -> bytes:
    """A W&B history record (``_step`` and one value) framed as one FULL chunk
    at the end of ``path``, after zero padding when the block has no room."""

    def item(k: str, v: str) -> bytes:
        body = b"\x0a" + varint(len(k)) + k.encode() + b"\x82\x01" + varint(len(v)) + v.encode()
        return b"\x0a" + varint(len(body)) + body

    history = item("_step", str(step)) + item(key, repr(value))
    payload = b"\x12" + varint(len(history)) + history  # Record.history = 2
    used = path.stat().st_size % 32768
    pad = bytes(32768 - used) if 32768 - used < 7 + len(payload) else b""
    crc = zlib.crc32(payload, zlib.crc32(bytes([1])))
    return pad + struct.pack("<IHB", crc, len(payload), 1) + payload


def append(path: Path, data: bytes) -> int:
    with open(path, "ab") as fh:
        fh.write(data)
    return len(data)


def run_id(store: Store, kind: str, name: str) -> str:
    rows = store.catalog.query(
        "SELECT run_id FROM runs WHERE source_kind = ? AND name = ?", [kind, name]
    )
    assert len(rows) == 1, rows
    return rows[0][0]


def summary_row(screen: RunScreen, key: str) -> list[str]:
    table = screen.query_one("#metric-summary", DataTable)
    for i in range(table.row_count):
        row = [str(c) for c in table.get_row_at(i)]
        if row[0] == key:
            return row
    raise AssertionError(f"{key} not in the metric summary")


async def test_appended_points_show_after_one_refresh_reading_only_what_was_appended(
    tmp_path: Path, folder: Path
) -> None:
    with store_for(tmp_path, folder) as store:
        source = store.catalog.sources[0]
        kinds = dict(store.catalog.query("SELECT source_kind, count(*) FROM runs GROUP BY 1"))
        assert kinds == {
            "tensorboard": 3,
            "mlflow": 5,
            "dvclive": 3,
            "ultralytics": 6,
            "trackio": 5,
            "wandb": 3,
        }
        assert list((tmp_path / "store").iterdir()) == [tmp_path / "store" / ".sources.json"]

        tb_run = folder / "tb" / "yolo26n-lr0.01-b16-sgd"
        tb_file = next(tb_run.glob("events.out.tfevents.*"))
        (ml_dir,) = store.catalog.query(
            "SELECT source_path FROM runs WHERE source_kind = 'mlflow' AND name = ?",
            ["yolo26n-lr0.01-b16-sgd"],
        )[0]
        metrics_dir = Path(ml_dir) / "metrics"
        ml_key_file = sorted(
            f for f in metrics_dir.rglob("*") if f.is_file() and "system" not in f.parts
        )[0]
        ml_key = ml_key_file.relative_to(metrics_dir).as_posix()
        dvc_tsv = next((folder / "dvc" / "yolo26n-lr0.01-b16-sgd").rglob("mAP50(B).tsv"))
        csv = folder / "yolo" / "detect" / "exp_a" / "results.csv"

        cases = []
        # TensorBoard: one more event record
        cases.append(
            (
                "tensorboard",
                "yolo26n-lr0.01-b16-sgd",
                "train/box_loss",
                lambda: append(tb_file, tb_event("train/box_loss", 999, 0.125, NOW - 5)),
                "0.125",
            )
        )
        # MLflow: one more metric line
        ml_name = "yolo26n-lr0.01-b16-sgd"
        cases.append(
            (
                "mlflow",
                ml_name,
                ml_key,
                lambda: append(ml_key_file, f"{int((NOW - 5) * 1000)} 0.375 999\n".encode()),
                "0.375",
            )
        )
        # dvclive: one more TSV row, in the header's column order
        header = dvc_tsv.read_text().split("\n", 1)[0].split("\t")
        cells = {"timestamp": str(int((NOW - 5) * 1000)), "step": "999"}
        tsv_row = "\t".join(cells.get(h, "0.625") for h in header) + "\n"
        cases.append(
            (
                "dvclive",
                "yolo26n-lr0.01-b16-sgd",
                "metrics/mAP50(B)",
                lambda: append(dvc_tsv, tsv_row.encode()),
                "0.625",
            )
        )
        # Ultralytics: one more epoch row
        names = csv.read_text().split("\n", 1)[0].split(",")
        last_epoch = int(csv.read_text().strip().rsplit("\n", 1)[-1].split(",")[0])
        yolo_row = (
            ",".join(str(last_epoch + 1) if n.strip() == "epoch" else "0.875" for n in names) + "\n"
        )
        cases.append(
            (
                "ultralytics",
                "exp_a",
                "metrics/mAP50(B)",
                lambda: append(csv, yolo_row.encode()),
                "0.875",
            )
        )

        # W&B: one more history record in the run's .wandb log
        (wb_dir,) = store.catalog.query(
            "SELECT source_path FROM runs WHERE source_kind = 'wandb' AND name = ?",
            ["yolo26n-lr0.01-b16-sgd"],
        )[0]
        wb_file = next(Path(wb_dir).glob("*.wandb"))
        cases.append(
            (
                "wandb",
                "yolo26n-lr0.01-b16-sgd",
                "train/box_loss",
                lambda: append(wb_file, wandb_history(wb_file, 9999, "train/box_loss", 0.25)),
                "0.25",
            )
        )
        for kind, name, key, grow, shown in cases:
            rid = run_id(store, kind, name)
            app = RunApp(store, rid, tab="metrics")
            async with app.run_test(size=(160, 50)) as pilot:
                await settle(pilot)
                screen = app.screen
                assert isinstance(screen, RunScreen)
                count = int(summary_row(screen, key)[-1].replace(",", ""))
                before = source.progress.bytes_read
                appended = grow()
                stats = store.refresh(full=False)
                assert source.progress.bytes_read - before == appended, kind
                assert stats.points == (len(names) - 1 if kind == "ultralytics" else 1), kind
                screen.post_message(StoreRefreshed(stats))
                await settle(pilot)
                row = summary_row(screen, key)
                assert row[1] == shown, (kind, row)
                assert int(row[-1].replace(",", "")) == count + 1, (kind, row)
                # a refresh with nothing new reads nothing
                before = source.progress.bytes_read
                assert store.refresh(full=False).points == 0
                assert source.progress.bytes_read == before

        # Trackio: a row past the last row id shows after one refresh too
        db = next((folder / "trackio").glob("*.db"))
        rid = run_id(store, "trackio", "yolo26n-lr0.01-b16-sgd")
        with sqlite3.connect(db) as con:
            (run_uuid,) = con.execute(
                "SELECT run_id FROM metrics WHERE run_name = 'yolo26n-lr0.01-b16-sgd' LIMIT 1"
            ).fetchone()
            con.execute(
                "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?, ?, ?, ?, ?)",
                [
                    run_uuid,
                    "2030-03-17T17:46:35+00:00",
                    "yolo26n-lr0.01-b16-sgd",
                    99999,
                    '{"train/loss": 0.0625}',
                ],
            )
        con.close()
        app = RunApp(store, rid, tab="metrics")
        async with app.run_test(size=(160, 50)) as pilot:
            await settle(pilot)
            rows, before = source.progress.rows_read, source.progress.bytes_read
            stats = store.refresh(full=False)
            assert source.progress.rows_read - rows == 1  # the one row past the last row id
            assert source.progress.bytes_read == before  # nothing read again
            assert stats.points == 1
            app.screen.post_message(StoreRefreshed(stats))
            await settle(pilot)
            assert summary_row(app.screen, "train/loss")[1] == "0.0625"


def test_reopening_reads_nothing_when_nothing_changed(tmp_path: Path, folder: Path) -> None:
    root = tmp_path / "store"
    bind(root, folder)
    with Store(root, catalog_path=tmp_path / "cat.duckdb", clock=lambda: NOW) as store:
        first = store.catalog.sources[0].progress.bytes_read
        points = store.catalog.query("SELECT count(*) FROM metrics")[0][0]
    assert first > 0 and points > 0
    with Store(root, catalog_path=tmp_path / "cat.duckdb", clock=lambda: NOW) as store:
        assert store.catalog.sources[0].progress.bytes_read == 0
        assert store.catalog.query("SELECT count(*) FROM metrics")[0][0] == points


def test_a_rewritten_file_is_read_again(tmp_path: Path, folder: Path) -> None:
    csv = folder / "yolo" / "detect" / "exp_a" / "results.csv"
    with store_for(tmp_path, folder) as store:
        rid = run_id(store, "ultralytics", "exp_a")
        lines = csv.read_text().splitlines(keepends=True)
        csv.write_text("".join(lines[:3]))  # truncated: two epochs left
        store.refresh(full=False)
        (count,) = store.catalog.query("SELECT max(count) FROM summaries WHERE run_id = ?", [rid])[
            0
        ]
        assert count == 2


@pytest.mark.parametrize(
    "fixture",
    [
        "tensorboard",
        "mlflow",
        "dvclive",
        "ultralytics",
        "trackio",
        "wandb",
        "lightning",
        "hf",
        "tensorboard-layouts",
        "wandb-resumed",
    ],
)
def test_nothing_is_ever_written_into_the_source(tmp_path: Path, fixture: str) -> None:
    src = tmp_path / "src"
    shutil.copytree(materialized(FIXTURES / fixture), src)
    before = (listing(src), hashes(src))
    root = tmp_path / "store"
    bind(root, src)
    for _ in range(2):
        with Store(root, catalog_path=tmp_path / "cat.duckdb", clock=lambda: NOW) as store:
            assert store.catalog.query("SELECT count(*) FROM runs")[0][0] > 0
            store.refresh(full=False)
            store.reindex()
    assert (listing(src), hashes(src)) == before


def count_of(store: Store, run_name: str, key: str) -> int:
    rows = store.catalog.query(
        "SELECT s.count FROM summaries s JOIN runs r USING (run_id) WHERE r.name = ? AND s.key = ?",
        [run_name, key],
    )
    return rows[0][0] if rows else 0


def test_sub_directory_writers_are_followed_under_their_run_keys(tmp_path: Path) -> None:
    """Keras' ``validation/`` writer and torch's ``add_scalars`` child
    (``loss_val/``, tag ``loss``) append into their run as ``validation/...``
    and ``loss/val``, as the first read named them."""
    src = tmp_path / "logs"
    shutil.copytree(FIXTURES / "tensorboard-layouts" / "logs", src)
    with store_for(tmp_path, src) as store:
        keras = count_of(store, "keras_fit", "validation/epoch_loss")
        torch = count_of(store, "torch_scalars", "loss/val")
        assert keras > 0 and torch > 0
        source = store.catalog.sources[0]
        before = source.progress.bytes_read
        val_file = next((src / "keras_fit" / "validation").glob("*tfevents*"))
        child = next((src / "torch_scalars" / "loss_val").glob("*tfevents*"))
        grown = append(val_file, tb_event("epoch_loss", 50, 0.5, NOW - 5))
        grown += append(child, tb_event("loss", 50, 0.5, NOW - 5))
        assert store.refresh(full=False).points == 2
        assert source.progress.bytes_read - before == grown
        assert count_of(store, "keras_fit", "validation/epoch_loss") == keras + 1
        assert count_of(store, "torch_scalars", "loss/val") == torch + 1


def test_a_quiet_running_run_is_read_again_once_not_on_every_refresh(tmp_path: Path) -> None:
    import time

    src = tmp_path / "tb"
    run = src / "live"
    run.mkdir(parents=True)
    t = time.time() - 10  # written just now: its reader says running
    (run / "events.out.tfevents.1.host").write_bytes(
        b"".join(tb_event("loss", step, 1.0 / (step + 1), t) for step in range(3))
    )
    clock = [t]
    root = tmp_path / "store"
    bind(root, src)
    with Store(root, clock=lambda: clock[0], private=True) as store:
        source = store.catalog.sources[0]
        (status,) = store.catalog.query("SELECT status FROM runs")[0]
        assert status == "running"
        clock[0] = t + 10_000  # the catalog's clock says it went quiet
        first = source.progress.bytes_read
        store.refresh(full=False)  # read again once: its reader decides
        again = source.progress.bytes_read
        assert again > first
        store.refresh(full=False)
        store.refresh(full=False)
        assert source.progress.bytes_read == again  # not on every refresh


def test_a_new_metric_file_of_a_run_is_followed_from_its_start_not_by_reading_all_again(
    tmp_path: Path,
) -> None:
    src = tmp_path / "mlruns"
    shutil.copytree(FIXTURES / "mlflow" / "file" / "mlruns", src)
    with store_for(tmp_path, src) as store:
        source = store.catalog.sources[0]
        (run_dir,) = store.catalog.query(
            "SELECT source_path FROM runs WHERE name = 'yolo26n-lr0.01-b16-sgd'"
        )[0]
        new = Path(run_dir) / "metrics" / "extra" / "score"
        new.parent.mkdir()
        text = "".join(f"{int((NOW - 50 + s) * 1000)} {s / 10} {s}\n" for s in range(4))
        new.write_text(text)
        before = source.progress.bytes_read
        assert store.refresh(full=False).points == 4
        assert source.progress.bytes_read - before == len(text)  # that file alone
        assert count_of(store, "yolo26n-lr0.01-b16-sgd", "extra/score") == 4
        append(new, f"{int(NOW * 1000)} 0.9 4\n".encode())
        assert store.refresh(full=False).points == 1
        assert count_of(store, "yolo26n-lr0.01-b16-sgd", "extra/score") == 5


def test_system_metrics_read_through_like_imported_ones(tmp_path: Path) -> None:
    """W&B stats records reach the catalog under trackui's system names, as
    an import of the same run gives them (tests/importers/test_system_catalog.py)."""
    src = tmp_path / "wbr"
    shutil.copytree(FIXTURES / "wandb-resumed", src)
    with store_for(tmp_path, src) as store:
        (run_id,) = store.catalog.query("SELECT run_id FROM runs")[0]
        got = {m.key: m for m in store.metric_summaries(run_id) if m.key.startswith("system/")}
        util = got["system/gpu0.util"]
        assert (util.first, util.last, util.max, util.count) == (90.0, 97.0, 97.0, 3)
        assert [(p.step, p.value) for p in store.history(run_id, "system/gpu0.util")] == [
            (0, 90.0),
            (1, 95.0),
            (2, 97.0),
        ]
        assert got["system/proc.rss"].first == 1024.0 * 1024**2
