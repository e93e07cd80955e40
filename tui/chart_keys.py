"""The keys that steer a ``MetricChart``: smoothing up, down and round, the
x-axis, log y. Every screen with a chart offers the same keys with the same
descriptions; only the binding ids carry the screen's name, so a keymap can
rebind them per screen.

A screen mixes in ``ChartKeys`` (it needs a ``chart`` property) and puts
``chart_bindings("<screen>")`` in its ``BINDINGS``.
"""

from __future__ import annotations

from textual.binding import Binding

from trackui.store.xaxis import axis_name

from .chart import MetricChart
from .smoothing import SMOOTHING_LEVELS, next_level

#: the x-axes ``x`` cycles through, before the metrics the chart offers as x
X_AXES = ("step", "relative", "wall")
#: the actions ``ChartKeys`` adds, for screens that offer them only where the chart is
CHART_KEY_ACTIONS = frozenset(
    {"more_smoothing", "less_smoothing", "cycle_smoothing", "cycle_x_axis", "toggle_log_y"}
)


def chart_bindings(screen: str, *, show_less_smoothing: bool = True) -> list[Binding]:
    """The chart keys, with ids ``<screen>.smoothing-up``, ``<screen>.x-axis``…;
    ``show_less_smoothing=False`` keeps ``-`` out of a crowded footer."""
    return [
        Binding("plus,equals_sign", "more_smoothing", "Smooth+", id=f"{screen}.smoothing-up"),
        Binding(
            "minus",
            "less_smoothing",
            "Smooth−",
            show=show_less_smoothing,
            id=f"{screen}.smoothing-down",
        ),
        Binding(
            "S", "cycle_smoothing", "Cycle smoothing", show=False, id=f"{screen}.smoothing-cycle"
        ),
        Binding("x", "cycle_x_axis", "X axis", id=f"{screen}.x-axis"),
        Binding("l", "toggle_log_y", "Log y", id=f"{screen}.log-y"),
    ]


class ChartKeys:
    """The actions of ``chart_bindings``, applied to the screen's ``chart``.
    The chart's watchers redraw, or ask the screen for other data."""

    @property
    def chart(self) -> MetricChart:
        raise NotImplementedError

    def action_more_smoothing(self) -> None:
        """The next smoothing level up from what is drawn; the top level stays."""
        chart = self.chart
        later = [s for s in SMOOTHING_LEVELS if s > chart.effective_smoothing]
        if later:
            chart.set_smoothing(later[0])

    def action_less_smoothing(self) -> None:
        """The next smoothing level down from what is drawn; raw (0) stays."""
        chart = self.chart
        earlier = [s for s in SMOOTHING_LEVELS if s < chart.effective_smoothing]
        if earlier:
            chart.set_smoothing(earlier[-1])

    def action_cycle_smoothing(self) -> None:
        self.chart.set_smoothing(next_level(self.chart.effective_smoothing))

    def action_cycle_x_axis(self) -> None:
        """step → relative → wall → each metric offered as x (epoch, tokens…) → step."""
        chart = self.chart
        axes = [*X_AXES, *(axis_name(k) for k in chart.x_metrics)]
        index = axes.index(chart.x_axis) if chart.x_axis in axes else -1
        chart.x_axis = axes[(index + 1) % len(axes)]

    def action_toggle_log_y(self) -> None:
        self.chart.log_y = not self.chart.log_y
