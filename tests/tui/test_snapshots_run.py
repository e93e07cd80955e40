"""Snapshots of the Run screen on its Metrics tab: a finished detect run of the
fixture store, fixed clock and theme, nothing machine-specific on screen (no
store path, no local time: the Overview is not the tab shown). It opens on
the primary metric; ``v`` shows the grid of small charts."""

from __future__ import annotations

import time
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from trackui.store.queries import Store
from trackui.tui.run_screen import RunScreen

from .helpers import SNAPSHOT_THEME, WAIT_S, RunApp, settle

PRIMARY = "metrics/mAP50-95(B)"


class RunSnapshotApp(RunApp):
    """The Run screen's stand-in app in the snapshot theme (the class name is
    the snapshot's title)."""

    def __init__(self, store: Store, run_id: str) -> None:
        super().__init__(store, run_id)
        self.theme = SNAPSHOT_THEME


async def tables_measured(pilot: Pilot[None]) -> None:
    """DataTable sizes its columns on an Idle event, which a loaded machine
    may not have sent by the time the workers settle."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if not any(t._require_update_dimensions for t in pilot.app.screen.query(DataTable)):
            return
        await pilot.pause(0.05)
    raise AssertionError("a table never measured its rows")


async def open_metrics(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("3")  # the Metrics tab, on the primary metric
    await settle(pilot)
    await tables_measured(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, RunScreen) and screen.metric == PRIMARY
    assert screen.chart.last_plot is not None and screen.chart.last_plot.key == PRIMARY


async def open_grid(pilot: Pilot[None]) -> None:
    await open_metrics(pilot)
    await pilot.press("v")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, RunScreen) and screen.grid_shown


def test_run_screen_metrics_tab(store: Store, snap_compare: Any) -> None:
    app = RunSnapshotApp(store, store.resolve("detect/yolo-adamw"))
    assert snap_compare(app, terminal_size=(120, 40), run_before=open_metrics)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_run_screen_metric_grid(store: Store, snap_compare: Any, size: tuple[int, int]) -> None:
    app = RunSnapshotApp(store, store.resolve("detect/yolo-adamw"))
    assert snap_compare(app, terminal_size=size, run_before=open_grid)
