"""What launch to first chart leaves out: charts nobody sees are not built or
filled, the footer is not rebuilt when its keys stay the same, and the
``trackui`` command does not load the writer. (The time itself is a
benchmark figure: benchmarks/bench_launch.py.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from trackui.store.queries import Store
from trackui.tui.chart import MetricChart
from trackui.tui.footer import Footer
from trackui.tui.metric_grid import MetricGrid
from trackui.tui.run_screen import RunScreen
from trackui.tui.system_tab import SystemGrid

from .helpers import RunApp, settle

pytestmark = pytest.mark.anyio

PRIMARY = "metrics/mAP50-95(B)"  # the headline metric of the detect runs


def record_series(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The metric keys the screens ask ``Store.series`` for, in order."""
    asked: list[str] = []
    series = store.series

    def spy(run_id: str, key: str, **kwargs: Any) -> Any:
        asked.append(key)
        return series(run_id, key, **kwargs)

    monkeypatch.setattr(store, "series", spy)
    return asked


async def test_opening_a_run_charts_its_primary_metric_and_nothing_unseen(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = record_series(store, monkeypatch)
    run_id = store.resolve("detect/yolo-sgd")
    app = RunApp(store, run_id, tab="metrics")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        assert screen.chart.last_plot is not None and screen.chart.last_plot.key == PRIMARY
        # one series read: the chart's; the grid (not shown) has no charts yet
        assert asked == [PRIMARY]
        grid = screen.query_one("#metric-grid", MetricGrid)
        assert not grid.query(MetricChart)
        assert not screen.query(SystemGrid)  # the System tab is not built until shown
        asked.clear()
        await pilot.press("v")  # the grid shows: its charts are made and filled
        await settle(pilot)
        shown = [c for c in grid.charts if c.display]
        assert shown and [c.key for c in shown] == grid.shown_keys
        assert all(c.last_plot is not None for c in shown)
        assert set(asked) == set(grid.shown_keys)


async def test_the_footer_is_redrawn_only_when_its_keys_change(store: Store) -> None:
    run_id = store.resolve("detect/yolo-sgd")
    app = RunApp(store, run_id)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        footer = screen.query_one(Footer)
        redraws = 0
        refresh = footer.refresh

        def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal redraws
            redraws += 1
            return refresh(*args, **kwargs)

        footer.refresh = counted  # type: ignore[method-assign]
        for _ in range(3):
            screen.refresh_bindings()  # same keys: nothing to redraw
        await settle(pilot)
        assert redraws == 0
        await pilot.press("3")  # the chart keys join the footer: one redraw
        await settle(pilot)
        assert redraws == 1
        assert "l" in footer.key_names()  # log y, a chart key, is offered now


def test_import_trackui_leaves_the_writer_out(tmp_path: Path) -> None:
    code = (
        "import sys, trackui\n"
        "print('writer' if 'trackui.store.writer' in sys.modules else 'light')\n"
        "from trackui.store import writer\n"
        "print(trackui.Run is writer.Run and trackui.TrackuiWarning is writer.TrackuiWarning)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.split() == ["light", "True"]
