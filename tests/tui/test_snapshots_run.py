"""Snapshot of the Run screen at 120×40 on its Metrics tab: a finished detect
run of the fixture store, fixed clock and theme, nothing machine-specific on
screen (no store path, no local time: the Overview is not the tab shown)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App
from textual.pilot import Pilot

from trackui.store.queries import Store
from trackui.tui.run_screen import RunScreen

from ..conftest import FIXED_NOW


class RunSnapshotApp(App[None]):
    def __init__(self, store: Store, run_id: str) -> None:
        super().__init__()
        self.store = store
        self.clock = lambda: FIXED_NOW
        self.run_id = run_id
        self.theme = "textual-dark"

    def on_mount(self) -> None:
        self.push_screen(RunScreen(self.run_id))


async def settled(pilot: Pilot[None]) -> None:
    for _ in range(20):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if all(worker.is_finished for worker in pilot.app.workers):
            return
    raise AssertionError("workers never settled")


async def open_box_loss(pilot: Pilot[None]) -> None:
    await settled(pilot)
    await pilot.press("3")  # the Metrics tab
    for _ in range(3):  # lr/pg0 -> ... -> train/box_loss
        await pilot.press("right_square_bracket")
        await settled(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, RunScreen) and screen.metric == "train/box_loss"
    assert screen.chart.last_plot is not None and screen.chart.last_plot.key == "train/box_loss"


def test_run_screen_metrics_tab(fixture_store: Path, snap_compare: Any) -> None:
    store = Store(fixture_store, clock=lambda: FIXED_NOW)
    try:
        app = RunSnapshotApp(store, store.resolve("detect/yolo-adamw"))
        assert snap_compare(app, terminal_size=(120, 40), run_before=open_box_loss)
    finally:
        store.close()
