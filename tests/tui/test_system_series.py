"""Sampled system series used like any metric: picked in Compare with the
metric picker, and ``max(system/gpu0.mem_used)`` as a run-list column."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from trackui.store.queries import Store
from trackui.tui.chart import MetricChart
from trackui.tui.column_picker import ColumnPicker
from trackui.tui.compare_screen import MetricPicker
from trackui.tui.runs_screen import RunsScreen

from ..conftest import FIXED_NOW
from .helpers import build, ids_by_name
from .test_compare_screen import compare
from .test_compare_screen import press as press_settled
from .test_runs_screen import column, labels, press, running
from .test_system_tab import GB, write_samples

pytestmark = pytest.mark.anyio


@pytest.fixture
def sampled_store(fixture_store: Path) -> Store:
    write_samples(fixture_store, "detect/yolo-adamw")
    write_samples(fixture_store, "detect/yolo-sgd", n=12)
    store = Store(fixture_store, clock=lambda: FIXED_NOW)
    yield store
    store.close()


async def test_a_system_series_is_picked_in_compare(sampled_store: Store) -> None:
    ids = ids_by_name(sampled_store)
    sgd, adamw = ids["yolo-sgd"], ids["yolo-adamw"]
    async with compare(sampled_store, [sgd, adamw]) as (pilot, screen):
        await press_settled(pilot, "m")
        picker = pilot.app.screen
        assert isinstance(picker, MetricPicker)
        await press_settled(pilot, *"gpu0.util")
        assert picker.matching(picker.query_one(Input).value) == ["system/gpu0.util"]
        await press_settled(pilot, "enter")
        assert pilot.app.screen is screen
        plot = screen.query_one(MetricChart).last_plot
        assert plot is not None and plot.key == "system/gpu0.util"
        assert [(r.run_id, r.total) for r in plot.runs] == [(sgd, 12), (adamw, 30)]
        assert plot.run(adamw).y[:3] == (40.0, 47.0, 54.0)


async def test_max_gpu_memory_as_a_run_list_column(sampled_store: Store) -> None:
    app = build(sampled_store)
    async with running(app) as pilot:
        await press(pilot, "p")
        assert isinstance(app.screen, ColumnPicker)
        await pilot.press("slash")
        app.screen.query_one("#column-search", Input).value = "max(system/gpu0.mem_used"
        await press(pilot, "down", "space", "escape")
        assert isinstance(app.screen, RunsScreen)
        assert "max(system/gpu0.mem_used)" in labels(app)
        cells = column(app, "col:max(system/gpu0.mem_used)")
        filled = [c for c in cells if c]
        assert len(filled) == 2, cells  # the two sampled runs, the others blank
        # a true number in the cell's width (2.577e+10), as every number column
        assert [float(c) for c in filled] == [pytest.approx(24 * GB, rel=1e-3)] * 2
