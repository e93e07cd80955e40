"""Shared fixtures: every test gets its own store root and catalog cache."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
#: A fixed "now" for tests that show relative times: a day after the fixture runs.
FIXED_NOW = 1795792000.0

# A parallel test worker (pytest-xdist) inherits COLUMNS=80 and LINES=24,
# which every program the tests start would take as its terminal's size
# (Python's shutil.get_terminal_size reads them first): a TUI in a 120×40
# tmux pane would draw at 80×24. Tests that want a size set it themselves.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TRACKUI_DIR", str(tmp_path / "default-store"))
    monkeypatch.setenv("TRACKUI_CONFIG_DIR", str(tmp_path / "config"))


def copy_store(dest: Path) -> Path:
    """fixtures/store copied to ``dest``, with each heartbeat's mtime set to the
    run's last logged time (a fresh checkout would make them look alive)."""
    shutil.copytree(FIXTURES / "store", dest)
    for beat in dest.glob("*/*/heartbeat"):
        last = 0.0
        for line in (beat.parent / "metrics.jsonl").read_text().splitlines():
            try:
                last = max(last, float(json.loads(line)["_t"]))
            except (ValueError, KeyError):
                pass
        os.utime(beat, (last, last))
    return dest


@pytest.fixture
def fixture_store(tmp_path: Path) -> Path:
    return copy_store(tmp_path / "store")
