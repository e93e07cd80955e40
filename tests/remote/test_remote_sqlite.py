"""SQLite sources on a remote box, mirrored by rows (store/remote/sqlite_mirror.py),
and a ``host:path`` naming a single file.

The first tests run the helper on this machine over plain pipes (no ssh);
the end-to-end ones go through the loopback sshd of conftest.py (they skip
where sshd is missing; CI installs openssh-server).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from trackui.store.queries import Store
from trackui.store.remote import Connection, RemoteBox, RemoteError, local_argv
from trackui.store.remote.mirror import Held, Mirror
from trackui.store.remote.source import FileBox, single_file
from trackui.store.remote.sqlite_mirror import SMALL, database_of, is_database
from trackui.store.sources.foreign import interesting
from trackui.store.sources.session import session_root

from ..conftest import FIXTURES
from ..importers.helpers import materialized
from .conftest import remote

RUN_ID = "dcb386a256f34411b0014820a2f6da91"  # yolo26n-lr0.01-b16-sgd in the fixture
FILLER_ROWS = 3 * SMALL  # the metric table past SMALL: read by rowid


def _trackio_box(dest: Path) -> Path:
    """A Trackio project database (WAL mode, as Trackio keeps it) under
    ``dest``, with a filler run so that its metric table is a big one."""
    src = materialized(FIXTURES / "trackio")
    dest.mkdir(parents=True)
    shutil.copy2(src / "yolo-fake.db", dest / "yolo-fake.db")
    db = dest / "yolo-fake.db"
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.executemany(
            "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?,?,?,?,?)",
            [
                (
                    "f" * 32,
                    "2026-11-26T14:35:41+00:00",
                    "filler",
                    step,
                    json.dumps({"noise": step * 0.5, "pad": "x" * 40}).encode(),
                )
                for step in range(FILLER_ROWS)
            ],
        )
    return db


def _append(db: Path, steps: range) -> None:
    """Metric rows of the fixture's first run, as Trackio's sender adds them."""
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.executemany(
            "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?,?,?,?,?)",
            [
                (
                    RUN_ID,
                    "2026-11-26T15:00:00+00:00",
                    "yolo26n-lr0.01-b16-sgd",
                    step,
                    json.dumps({"train/loss": 1.0 / step}).encode(),
                )
                for step in steps
            ],
        )


def _dump(db: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {n: sorted(conn.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}
    finally:
        conn.close()


@pytest.fixture
def piped(tmp_path: Path) -> Iterator[tuple[Mirror, Path]]:
    db = _trackio_box(tmp_path / "box")
    box = RemoteBox("box1", str(db.parent), connection=Connection(local_argv(), name="box1"))
    # The writer's own connection stays open, as a Trackio process's does:
    # the -wal file stays (the last connection to close would remove it).
    holder = sqlite3.connect(db)
    holder.execute("SELECT count(*) FROM metrics").fetchone()
    _append(db, range(5000, 5001))
    try:
        yield Mirror(box, tmp_path / "mirror", interesting), db
    finally:
        holder.close()
        box.close()


def test_names() -> None:
    assert is_database("a/mlflow.db") and is_database("p.sqlite3")
    assert database_of("a/p.db-wal") == "a/p.db" and database_of("a/p.txt-wal") is None
    assert single_file("~/mlflow.db") == ("~", "mlflow.db")
    assert single_file("runs/x/events.out.tfevents.1.vm") == ("runs/x", "events.out.tfevents.1.vm")
    assert single_file("/data/p.db") == ("/data", "p.db")
    assert single_file("p.sqlite") == (".", "p.sqlite")
    assert single_file("~/runs") is None and single_file("") is None


def test_database_mirrored_by_rows(piped: tuple[Mirror, Path]) -> None:
    mirror, db = piped
    assert (db.parent / "yolo-fake.db-wal").exists()  # a WAL database, as Trackio's
    mirror.sync()
    copy = mirror.files / "yolo-fake.db"
    assert _dump(copy) == _dump(db)
    assert not (mirror.files / "yolo-fake.db-wal").exists()  # sidecars never mirrored
    conn = mirror.box.connection
    # Nothing changed: nothing asked of the database.
    rows = mirror.rows
    mirror.sync()
    assert mirror.rows == rows
    # New metric rows: only those cross (and the small tables, whole).
    _append(db, range(6000, 6010))
    got = conn.bytes_received
    mirror.sync()
    assert _dump(copy) == _dump(db)
    received = conn.bytes_received - got
    assert received < db.stat().st_size / 20, (received, db.stat().st_size)
    with closing(sqlite3.connect(db)) as r:
        big = r.execute("SELECT count(*) FROM metrics").fetchone()[0]
    assert mirror.rows - rows < big / 10
    # A row updated in place in a small table (a config rewritten) is caught.
    with closing(sqlite3.connect(db)) as w, w:
        w.execute("UPDATE configs SET config = '{\"lr0\": 0.5}' WHERE rowid = 1")
    mirror.sync()
    assert _dump(copy) == _dump(db)
    # A big table that lost rows is fetched whole again.
    with closing(sqlite3.connect(db)) as w, w:
        w.execute("DELETE FROM metrics WHERE run_name = 'filler' AND step < 100")
    mirror.sync()
    assert _dump(copy) == _dump(db)
    # A schema change on the box (a tool's migration): the copy is rebuilt.
    with closing(sqlite3.connect(db)) as w, w:
        w.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        w.execute("INSERT INTO notes (text) VALUES ('hi')")
    ino = copy.stat().st_ino
    mirror.sync()
    assert _dump(copy) == _dump(db) and "notes" in _dump(copy)
    assert copy.stat().st_ino != ino  # written beside it and renamed over it
    # A new process: the table of what is held says what it has.
    again = Mirror(mirror.box, mirror.top, interesting)
    again.sync()
    assert again.rows == 0
    # A mirror from before (the database and its -wal held as whole files):
    # the stale -wal goes, or a reader would apply it to the new copy.
    stale = again.files / "yolo-fake.db-wal"
    stale.write_bytes(b"old")
    again.held["yolo-fake.db-wal"] = Held(1, 3, 0, 3)
    _append(db, range(7000, 7002))
    again.sync()
    assert not stale.exists() and "yolo-fake.db-wal" not in again.held
    assert _dump(copy) == _dump(db)


def test_failed_update_tried_again(
    piped: tuple[Mirror, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update the box refused (a database locked past the helper's busy
    timeout) is tried again at the next sync, though the box lists no change."""
    mirror, db = piped
    mirror.sync()
    copy = mirror.files / "yolo-fake.db"
    _append(db, range(6000, 6005))
    real = mirror.box.sqlite_schema

    def locked(rel: str) -> object:
        raise RemoteError("box1: yolo-fake.db: database is locked")

    monkeypatch.setattr(mirror.box, "sqlite_schema", locked)
    mirror.sync()
    assert _dump(copy) != _dump(db)
    assert any("database is locked" in p for p in mirror.problems)
    monkeypatch.setattr(mirror.box, "sqlite_schema", real)
    mirror.sync()
    assert _dump(copy) == _dump(db)


