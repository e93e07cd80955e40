"""Snapshot of the Run screen at 120×40 on its Metrics tab: a finished detect
run of the fixture store, fixed clock and theme, nothing machine-specific on
screen (no store path, no local time: the Overview is not the tab shown)."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from trackui.store.queries import Store
from trackui.tui.run_screen import RunScreen

from .helpers import SNAPSHOT_THEME, RunApp, settle


class RunSnapshotApp(RunApp):
    """The Run screen's stand-in app in the snapshot theme (the class name is
    the snapshot's title)."""

    def __init__(self, store: Store, run_id: str) -> None:
        super().__init__(store, run_id)
        self.theme = SNAPSHOT_THEME


async def open_box_loss(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("3")  # the Metrics tab
    for _ in range(3):  # lr/pg0 -> ... -> train/box_loss
        await pilot.press("right_square_bracket")
        await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, RunScreen) and screen.metric == "train/box_loss"
    assert screen.chart.last_plot is not None and screen.chart.last_plot.key == "train/box_loss"


def test_run_screen_metrics_tab(store: Store, snap_compare: Any) -> None:
    app = RunSnapshotApp(store, store.resolve("detect/yolo-adamw"))
    assert snap_compare(app, terminal_size=(120, 40), run_before=open_box_loss)
