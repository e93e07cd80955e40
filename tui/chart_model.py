"""What a chart is given beside its series (``Band``: a group's envelope
under a run's line) and what it drew (``PlotInfo``, a ``PlottedRun`` per
run: for tests and for the screens that describe the chart). The widget
that draws them is ``MetricChart`` (chart.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from .palette import RunStyle


@dataclass(frozen=True)
class Band:
    """An envelope drawn under a run's line (a group's min–max or ±std)."""

    x: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]


@dataclass(frozen=True)
class PlottedRun:
    """What was drawn for one run: the finite points, after the log filter."""

    run_id: str
    name: str
    style: RunStyle
    x: tuple[float, ...]  # x of the raw points drawn
    y: tuple[float, ...]  # raw values drawn
    smoothed_x: tuple[float, ...]
    smoothed: tuple[float, ...]  # smoothed values drawn
    shown: int  # points the series held (before skipping)
    total: int  # points the run logged
    nonfinite: int  # NaN/inf points skipped
    nonpositive: int  # points <= 0 hidden by the log scale

    @property
    def colour(self) -> str:
        return self.style.colour

    @property
    def marker(self) -> str:
        return self.style.marker


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
    focused: str | None = None

    def run(self, run_id: str) -> PlottedRun:
        return next(r for r in self.runs if r.run_id == run_id)
