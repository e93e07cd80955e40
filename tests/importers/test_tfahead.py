"""Event file directories read by a thread ahead of the caller
(``_tfahead``, when files are read into columns): in the order the runs
take them, one asked for out of order read there and then, and no more
held ahead than the budget allows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from trackui.store.importers import _tfahead, tensorboard

from .test_tfdecode import hostile_runs

pytest.importorskip("numpy", reason="the columns reader needs NumPy (CI installs it)")


def test_read_ahead_order_and_a_directory_asked_for_out_of_order(tmp_path: Path) -> None:
    read: list[Path] = []

    def read_dir(d: Path) -> Any:
        read.append(d)
        return (type("Fd", (), {"points": [1, 2]})(), [])

    order = [tmp_path / n for n in "abcd"]
    early = _tfahead.ReadAhead(order, read_dir)
    try:
        assert early.take(order[1])[1] == []  # a, then b, read; a kept
        assert early.take(tmp_path / "zz")[1] == []  # not in the order: read there and then
        assert early.take(order[0])[1] == [] and early.take(order[3])[1] == []
        assert early.take(order[2])[1] == []
    finally:
        early.close()
    assert sorted(read) == sorted([*order, tmp_path / "zz"])  # each read once


def test_the_read_ahead_holds_at_most_its_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a budget of one point, the thread reads at most one directory
    past the one the caller took; every run still comes out, in order."""
    src = hostile_runs(tmp_path / "src")
    decoded: list[str] = []
    real = tensorboard.read_event_file

    def spy(path: Path, problems: list[str], **kw: Any) -> Any:
        decoded.append(path.parent.relative_to(src).as_posix())
        return real(path, problems, **kw)

    monkeypatch.setattr(tensorboard, "read_event_file", spy)
    monkeypatch.setattr(_tfahead, "AHEAD_POINTS", 1)
    runs = tensorboard.read(src, [], now=2e9)
    first = next(runs)
    assert first.source_id == "run-0"
    # run-0 and its two split writers taken; at most one more read
    assert decoded[:3] == ["run-0", "run-0/train", "run-0/val"] and len(decoded) <= 4
    rest = [r.source_id for r in runs]
    assert rest == ["run-1", "run-2", "run-3", "run-4", "run-5"]
    assert len(decoded) == len(set(decoded)) == 9  # each file once (run-empty's too)
