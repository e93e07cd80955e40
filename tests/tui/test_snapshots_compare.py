"""Snapshot of the Compare screen at 120×40: the two finished detect runs and
the failed one, on the fixture store, with a fixed clock and the default theme.
Nothing on screen depends on the store's path or the time (the x-axis is steps)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from trackui.store.queries import Store
from trackui.tui.app import make_app
from trackui.tui.compare_screen import CompareScreen
from trackui.tui.config import TuiConfig

from ..conftest import FIXED_NOW


@pytest.fixture
def store(fixture_store: Path) -> Iterator[Store]:
    store = Store(fixture_store, clock=lambda: FIXED_NOW)
    yield store
    store.close()


async def settled(pilot: Pilot[None]) -> None:
    for _ in range(20):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if all(worker.is_finished for worker in pilot.app.workers):
            return
    raise AssertionError("workers never settled")


def test_compare_120x40(store: Store, snap_compare: Any) -> None:
    ids = {run.name: run.id for run in store.list_runs()}
    run_ids = [ids["yolo-sgd"], ids["yolo-adamw"], ids["yolo-oom"]]
    app = make_app(
        store, config=TuiConfig(theme="textual-dark"), clock=lambda: FIXED_NOW, live_interval=0
    )

    async def open_compare(pilot: Pilot[None]) -> None:
        await settled(pilot)
        await pilot.app.push_screen(CompareScreen(run_ids))
        await settled(pilot)

    assert snap_compare(app, terminal_size=(120, 40), run_before=open_compare)
