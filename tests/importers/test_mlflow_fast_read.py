"""The MLflow first read's fast paths give exactly what the line and row
readers give, on generated hostile data: the database's rows read as texts
and floats (``_mlflow_columns.db_columns``), metric files parsed by DuckDB,
runs read ahead by a thread within a bound, and the read-through catalog
built with and without NumPy."""

from __future__ import annotations

import random
import sqlite3
import struct
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from trackui.store.importers import _mlflow_columns, mlflow
from trackui.store.importers._pointcols import PointColumns

from .test_mlflow_columns import RUN, T0, as_tuples, file_store, read_both, sqlite_store

pytest.importorskip("numpy")  # without it the fast paths are never used

DBL_MAX = 1.7976931348623157e308
INT64_MAX = (1 << 63) - 1
DEADLINE = 90.0  # seconds a wait on the reading thread may take on a starved CPU


def hard_doubles(n: int, seed: int) -> list[float]:
    """Finite doubles that need all 17 digits, from every binade: random bit
    patterns (subnormals included) and the neighbours of round numbers."""
    rng = random.Random(seed)
    out: list[float] = []
    while len(out) < n:
        (v,) = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))
        if v == v and abs(v) != float("inf"):
            out.append(v)
    out += [
        0.1 + 0.2,
        1 / 3,
        5e-324,
        -5e-324,
        2.2250738585072014e-308,
        2.225073858507201e-308,
        DBL_MAX * (1 - 2**-52),
        9007199254740993.0,
        -0.0,
        0.0,
        1.0000000000000002,
        0.9999999999999999,
    ]
    return out


def points_of(src: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[Any]]:
    with_np, without, p1, p2 = read_both(src, monkeypatch, now=1e10)
    assert with_np == without and p1 == p2
    return with_np, p1


# -- the database ------------------------------------------------------------------------


def test_database_values_that_need_17_digits_and_huge_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = hard_doubles(500, seed=1)
    keys = ["loss", "a b/c", "ünï cödé", "it's", "x" * 250]
    rng = random.Random(2)
    rows = []
    for i, v in enumerate(values):
        step = rng.choice([i, -i, INT64_MAX - i, -INT64_MAX + i, 0])
        ts = T0 + rng.randrange(0, 50) if i % 7 else T0 + i  # ties: step, then rowid
        rows.append((keys[i % len(keys)], v, ts, step, 1 if i % 97 == 0 else 0))
    rows += [("loss", DBL_MAX, T0, 1, 0), ("loss", -DBL_MAX, T0, 2, 0), ("loss", 7, T0, 3, 0)]
    db = sqlite_store(tmp_path / "mlflow.db", rows)
    ((_, points, _, _),), _ = points_of(db, monkeypatch)
    assert len(points) == len(rows)
    got = {repr(float(p[2])) for p in points}
    kept = {repr(v) for i, v in enumerate(values) if i % 97} - {"-0.0"}  # the rest: is_nan
    assert kept <= got
    run = next(mlflow.read(db, [], now=1e10))
    assert isinstance(run.points, PointColumns)  # the fast path read them
    assert ("loss", 1, "inf") in [p[:3] for p in as_tuples(run.points)]


def test_database_rows_in_rowid_order_that_is_already_the_read_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [(k, 0.5 + s, T0 + 10 * s, s, 0) for s in range(300) for k in ("a", "b", "c")]
    db = sqlite_store(tmp_path / "mlflow.db", rows)
    ((_, points, _, _),), _ = points_of(db, monkeypatch)
    assert [p[0] for p in points[:6]] == ["a", "b", "c", "a", "b", "c"]


