"""The C reader of an MLflow database's metric rows (``_sqlitecols``, built
at install where a C compiler and SQLite's header are present) gives what
``_mlflow_columns.db_columns`` gives, array for array, and the row reader's
points, on hostile databases (NULLs, mixed types, text values, duplicated
rows, timestamps out of order, keys in any script, a huge run, an empty
one); anything the row reader could read differently (and a damaged page,
a locked database) makes it give None, and the whole read is then the one
made without it. Whole stores (copies, two threads) and the build without
the module: ``test_sqlitecols_stores``."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from trackui.store.importers import _mlflow_columns, _mlflow_sqlite, _sqlite, mlflow
from trackui.store.importers._pointcols import PointColumns

np = pytest.importorskip("numpy", reason="the columns readers need NumPy (CI installs it)")
C = _mlflow_columns._sqlitecols
needs_c = pytest.mark.skipif(
    C is None,
    reason="the C reader is built at install where a C compiler and SQLite's header "
    "(libsqlite3-dev) are present, as in CI",
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
T0 = 1_700_000_000_000
RUN = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"
DBL_MAX = 1.7976931348623157e308
INT64_MAX = (1 << 63) - 1

#: MLflow's own metrics table (types, primary key and run index), and one
#: with no declared types, which keeps whatever was put in it as it was.
TYPED = """CREATE TABLE metrics (key VARCHAR(250) NOT NULL, value FLOAT NOT NULL,
    timestamp BIGINT NOT NULL, run_uuid VARCHAR(32) NOT NULL, step BIGINT DEFAULT '0' NOT NULL,
    is_nan BOOLEAN DEFAULT '0' NOT NULL,
    CONSTRAINT metric_pk PRIMARY KEY (key, timestamp, step, run_uuid, value, is_nan));
    CREATE INDEX index_metrics_run_uuid ON metrics (run_uuid);"""
UNTYPED = "CREATE TABLE metrics (key, value, timestamp, run_uuid, step, is_nan);"
UNTYPED_INDEXED = UNTYPED + "CREATE INDEX index_metrics_run_uuid ON metrics (run_uuid);"


def store(
    path: Path, rows: list[tuple[Any, ...]], *, metrics: str = UNTYPED_INDEXED, utf16: bool = False
) -> Path:
    """An ``mlflow.db`` holding run RUN (and OTHER) with ``rows`` as
    ``(key, value, timestamp, step, is_nan[, run_uuid])``; a str of SQL in
    their place is inserted as that expression."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    if utf16:
        conn.execute("PRAGMA encoding = 'UTF-16le'")
    conn.executescript(
        "CREATE TABLE experiments (experiment_id INTEGER, name TEXT, lifecycle_stage TEXT);"
        "CREATE TABLE runs (run_uuid TEXT, name TEXT, experiment_id INTEGER, status TEXT,"
        " start_time INTEGER, end_time INTEGER, lifecycle_stage TEXT, user_id TEXT,"
        " artifact_uri TEXT);"
        "CREATE TABLE params (key TEXT, value TEXT, run_uuid TEXT);"
        "CREATE TABLE tags (key TEXT, value TEXT, run_uuid TEXT);"
        "INSERT INTO experiments VALUES (0, 'Default', 'active');" + metrics
    )
    for i, run in enumerate((RUN, OTHER)):
        conn.execute(
            "INSERT INTO runs VALUES (?, ?, 0, 'FINISHED', ?, ?, 'active', 'u', '')",
            (run, f"r{i}", T0 + i, T0 + 9000),
        )
    for row in rows:
        row = tuple(row) + (RUN,) * (6 - len(row))
        exprs = [r.sql if isinstance(r, Sql) else "?" for r in row]
        conn.execute(
            f"INSERT INTO metrics (key, value, timestamp, step, is_nan, run_uuid) "
            f"VALUES ({', '.join(exprs)})",
            [r for r in row if not isinstance(r, Sql)],
        )
    conn.commit()
    conn.close()
    return path


class Sql:
    """An SQL expression in a row given to ``store`` (a blob, a cast)."""

    def __init__(self, sql: str) -> None:
        self.sql = sql


def c_read(db: Path, run: str = RUN, **cols: str) -> Any:
    reader = _mlflow_columns.c_reader(_sqlite.ro_uri(db))
    assert reader is not None
    try:
        return _mlflow_columns.c_columns(reader, run, **cols)
    finally:
        reader.close()


def py_read(db: Path, run: str = RUN, **cols: str) -> Any:
    conn = sqlite3.connect(_sqlite.ro_uri(db), uri=True)
    try:
        return _mlflow_columns.db_columns(conn, run, **cols)
    finally:
        conn.close()


