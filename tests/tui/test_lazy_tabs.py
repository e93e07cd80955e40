"""Launch to first chart leaves out what the first screens do not show: the
Run screen builds a tab's widgets the first time it is shown, and reads the
primary metric's series before its chart exists, so ``3`` draws it without a
second read. The ``trackui`` command module loads neither Textual nor
DuckDB, and the cycle collector waits while the TUI starts. (The time itself
is a benchmark figure: benchmarks/bench_launch.py.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Log

from trackui.store.queries import Store
from trackui.tui.chart import MetricChart
from trackui.tui.run_screen import RunScreen
from trackui.tui.system_tab import SystemTab

from .helpers import RunApp, settle

pytestmark = pytest.mark.anyio

PRIMARY = "metrics/mAP50-95(B)"  # the headline metric of the detect runs


async def test_a_run_opens_with_only_its_first_tab_built(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    series = store.series

    def spy(run_id: str, key: str, **kwargs: Any) -> Any:
        asked.append(key)
        return series(run_id, key, **kwargs)

    monkeypatch.setattr(store, "series", spy)
    app = RunApp(store, store.resolve("detect/yolo-sgd"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        assert screen.built == {"overview"}
        assert not screen.query(DataTable) and not screen.query(Log)
        assert not screen.query(MetricChart) and not screen.query(SystemTab)
        assert asked == [PRIMARY]  # read ahead of the chart

        await pilot.press("3")
        await settle(pilot)
        plot = screen.chart.last_plot
        assert plot is not None and plot.key == PRIMARY and plot.width > 50
        assert asked == [PRIMARY]  # drawn from what was read: no second read
        assert screen.built == {"overview", "metrics"}

        await pilot.press("2")
        await settle(pilot)
        params = screen.query_one("#params-table", DataTable)
        assert params.row_count > 0 and screen.focused is params  # filled once built
        await pilot.press("6")
        await settle(pilot)
        assert screen.query_one(SystemTab) and screen.built >= {"params", "system"}


async def test_a_metric_chosen_before_its_tab_is_built_is_the_one_drawn(store: Store) -> None:
    """The command palette's "Metric: …" on the Overview: the Metrics tab is
    built, opens on that metric, and shows the single chart."""
    app = RunApp(store, store.resolve("detect/yolo-sgd"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        screen.action_show_metric("metrics/mAP50(B)")
        await settle(pilot)
        assert screen.active_tab == "metrics" and not screen.grid_shown
        plot = screen.chart.last_plot
        assert plot is not None and plot.key == "metrics/mAP50(B)"
        picker = screen.query_one("#metric-picker")
        assert picker.highlighted is not None  # type: ignore[attr-defined]
        assert picker.get_option_at_index(picker.highlighted).id == "metrics/mAP50(B)"  # type: ignore[attr-defined]


def test_the_cli_module_loads_neither_textual_nor_duckdb(tmp_path: Path) -> None:
    code = (
        "import sys, trackui.cli\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'duckdb', 'rich'}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == "[]"


def test_the_cycle_collector_waits_while_the_tui_starts_and_comes_back(
    fixture_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    import trackui.tui.app as tui_app
    from trackui.cli import main

    seen: list[bool] = []

    class NoApp:
        def run(self) -> None:
            seen.append(gc.isenabled())

    monkeypatch.setattr(tui_app, "make_app", lambda *a, **k: NoApp())
    assert gc.isenabled()
    assert main([str(fixture_store)]) == 0
    assert seen == [False] and gc.isenabled()


async def test_a_series_read_ahead_is_read_again_when_the_run_moves(tmp_path: Path) -> None:
    """Points logged while the Run screen shows the Overview: ``3`` draws
    them all, not the series read when the run was opened."""
    import trackui
    from trackui.tui.messages import StoreRefreshed

    root = tmp_path / "live-store"
    run = trackui.init(project="live", name="growing", dir=root, console=False)
    try:
        for step in range(5):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
        with Store(root) as store:
            app = RunApp(store, run.id)
            async with app.run_test(size=(120, 40)) as pilot:
                await settle(pilot)
                screen = app.screen
                assert isinstance(screen, RunScreen) and screen.built == {"overview"}
                for step in range(5, 8):
                    run.log({"loss": 1.0 / (step + 1)}, step=step)
                screen.post_message(StoreRefreshed(store.refresh()))
                await settle(pilot)
                await pilot.press("3")
                await settle(pilot)
                plot = screen.chart.last_plot
                assert plot is not None and plot.title.startswith("loss · 8 of 8 points")
    finally:
        run.finish()
