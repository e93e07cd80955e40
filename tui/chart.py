"""``MetricChart``: one metric of one or more runs, drawn with plotext.

The chart draws what it is given (``set_series``) and never queries the store:
its owner loads ``Series`` in a worker, sized by ``chart.buckets`` (about two
points per column, min and max of each bucket kept by the SQL). When the chart
needs other data (the x-axis changed, or it grew much wider) it posts
``MetricChart.DataWanted`` and the owner loads again.

Each run is drawn in its ``RunStyle`` (tui/palette.py): a colour and a marker
by its position in the view, so runs stay apart without colour too. The plot
carries no legend: the owner shows one outside it, numbered like the tables
(plotext measures labels with ``len()``, so a CJK name inside the plot would
shift the rows). With smoothing on, a faint raw line is drawn under the
smoothed one (TensorBoard's debiased EMA). Smoothing starts off for series
shorter than ``AUTO_SMOOTHING_POINTS`` and at ``DEFAULT_SMOOTHING`` for longer
ones, until a key sets it.

Group mode hook: ``set_series(..., bands={run_id: Band(...)})`` draws a
lower/upper envelope (min–max or ±std) under a run's line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from trackui.store import fmt, xaxis
from trackui.store.models import Series

from .chart_model import Band, PlotInfo, PlottedRun
from .chart_text import figure_text
from .chart_ticks import log_ticks, nice_ticks, time_ticks, x_tick_labels
from .palette import MONO, RAW_GREY_16, RunStyle, depth_of, style_for
from .safe import clean
from .smoothing import DEFAULT_SMOOTHING, smooth

#: Lines are drawn in placeholder 256-colour indexes and restyled afterwards
#: with the run's real style (plotext ignores styles on braille markers):
#: raw line of run i: RAW_BASE + i; its band: BAND_BASE + i; its line: LINE_BASE + i.
RAW_BASE = 16
BAND_BASE = 96
LINE_BASE = 176
SLOTS = 80
X_AXIS_LABELS = {"step": "step", "relative": "relative time", "wall": "wall time"}
MIN_BUCKETS = 20
#: Below this many logged points (the longest series), smoothing starts off.
AUTO_SMOOTHING_POINTS = 50
#: More runs than this: only the focused run's raw line is drawn under its smoothed one.
RAW_LINES_UP_TO = 6
#: More runs than this: the runs other than the focused one are dimmed.
HIGHLIGHT_ABOVE = 12


def x_axis_label(x_axis: str) -> str:
    metric = xaxis.metric_of(x_axis)
    return metric if metric is not None else X_AXIS_LABELS.get(x_axis, x_axis)


def new_figure() -> Any:
    """A plotext figure. plotext is imported here, when the first chart is
    made, not with this module: the app's warm-up imports it after the Run
    screen, so ``enter`` does not wait for it; and only its figure's modules
    (tui/plotext_figure.py), not its whole API and documentation."""
    from .plotext_figure import figure_class

    return figure_class()()


class MetricChart(Widget):
    """A line chart of one metric for one or more runs."""

    DEFAULT_CSS = """
    MetricChart {
        height: 1fr;
        min-height: 8;
        border: round $primary-darken-2;
        border-title-color: $text;
        border-title-style: bold;
        padding: 0 1 0 0;
    }
    MetricChart:focus {
        border: round $accent;
    }
    """

    #: the smoothing level used when smoothing is on
    smoothing: reactive[float] = reactive(DEFAULT_SMOOTHING, init=False)
    #: on: smoothing follows the series length (off below AUTO_SMOOTHING_POINTS)
    smoothing_auto: reactive[bool] = reactive(True, init=False)
    x_axis: reactive[str] = reactive("step", init=False)
    log_y: reactive[bool] = reactive(False, init=False)
    #: the run drawn on top (and, above HIGHLIGHT_ABOVE runs, the only one not dimmed)
    focused_run: reactive[str | None] = reactive(None, init=False)

    class DataWanted(Message):
        """The chart needs its series again: another x-axis, or many more columns."""

        def __init__(self, chart: MetricChart, key: str, x_axis: str, buckets: int) -> None:
            super().__init__()
            self.chart = chart
            self.key = key
            self.x_axis = x_axis
            self.buckets = buckets

        @property
        def control(self) -> MetricChart:
            return self.chart

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.key: str | None = None
        self.series: list[tuple[str, str, Series]] = []
        self.run_styles: list[RunStyle] | None = None
        self.bands: dict[str, Band] = {}
        #: metrics offered as x-axes after step, relative and wall (set by the owner)
        self.x_metrics: list[str] = []
        self.last_plot: PlotInfo | None = None
        self._figure = new_figure()  # our own figure: plotext's global one is shared state
        self._content: Text = Text("")
        self._requested_buckets = 0
        #: series set before the first layout: drawn by ``render`` at its size
        self._deferred = False
        #: ... once this says the layout around it is final
        self._draw_when: Callable[[], bool] | None = None

    # -- the API -------------------------------------------------------------

    @property
    def buckets(self) -> int:
        """How many buckets to ask ``Store.series`` for: two points per column."""
        width = self.content_region.width if self.is_mounted else 0
        return max(MIN_BUCKETS, width or 100)

    @property
    def colour_depth(self) -> str:
        """``16``, ``256`` or ``truecolor``: what the terminal shows."""
        try:
            app = self.app
        except Exception:  # not running in an app (unit tests of the drawing)
            return "truecolor"
        return depth_of(app.console.color_system, no_color=app.no_color)

    @property
    def effective_smoothing(self) -> float:
        """The smoothing weight drawn with now."""
        if not self.smoothing_auto:
            return self.smoothing
        longest = max((s.total for _, _, s in self.series), default=0)
        return self.smoothing if longest >= AUTO_SMOOTHING_POINTS else 0.0

    def set_smoothing(self, weight: float) -> None:
        """A smoothing level chosen by the user: it stays for every metric."""
        changed = weight != self.smoothing or self.smoothing_auto
        self.set_reactive(MetricChart.smoothing_auto, False)
        self.set_reactive(MetricChart.smoothing, weight)
        if changed:
            self.redraw()

    def set_series(
        self,
        key: str,
        series: Sequence[tuple[str, str, Series]],
        styles: Sequence[RunStyle] | None = None,
        bands: Mapping[str, Band] | None = None,
        *,
        at_next_frame: bool = False,
        when: Callable[[], bool] | None = None,
    ) -> None:
        """Draw ``key`` for these ``(run_id, run name, Series)``, each run in its
        ``RunStyle`` (by position when not given), with optional bands.
        ``at_next_frame``: drawn when a frame paints the chart, at the size
        that frame's layout gives it — the first frame for which ``when()``
        holds (a chart whose neighbours are still being filled and measured:
        drawn once, at its final size, in the frame that shows it)."""
        self.key = key
        self.series = list(series)
        self.run_styles = list(styles) if styles is not None else None
        self.bands = dict(bands or {})
        self._requested_buckets = self.buckets
        if at_next_frame:
            self._deferred, self._draw_when = True, when
            self.refresh()
        else:
            self.redraw()

    def clear(self, message: str = "") -> None:
        self.key = None
        self._deferred, self._draw_when = False, None
        self.series = []
        self.last_plot = None
        self.border_title = None
        self._content = Text(message, style="dim")
        self.refresh()

    # -- watchers: they only redraw, or ask the owner for other data ---------

    def watch_smoothing(self) -> None:
        self.redraw()

    def watch_smoothing_auto(self) -> None:
        self.redraw()

    def watch_log_y(self) -> None:
        self.redraw()

    def watch_focused_run(self) -> None:
        self.redraw()

    def watch_x_axis(self, x_axis: str) -> None:
        if self.key is not None and any(s.x_axis != x_axis for _, _, s in self.series):
            self.post_message(self.DataWanted(self, self.key, x_axis, self.buckets))
        self.redraw()

    def on_resize(self, event: events.Resize) -> None:
        if self._deferred:
            self.refresh()  # drawn by render, at this size, if the layout is final
        elif not self._drawn_at_size():
            # A chart given its series right after its first layout has the
            # Resize of that layout still queued: drawn once, not twice.
            self.redraw()
        wanted = self.buckets
        grew = wanted > self._requested_buckets * 1.25
        if self.key is not None and grew and any(s.downsampled for _, _, s in self.series):
            self._requested_buckets = wanted
            self.post_message(self.DataWanted(self, self.key, self.x_axis, wanted))

    def render(self) -> Text:
        ready = self._draw_when is None or self._draw_when()
        if self._deferred and self.content_region.width > 0 and ready:
            # The first layout since the series came: drawn now, at this
            # size, in the frame being painted (not on the Resize after it).
            self._deferred, self._draw_when = False, None
            self._redraw(refresh=False)
        return self._content

    # -- drawing -------------------------------------------------------------

    def _drawn_at_size(self) -> bool:
        """Whether the last drawing was made at the chart's size now."""
        plot = self.last_plot
        width, height = self.content_region.width, self.content_region.height
        return (
            plot is not None
            and plot.key == self.key
            and (plot.width, plot.height) == (max(width, 10), max(height, 4))
            and self.border_title is not None
        )

    def redraw(self) -> None:
        if self.key is None:
            return
        if self.is_mounted and self.size.width <= 0:
            # Not laid out yet (a tab just built): ``render`` draws it in the
            # first frame that gives it a size.
            self._deferred = True
            self.refresh()
            return
        self._deferred, self._draw_when = False, None
        self._redraw(refresh=True)

    def _redraw(self, *, refresh: bool) -> None:
        assert self.key is not None
        width, height = self.content_region.width, self.content_region.height
        self.last_plot = self._draw(self.key, self.series, max(width, 10), max(height, 4))
        title = self.last_plot.title
        if cell_len(title) > self.size.width - 6:  # corners, padding, room for the border line
            title = self.last_plot.short_title
        if self.border_title is None or str(self.border_title) != title:
            self.border_title = Content(title)  # repaints the border if it changed
        if refresh:
            self.refresh()

    def _style(self, index: int, depth: str) -> RunStyle:
        if self.run_styles is not None and index < len(self.run_styles):
            return self.run_styles[index]
        return style_for(index, depth)

    def _draw(
        self, key: str, series: Sequence[tuple[str, str, Series]], width: int, height: int
    ) -> PlotInfo:
        weight = self.effective_smoothing
        log_y = self.log_y
        depth = self.colour_depth
        runs: list[PlottedRun] = []
        for i, (run_id, name, data) in enumerate(series):
            runs.append(self._prepare(run_id, name, data, weight, log_y, self._style(i, depth)))
        x_axis = series[0][2].x_axis if series else self.x_axis
        title, short = self._title(key, series, runs, weight, x_axis, log_y)
        focused = self.focused_run if any(r.run_id == self.focused_run for r in runs) else None
        info = PlotInfo(
            key, title, short, tuple(runs), weight, x_axis, log_y, width, height, focused
        )
        if not any(r.y for r in runs):
            why = "no points yet" if not any(r.shown for r in runs) else "nothing to draw"
            if xaxis.metric_of(x_axis) is not None and any(r.shown == 0 for r in runs):
                why += f" against {x_axis_label(x_axis)}"
            self._content = Text(why, style="dim")
            return info
        self._content = self._plot(runs, x_axis, log_y, weight, width, height, focused, depth)
        return info

    @staticmethod
    def _prepare(
        run_id: str, name: str, data: Series, weight: float, log_y: bool, style: RunStyle
    ) -> PlottedRun:
        ys = data.y
        smoothed = smooth(ys, weight) if weight > 0 else list(ys)
        xs: list[float] = []
        yv: list[float] = []
        sx: list[float] = []
        sy: list[float] = []
        nonfinite = nonpositive = 0
        isfinite = math.isfinite
        for x, y, s in zip(data.x, ys, smoothed, strict=False):
            if x is None or y is None or not isfinite(y) or not isfinite(x):
                nonfinite += 1
                continue
            if log_y and y <= 0:
                nonpositive += 1
            else:
                xs.append(x)
                yv.append(y)
            if not log_y or s > 0:
                sx.append(x)
                sy.append(s)
        return PlottedRun(
            run_id,
            clean(name),
            style,
            tuple(xs),
            tuple(yv),
            tuple(sx),
            tuple(sy),
            data.shown,
            data.total,
            nonfinite,
            nonpositive,
        )

    @staticmethod
    def _title(
        key: str,
        series: Sequence[tuple[str, str, Series]],
        runs: Sequence[PlottedRun],
        weight: float,
        x_axis: str,
        log_y: bool,
    ) -> tuple[str, str]:
        """The title, and a shorter one for narrow charts (the border cuts what
        does not fit, and the notes about hidden points must stay visible)."""
        shown = sum(s.shown for _, _, s in series)
        total = sum(s.total for _, _, s in series)
        hidden = sum(r.nonpositive for r in runs)
        skipped = sum(r.nonfinite for r in runs)
        long = [
            clean(key),
            f"{shown} of {total} points",
            f"smoothing {fmt.number(weight)}",
            f"x: {clean(x_axis_label(x_axis))}",
        ]
        short = [
            clean(key),
            f"{shown}/{total} pts",
            f"sm {fmt.number(weight)}",
            f"x: {clean(xaxis.metric_of(x_axis) or x_axis)}",
        ]
        if log_y:
            long.append("log y")
            short.append("log y")
        if hidden:
            long.append(f"{hidden} point{'s' if hidden != 1 else ''} ≤ 0 hidden")
            short.append(f"{hidden} ≤0 hidden")
        if skipped:
            long.append(f"{skipped} nan/inf skipped")
            short.append(f"{skipped} nan skipped")
        return " · ".join(long), " · ".join(short)

    def _plot(
        self,
        runs: Sequence[PlottedRun],
        x_axis: str,
        log_y: bool,
        weight: float,
        width: int,
        height: int,
        focused: str | None,
        depth: str,
    ) -> Text:
        fig = self._figure
        fig.clear_figure()
        fig.theme("clear")  # no canvas colour: the widget's background shows through
        fig._limit_size(False, False)  # size to the widget, not to the real terminal
        fig.plot_size(width, height)
        log = math.log10
        all_x: list[float] = []
        all_y: list[float] = []
        styles: dict[int, Style] = {}
        # In 16 colours a dimmed colour lands on another ANSI colour (or grey);
        # there the focused run stands out by being bold and on top only.
        dim_others = (
            focused is not None and len(runs) > HIGHLIGHT_ABOVE and depth not in ("16", MONO)
        )
        # the focused run last, so it is drawn over every other line
        order = sorted(range(len(runs)), key=lambda i: runs[i].run_id == focused)

        def ys(values: Sequence[float]) -> list[float]:
            return [log(v) for v in values] if log_y else list(values)

        for i in order:
            run = runs[i]
            slot = i % SLOTS
            band = self.bands.get(run.run_id)
            if band is not None and band.x:
                lower, upper = ys(band.lower), ys(band.upper)
                if log_y:  # a band edge at or below 0 cannot be drawn on a log axis
                    pairs = [(x, lo, hi) for x, lo, hi in zip(band.x, band.lower, band.upper)]
                    kept = [(x, log(lo), log(hi)) for x, lo, hi in pairs if lo > 0 and hi > 0]
                    bx = [p[0] for p in kept]
                    lower, upper = [p[1] for p in kept], [p[2] for p in kept]
                else:
                    bx = list(band.x)
                styles[BAND_BASE + slot] = Style(color=run.colour, dim=True)
                for edge in (lower, upper):
                    if edge:
                        fig.plot(bx, edge, color=BAND_BASE + slot, marker="braille")
                        all_x.extend(bx)
                        all_y.extend(edge)
            raw_y = ys(run.y)
            # many runs: the faint raw lines of all would hide the smoothed
            # ones (and double the drawing time): only the focused run's
            few = len(runs) <= RAW_LINES_UP_TO or run.run_id == focused
            if weight > 0 and raw_y and few:
                if depth == MONO:
                    styles[RAW_BASE + slot] = Style(dim=True)
                elif depth == "16":
                    styles[RAW_BASE + slot] = Style(color=RAW_GREY_16)
                else:
                    styles[RAW_BASE + slot] = Style(color=run.colour, dim=True)
                fig.plot(list(run.x), raw_y, color=RAW_BASE + slot, marker="braille")
            all_x.extend(run.x)
            all_y.extend(raw_y)
        # the lines last, so they are drawn over every raw line and band
        for i in order:
            run = runs[i]
            slot = i % SLOTS
            line_y = ys(run.smoothed)
            if not line_y:
                continue
            is_focus = run.run_id == focused
            styles[LINE_BASE + slot] = Style(
                color=run.colour, bold=is_focus, dim=dim_others and not is_focus
            )
            fig.plot(list(run.smoothed_x), line_y, color=LINE_BASE + slot, marker=run.marker)
            all_x.extend(run.smoothed_x)
            all_y.extend(line_y)
        x_lo, x_hi = min(all_x), max(all_x)
        y_lo, y_hi = min(all_y), max(all_y)
        if x_hi == x_lo:
            x_lo, x_hi = x_lo - 1, x_hi + 1
            fig.xlim(x_lo, x_hi)
        if y_hi == y_lo:
            pad = abs(y_lo) * 0.1 or 1.0
            y_lo, y_hi = y_lo - pad, y_hi + pad
            fig.ylim(y_lo, y_hi)
        tick_count = max(2, width // 14)
        if x_axis in ("relative", "wall"):
            x_ticks = time_ticks(x_lo, x_hi, tick_count)
        else:
            x_ticks = nice_ticks(x_lo, x_hi, tick_count)
        fig.xticks(x_ticks, x_tick_labels(x_axis, x_ticks, x_hi - x_lo))
        if log_y:
            y_ticks, y_labels = log_ticks(y_lo, y_hi, max(2, height // 4))
        else:
            y_ticks = nice_ticks(y_lo, y_hi, max(2, height // 4))
            y_labels = [fmt.number(v, digits=3) for v in y_ticks]
        fig.yticks(y_ticks, y_labels)
        return figure_text(fig, styles)
