"""Whole MLflow databases read with the C reader (``_sqlitecols``) and
without it alike: a private copy (a hot journal, WAL mode) read by it with
nothing written beside the original, the fixture's runs read by two
threads, a reader each. Without the module the install succeeds and the
database is read as before: a compiler that cannot build one of the two C
modules (as a missing sqlite3.h does) or any (no compiler) leaves the build
going with the rest, and the readers take every run."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from trackui.store.importers import _mlflow_columns, _mlflow_sqlite, _sqlite, mlflow
from trackui.store.importers._pointcols import PointColumns

from .helpers import materialized
from .test_sqlitecols import (
    BENIGN,
    FIXTURES,
    ROOT,
    RUN,
    T0,
    as_tuples,
    c_reads,
    check_alike,
    needs_c,
    read_ways,
    store,
)

pytest.importorskip("numpy", reason="the columns readers need NumPy (CI installs it)")


@needs_c
def test_a_hot_journal_is_read_from_the_private_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer killed in a transaction leaves a hot journal: the database
    is copied and the copy read (by the C reader too), nothing written
    beside the original."""
    db = store(tmp_path / "src" / "mlflow.db", BENIGN[:5])
    code = (
        "import os, sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA cache_size=1')\n"
        "c.execute('BEGIN')\n"
        "c.execute(\"DELETE FROM metrics WHERE key = 'acc'\")\n"
        "c.executemany('INSERT INTO metrics VALUES (?, 1.0, 1, ?, 0, 0)',"
        " [('pad' + 'x' * 200 + str(i), sys.argv[2]) for i in range(2000)])\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(db), RUN], check=True, timeout=120)
    journal = db.with_name("mlflow.db-journal")
    if not journal.exists() or journal.stat().st_size == 0:
        pytest.skip("this SQLite left no hot journal behind (it runs on Linux with glibc)")
    before = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in db.parent.iterdir())
    seen = c_reads(monkeypatch)
    with_c, without = read_ways(db, monkeypatch)
    assert with_c == without and with_c[1] == []
    assert seen and all(got is not None for got in seen.values())
    # the rolled-back copy: the deleted rows are there, the inserted not
    (run,) = [r for r in with_c[0] if r[0] == RUN]
    assert sorted(p[0] for p in run[1]) == sorted(r[0] for r in BENIGN[:5])
    after = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in db.parent.iterdir())
    assert after == before


@needs_c
def test_a_database_in_wal_mode_is_read_from_the_private_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows only in the WAL are read (by the C reader too), nothing written beside it."""
    db = store(tmp_path / "src" / "mlflow.db", BENIGN[:5])
    writer = sqlite3.connect(db)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.execute(f"INSERT INTO metrics VALUES ('wal-only', 0.5, {T0}, '{RUN}', 9, 0)")
        writer.commit()
        before = sorted(
            (p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in db.parent.iterdir()
        )
        seen = c_reads(monkeypatch)
        with_c, without = read_ways(db, monkeypatch)
        assert with_c == without and with_c[1] == []
        assert seen and all(got is not None for got in seen.values())
        assert "wal-only" in seen[RUN][0].names
        after = sorted(
            (p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in db.parent.iterdir()
        )
        assert after == before
    finally:
        writer.close()


@needs_c
def test_fixture_database_and_many_runs_in_two_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = materialized(FIXTURES / "mlflow")
    db = tmp_path / "fixture" / "mlflow.db"
    shutil.copytree(built / "sqlite", db.parent)
    conn = sqlite3.connect(db)
    runs = [r for (r,) in conn.execute("SELECT run_uuid FROM runs")]
    conn.close()
    for run in runs:
        check_alike(db, run)
    opened: list[tuple[Any, str]] = []
    real = _mlflow_columns.c_reader

    def spy(uri: str) -> Any:
        reader = real(uri)
        if reader is not None:
            opened.append((reader, threading.current_thread().name))
        return reader

    monkeypatch.setattr(_mlflow_columns, "c_reader", spy)
    seen = c_reads(monkeypatch)
    with_c, without = read_ways(db, monkeypatch, now=1e10)
    assert with_c == without and sum(len(r[1]) for r in with_c[0]) > 0
    assert len(with_c[0]) >= 3 and sorted(seen) == sorted(r[0] for r in with_c[0])
    assert all(got is not None for got in seen.values())
    # one reader per reading thread (of the read with it), each closed after
    assert 1 <= len(opened) <= _mlflow_sqlite._WORKERS
    assert len({name for _, name in opened}) == len(opened)
    for reader, _ in opened:
        with pytest.raises(ValueError):
            reader.columns("SELECT 1", RUN)


def test_without_the_c_module_the_database_reads_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = store(tmp_path / "mlflow.db", BENIGN)
    want = read_ways(db, monkeypatch)[1]
    monkeypatch.setattr(_mlflow_columns, "_sqlitecols", None)
    assert not _mlflow_columns.c_on()
    assert _mlflow_columns.c_reader(_sqlite.ro_uri(db)) is None
    problems: list[str] = []
    runs = list(mlflow.read(db, problems, now=T0 / 1000 + 60))
    assert ([(r.source_id, as_tuples(r.points), r.status) for r in runs], problems) == want
    assert all(isinstance(r.points, PointColumns) for r in runs)  # db_columns read them


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc (CI has it)")
@pytest.mark.parametrize("failing", ["_sqlitecols", "_tfdecode"])
def test_the_build_goes_on_when_one_extension_cannot_be_built(tmp_path: Path, failing: str) -> None:
    """A compiler that fails on one module (as a missing sqlite3.h does) and
    one that fails on all (no compiler): the build succeeds with the rest."""
    cc = tmp_path / "cc"
    cc.write_text(
        f'#!/bin/sh\ncase "$*" in *{failing}*) echo "{failing}: cannot build" >&2; exit 1;; '
        'esac\nexec gcc "$@"\n'
    )
    cc.chmod(0o755)
    for compiler, built in ((str(cc), 1), ("/bin/false", 0)):
        out = tmp_path / compiler.replace("/", "_")
        env = {**os.environ, "CC": compiler}
        done = subprocess.run(
            [sys.executable, "setup.py", "-q", "build_ext", "-b", out / "lib", "-t", out / "tmp"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr
        assert f"{failing}" in done.stderr and "failed" in done.stderr
        names = sorted(p.name.split(".")[0] for p in (out / "lib").rglob("*.so"))
        other = "_tfdecode" if failing == "_sqlitecols" else "_sqlitecols"
        assert names == [other] * built
