"""``trackui import host:path``: a box's runs copied into the local store
(import stays the way to keep a copy, also of runs on a remote box)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trackui.cli import main


def test_import_from_a_box_copies_its_runs(
    ssh_env: Path, foreign: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    code = main(["import", f"box2:{foreign}", "--store", str(store)])
    out, err = capsys.readouterr()
    assert code == 0, err
    code = main(["ls", "--json", "--store", str(store)])
    rows = json.loads(capsys.readouterr()[0])
    assert code == 0 and len(rows) == 6
    assert {r["source"] for r in rows} == {"ultralytics"}
    # a copy in the store: plain local runs, read as the folder is here
    assert {r["box"] for r in rows} == {"local"}
    code = main(["ls", "--json", str(foreign)])
    here = json.loads(capsys.readouterr()[0])
    assert sorted((r["name"], r["status"]) for r in rows) == sorted(
        (r["name"], r["status"]) for r in here
    )


def test_import_from_a_path_the_box_does_not_have_is_one_line(
    ssh_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["import", f"box1:{tmp_path}/nope", "--store", str(tmp_path / "store")])
    out, err = capsys.readouterr()
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "nope" in err, err