def row_read(db: Path, run: str = RUN) -> tuple[list[Any], float | None, list[str]]:
    """The row reader's points (as ``_mlflow_sqlite`` reads them), newest time, problems."""
    conn = sqlite3.connect(_sqlite.ro_uri(db), uri=True)
    try:
        rows = conn.execute(
            "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ?"
            " ORDER BY timestamp, step, rowid",
            (run,),
        ).fetchall()
    finally:
        conn.close()
    problems: list[str] = []
    points, newest = _mlflow_sqlite._row_points(rows, db, run, problems)
    return as_tuples(points), newest, problems


def as_tuples(points: Any) -> list[tuple[Any, ...]]:
    """Points by their bits: NaN equals NaN, -0.0 is not 0.0."""
    return [(p.key, p.step, repr(p.value), repr(p.t)) for p in points]


def arrays(got: Any) -> Any:
    """Columns as exactly as they are held: names in order, dtypes, bits."""
    if got is None:
        return None
    cols, newest = got
    assert isinstance(cols, PointColumns)
    return (
        list(cols.names),
        [(a.dtype.str, a.tobytes()) for a in (cols.ki, cols.step, cols.value, cols.t)],
        repr(newest),
    )


def check_alike(db: Path, run: str = RUN) -> Any:
    """C == db_columns, array for array; and the row reader's points when
    the C reader reads the run. The C reader's result."""
    got = c_read(db, run)
    assert arrays(got) == arrays(py_read(db, run))
    if got is not None:
        points, newest, problems = row_read(db, run)
        assert as_tuples(got[0]) == points and repr(got[1]) == repr(newest)
        assert problems == []
    return got


def read_ways(
    path: Path, monkeypatch: pytest.MonkeyPatch, **kwargs: Any
) -> tuple[list[Any], list[Any]]:
    """The whole read with the C reader, then without it (as before it)."""
    kwargs.setdefault("now", T0 / 1000 + 60)
    out = []
    for use_c in (True, False):
        monkeypatch.setattr(_mlflow_columns, "USE_C", use_c)
        problems: list[str] = []
        runs = list(mlflow.read(path, problems, **kwargs))
        out.append(([(r.source_id, as_tuples(r.points), r.status) for r in runs], problems))
    monkeypatch.setattr(_mlflow_columns, "USE_C", True)
    return out[0], out[1]