def test_without_rowid_table(tmp_path: Path) -> None:
    root = tmp_path / "box"
    root.mkdir()
    db = root / "mlflow.db"
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID")
        conn.executemany("INSERT INTO kv VALUES (?, ?)", [("a", b"\0\1"), ("b", None)])
    box = RemoteBox("box1", str(root), connection=Connection(local_argv(), name="box1"))
    try:
        mirror = Mirror(box, tmp_path / "mirror", interesting)
        mirror.sync()
        assert _dump(mirror.files / "mlflow.db") == _dump(db)
        with closing(sqlite3.connect(db)) as conn, conn:
            conn.execute("UPDATE kv SET v = 2.5 WHERE k = 'b'")
        mirror.sync()
        assert _dump(mirror.files / "mlflow.db") == _dump(db)
    finally:
        box.close()


@pytest.mark.e2e
def test_trackio_database_over_ssh(ssh_env: Path, tmp_path: Path) -> None:
    """New metric rows appended on the box: one refresh brings the new points
    into the catalog, and the bytes received are far below the database's size."""
    db = _trackio_box(tmp_path / "box1-trackio")
    root = session_root([f"box1:{db.parent}"])
    with Store(root) as store:
        box1 = remote(store, "box1")
        runs = {r.name: r for r in store.list_runs()}
        assert "yolo26n-lr0.01-b16-sgd" in runs and "filler" in runs
        run = runs["yolo26n-lr0.01-b16-sgd"]
        before = len(store.history(run.id, "train/loss"))
        assert before > 0
        _append(db, range(6000, 6100))  # 100 new points
        got = box1.bytes_read
        store.refresh(full=False)
        points = store.history(run.id, "train/loss")
        assert len(points) == before + 100
        assert points[-1].step == 6099 and points[-1].value == pytest.approx(1.0 / 6099)
        received = box1.bytes_read - got
        size = db.stat().st_size + (db.parent / "yolo-fake.db-wal").stat().st_size
        assert received < size / 20, (received, size)


