"""Work the way from the run list to the first chart no longer does: pushing
the Run screen parses no CSS again, the first chart is drawn once at its
size (and again when that size changes), and its series is read with the
run, in one worker. The time itself is a benchmark figure:
benchmarks/bench_launch.py."""

from __future__ import annotations

from typing import Any

import pytest
from textual.css.stylesheet import Stylesheet
from textual.worker import get_current_worker

from trackui.store.queries import Store
from trackui.tui.chart import MetricChart
from trackui.tui.metric_grid import MetricGrid
from trackui.tui.run_screen import RunScreen
from trackui.tui.runs_screen import RunsScreen

from .helpers import RunApp, build, settle, until

pytestmark = pytest.mark.anyio

PRIMARY = "metrics/mAP50-95(B)"  # the headline metric of the detect runs


def count_calls(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[Any]:
    """Each call of ``owner.name`` (its first argument), recorded as it goes through."""
    calls: list[Any] = []
    original = getattr(owner, name)

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


async def test_opening_a_run_parses_no_css_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.runs, "rows")
        reparsed = count_calls(monkeypatch, Stylesheet, "reparse")
        restyled = count_calls(monkeypatch, Stylesheet, "update")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen), "the run screen")
        await settle(pilot)
        await pilot.press("3")
        await until(pilot, lambda: app.screen.chart.last_plot is not None, "the chart")
        # A screen's CSS_PATH would parse every rule again and restyle the app.
        assert reparsed == [] and restyled == []
        screen = app.screen
        # The screen's own rules hold: a one-line header, the grid hidden
        # until `v`, the picker beside the chart.
        assert screen.query_one("#run-header").size.height == 1
        assert screen.query_one(MetricGrid).display is False
        picker = screen.query_one("#metric-picker")
        assert 0 < picker.size.width <= 30
        assert picker.region.right <= screen.chart.region.x


async def test_the_run_screen_brings_its_rules_to_any_app(store: Store) -> None:
    app = RunApp(store, store.resolve("detect/yolo-sgd"), tab="metrics")  # no trackui.tcss
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        assert screen.query_one("#run-header").size.height == 1
        assert screen.query_one(MetricGrid).display is False
        assert screen.chart.size.height > 10


async def test_the_first_chart_is_drawn_once_then_again_on_resize(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn = count_calls(monkeypatch, MetricChart, "_draw")
    app = RunApp(store, store.resolve("detect/yolo-sgd"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert drawn == []  # the Overview: no chart exists yet
        await pilot.press("3")
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await until(pilot, lambda: screen.ready("metrics"), "the Metrics tab")
        await until(pilot, lambda: screen.chart.last_plot is not None, "the chart")
        await settle(pilot)
        chart = screen.chart
        plot = chart.last_plot
        assert plot is not None
        # Drawn once, at the size it was laid out at (not again for the
        # Resize of that same layout).
        assert [c for c in drawn if c is chart] == [chart]
        assert (plot.width, plot.height) == (
            chart.content_region.width,
            chart.content_region.height,
        )
        await pilot.resize_terminal(100, 30)
        await until(
            pilot,
            lambda: chart.last_plot is not None and chart.last_plot.width != plot.width,
            "the chart redrawn at its new size",
        )
        await settle(pilot)
        now = chart.last_plot
        assert now is not None
        assert (now.width, now.height) == (chart.content_region.width, chart.content_region.height)


def record_series(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, int]]:
    """(metric, worker group, buckets) of each ``Store.series`` call."""
    asked: list[tuple[str, str, int]] = []
    series = store.series

    def spy(run_id: str, key: str, **kwargs: Any) -> Any:
        asked.append((key, get_current_worker().group, kwargs["buckets"]))
        return series(run_id, key, **kwargs)

    monkeypatch.setattr(store, "series", spy)
    return asked


@pytest.mark.parametrize("tab", ["overview", "metrics"])
async def test_the_first_series_is_read_with_the_run(
    store: Store, monkeypatch: pytest.MonkeyPatch, tab: str
) -> None:
    asked = record_series(store, monkeypatch)
    app = RunApp(store, store.resolve("detect/yolo-sgd"), tab=tab)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        if tab != "metrics":
            await pilot.press("3")
        await until(pilot, lambda: screen.chart.last_plot is not None, "the chart")
        await settle(pilot)
        assert screen.chart.last_plot is not None and screen.chart.last_plot.key == PRIMARY
        # one read, by the worker that read the run, as fine as the chart asks
        assert asked == [(PRIMARY, "run-detail", 100)]
        assert screen.chart.buckets <= 100
        await pilot.press("right_square_bracket")  # another metric: read on its own
        await until(pilot, lambda: len(asked) == 2, "the next metric's series")
        assert asked[1][0] != PRIMARY and asked[1][1] == "run-series"


async def test_a_chart_wider_than_that_read_asks_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = record_series(store, monkeypatch)
    app = RunApp(store, store.resolve("detect/yolo-sgd"), tab="metrics")
    async with app.run_test(size=(260, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await until(pilot, lambda: len(asked) == 2, "the series at the chart's width")
        await settle(pilot)
        wide = screen.chart.buckets
        assert wide > 100
        assert asked == [(PRIMARY, "run-detail", 100), (PRIMARY, "run-series", wide)]