def c_reads(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What each C read gave, by run (None: the other readers took the run)."""
    seen: dict[str, Any] = {}
    real = _mlflow_columns.c_columns

    def spy(reader: Any, run_id: str, **kwargs: Any) -> Any:
        got = seen[run_id] = real(reader, run_id, **kwargs)
        return got

    monkeypatch.setattr(_mlflow_columns, "c_columns", spy)
    return seen


BENIGN = [
    ("loss", 0.5, T0, 0, 0),
    ("loss", 0.0, T0 + 1000, 1, 1),  # is_nan
    ("acc", DBL_MAX, T0 + 1000, 1, 0),  # +inf as MLflow stores it
    ("acc", -DBL_MAX, T0 + 2000, 2, 0),
    ("acc", 3, T0 + 2000, 3, 0),  # an integer value
    ("acc", INT64_MAX, T0 + 2000, 4, 0),  # rounded to a double as float() rounds it
    ("acc", -(1 << 63), T0 + 2000, 5, 0),
    ("tiny", 5e-324, T0 + 3000, -7, 0),  # a negative step
    ("tiny", -0.0, T0 + 3000, -8, 0),
    ("tiny", 1 / 3, -5, 0, 0),  # a timestamp before 1970
    ("late", 0.25, (1 << 62) + 1, 0, 0),  # more than a double holds exactly
    ("half", 1.0, T0 + 50, 0, 0.5),  # a real is_nan: truthy
    ("half", 2.0, T0 + 50, 1, 0.0),
    ("", 7.0, T0, 0, 0),  # the empty key
    ("损失/训练", 1.5, T0 + 10, 2, 0),
    ("🚀 loss", 2.5, T0 + 10, 2, 0),
    ("e\u0301\u200b", 3.5, T0 + 10, 2, 0),  # combining, zero-width
    ("x" * 250, 4.5, T0 + 10, 2, 0),
]


@needs_c
@pytest.mark.parametrize(
    ("metrics", "utf16"),
    [(UNTYPED_INDEXED, False), (UNTYPED, False), (TYPED, False), (TYPED, True)],
    ids=["untyped", "no-index", "mlflow", "mlflow-utf16"],
)
def test_benign_rows_read_alike(tmp_path: Path, metrics: str, utf16: bool) -> None:
    db = store(tmp_path / "mlflow.db", BENIGN, metrics=metrics, utf16=utf16)
    got = check_alike(db)
    assert got is not None
    cols, newest = got
    assert len(cols) == len(BENIGN) and newest == ((1 << 62) + 1) / 1000.0
    points = as_tuples(cols)
    assert ("acc", 1, "inf", repr((T0 + 1000) / 1000)) in points
    assert ("loss", 1, "nan", repr((T0 + 1000) / 1000)) in points
    assert ("half", 0, "nan", repr((T0 + 50) / 1000)) in points  # is_nan 0.5
    assert ("half", 1, "2.0", repr((T0 + 50) / 1000)) in points
    assert cols.names[0] == "loss" and "🚀 loss" in cols.names


@needs_c
def test_duplicated_rows_out_of_order_and_other_runs_between(tmp_path: Path) -> None:
    rng = random.Random(8)
    rows: list[tuple[Any, ...]] = []
    for _ in range(3000):
        ts = T0 + rng.choice((0, 1000, 2000, rng.randrange(10**6)))
        row = (rng.choice("abc"), rng.random(), ts, rng.randrange(-3, 5), rng.random() < 0.01)
        rows.append(row)
        if rng.random() < 0.1:
            rows.append(row)  # the same row again
        if rng.random() < 0.3:
            rows.append(("other", 1.0, T0, 0, 0, OTHER))
    db = store(tmp_path / "mlflow.db", rows)
    got = check_alike(db)
    assert got is not None and len(got[0]) == sum(1 for r in rows if len(r) == 5)
    assert list(got[0].t) == sorted(got[0].t)  # the row reader's order
    other = check_alike(db, OTHER)
    assert other is not None and other[0].names == ["other"]


@needs_c
def test_empty_run_and_a_run_not_there(tmp_path: Path) -> None:
    db = store(tmp_path / "mlflow.db", [("a", 1.0, T0, 0, 0, OTHER)])
    for run in (RUN, "no-such-run", "ünïcode-run"):
        cols, newest = c_read(db, run)
        assert len(cols) == 0 and newest is None and cols.value.dtype == np.float64


@needs_c
def test_a_huge_run(tmp_path: Path) -> None:
    n = 300_000
    db = tmp_path / "mlflow.db"
    store(db, [], metrics=TYPED)
    conn = sqlite3.connect(db)
    conn.execute(
        "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < ?) "
        "INSERT INTO metrics SELECT 'k' || (i % 7), i * 0.5, ? + (i * 7919) % 100000, "
        "CASE i % 5 WHEN 0 THEN ? ELSE ? END, i, 0 FROM s",
        (n - 1, T0, OTHER, RUN),
    )
    conn.commit()
    conn.close()
    got = check_alike(db)
    assert got is not None and len(got[0]) == n * 4 // 5
    assert len(check_alike(db, OTHER)[0]) == n // 5


@needs_c
def test_an_old_schema_without_step_or_is_nan(tmp_path: Path) -> None:
    db = store(
        tmp_path / "mlflow.db",
        [],
        metrics="CREATE TABLE metrics (key TEXT, value REAL, timestamp INTEGER, run_uuid TEXT);",
    )
    conn = sqlite3.connect(db)
    conn.executemany(
        "INSERT INTO metrics VALUES (?, ?, ?, ?)",
        [("a", 1.0, T0 + 5, RUN), ("a", 2.0, T0, RUN), ("b", DBL_MAX, T0, RUN)],
    )
    conn.commit()
    conn.close()
    got = c_read(db, step="0", nan="0")
    assert arrays(got) == arrays(py_read(db, step="0", nan="0"))
    assert as_tuples(got[0]) == [
        ("a", 0, "2.0", repr(T0 / 1000)),
        ("b", 0, "inf", repr(T0 / 1000)),
        ("a", 0, "1.0", repr((T0 + 5) / 1000)),
    ]


ODD = {
    "null value": ("loss", None, T0 + 7, 5, 0),
    "text value": ("loss", "1.5", T0 + 7, 5, 0),
    "blob value": ("loss", Sql("x'00'"), T0 + 7, 5, 0),
    "null timestamp": ("loss", 1.0, None, 5, 0),
    "text timestamp": ("loss", 1.0, str(T0), 5, 0),
    "real timestamp": ("loss", 1.0, T0 + 0.5, 5, 0),
    "null step": ("loss", 1.0, T0, None, 0),
    "text step": ("loss", 1.0, T0, "5", 0),
    "real step": ("loss", 1.0, T0, 5.0, 0),
    "null is_nan": ("loss", 1.0, T0, 5, None),
    "text is_nan": ("loss", 1.0, T0, 5, "0"),
    "integer key": (5, 1.0, T0, 5, 0),
    "blob key": (Sql("x'6b'"), 1.0, T0, 5, 0),
    "key holding NUL": ("a\0b", 1.0, T0, 5, 0),
    "key not UTF-8": (Sql("CAST(x'ff80' AS TEXT)"), 1.0, T0, 5, 0),
}


@needs_c
@pytest.mark.parametrize("odd", list(ODD.values()), ids=list(ODD))
def test_what_the_row_reader_could_read_differently_goes_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, odd: tuple[Any, ...]
) -> None:
    db = store(tmp_path / "mlflow.db", [*BENIGN[:4], odd, *BENIGN[4:]])
    assert c_read(db) is None
    assert py_read(db) is None  # and db_columns leaves it to the row reader too
    seen = c_reads(monkeypatch)
    with_c, without = read_ways(db, monkeypatch)
    assert with_c == without
    assert seen[RUN] is None  # the C reader was asked, and said no
    assert seen[OTHER] is not None  # the other run (no rows) it read


@needs_c
def test_random_mixtures_of_types_read_alike(tmp_path: Path) -> None:
    rng = random.Random(2024)
    pools = {
        "key": ["a", "b", "ü", "", 5, None, Sql("x'61'"), "a\0"],
        "value": [0.5, -0.0, 3, DBL_MAX, -DBL_MAX, 1e300, None, "2.5", Sql("x'00'")],
        "ts": [T0, T0 + 1, T0 - 1, 0, None, "7", 1.5],
        "step": [0, 1, -1, INT64_MAX, None, "3", 2.0],
        "nan": [0, 1, 0.0, 0.25, None, "1"],
    }
    plain = {
        "key": pools["key"][:4],
        "value": pools["value"][:6],
        "ts": pools["ts"][:4],
        "step": pools["step"][:4],
        "nan": pools["nan"][:4],
    }
    read_by_c = 0
    for trial in range(40):
        rows = []
        for _ in range(rng.randrange(1, 30)):
            source = pools if rng.random() < 0.05 else plain
            rows.append(tuple(rng.choice(source[c]) for c in source))
        db = store(tmp_path / f"t{trial}" / "mlflow.db", rows)
        read_by_c += check_alike(db) is not None
    assert 5 < read_by_c < 40


@needs_c
def test_a_damaged_page_reads_as_without_the_c_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = store(
        tmp_path / "mlflow.db",
        [(f"k{i % 9}", i * 0.25, T0 + i, i, 0) for i in range(20_000)],
    )
    conn = sqlite3.connect(db)
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    leaves = [
        n
        for (n,) in conn.execute(
            "SELECT pageno FROM dbstat WHERE name = 'metrics' AND pagetype = 'leaf' ORDER BY pageno"
        )
    ]
    conn.close()
    assert len(leaves) >= 5
    data = bytearray(db.read_bytes())
    page = leaves[len(leaves) // 2]
    data[(page - 1) * size : page * size] = b"\xa5" * size
    db.write_bytes(bytes(data))
    assert c_read(db) is None
    with_c, without = read_ways(db, monkeypatch)
    assert with_c == without
    assert any(p.startswith(f"{db}: run {RUN}") for p in with_c[1])  # read as far as it goes


@needs_c
def test_a_locked_database_gives_none_and_no_lock_is_held_after(tmp_path: Path) -> None:
    db = store(tmp_path / "mlflow.db", BENIGN)
    reader = C.Reader(_sqlite.ro_uri(db), busy_ms=0)
    sql = _mlflow_columns._C_ROWS.format(step="step", nan="is_nan")
    writer = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        writer.execute("BEGIN EXCLUSIVE")
        assert reader.columns(sql, RUN) is None  # SQLITE_BUSY
        writer.execute("ROLLBACK")
        got = reader.columns(sql, RUN)
        assert got is not None and got[0] == len(BENIGN)
        # the statement's read transaction ended with it: a writer gets in at once
        writer.execute("BEGIN EXCLUSIVE")
        writer.execute("ROLLBACK")
    finally:
        writer.close()
        reader.close()
    with pytest.raises(ValueError):
        reader.columns(sql, RUN)
    reader.close()  # twice is fine


@needs_c
def test_a_database_that_does_not_open_has_no_c_reader(tmp_path: Path) -> None:
    assert _mlflow_columns.c_reader(_sqlite.ro_uri(tmp_path / "missing.db")) is None
    with pytest.raises(OSError):
        C.Reader(_sqlite.ro_uri(tmp_path / "missing.db"))