@pytest.mark.e2e
def test_single_files_over_ssh(ssh_env: Path, tmp_path: Path) -> None:
    """``host:path`` naming one file reads as the same file given locally."""
    db = _trackio_box(tmp_path / "box1-one")
    (db.parent / "other.txt").write_text("not mirrored")
    events = next((FIXTURES / "tensorboard").rglob("*tfevents*"))
    board = tmp_path / "box1-tb" / "run-a"
    board.mkdir(parents=True)
    shutil.copy2(events, board / events.name)
    with Store(session_root([str(db)]), refresh=True) as local:
        want = sorted(r.name for r in local.list_runs())
    with Store(session_root([f"box1:{db}"])) as store:
        assert sorted(r.name for r in store.list_runs()) == want
        src = remote(store, "box1")
        assert isinstance(src.remote, FileBox)
        assert sorted(p.name for p in src.files.iterdir()) == ["yolo-fake.db"]
        assert {r.location for r in store.list_runs()} == {f"box1:{db}"}
    # MLflow's mlflow.db (its schema: many tables, indexes, alembic_version)
    mlflow_db = tmp_path / "box1-mlflow" / "mlflow.db"
    mlflow_db.parent.mkdir()
    shutil.copy2(materialized(FIXTURES / "mlflow") / "sqlite" / "mlflow.db", mlflow_db)
    with Store(session_root([str(mlflow_db)]), refresh=True) as local:
        want = sorted((r.name, r.status) for r in local.list_runs())
    assert len(want) == 5
    with Store(session_root([f"box1:{mlflow_db}"])) as store:
        assert sorted((r.name, r.status) for r in store.list_runs()) == want
        assert {r.source_kind for r in store.list_runs()} == {"mlflow"}
        # Rows written on the box after the first read (MLflow logs a param
        # and ends a run: rows of its small tables, one updated in place):
        # one refresh brings the copy the reader reads up to date.
        with closing(sqlite3.connect(mlflow_db)) as w, w:
            (uuid,) = w.execute("SELECT run_uuid FROM runs WHERE status = 'RUNNING'").fetchone()
            w.execute("INSERT INTO params (key, value, run_uuid) VALUES ('late', '7', ?)", (uuid,))
            w.execute(
                "UPDATE runs SET status = 'FAILED', end_time = start_time + 1000 "
                "WHERE run_uuid = ?",
                (uuid,),
            )
        copy = remote(store, "box1").files / "mlflow.db"
        assert _dump(copy) != _dump(mlflow_db)
        store.refresh(full=False)
        assert _dump(copy) == _dump(mlflow_db)
    with Store(session_root([f"box1:{board / events.name}"])) as store:
        (run,) = store.list_runs()
        assert run.source_kind == "tensorboard" and run.box == "box1"
        assert store.metric_keys([run.id])
    for gone in (tmp_path / "nope" / "mlflow.db", db.parent / "mlflow.db"):
        with Store(session_root([f"box1:{gone}"]), refresh=False) as store:
            with pytest.raises(RemoteError) as caught:
                remote(store, "box1").remote.connect()
            assert str(caught.value) == f"box1:{gone}: no such file"


@pytest.mark.e2e
def test_single_file_on_the_command_line(
    ssh_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``trackui ls --json box1:PATH/p.db`` lists its runs with their box; a
    file that is not there is one line and exit 2."""
    from trackui.cli import main

    db = _trackio_box(tmp_path / "box1-cli")
    code = main(["ls", "--json", f"box1:{db}"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = json.loads(out)
    assert "yolo26n-lr0.01-b16-sgd" in {r["name"] for r in rows}
    assert {(r["box"], r["location"]) for r in rows} == {("box1", f"box1:{db}")}
    for gone in (db.parent / "nope.db", tmp_path / "nope" / "mlflow.db"):
        code = main(["ls", "--json", f"box1:{gone}"])
        out, err = capsys.readouterr()
        assert code == 2, (out, err)
        assert f"box1:{gone}: no such file" in err, err
        assert len(err.strip().splitlines()) == 1, err