@pytest.mark.parametrize(
    "odd",
    [
        ("loss", 1.0, T0 + 1.5, 5, 0),  # a real timestamp
        ("loss", 1.0, T0, 2.0, 0),  # a real step
        ("loss", 1.0, str(T0), 5, 0),  # a text timestamp
        ("loss", 1.0, T0, "5", 0),  # a text step
        ("loss", b"\x00\x01", T0, 5, 0),  # a blob value
        ("loss", "1.5", T0, 5, 0),  # a text value the row reader takes
        ("lo\x00ss", 1.0, T0, 5, 0),  # NUL in a key
        (7, 1.0, T0, 5, 0),  # a key that is a number
        ("loss", 1.0, T0, 5, "true"),  # is_nan as text
        ("loss", 1.0, T0, 5, None),  # is_nan NULL
        ("loss", 1.0, T0, 5, 2),  # is_nan of another non-zero integer
        ("loss", 1.0, T0, 5, ""),  # is_nan an empty text (false to Python, not to SQL)
        ("loss", 1.0, T0, 5, 0.5),  # is_nan a real
        ("loss", None, T0, 5, 1),  # a NULL value flagged NaN
        ("loss", None, T0, 5, 0),  # a NULL value
        ("loss", 1.0, None, 5, 0),  # a NULL timestamp
        (None, 1.0, T0, 5, 0),  # a NULL key
        (b"loss", 1.0, T0, 5, 0),  # a blob key
        ("loss", 1.0, T0 * 10**6, 5, 0),  # a timestamp past a double's integers
    ],
)
def test_database_odd_rows_read_as_the_row_reader_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, odd: tuple[Any, ...]
) -> None:
    rows = [("loss", 0.25, T0, 0, 0), ("acc", 0.5, T0 + 1, 1, 0), odd]
    db = sqlite_store(tmp_path / "mlflow.db", rows)
    points_of(db, monkeypatch)


def test_database_of_an_old_schema_without_step_or_is_nan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "mlflow.db"
    conn = sqlite3.connect(db)
    conn.executescript(
        """CREATE TABLE experiments (experiment_id INTEGER, name TEXT, lifecycle_stage TEXT);
           CREATE TABLE runs (run_uuid TEXT, name TEXT, experiment_id INTEGER, status TEXT,
                              start_time INTEGER, end_time INTEGER, lifecycle_stage TEXT,
                              user_id TEXT, artifact_uri TEXT);
           CREATE TABLE metrics (key TEXT, value REAL, timestamp INTEGER, run_uuid TEXT);
           CREATE TABLE params (key TEXT, value TEXT, run_uuid TEXT);
           CREATE TABLE tags (key TEXT, value TEXT, run_uuid TEXT);
           INSERT INTO experiments VALUES (0, 'Default', 'active');"""
    )
    conn.execute(
        f"INSERT INTO runs VALUES ('{RUN}', 'r', 0, 'FINISHED', {T0}, {T0}, 'active', '', '')"
    )
    conn.executemany(
        f"INSERT INTO metrics VALUES (?, ?, ?, '{RUN}')",
        [
            (
                "b",
                0.1 * i,
                T0 + (i % 3),
            )
            for i in range(20)
        ]
        + [("a", 2.0, T0)],
    )
    conn.commit()
    conn.close()
    ((_, points, _, _),), _ = points_of(db, monkeypatch)
    assert len(points) == 21 and {p[1] for p in points} == {0}
    assert isinstance(next(mlflow.read(db, [], now=1e10)).points, PointColumns)


def test_database_runs_read_ahead_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = sqlite_store(tmp_path / "mlflow.db", [("loss", 1.0, T0, 0, 0)])
    conn = sqlite3.connect(db)
    for r in range(1, 6):
        run = f"{r:032x}"
        conn.execute(
            "INSERT INTO runs VALUES (?, ?, 0, 'FINISHED', ?, ?, 'active', 'u', '')",
            (run, f"r{r}", T0 + r, T0 + 9000),
        )
        conn.executemany(
            f"INSERT INTO metrics VALUES (?, ?, ?, '{run}', ?, 0)",
            [("loss", 1.0 / (s + r), T0 + s, s) for s in range(50 * r)],
        )
    conn.commit()
    conn.close()
    with_np, _ = points_of(db, monkeypatch)
    assert [len(r[1]) for r in with_np] == [1, 50, 100, 150, 200, 250]


