"""A foreign run's heartbeat is the same number in the process that read it
first and in every process that opens the catalog later: its trip through
the catalog's whole nanoseconds may not move it (it once moved by one unit in
the last place for about one file time in fourteen, and the run's duration
and status row with it)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from trackui.cli import main
from trackui.store.sources.cursor import Cursor, as_stored

FIXTURES = Path(__file__).parent.parent.parent / "fixtures"


def ls(capsys: pytest.CaptureFixture[str], source: Path) -> dict[str, dict]:
    code = main(["ls", str(source), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return {r["name"]: r for r in json.loads(out)}


def moved_by_nanoseconds(t: float) -> bool:
    return int(t * 1e9) / 1e9 != t


def test_as_stored_is_what_a_run_row_gives_back() -> None:
    for ns in range(1_796_205_715_243_445_000, 1_796_205_715_243_445_000 + 3_000_000, 997):
        t = ns / 1e9 + 1e-10  # any float, not only whole nanoseconds
        kept = as_stored(t)
        row = Cursor("", "run", "r", spec={"hb": kept}).row()
        assert Cursor.from_row(*row).spec["hb"] == kept
        assert as_stored(kept) == kept
    assert as_stored(None) is None


def test_a_reopened_catalog_gives_the_same_durations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = shutil.copytree(FIXTURES / "ultralytics", tmp_path / "yolo")
    # File times whose floats a trip through nanoseconds moves: found, not assumed.
    files = [p for p in folder.rglob("*") if p.is_file()]
    ns = 1_796_205_715_243_445_123
    while True:
        for path in files:
            os.utime(path, ns=(ns, ns))
        if moved_by_nanoseconds(files[0].stat().st_mtime):
            break
        ns += 7_919
    first = ls(capsys, folder)
    again = ls(capsys, folder)
    assert first == again
    assert any(run["duration"] for run in first.values())
