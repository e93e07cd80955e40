"""Without the C reader of MLflow databases (``_sqlitecols``) the install
succeeds and the database is read as before: a compiler that cannot build
one of the two C modules (as a missing sqlite3.h does) or any (no compiler)
leaves the build going with the rest, and the readers take every run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from trackui.store.importers import _mlflow_columns, _sqlite, mlflow
from trackui.store.importers._pointcols import PointColumns

from .test_sqlitecols import BENIGN, ROOT, T0, as_tuples, read_ways, store

pytest.importorskip("numpy", reason="the columns readers need NumPy (CI installs it)")


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
