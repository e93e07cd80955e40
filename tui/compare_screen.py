"""The Compare screen: several runs side by side.

The current metric of every run overlaid in one chart, with a numbered legend
beside it; a summary table (last and best of each metric, ★ on the best run
for metrics whose direction is known, deltas against the baseline) and the
params diff (only the keys whose values differ, unless ``a``). Each run has a
number, a colour and a marker by its position (tui/palette.py), the same in
the chart, the legend and both tables, so runs stay apart with or without
colour. The detail line names the focused run in full.

Keys beyond the chart's: ``f``/``F`` focus the next/previous run (drawn on
top, named on the detail line); ``z`` maximizes the focused pane (chart,
summary or params); ``t`` turns the focused table (runs as rows or columns;
they become rows by themselves when they do not fit side by side); ``X``
picks any logged metric as the x-axis (``x`` cycles step, relative, wall,
then epoch-like metrics).

The baseline is the run the deltas and the diff highlighting are measured
against; it starts as the first run. ``b`` pins the run under the cursor in
the focused table; anywhere else ``b`` moves the baseline on to the next run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.reactive import var
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Label, Static
from textual.worker import Worker, WorkerState

from trackui.store import primary, xaxis
from trackui.store.models import MetricComparison, ParamDiff, RunSummary

from .chart import MetricChart, x_axis_label
from .chart_keys import ChartKeys, chart_bindings
from .compare_loading import CompareLoading
from .footer import Footer
from .group_view import GroupMode, group_bindings
from .legend import RunLegend, detail_text, needed_width, run_labels, several_boxes, shown_name
from .messages import StoreRefreshed
from .metric_table import ARROWS, MetricTable, RunColumnsTable
from .palette import RunStyle, depth_of, style_for
from .param_diff import ParamDiffTable
from .picker import MetricPicker
from .safe import clean

if TYPE_CHECKING:
    from trackui.store.queries import Store

#: the legend's width: what its names need, within these bounds (the chart
#: keeps at least LEGEND_CHART_MIN + half the rest)
LEGEND_MIN, LEGEND_MAX, LEGEND_CHART_MIN = 16, 40, 40
CSS_FILE = Path(__file__).with_name("compare_screen.tcss")
#: seconds the table cursor rests on a run before the chart redraws it on top
CURSOR_REDRAW_DELAY = 0.15


class CompareScreen(GroupMode, CompareLoading, ChartKeys, Screen[None]):
    """Compare two or more runs: chart and legend, summary table, params diff."""

    AUTO_FOCUS = "#compare-summary"
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [
        (0, "-narrow"),
        (110, "-wide"),
    ]

    #: The screen's rules, from compare_screen.tcss, as the Run screen's: not
    #: ``CSS_PATH``, which made Textual parse every rule of the app again and
    #: restyle every widget of every screen when Compare was first pushed.
    #: The rules start with ``CompareScreen``, so they beat the widgets' own
    #: defaults.
    DEFAULT_CSS = CSS_FILE.read_text(encoding="utf-8")

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back", id="compare.back"),
        Binding(
            "left_square_bracket",
            "previous_metric",
            "Prev metric",
            show=False,
            id="compare.prev-metric",
        ),
        Binding(
            "right_square_bracket",
            "next_metric",
            "Next metric",
            show=False,
            id="compare.next-metric",
        ),
        Binding("m", "pick_metric", "Metric", id="compare.pick-metric"),
        Binding("f", "focus_run(1)", "Focus", id="compare.focus-next"),
        Binding("F", "focus_run(-1)", "Focus prev run", show=False, id="compare.focus-previous"),
        Binding("z", "zoom", "Zoom", id="compare.zoom"),
        Binding("t", "turn_table", "Turn table", show=False, id="compare.turn"),
        Binding("X", "pick_x_metric", "X metric", show=False, id="compare.x-metric"),
        Binding("b", "pin_baseline", "Baseline", id="compare.baseline"),
        Binding("a", "toggle_all_params", "All params", id="compare.all-params"),
        *chart_bindings("compare", show_less_smoothing=False),
        *group_bindings("compare"),  # A: seed groups (tui/group_view.py)
    ]

    #: the metric drawn in the chart
    metric: var[str | None] = var(None, init=False)
    #: the run deltas and diff highlights are measured against
    baseline: var[str | None] = var(None, init=False)
    #: the run named on the detail line and drawn on top
    focused_run: var[str | None] = var(None, init=False)
    #: every param key, not only those that differ
    show_all_params: var[bool] = var(False, init=False)
    #: the pane maximized by ``z`` ("chart", "summary", "params"), or None
    zoomed: var[str | None] = var(None, init=False)

    def __init__(
        self,
        run_ids: Sequence[str],
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.run_ids: list[str] = list(dict.fromkeys(run_ids))
        self.runs: tuple[RunSummary, ...] = ()
        self.run_styles: list[RunStyle] = []
        self.labels: dict[str, Text] = {}
        self.metric_keys: list[str] = []
        self.comparison: MetricComparison | None = None
        self.diff: ParamDiff | None = None
        self._focus_from_cursor = False
        self._focus_timer: Timer | None = None
        # Tokens of the latest request per kind: an older answer is dropped.
        self._tokens = {"metrics": 0, "params": 0, "series": 0}

    # -- layout --------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(self._detail_text(), id="compare-detail")
        with Horizontal(id="compare-top"):
            yield MetricChart(id="compare-chart")
            yield RunLegend(id="compare-legend")
        with Horizontal(id="compare-tables"):
            with Vertical(classes="compare-pane", id="compare-summary-pane"):
                yield Label("Summary", classes="compare-title", id="compare-summary-title")
                yield MetricTable(id="compare-summary")
            with Vertical(classes="compare-pane", id="compare-params-pane"):
                yield Label("Params", classes="compare-title", id="compare-params-title")
                yield ParamDiffTable(id="compare-params")
        yield Footer()

    @property
    def chart(self) -> MetricChart:
        return self.query_one("#compare-chart", MetricChart)

    @property
    def legend(self) -> RunLegend:
        return self.query_one("#compare-legend", RunLegend)

    @property
    def summary_table(self) -> MetricTable:
        return self.query_one("#compare-summary", MetricTable)

    @property
    def params_table(self) -> ParamDiffTable:
        return self.query_one("#compare-params", ParamDiffTable)

    @property
    def store(self) -> Store:
        return self.app.store  # type: ignore[attr-defined,no-any-return]

    def on_mount(self) -> None:
        self.chart.can_focus = True
        self.chart.clear("loading…")
        self.reload_metrics()
        self.reload_params()

    def on_resize(self) -> None:
        self._update_legend()

    # -- handlers: the only code that touches widgets -------------------------

    @on(CompareLoading.MetricsCompared)
    def _metrics_compared(self, message: CompareLoading.MetricsCompared) -> None:
        if message.token != self._tokens["metrics"]:
            return
        comparison = message.comparison
        self.comparison = comparison
        self._set_runs(comparison.runs)
        self.metric_keys = [row.key for row in comparison.rows]
        self.chart.x_metrics = xaxis.x_candidates(self.metric_keys)
        self.summary_table.show(comparison, self.baseline, self.labels)
        self.query_one("#compare-summary-title", Label).update(
            f"Summary: {len(self.metric_keys)} metrics, last and best (★)"
        )
        if not self.metric_keys:
            self.chart.clear("no metrics logged by these runs")
            return
        if self.metric not in self.metric_keys:
            self.metric = primary.choose(self.metric_keys, self._project())
        else:
            self._describe_metric()
            self.reload_series()

    def _project(self) -> str | None:
        projects = {r.project for r in self.runs}
        return projects.pop() if len(projects) == 1 else None

    @on(CompareLoading.ParamsDiffed)
    def _params_diffed(self, message: CompareLoading.ParamsDiffed) -> None:
        if message.token != self._tokens["params"]:
            return
        self.diff = message.diff
        self._set_runs(message.diff.runs)
        self.params_table.show(message.diff, self.baseline, self.labels)
        self.query_one("#compare-params-title", Label).update(
            self.params_table.title(self.show_all_params)
        )

    @on(CompareLoading.SeriesLoaded)
    def _series_loaded(self, message: CompareLoading.SeriesLoaded) -> None:
        if message.token != self._tokens["series"] or message.key != self.metric:
            return
        by_id = {r.id: i for i, r in enumerate(self.runs)}
        styles = [
            self.run_styles[by_id[run_id]]
            if run_id in by_id and by_id[run_id] < len(self.run_styles)
            else style_for(i, self._depth())
            for i, (run_id, _, _) in enumerate(message.series)
        ]
        self.chart.set_series(message.key, message.series, styles)

    @on(MetricChart.DataWanted, "#compare-chart")
    def _chart_wants_data(self, event: MetricChart.DataWanted) -> None:
        event.stop()
        self.reload_series()
        self._describe_metric()

    @on(StoreRefreshed)
    def _store_refreshed(self) -> None:
        # The app only says so when something was appended (or on a forced refresh).
        self.reload_metrics()  # its handler reloads the chart's series too

    @on(DataTable.CellSelected, "#compare-summary")
    def _summary_cell_selected(self) -> None:
        key = self.summary_table.metric_at_cursor()
        if key is not None:
            self.metric = key

    @on(DataTable.CellHighlighted)
    def _cell_highlighted(self, event: DataTable.CellHighlighted) -> None:
        table = event.data_table
        if isinstance(table, RunColumnsTable) and table.has_focus:
            run_id = table.run_at_cursor()
            if run_id is not None:
                self._focus_from_cursor = True
                self.focused_run = run_id
                self._focus_from_cursor = False
            self._update_detail()

    @on(Worker.StateChanged)
    def _load_failed(self, event: Worker.StateChanged) -> None:
        # Not stopped: the app turns the error into a notification as well.
        if event.state is WorkerState.ERROR and event.worker.group.startswith("compare-"):
            self.chart.clear(f"could not load: {clean(event.worker.error)}")

    def _depth(self) -> str:
        return depth_of(self.app.console.color_system, no_color=self.app.no_color)

    def _set_runs(self, runs: tuple[RunSummary, ...]) -> None:
        if [r.id for r in runs] == [r.id for r in self.runs] and runs == self.runs:
            return
        self.runs = runs
        depth = self._depth()
        self.run_styles = [style_for(i, depth) for i in range(len(runs))]
        self.labels = run_labels(runs, self.run_styles)
        if self.baseline not in self.labels:
            self.baseline = runs[0].id if runs else None
        if self.focused_run not in self.labels:
            self.focused_run = None
        self._update_legend()

    # -- view state ----------------------------------------------------------

    def watch_metric(self) -> None:
        self._describe_metric()
        self.reload_series()

    def watch_baseline(self) -> None:
        self._update_legend()
        if self.comparison is not None:
            self.summary_table.show(self.comparison, self.baseline, self.labels)
        if self.diff is not None:
            self.params_table.show(self.diff, self.baseline, self.labels)

    def watch_focused_run(self, run_id: str | None) -> None:
        self._update_legend()
        if self._focus_timer is not None:
            self._focus_timer.stop()
            self._focus_timer = None
        if self._focus_from_cursor:
            # A cursor running down the table redraws the chart once it rests.
            self._focus_timer = self.set_timer(CURSOR_REDRAW_DELAY, self._focus_chart)
        else:
            self._focus_chart()

    def _focus_chart(self) -> None:
        self._focus_timer = None
        self.chart.focused_run = self.focused_run

    def watch_show_all_params(self) -> None:
        self.reload_params()

    def watch_zoomed(self, zoomed: str | None) -> None:
        for pane in ("chart", "summary", "params"):
            self.set_class(zoomed == pane, f"-zoom-{pane}")

    def _describe_metric(self) -> None:
        if self.metric is None or self.metric not in self.metric_keys:
            return
        position = self.metric_keys.index(self.metric) + 1
        where = f"metric {position}/{len(self.metric_keys)}"
        direction = primary.direction(self.metric)
        if direction is None:
            better = "no known direction"
        else:
            better = f"{ARROWS[direction]} {'lower' if direction == 'min' else 'higher'} is better"
        x_note = f"x: {clean(x_axis_label(self.chart.x_axis))}"
        self.chart.border_subtitle = Content(f"{where} · {better} · {x_note} · [ ] m")

    def _detail_text(self) -> Text:
        """The detail line: the focused run's full name, or the cursor's key."""
        run = next((r for r in self.runs if r.id == self.focused_run), None)
        style = self.run_styles[self.runs.index(run)] if run is not None else None
        count = len(self.runs) or len(self.run_ids)
        return detail_text(
            run,
            style,
            count,
            baseline=self.baseline,
            key=self._key_at_cursor(),
            boxes=several_boxes(self.runs),
        )

    def _key_at_cursor(self) -> str | None:
        focused = self.focused if self.is_mounted else None
        if isinstance(focused, MetricTable):
            return focused.metric_at_cursor()
        if isinstance(focused, ParamDiffTable):
            return focused.key_at_cursor()
        return None

    def _update_detail(self) -> None:
        if self.is_mounted:
            self.query_one("#compare-detail", Static).update(self._detail_text())

    def _legend_runs(self) -> list[tuple[str, str, RunStyle]]:
        boxes = several_boxes(self.runs)
        return [(r.id, shown_name(r, boxes), st) for r, st in zip(self.runs, self.run_styles)]

    def _update_legend(self) -> None:
        if not self.is_mounted:
            return
        self._update_detail()
        runs = self._legend_runs()
        limit = max(LEGEND_MIN, min(LEGEND_MAX, (self.size.width - LEGEND_CHART_MIN) // 2))
        width = min(limit, needed_width(runs) + 3)
        self.legend.styles.width = width
        self.legend.show(runs, width, focused=self.focused_run, baseline=self.baseline)

    # -- actions -------------------------------------------------------------

    def action_back(self) -> None:
        if self.zoomed is not None:
            self.zoomed = None
            return
        self.dismiss()

    def action_show_metric(self, key: str) -> None:
        """Draw ``key`` (from the command palette, the picker, the keys)."""
        if key in self.metric_keys:
            self.metric = key

    def _step_metric(self, offset: int) -> None:
        if not self.metric_keys:
            return
        index = self.metric_keys.index(self.metric) if self.metric in self.metric_keys else 0
        self.metric = self.metric_keys[(index + offset) % len(self.metric_keys)]

    def action_next_metric(self) -> None:
        self._step_metric(1)

    def action_previous_metric(self) -> None:
        self._step_metric(-1)

    def action_pick_metric(self) -> None:
        if not self.metric_keys:
            return

        def chosen(key: str | None) -> None:
            if key is not None:
                self.action_show_metric(key)

        self.app.push_screen(MetricPicker(self.metric_keys, self.metric), chosen)

    def action_pick_x_metric(self) -> None:
        """Any logged metric as the x-axis (``x`` goes back to step)."""
        if not self.metric_keys:
            return
        current = xaxis.metric_of(self.chart.x_axis)

        def chosen(key: str | None) -> None:
            if key is not None:
                self.chart.x_axis = xaxis.axis_name(key)

        self.app.push_screen(MetricPicker(self.metric_keys, current, title="X axis"), chosen)

    def action_focus_run(self, offset: int) -> None:
        """Focus the next (or previous) run: on top in the chart, named in full."""
        ids = [r.id for r in self.runs]
        if not ids:
            return
        if self.focused_run in ids:
            index = (ids.index(self.focused_run) + offset) % len(ids)
        else:
            index = 0 if offset > 0 else len(ids) - 1
        self.focused_run = ids[index]

    def _focused_pane(self) -> str:
        focused = self.focused
        if focused is self.summary_table:
            return "summary"
        if focused is self.params_table:
            return "params"
        return "chart"

    def action_zoom(self) -> None:
        """Maximize the focused pane; again to restore."""
        self.zoomed = None if self.zoomed is not None else self._focused_pane()

    def action_turn_table(self) -> None:
        """Runs as rows or as columns, in the focused table."""
        focused = self.focused
        table = focused if isinstance(focused, RunColumnsTable) else self.summary_table
        table.set_runs_as_rows(not table.runs_as_rows)

    def highlighted_run(self) -> str | None:
        """The run of the cursor's column (or row) in the focused table, if any."""
        focused = self.focused
        if isinstance(focused, (MetricTable, ParamDiffTable)):
            return focused.run_at_cursor()
        return None

    def action_pin_baseline(self) -> None:
        run_ids = [r.id for r in self.runs]
        if not run_ids:
            return
        run_id = self.highlighted_run()
        if run_id is None:
            index = run_ids.index(self.baseline) if self.baseline in run_ids else -1
            run_id = run_ids[(index + 1) % len(run_ids)]
        self.baseline = run_id

    def action_toggle_all_params(self) -> None:
        self.show_all_params = not self.show_all_params
