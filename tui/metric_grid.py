"""``MetricGrid``: small charts of a run's key metrics side by side (W&B LEET's
grid), as many as the terminal holds (2×2 at 80×24, 3×3 at 120×40), a page
at a time.

The grid draws what it is given and never queries the store: when the
metrics it shows change (other keys, another page, a resize that holds more
or fewer charts) it posts ``MetricGrid.DataWanted`` and its owner loads the
series and calls ``set_series``. A grid not yet on screen (a tab not opened,
the single-chart view) has no chart widgets and asks for no data: its charts
are mounted, and their series wanted, when it first gets a size (or when
``charts`` is first read), so opening a run does not build and fill charts
nobody sees. ``key_metrics`` orders the keys: the
primary metric first, then the other results, counters and schedules last.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from textual.app import ComposeResult
from textual.containers import Grid
from textual.message import Message

from trackui.store.models import Series
from trackui.store.primary import choose, direction, is_result

from .chart import MetricChart

#: the most charts on one page
MAX_CHARTS = 9
#: the least cells a small chart needs to stay readable (border included)
CHART_WIDTH = 38
CHART_HEIGHT = 9


def key_metrics(keys: Iterable[str], project: str | None = None) -> list[str]:
    """``keys`` in the order a grid shows them: the primary metric, the other
    metrics with a direction (accuracy, losses…), the other results, then
    counters, clocks and schedules."""
    keys = list(keys)
    first = choose(keys, project=project)

    def rank(key: str) -> tuple[int, str]:
        if key == first:
            return 0, key
        if direction(key) is not None:
            return 1, key
        return (2 if is_result(key) else 3), key

    return sorted(keys, key=rank)


def grid_shape(width: int, height: int, count: int) -> tuple[int, int]:
    """(columns, rows) of small charts for ``count`` metrics in ``width`` ×
    ``height`` cells: as many as fit at ``CHART_WIDTH`` × ``CHART_HEIGHT``, at
    most ``MAX_CHARTS``, rows trimmed to what ``count`` fills."""
    columns = max(1, min(width // CHART_WIDTH, 3))
    rows = max(1, min(height // CHART_HEIGHT, MAX_CHARTS // columns))
    if count:
        columns = min(columns, count)
        rows = min(rows, math.ceil(count / columns))
    return columns, rows


class MetricGrid(Grid):
    """A page of small ``MetricChart``s, one metric each."""

    can_focus = True

    DEFAULT_CSS = """
    MetricGrid {
        height: 1fr;
        grid-gutter: 0 0;
    }
    /* A title rule on top and no side or bottom border: at 80×24 each of
       the four charts keeps eight rows for its plot and axis. */
    MetricGrid > MetricChart {
        height: 1fr;
        min-height: 6;
        border: none;
        border-top: round $primary-darken-2;
        padding: 0 1 0 0;
    }
    """

    class DataWanted(Message):
        """The grid now shows ``keys``: their series are wanted."""

        def __init__(self, grid: MetricGrid, keys: list[str]) -> None:
            super().__init__()
            self.grid = grid
            self.keys = keys

        @property
        def control(self) -> MetricGrid:
            return self.grid

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.keys: list[str] = []
        self.page = 0
        self.capacity = 1
        self._shown: list[str] = []
        self._charts: list[MetricChart] | None = None
        #: the shown keys changed while the grid was off screen: ask once it shows
        self._data_owed = False

    def compose(self) -> ComposeResult:
        yield from self._charts or ()

    @property
    def charts(self) -> list[MetricChart]:
        """The grid's chart widgets, made (and mounted) on first use."""
        if self._charts is None:
            self._charts = [
                MetricChart(id=f"grid-chart-{i}", classes="grid-chart") for i in range(MAX_CHARTS)
            ]
            for i, chart in enumerate(self._charts):
                chart.display = i < len(self._shown)
            if self.is_mounted:  # else compose yields them
                self.mount_all(self._charts)
            self._data_owed = bool(self._shown)
        return self._charts

    @property
    def on_screen(self) -> bool:
        """Whether the grid has been laid out (a grid in a tab never opened has no size)."""
        return self.size.width > 0 and self.size.height > 0

    @property
    def pages(self) -> int:
        return max(1, math.ceil(len(self.keys) / self.capacity))

    @property
    def shown_keys(self) -> list[str]:
        """The metrics on the current page, in the order of the charts."""
        return list(self._shown)

    def set_keys(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if keys != self.keys:
            self.keys = keys
            self.page = 0
        self._layout(force=True)

    def step_page(self, step: int) -> None:
        self.page = (self.page + step) % self.pages
        self._layout(force=True)

    def on_resize(self) -> None:
        self._layout()

    def _layout(self, *, force: bool = False) -> None:
        if not self.is_mounted:
            return
        width, height = self.size.width, self.size.height
        columns, rows = grid_shape(width or 80, height or 20, len(self.keys))
        self.styles.grid_size_columns = columns
        self.styles.grid_size_rows = rows
        self.capacity = columns * rows
        self.page = min(self.page, self.pages - 1)
        start = self.page * self.capacity
        shown = self.keys[start : start + self.capacity]
        visible = self.on_screen
        charts = self.charts if visible else self._charts or []
        for i, chart in enumerate(charts):
            chart.display = i < len(shown)
        if shown != self._shown or force or (visible and self._data_owed):
            self._shown = shown
            for chart, key in zip(charts, shown):
                if chart.key != key:
                    chart.clear(f"{key} …")
            self._data_owed = bool(shown) and not visible
            if shown and visible:
                self.post_message(self.DataWanted(self, shown))

    def set_series(self, run_id: str, name: str, series: Mapping[str, Series]) -> None:
        """Draw each shown metric whose series came (others keep waiting)."""
        for chart, key in zip(self.charts, self._shown):
            if key in series:
                chart.set_series(key, [(run_id, name, series[key])])

    @property
    def title(self) -> str:
        """What the grid shows, for the note above it."""
        if not self.keys:
            return "no metrics logged"
        start = self.page * self.capacity
        end = start + len(self._shown)
        return f"metrics {start + 1}–{end} of {len(self.keys)} · page {self.page + 1}/{self.pages}"
