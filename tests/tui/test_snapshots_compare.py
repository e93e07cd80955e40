"""Snapshot of the Compare screen at 120×40: the two finished detect runs and
the failed one, on the fixture store, with a fixed clock and the default theme.
Nothing on screen depends on the store's path or the time (the x-axis is steps)."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from trackui.store.queries import Store
from trackui.tui.compare_screen import CompareScreen

from .helpers import SNAPSHOT_CONFIG, build, ids_by_name, settle


def test_compare_120x40(store: Store, snap_compare: Any) -> None:
    ids = ids_by_name(store)
    run_ids = [ids["yolo-sgd"], ids["yolo-adamw"], ids["yolo-oom"]]
    app = build(store, SNAPSHOT_CONFIG)

    async def open_compare(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.app.push_screen(CompareScreen(run_ids))
        await settle(pilot)

    assert snap_compare(app, terminal_size=(120, 40), run_before=open_compare)
