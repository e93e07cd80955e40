"""Snapshot of the Compare screen at 120×40: the two finished detect runs and
the failed one, on the fixture store, with a fixed clock and theme."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App
from textual.pilot import Pilot

from trackui.store.queries import Store
from trackui.tui.compare_screen import CompareScreen

from ..conftest import FIXED_NOW


class CompareSnapshotApp(App[None]):
    def __init__(self, store: Store, run_ids: list[str]) -> None:
        super().__init__()
        self.store = store
        self.clock = lambda: FIXED_NOW
        self.run_ids = run_ids
        self.theme = "textual-dark"

    def on_mount(self) -> None:
        self.push_screen(CompareScreen(self.run_ids))


async def settled(pilot: Pilot[None]) -> None:
    for _ in range(20):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if all(worker.is_finished for worker in pilot.app.workers):
            return
    raise AssertionError("workers never settled")


def test_compare_screen(fixture_store: Path, snap_compare: Any) -> None:
    store = Store(fixture_store, clock=lambda: FIXED_NOW)
    try:
        ids = {run.name: run.id for run in store.list_runs()}
        run_ids = [ids["yolo-sgd"], ids["yolo-adamw"], ids["yolo-oom"]]
        app = CompareSnapshotApp(store, run_ids)
        assert snap_compare(app, terminal_size=(120, 40), run_before=settled)
    finally:
        store.close()
