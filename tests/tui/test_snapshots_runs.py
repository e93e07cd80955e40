"""Snapshots of the Runs screen at 120×40 and 80×24 and of Help at 120×40:
the fixture store, a fixed clock, the default theme, two remembered columns
and one marked run. Nothing on screen depends on the store's path or the time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from trackui.store.queries import Store
from trackui.tui.app import TrackuiApp
from trackui.tui.config import ColumnMemory

from .helpers import SNAPSHOT_CONFIG, build, settle

COLUMNS = ["lr0", "max(metrics/mAP50-95(B))"]


@pytest.fixture
def app(fixture_store: Path, store: Store) -> TrackuiApp:
    ColumnMemory().save(fixture_store, COLUMNS)
    return build(store, SNAPSHOT_CONFIG)


async def mark_one(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("j", "space")  # mark resnet-kill; the cursor moves on to yolo-oom
    await settle(pilot)


async def open_help(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("question_mark")
    await settle(pilot)


def test_runs_120x40(app: TrackuiApp, snap_compare: Any) -> None:
    assert snap_compare(app, terminal_size=(120, 40), run_before=mark_one)


def test_runs_80x24(app: TrackuiApp, snap_compare: Any) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=mark_one)


def test_help_120x40(app: TrackuiApp, snap_compare: Any) -> None:
    assert snap_compare(app, terminal_size=(120, 40), run_before=open_help)