def test_a_transaction_the_caller_holds_is_left_as_it_was(tmp_path: Path) -> None:
    """``db_columns`` leaves a transaction the caller holds as it was."""
    db = sqlite_store(tmp_path / "mlflow.db", [("loss", 0.5, T0, 0, 0), ("loss", 0.25, T0, 1, 0)])
    conn = sqlite3.connect(db)
    try:
        conn.execute("BEGIN")
        got = _mlflow_columns.db_columns(conn, RUN)
        assert conn.in_transaction
        assert got is not None and [p.value for p in got[0]] == [0.5, 0.25]
        conn.execute("COMMIT")
        assert _mlflow_columns.db_columns(conn, "no-such-run") is not None
        assert not conn.in_transaction
    finally:
        conn.close()


# -- the file store ----------------------------------------------------------------------


def test_file_store_values_that_need_17_digits_and_huge_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = hard_doubles(400, seed=3)
    lines = {
        "loss": "".join(f"{T0 + i} {v!r} {INT64_MAX - i}\n" for i, v in enumerate(values)),
        "acc": "".join(f"{T0 + i} {v:.17g} {-i}\n" for i, v in enumerate(values)),
        "lr": "".join(f"{T0 + 2 * i} {v:.17e} {i}\n" for i, v in enumerate(values)),
    }
    src = file_store(tmp_path, lines)
    ((_, points, _, _),), _ = points_of(src, monkeypatch)
    assert len(points) == 3 * len(values)
    run = next(mlflow.read(src, [], now=1e10))
    assert isinstance(run.points, PointColumns)
    loss = [p for p in as_tuples(run.points) if p[0] == "loss"]
    assert [p[2] for p in loss] == [repr(v) for v in values]
    assert loss[0][1] == INT64_MAX


# -- reading ahead -----------------------------------------------------------------------


def wait_for(condition: Any) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, "the reading thread did not get there"
        time.sleep(0.01)


def test_reading_ahead_stops_at_its_bound_and_goes_on_when_taken() -> None:
    started: list[int] = []
    taken = [0]
    peak = [0]
    lock = threading.Lock()

    def read_one(i: int) -> int:
        with lock:
            started.append(i)
            peak[0] = max(peak[0], len(started) - taken[0])
        return i

    gen = _mlflow_columns.ahead(list(range(10)), read_one, held=lambda _: 1, budget=3)
    assert next(gen) == 0
    taken[0] = 1
    wait_for(lambda: len(started) >= 4)  # 3 held ahead, and the one taken
    got = [0]
    for item in gen:
        got.append(item)
        with lock:
            taken[0] += 1
    assert got == list(range(10)) and started == list(range(10))
    assert peak[0] <= 3 + 1


def test_an_error_in_a_read_ahead_comes_in_its_place() -> None:
    def read_one(i: int) -> int:
        if i == 3:
            raise ValueError("bad run")
        return i

    got = []
    before = set(threading.enumerate())
    with pytest.raises(ValueError, match="bad run"):
        for item in _mlflow_columns.ahead(list(range(6)), read_one):
            got.append(item)
    assert got == [0, 1, 2]
    assert not set(threading.enumerate()) - before  # its reading thread has ended


def test_two_threads_ahead_keep_the_order_and_the_bound() -> None:
    names: set[str] = set()
    both = threading.Barrier(2, timeout=DEADLINE)
    met: list[bool] = []

    def read_one(i: int) -> int:
        names.add(threading.current_thread().name)
        if i in (0, 1):  # the first two are read at once, one by each thread
            try:
                both.wait()
                met.append(True)
            except threading.BrokenBarrierError:
                met.append(False)
        if i == 4:
            raise ValueError("bad run")
        return i * 10

    got = []
    with pytest.raises(ValueError, match="bad run"):
        for item in _mlflow_columns.ahead(list(range(9)), read_one, workers=2, budget=2):
            got.append(item)
    assert got == [0, 10, 20, 30]
    assert met == [True, True] and len(names) == 2


