"""A Trackio database on a remote box, over loopback ssh: bytes and seconds.

Starts a private sshd on 127.0.0.1 (tests/remote/loopback.py), builds a
Trackio project database (the fixture's schema, WAL mode, a writer's
connection held open as Trackio's is) padded with ``--rows`` metric rows,
opens it as ``trackui box1:PATH`` does, then appends 100 metric rows and
refreshes. Bytes are those through ssh's pipes (``SourceState.bytes_read``
/ ``bytes_sent``); before this mirror read rows, any change fetched the
whole database and its ``-wal`` again (the ``whole_file_bytes`` figure).

    flock /tmp/bench.lock .venv/bin/python benchmarks/bench_remote_sqlite.py --rows 200000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "remote"))

from loopback import LoopbackSshd, Unavailable  # noqa: E402

RUN_ID = "dcb386a256f34411b0014820a2f6da91"  # a run of the fixture


def make_db(path: Path, rows: int) -> sqlite3.Connection:
    """The fixture's database padded with ``rows`` metric rows of 20 runs;
    returns the writer's connection, left open."""
    text = (REPO / "fixtures" / "trackio" / "yolo-fake.sql").read_text()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(text)
    batch = []
    for i in range(rows):
        run = i % 20
        metrics = {"train/loss": 1 / (i + 1), "lr/pg0": 0.01, "epoch": i // 1000}
        batch.append(
            (f"{run:032x}", "2026-11-26T14:35:41+00:00", f"pad-{run}", i // 20, json.dumps(metrics))
        )
        if len(batch) == 10000:
            _insert(conn, batch)
            batch = []
    _insert(conn, batch)
    return conn


def _insert(conn: sqlite3.Connection, rows: list[tuple]) -> None:
    conn.executemany(
        "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?,?,?,?,?)",
        [(*r[:4], r[4].encode()) for r in rows],
    )
    conn.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="trackui-bench-remote-sqlite-"))
    os.environ["TRACKUI_CACHE_DIR"] = str(work / "cache")
    os.environ["TRACKUI_CONFIG_DIR"] = str(work / "config")
    try:
        try:
            sshd = LoopbackSshd(work / "sshd")
        except Unavailable as exc:
            print(f"skipped: {exc}")
            return
        sshd.start()
        try:
            run(sshd, work, args.rows)
        finally:
            sshd.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(sshd: LoopbackSshd, work: Path, rows: int) -> None:
    from trackui.store.queries import Store
    from trackui.store.sources.session import session_root

    config = sshd.client_config(work / "ssh_config", {"box1": {}})
    os.environ["TRACKUI_SSH"] = f"{shutil.which('ssh')} -F {config}"
    box = work / "box1"
    box.mkdir()
    db = box / "yolo-fake.db"
    writer = make_db(db, rows)

    def on_box() -> int:
        wal = db.with_name(db.name + "-wal")
        return db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)

    print(f"database_bytes {on_box()}  ({rows:,} padding metric rows + the fixture's)")
    root = session_root([f"box1:{box}"])
    start = time.perf_counter()
    with Store(root) as store:
        (state,) = store.sources()
        print(f"first_read_s {time.perf_counter() - start:.2f}  (connect, rows, ingest; no budget)")
        print(f"first_read_bytes_received {state.bytes_read}  (sent {state.bytes_sent})")
        got, sent = state.bytes_read, state.bytes_sent
        store.refresh(full=False)
        (state,) = store.sources()
        print(
            f"idle_refresh_bytes {state.bytes_read - got + state.bytes_sent - sent}  (goal <= 2048)"
        )
        got, sent = state.bytes_read, state.bytes_sent
        writer.executemany(
            "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?,?,?,?,?)",
            [
                (
                    RUN_ID,
                    "2026-11-26T15:00:00+00:00",
                    "yolo26n-lr0.01-b16-sgd",
                    6000 + s,
                    json.dumps({"train/loss": 0.1}).encode(),
                )
                for s in range(100)
            ],
        )
        writer.commit()
        start = time.perf_counter()
        store.refresh(full=False)
        took = time.perf_counter() - start
        (state,) = store.sources()
        received = state.bytes_read - got
        print(f"refresh_100_rows_s {took:.2f}  (no budget)")
        print(f"refresh_100_rows_bytes_received {received}  (sent {state.bytes_sent - sent})")
        print(
            f"whole_file_bytes {on_box()}  (what a whole-file mirror fetched for the same change)"
        )
        run_ = next(r for r in store.list_runs() if r.name == "yolo26n-lr0.01-b16-sgd")
        assert store.history(run_.id, "train/loss")[-1].step == 6099
    writer.close()


if __name__ == "__main__":
    main()
