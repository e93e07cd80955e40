"""MLflow runs read into columns give exactly the points the line and row
readers give (the same runs read with NumPy switched off), and everything
the columns could read differently goes to those readers."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from trackui.store.importers import _mlflow_columns, mlflow
from trackui.store.importers._pointcols import PointColumns

from .helpers import materialized

pytest.importorskip("numpy")  # without it the columns are never used (the test below)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
T0 = 1_700_000_000_000
RUN = "0123456789abcdef0123456789abcdef"


def file_store(root: Path, metrics: dict[str, str], *, status: int = 3) -> Path:
    exp = root / "mlruns" / "1"
    run = exp / RUN
    (run / "metrics").mkdir(parents=True)
    (exp / "meta.yaml").write_text("experiment_id: '1'\nname: e\nlifecycle_stage: active\n")
    (run / "meta.yaml").write_text(
        f"run_id: {RUN}\nexperiment_id: '1'\nstatus: {status}\nstart_time: {T0}\n"
        f"end_time: {T0 + 9000}\nlifecycle_stage: active\nrun_name: r\n"
    )
    for key, text in metrics.items():
        (run / "metrics" / key).parent.mkdir(parents=True, exist_ok=True)
        (run / "metrics" / key).write_bytes(text.encode())
    return root / "mlruns"


def as_tuples(points: Any) -> list[tuple[Any, ...]]:
    """Points by their bits: NaN equals NaN, -0.0 is not 0.0."""
    return [(p.key, p.step, repr(p.value), repr(p.t)) for p in points]


def read_both(
    path: Path, monkeypatch: pytest.MonkeyPatch, **kwargs: Any
) -> tuple[list[Any], list[Any], list[str], list[str]]:
    """Each run as (points, system points, status) with NumPy, then without."""
    kwargs.setdefault("now", T0 / 1000 + 60)
    out = []
    real = _mlflow_columns.np
    for numpy in (real, None):
        monkeypatch.setattr(_mlflow_columns, "np", numpy)
        problems: list[str] = []
        runs = list(mlflow.read(path, problems, **kwargs))
        out.append(
            (
                [(r.source_id, as_tuples(r.points), as_tuples(r.system), r.status) for r in runs],
                problems,
                [type(r.points) for r in runs],
            )
        )
    monkeypatch.setattr(_mlflow_columns, "np", real)
    (with_np, p1, _), (without, p2, kinds) = out
    assert all(t is list for t in kinds)
    return with_np, without, p1, p2


def test_file_store_columns_equal_the_line_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = file_store(
        tmp_path,
        {
            "loss": f"{T0} 0.5 0\n{T0 + 1000} 0.25 1\n{T0 + 2000} nan 2\n{T0 + 2000} 7 3\n",
            "acc": f"{T0} -0.0 0\n{T0 + 1000} inf 1\n{T0 + 2000} -inf 2\n{T0 + 2500} 1e400 4\n",
            "train/lr": f"{T0 + 500} 0.001 0\n{T0 + 3000} 1e-05 -3\n{T0 + 3000} Infinity 9\n",
            "big": f"{T0} 12345678901234567890 9007199254740993\n",
            "system/gpu_0_memory_usage_megabytes": f"{T0} 4000.5 0\n{T0 + 1000} 4100 1\n",
            "system/disk_usage_percentage": f"{T0} 40.0 0\n{T0 + 1000} 40.1 1\n",
            "empty": "",
            # a torn last line: a write in progress, but this run has ended
            "torn": f"{T0} 1.0 0\n{T0 + 1000} 2.0 1",
        },
    )
    with_np, without, p1, p2 = read_both(src, monkeypatch)
    assert with_np == without and p1 == p2 == []
    ((_, points, system, _),) = with_np
    assert ("torn", 1, "2.0", repr((T0 + 1000) / 1000)) in points  # ended: the line counts
    assert ("system/gpu0.mem_used", 1, repr(4100e6), repr((T0 + 1000) / 1000)) in system
    run = next(mlflow.read(src, []))
    assert isinstance(run.points, PointColumns)  # the columns were used


def test_a_running_runs_torn_line_waits_for_its_newline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = file_store(tmp_path, {"loss": f"{T0} 1.0 0\n{T0 + 1000} 2.0"}, status=1)
    with_np, without, _, _ = read_both(src, monkeypatch)
    assert with_np == without
    assert [p[1] for p in with_np[0][1]] == [0]


@pytest.mark.parametrize(
    "text",
    [
        f"{T0} 0.5 0\n{T0} 0.6\n",  # an old 2-field line
        f"{T0} 0.5 0\n{T0} 0.6 1 ds ctx\n",  # a 5-field line (logged with a dataset)
        f"{T0} 0.5 0\n\n{T0} 0.6 1\n",  # a blank line
        f"{T0} 0.5 0\n   \n{T0} 0.6 1\n",  # a line of spaces
        f"{T0} 0.5 0\r\n{T0} 0.6 1\r\n",  # CRLF
        f"{T0}  0.5 0\n",  # two spaces
        f"{T0}\t0.5\t0\n",  # tabs
        f"{T0} +-1 0\n{T0} 0.6 1\n",  # a sign DuckDB takes and Python does not
        f"{T0} nan(1) 0\n",
        f"{T0} 0.5 0\n{T0} garbage 1\n",
        f"{T0} 0.5 0\n{T0 - 5} 0.6 1\n",  # timestamps going backwards
        f"{T0} 0.5 0\n\u00e9 0.6 1\n",  # not ASCII
        f"{T0} 0.5 99999999999999999999\n",  # a step past int64
    ],
)
def test_what_the_columns_could_read_differently_goes_to_the_line_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    src = file_store(tmp_path, {"a": f"{T0} 1.0 0\n{T0 + 5} 2.0 1\n", "b": text})
    with_np, without, p1, p2 = read_both(src, monkeypatch)
    assert with_np == without and p1 == p2
    run = next(mlflow.read(src, []))
    assert not isinstance(run.points, PointColumns)


def test_fixture_file_store_and_database_read_alike_with_and_without_numpy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = materialized(FIXTURES / "mlflow")  # the database is kept as an SQL dump
    for name in ("file", "sqlite"):
        src = tmp_path / name
        shutil.copytree(built / name, src)
        with_np, without, p1, p2 = read_both(src, monkeypatch, now=1e10)
        assert with_np == without and p1 == p2
        assert sum(len(r[1]) for r in with_np) > 0
    real = FIXTURES / "mlflow-system" / "mlruns"
    with_np, without, _, _ = read_both(real, monkeypatch, now=1e10)
    assert with_np == without and with_np[0][2]  # its system metrics too


def sqlite_store(path: Path, rows: list[tuple[Any, ...]]) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(
        """CREATE TABLE experiments (experiment_id INTEGER, name TEXT, lifecycle_stage TEXT);
           CREATE TABLE runs (run_uuid TEXT, name TEXT, experiment_id INTEGER, status TEXT,
                              start_time INTEGER, end_time INTEGER, lifecycle_stage TEXT,
                              user_id TEXT, artifact_uri TEXT);
           CREATE TABLE metrics (key TEXT, value REAL, timestamp INTEGER, run_uuid TEXT,
                                 step INTEGER, is_nan BOOLEAN);
           CREATE TABLE params (key TEXT, value TEXT, run_uuid TEXT);
           CREATE TABLE tags (key TEXT, value TEXT, run_uuid TEXT);
           INSERT INTO experiments VALUES (0, 'Default', 'active');"""
    )
    conn.execute(
        "INSERT INTO runs VALUES (?, 'r', 0, 'FINISHED', ?, ?, 'active', 'u', '')",
        (RUN, T0, T0 + 9000),
    )
    conn.executemany(f"INSERT INTO metrics VALUES (?, ?, ?, '{RUN}', ?, ?)", rows)
    conn.commit()
    conn.close()
    return path


@pytest.mark.parametrize(
    "odd",
    [
        [],
        [("loss", None, T0 + 7, 5, 0)],  # a NULL value: a row the reader skips
        [("loss", "x", T0 + 7, 5, 0)],  # text
        [("loss", 1.0, None, 5, 0)],  # no timestamp
        [("loss", 1.0, T0 + 7, None, 0)],  # no step
    ],
)
def test_database_columns_equal_the_row_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, odd: list[tuple[Any, ...]]
) -> None:
    dbl = 1.7976931348623157e308
    rows = [
        ("loss", 0.5, T0, 0, 0),
        ("loss", 0.0, T0 + 1000, 1, 1),  # is_nan
        ("acc", dbl, T0 + 1000, 1, 0),  # +inf as MLflow stores it
        ("acc", -dbl, T0 + 2000, 2, 0),
        ("acc", 3, T0 + 2000, 3, 0),  # an int
        ("system/cpu_utilization_percentage", 12.5, T0 + 500, 0, 0),
        *odd,
    ]
    db = sqlite_store(tmp_path / "mlflow.db", rows)
    with_np, without, p1, p2 = read_both(db, monkeypatch)
    assert with_np == without and p1 == p2
    ((_, points, system, _),) = with_np
    assert ("acc", 1, "inf", repr((T0 + 1000) / 1000)) in points
    loss = [p[1:3] for p in points if p[0] == "loss"]
    assert (0, "0.5") in loss and (1, "nan") in loss
    assert system == [("system/host.cpu", 0, "12.5", repr((T0 + 500) / 1000))]


def test_without_numpy_nothing_is_read_as_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_mlflow_columns, "np", None)
    assert _mlflow_columns.file_columns([("a", f"{T0} 1.0 0\n".encode())], ended=True) is None
    db = sqlite_store(tmp_path / "mlflow.db", [("a", 1.0, T0, 0, 0)])
    with sqlite3.connect(db) as conn:
        assert _mlflow_columns.db_columns(conn, RUN) is None
    conn.close()


def test_runs_read_ahead_in_order_with_their_reads_noted(tmp_path: Path) -> None:
    import threading

    from trackui.store.importers import _read

    files = []
    for i in range(5):
        f = tmp_path / f"f{i}"
        f.write_bytes(b"x" * (i + 1))
        files.append(f)
    threads: set[str] = set()

    def read_one(f: Path) -> bytes:
        threads.add(threading.current_thread().name)
        return _read.read_bytes(f)

    with _read.recording() as seen:
        got = list(_mlflow_columns.ahead(files, read_one))
    assert got == [f.read_bytes() for f in files]
    assert sorted(seen) == sorted(str(f) for f in files)  # noted though read in a thread
    assert [seen[str(f)].read for f in files] == [1, 2, 3, 4, 5]
    assert any(name.startswith("trackui-mlflow") for name in threads)
    # a caller that stops early: the read under way ends, no thread is left
    before = threading.active_count()
    gen = _mlflow_columns.ahead(files, read_one)
    assert next(gen) == b"x"
    gen.close()
    assert threading.active_count() == before


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_no_room_for_the_temporary_file_reads_by_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small /dev/shm (a container's 64 MB) or a full disk: the line reader."""
    import os
    import tempfile

    spare = tmp_path / "tmp"
    spare.mkdir()

    class Full:
        """``tempfile`` whose files take no bytes (writes fail with ENOSPC)."""

        @staticmethod
        def mkstemp(**_: object) -> tuple[int, str]:
            fd, path = tempfile.mkstemp(dir=spare)
            os.close(fd)
            return os.open("/dev/full", os.O_WRONLY), path

    src = file_store(tmp_path, {"loss": f"{T0} 0.5 0\n{T0 + 1000} 0.25 1\n"})
    want = as_tuples(next(mlflow.read(src, [])).points)
    monkeypatch.setattr(_mlflow_columns, "tempfile", Full)
    run = next(mlflow.read(src, []))
    assert not isinstance(run.points, PointColumns) and as_tuples(run.points) == want
    assert not list(spare.iterdir())  # nothing left behind
    assert _mlflow_columns._shm_with_room(1 << 62) is None  # more than any /dev/shm