def test_database_problems_come_in_run_order_from_two_threads(tmp_path: Path) -> None:
    db = sqlite_store(tmp_path / "mlflow.db", [("loss", 1.0, T0, 0, 0)])
    conn = sqlite3.connect(db)
    for r in range(1, 8):
        run = f"{r:032x}"
        conn.execute(
            "INSERT INTO runs VALUES (?, ?, 0, 'FINISHED', ?, ?, 'active', 'u', '')",
            (run, f"r{r}", T0 + r, T0 + 9000),
        )
        rows = [("loss", 1.0, T0 + s, s, 0) for s in range(20 * r)]
        rows.append(("loss", None, T0, 999, 0))  # each run: one row the row reader skips
        conn.executemany(f"INSERT INTO metrics VALUES (?, ?, ?, '{run}', ?, ?)", rows)
    conn.commit()
    conn.close()
    problems: list[str] = []
    runs = list(mlflow.read(db, problems, now=1e10))
    assert [r.name for r in runs] == ["r", *(f"r{r}" for r in range(1, 8))]
    assert [p.split(": run ")[1].split(":")[0] for p in problems] == [
        f"{r:032x}" for r in range(1, 8)
    ]


# -- the read-through catalog, with and without NumPy ----------------------------------


def many_runs(root: Path, kind: str) -> Path:
    """Several runs with odd values, read with the thread ahead."""
    rng = random.Random(5)
    values = hard_doubles(60, seed=6)
    if kind == "file":
        exp = root / "mlruns" / "1"
        exp.mkdir(parents=True)
        (exp / "meta.yaml").write_text("experiment_id: '1'\nlifecycle_stage: active\nname: e\n")
        for r in range(5):
            run = exp / f"{r:032x}"
            (run / "metrics" / "train").mkdir(parents=True)
            (run / "meta.yaml").write_text(
                f"run_id: {r:032x}\nexperiment_id: '1'\nstatus: 3\nstart_time: {T0 + r}\n"
                f"end_time: {T0 + 9000}\nlifecycle_stage: active\nrun_name: r{r}\n"
            )
            for key in ("loss", "train/acc"):
                text = "".join(
                    f"{T0 + s * 10} {rng.choice(values)!r} {s}\n" for s in range(40 + 7 * r)
                )
                (run / "metrics" / key).write_text(text)
            if r == 3:  # a run the line reader reads
                (run / "metrics" / "odd").write_text(f"{T0} 0.5\n")
        return root / "mlruns"
    db = sqlite_store(root / "mlflow.db", [("loss", 1.0, T0, 0, 0)])
    conn = sqlite3.connect(db)
    for r in range(1, 5):
        run = f"{r:032x}"
        conn.execute(
            "INSERT INTO runs VALUES (?, ?, 0, 'FINISHED', ?, ?, 'active', 'u', '')",
            (run, f"r{r}", T0 + r, T0 + 9000),
        )
        rows = [
            (k, rng.choice(values), T0 + s * 10, s, int(s % 13 == 0))
            for s in range(30 + 9 * r)
            for k in ("loss", "train/acc")
        ]
        if r == 2:
            rows.append(("loss", "text", T0, 99, 0))  # a run the row reader reads
        conn.executemany(f"INSERT INTO metrics VALUES (?, ?, ?, '{run}', ?, ?)", rows)
    conn.commit()
    conn.close()
    return db


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_read_through_catalog_is_the_same_without_numpy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    from .test_tfdecode import catalog

    (tmp_path / "src").mkdir()
    src = many_runs(tmp_path / "src", kind)
    fast = catalog(tmp_path, src, "numpy")
    monkeypatch.setattr(_mlflow_columns, "np", None)
    slow = catalog(tmp_path, src, "lines")
    assert fast[0], "the source has points"
    assert fast == slow
