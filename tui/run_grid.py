"""The grid half of the Run screen's Metrics tab: ``v`` shows small charts of
the run's key metrics (``MetricGrid``), loads their series in one worker, and
makes the chart keys (smoothing, x-axis, log y) reach every small chart.

A mixin of ``RunScreen`` (it needs ``run_id``, ``detail``, ``chart`` and
``_next``); it comes before ``ChartKeys`` so its chart actions wrap those.
"""

from __future__ import annotations

from typing import Any

from textual import work
from textual.content import Content
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from trackui.store.models import Series

from .chart import MetricChart
from .metric_grid import MetricGrid


class GridLoaded(Message):
    def __init__(self, series: dict[str, Series], generation: int) -> None:
        super().__init__()
        self.series = series
        self.generation = generation


class GridTab:
    """Grid / single on the Metrics tab, and the small charts kept in step."""

    run_id: str
    detail: Any
    chart: MetricChart
    _generation: dict[str, int]

    @work(thread=True, exclusive=True, group="run-grid", exit_on_error=False)
    def load_grid(self, generation: int, keys: list[str], x_axis: str, buckets: int) -> None:
        store = self.app.store  # type: ignore[attr-defined]
        series = {k: store.series(self.run_id, k, buckets=buckets, x_axis=x_axis) for k in keys}
        if not get_current_worker().is_cancelled:
            self.post_message(GridLoaded(series, generation))

    def on_metric_grid_data_wanted(self, event: MetricGrid.DataWanted) -> None:
        event.stop()
        self._load_grid()

    def _load_grid(self) -> None:
        grid = self.query_one(MetricGrid)
        keys = grid.shown_keys
        self.query_one("#grid-note", Static).update(Content(grid.title))
        if keys and self.grid_shown:
            charts = grid.charts
            self.load_grid(self._next("grid"), keys, self.chart.x_axis, charts[0].buckets)

    def on_grid_loaded(self, message: GridLoaded) -> None:
        if message.generation != self._generation["grid"]:
            return
        name = self.detail.run.name if self.detail else self.run_id
        grid = self.query_one(MetricGrid)
        for chart in grid.charts:
            self._copy_chart_settings(chart)
        grid.set_series(self.run_id, name, message.series)

    @property
    def grid_shown(self) -> bool:
        return self.query_one("#metrics-tab").has_class("-grid")

    def _copy_chart_settings(self, chart: MetricChart) -> None:
        """A small chart draws like the big one: smoothing, log y, x-axis."""
        main = self.chart
        for name in ("smoothing_auto", "smoothing", "log_y", "x_axis"):
            if hasattr(main, name):
                chart.set_reactive(getattr(MetricChart, name), getattr(main, name))
        chart.redraw()

    def _sync_grid(self) -> None:
        if not self.grid_shown:
            return
        grid = self.query_one(MetricGrid)
        if any(c.key is not None and c.x_axis != self.chart.x_axis for c in grid.charts):
            self._load_grid()  # another x-axis: the series are loaded again
            return
        for chart in grid.charts:
            self._copy_chart_settings(chart)

    def action_toggle_grid(self) -> None:
        """Small charts of the key metrics, or the one chart with its picker."""
        self.query_one("#metrics-tab").toggle_class("-grid")
        if self.grid_shown:
            self.query_one(MetricGrid).focus()
            self._load_grid()
        else:
            self.query_one("#metric-picker").focus()

    def action_more_smoothing(self) -> None:
        super().action_more_smoothing()
        self._sync_grid()

    def action_less_smoothing(self) -> None:
        super().action_less_smoothing()
        self._sync_grid()

    def action_cycle_smoothing(self) -> None:
        super().action_cycle_smoothing()
        self._sync_grid()

    def action_cycle_x_axis(self) -> None:
        super().action_cycle_x_axis()
        self._sync_grid()

    def action_toggle_log_y(self) -> None:
        super().action_toggle_log_y()
        self._sync_grid()
