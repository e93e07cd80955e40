"""``MetricChart``: one metric of one or more runs, drawn with plotext.

The chart draws what it is given (``set_series``) and never queries the store:
its owner loads ``Series`` in a worker, sized by ``chart.buckets`` (about two
points per column, min and max of each bucket kept by the SQL). When the chart
needs other data (the x-axis changed, or it grew much wider) it posts
``MetricChart.DataWanted`` and the owner loads again.

Each run is drawn as a faint raw line with its smoothed line (TensorBoard's
debiased EMA) over it in the run's colour; a run keeps its colour on every
screen (``run_colour`` hashes the run id). Ticks are placed and labelled here,
through ``trackui.store.fmt``, so a loss of 0.0034 never reads ``0.00``.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from plotext._figure import _figure_class
from rich.style import Style
from rich.text import Span, Text
from textual import events
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from trackui.store import fmt
from trackui.store.models import Series

from .safe import clean
from .smoothing import DEFAULT_SMOOTHING, smooth

#: plotext colour names that stay distinct and legible in 16 and 256 colours
#: (no white, black or grey: those vanish on one background or the other).
PALETTE: tuple[str, ...] = (
    "blue+",
    "green+",
    "red+",
    "cyan+",
    "magenta+",
    "orange+",
    "blue",
    "green",
    "red",
    "cyan",
    "magenta",
    "orange",
)
#: The same colours by their Rich names, for legends and tables outside the chart.
RICH_COLOURS: dict[str, str] = {
    "blue+": "bright_blue",
    "green+": "bright_green",
    "red+": "bright_red",
    "cyan+": "bright_cyan",
    "magenta+": "bright_magenta",
    "orange+": "bright_yellow",
    "blue": "blue",
    "green": "green",
    "red": "red",
    "cyan": "cyan",
    "magenta": "magenta",
    "orange": "yellow",
}
#: Raw lines are drawn in placeholder 256-colour indexes (run i: RAW_BASE + i) and
#: restyled afterwards as the run's colour, dimmed: plotext ignores styles on
#: braille markers.
RAW_BASE = 16
X_AXIS_LABELS = {"step": "step", "relative": "relative time", "wall": "wall time"}
MIN_BUCKETS = 20


def run_colour(run_id: str) -> str:
    """The plotext colour of a run: a stable hash of its id (not Python's
    ``hash``, which changes between processes)."""
    return PALETTE[zlib.crc32(run_id.encode("utf-8")) % len(PALETTE)]


def run_rich_colour(run_id: str) -> str:
    """``run_colour`` as a Rich colour name."""
    return RICH_COLOURS[run_colour(run_id)]


@dataclass(frozen=True)
class PlottedRun:
    """What was drawn for one run: the finite points, after the log filter."""

    run_id: str
    name: str
    colour: str
    x: tuple[float, ...]  # x of the raw points drawn
    y: tuple[float, ...]  # raw values drawn
    smoothed_x: tuple[float, ...]
    smoothed: tuple[float, ...]  # smoothed values drawn
    shown: int  # points the series held (before skipping)
    total: int  # points the run logged
    nonfinite: int  # NaN/inf points skipped
    nonpositive: int  # points <= 0 hidden by the log scale


@dataclass(frozen=True)
class PlotInfo:
    """The last drawing, for tests and for screens that describe the chart."""

    key: str
    title: str
    short_title: str  # shown instead of ``title`` where that does not fit the border
    runs: tuple[PlottedRun, ...]
    smoothing: float
    x_axis: str
    log_y: bool
    width: int
    height: int

    def run(self, run_id: str) -> PlottedRun:
        return next(r for r in self.runs if r.run_id == run_id)


def _ticks_with_step(lo: float, hi: float, step: float) -> list[float]:
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [0.0 if i == 0 else i * step for i in range(first, last + 1)]


def _pick_step(lo: float, hi: float, count: int, steps: Sequence[float]) -> float:
    """The step whose ticks over [lo, hi] number closest to ``count``."""

    def score(step: float) -> tuple[int, float]:
        n = math.floor(hi / step + 1e-9) - math.ceil(lo / step - 1e-9) + 1
        return (abs(n - count) + (100 if n < 2 else 0), -step if n > count else step)

    return min(steps, key=score)


def nice_ticks(lo: float, hi: float, count: int) -> list[float]:
    """About ``count`` round values (1, 2, 2.5, 5 × 10^k) within [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    count = max(2, count)
    magnitude = math.floor(math.log10((hi - lo) / count))
    steps = [m * 10.0**k for k in range(magnitude - 1, magnitude + 2) for m in (1, 2, 2.5, 5)]
    return _ticks_with_step(lo, hi, _pick_step(lo, hi, count, steps)) or [lo]


#: Round steps for time axes, in seconds.
TIME_STEPS: tuple[float, ...] = (
    *(1, 2, 5, 10, 15, 30),
    *(60 * m for m in (1, 2, 5, 10, 15, 30)),
    *(3600 * h for h in (1, 2, 3, 6, 12)),
    *(86400 * d for d in (1, 2, 7, 14, 30, 91, 365)),
)


def time_ticks(lo: float, hi: float, count: int) -> list[float]:
    """About ``count`` ticks on round seconds, minutes, hours or days."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    if hi - lo < 2 * count:
        return nice_ticks(lo, hi, count)
    return _ticks_with_step(lo, hi, _pick_step(lo, hi, max(2, count), TIME_STEPS)) or [lo]


def _time_label(seconds: float, span: float) -> str:
    if span >= 2 * 86400:
        return time.strftime("%m-%d %H:%M", time.localtime(seconds))
    if span >= 600:
        return time.strftime("%H:%M", time.localtime(seconds))
    return time.strftime("%H:%M:%S", time.localtime(seconds))


def x_tick_labels(x_axis: str, ticks: Sequence[float], span: float) -> list[str]:
    if x_axis == "wall":
        return [_time_label(t, span) for t in ticks]
    if x_axis == "relative":
        return [fmt.duration(t) if t >= 0 else "-" + fmt.duration(-t) for t in ticks]
    return [fmt.number(int(t) if float(t).is_integer() else t) for t in ticks]


def _log_ticks(lo: float, hi: float, count: int) -> tuple[list[float], list[str]]:
    """Tick positions (in log10 units) and labels (in data units) for a log axis."""
    first, last = math.ceil(lo - 1e-9), math.floor(hi + 1e-9)
    if last - first >= 1:
        stride = max(1, math.ceil((last - first + 1) / max(2, count)))
        powers = list(range(first, last + 1, stride))
        return [float(p) for p in powers], [fmt.number(10.0**p, digits=3) for p in powers]
    values = [v for v in nice_ticks(10**lo, 10**hi, count) if v > 0]
    return [math.log10(v) for v in values], [fmt.number(v, digits=3) for v in values]


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

    smoothing: reactive[float] = reactive(DEFAULT_SMOOTHING, init=False)
    x_axis: reactive[str] = reactive("step", init=False)
    log_y: reactive[bool] = reactive(False, init=False)

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
        self.last_plot: PlotInfo | None = None
        self._figure = _figure_class()  # our own figure: plotext's global one is shared state
        self._content: Text = Text("")
        self._requested_buckets = 0

    # -- the API -------------------------------------------------------------

    @property
    def buckets(self) -> int:
        """How many buckets to ask ``Store.series`` for: two points per column."""
        width = self.content_region.width if self.is_mounted else 0
        return max(MIN_BUCKETS, width or 100)

    def set_series(self, key: str, series: Sequence[tuple[str, str, Series]]) -> None:
        """Draw ``key`` for these ``(run_id, run name, Series)``."""
        self.key = key
        self.series = list(series)
        self._requested_buckets = self.buckets
        self.redraw()

    def clear(self, message: str = "") -> None:
        self.key = None
        self.series = []
        self.last_plot = None
        self.border_title = None
        self._content = Text(message, style="dim")
        self.refresh()

    # -- watchers: they only redraw, or ask the owner for other data ---------

    def watch_smoothing(self) -> None:
        self.redraw()

    def watch_log_y(self) -> None:
        self.redraw()

    def watch_x_axis(self, x_axis: str) -> None:
        if self.key is not None and any(s.x_axis != x_axis for _, _, s in self.series):
            self.post_message(self.DataWanted(self, self.key, x_axis, self.buckets))
        self.redraw()

    def on_resize(self, event: events.Resize) -> None:
        self.redraw()
        wanted = self.buckets
        grew = wanted > self._requested_buckets * 1.25
        if self.key is not None and grew and any(s.downsampled for _, _, s in self.series):
            self._requested_buckets = wanted
            self.post_message(self.DataWanted(self, self.key, self.x_axis, wanted))

    def render(self) -> Text:
        return self._content

    # -- drawing -------------------------------------------------------------

    def redraw(self) -> None:
        if self.key is None:
            return
        width, height = self.content_region.width, self.content_region.height
        self.last_plot = self._draw(self.key, self.series, max(width, 10), max(height, 4))
        title = self.last_plot.title
        if len(title) > self.size.width - 6:  # corners, padding, room for the border line
            title = self.last_plot.short_title
        self.border_title = Content(title)
        self.refresh()

    def _draw(
        self, key: str, series: Sequence[tuple[str, str, Series]], width: int, height: int
    ) -> PlotInfo:
        weight = self.smoothing
        log_y = self.log_y
        runs: list[PlottedRun] = []
        for run_id, name, data in series:
            runs.append(self._prepare(run_id, name, data, weight, log_y))
        x_axis = series[0][2].x_axis if series else self.x_axis
        title, short = self._title(key, series, runs, weight, x_axis, log_y)
        info = PlotInfo(key, title, short, tuple(runs), weight, x_axis, log_y, width, height)
        if not any(r.y for r in runs):
            why = "no points yet" if not any(r.shown for r in runs) else "nothing to draw"
            self._content = Text(why, style="dim")
            return info
        self._content = self._plot(runs, x_axis, log_y, weight, width, height)
        return info

    @staticmethod
    def _prepare(run_id: str, name: str, data: Series, weight: float, log_y: bool) -> PlottedRun:
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
            run_colour(run_id),
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
            f"x: {X_AXIS_LABELS.get(x_axis, x_axis)}",
        ]
        short = [
            clean(key),
            f"{shown}/{total} pts",
            f"sm {fmt.number(weight)}",
            f"x: {x_axis}",
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
    ) -> Text:
        fig = self._figure
        fig.clear_figure()
        fig.theme("clear")  # no canvas colour: the widget's background shows through
        fig._limit_size(False, False)  # size to the widget, not to the real terminal
        fig.plot_size(width, height)
        log = math.log10
        all_x: list[float] = []
        all_y: list[float] = []
        raw_styles: dict[int, Style] = {}
        lines: list[tuple[PlottedRun, list[float]]] = []
        for i, run in enumerate(runs):
            raw_y = [log(y) for y in run.y] if log_y else list(run.y)
            if weight > 0 and raw_y:
                code = RAW_BASE + i if i < 256 - RAW_BASE else None
                if code is not None:
                    raw_styles[code] = Style(color=RICH_COLOURS[run.colour], dim=True)
                fig.plot(list(run.x), raw_y, color=code or "gray", marker="braille")
            all_x.extend(run.x)
            all_y.extend(raw_y)
            lines.append((run, [log(y) for y in run.smoothed] if log_y else list(run.smoothed)))
        # smoothed lines last, so they are drawn over every raw line
        for run, smooth_y in lines:
            if smooth_y:
                label = run.name if len(runs) > 1 else None
                fig.plot(
                    list(run.smoothed_x), smooth_y, color=run.colour, marker="braille", label=label
                )
                all_x.extend(run.smoothed_x)
                all_y.extend(smooth_y)
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
        if x_axis == "step":
            x_ticks = nice_ticks(x_lo, x_hi, tick_count)
        else:
            x_ticks = time_ticks(x_lo, x_hi, tick_count)
        fig.xticks(x_ticks, x_tick_labels(x_axis, x_ticks, x_hi - x_lo))
        if log_y:
            y_ticks, y_labels = _log_ticks(y_lo, y_hi, max(2, height // 4))
        else:
            y_ticks = nice_ticks(y_lo, y_hi, max(2, height // 4))
            y_labels = [fmt.number(v, digits=3) for v in y_ticks]
        fig.yticks(y_ticks, y_labels)
        text = Text.from_ansi(fig.build(), no_wrap=True, end="")
        if raw_styles:
            text.spans = [_restyle(span, raw_styles) for span in text.spans]
        return text


def _restyle(span: Span, raw_styles: dict[int, Style]) -> Span:
    style = span.style
    if isinstance(style, Style) and style.color is not None:
        replacement = raw_styles.get(style.color.number)  # type: ignore[arg-type]
        if replacement is not None:
            return Span(span.start, span.end, replacement)
    return span
