"""The Compare screen: several runs side by side.

A legend of the runs in their chart colours, the current metric of every run
overlaid in one chart, a summary table (last and best of each metric, the best
run marked, deltas against the baseline) and the params diff (only the keys
whose values differ, unless ``a``).

The baseline is the run the deltas and the diff highlighting are measured
against; it starts as the first run. ``b`` pins the run whose column holds
the cursor in the focused table; anywhere else (the cursor on a label column,
the focus outside the tables) ``b`` moves the baseline on to the next run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static
from textual.worker import Worker, WorkerState, get_current_worker

from trackui.store.directions import direction_of
from trackui.store.models import MetricComparison, ParamDiff, RunSummary, Series

from .chart import MetricChart, run_rich_colour
from .chart_keys import ChartKeys, chart_bindings
from .messages import StoreRefreshed
from .metric_table import ARROWS, MetricTable
from .param_diff import ParamDiffTable
from .picker import MetricPicker
from .safe import clean, literal

if TYPE_CHECKING:
    from trackui.store.queries import Store

LEGEND_MARK = "■ "
LEGEND_BASELINE = " ◆ baseline"


def run_labels(runs: Sequence[RunSummary]) -> dict[str, Text]:
    """Each run's name as it will be shown, in its colour; runs that share a
    name get the end of their id added so the columns can be told apart."""
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.name] = counts.get(run.name, 0) + 1
    labels = {}
    for run in runs:
        name = run.name if counts[run.name] == 1 else f"{run.name}·{run.id[-6:]}"
        labels[run.id] = literal(name, style=f"bold {run_rich_colour(run.id)}")
    return labels


class CompareScreen(ChartKeys, Screen[None]):
    """Compare two or more runs: chart, summary table, params diff."""

    AUTO_FOCUS = "#compare-summary"
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [
        (0, "-narrow"),
        (110, "-wide"),
    ]

    DEFAULT_CSS = """
    CompareScreen {
        layout: vertical;
    }
    CompareScreen #compare-legend {
        height: auto;
        max-height: 3;
        padding: 0 1;
        background: $panel;
        color: $text;
    }
    CompareScreen #compare-chart {
        height: 1fr;
        min-height: 8;
    }
    CompareScreen #compare-tables {
        height: 1fr;
        min-height: 8;
    }
    CompareScreen.-narrow #compare-tables {
        layout: vertical;
    }
    CompareScreen .compare-pane {
        width: 1fr;
        height: 1fr;
    }
    CompareScreen.-wide #compare-summary-pane {
        width: 3fr;
    }
    CompareScreen.-wide #compare-params-pane {
        width: 2fr;
    }
    /* Stacked tables: the one in use takes most of the room. */
    CompareScreen.-narrow .compare-pane:focus-within {
        height: 2fr;
    }
    CompareScreen .compare-title {
        height: 1;
        width: 1fr;
        padding: 0 1;
        color: $text-muted;
        text-style: bold;
    }
    CompareScreen .compare-pane:focus-within .compare-title {
        color: $accent;
    }
    CompareScreen .compare-pane DataTable {
        height: 1fr;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back", id="compare.back"),
        Binding("left_square_bracket", "previous_metric", "Prev metric", id="compare.prev-metric"),
        Binding("right_square_bracket", "next_metric", "Next metric", id="compare.next-metric"),
        Binding("m", "pick_metric", "Metric", id="compare.pick-metric"),
        Binding("b", "pin_baseline", "Pin baseline", id="compare.baseline"),
        Binding("a", "toggle_all_params", "All params", id="compare.all-params"),
        *chart_bindings("compare"),
    ]

    #: the metric drawn in the chart
    metric: var[str | None] = var(None, init=False)
    #: the run deltas and diff highlights are measured against
    baseline: var[str | None] = var(None, init=False)
    #: every param key, not only those that differ
    show_all_params: var[bool] = var(False, init=False)

    class MetricsCompared(Message):
        def __init__(self, token: int, comparison: MetricComparison) -> None:
            super().__init__()
            self.token = token
            self.comparison = comparison

    class ParamsDiffed(Message):
        def __init__(self, token: int, diff: ParamDiff) -> None:
            super().__init__()
            self.token = token
            self.diff = diff

    class SeriesLoaded(Message):
        def __init__(self, token: int, key: str, series: list[tuple[str, str, Series]]) -> None:
            super().__init__()
            self.token = token
            self.key = key
            self.series = series

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
        self.labels: dict[str, Text] = {}
        self.metric_keys: list[str] = []
        self.comparison: MetricComparison | None = None
        self.diff: ParamDiff | None = None
        # Tokens of the latest request per kind: an older answer is dropped.
        self._tokens = {"metrics": 0, "params": 0, "series": 0}

    # -- layout --------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(self._legend_text(), id="compare-legend")
        yield MetricChart(id="compare-chart")
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
    def summary_table(self) -> MetricTable:
        return self.query_one("#compare-summary", MetricTable)

    @property
    def params_table(self) -> ParamDiffTable:
        return self.query_one("#compare-params", ParamDiffTable)

    @property
    def store(self) -> Store:
        return self.app.store  # type: ignore[attr-defined,no-any-return]

    def on_mount(self) -> None:
        self.chart.clear("loading…")
        self.reload_metrics()
        self.reload_params()

    # -- loading: one store call per worker, one message per call ------------

    def _next_token(self, kind: str) -> int:
        self._tokens[kind] += 1
        return self._tokens[kind]

    def reload_metrics(self) -> None:
        self.load_metrics(self.store, self._next_token("metrics"), list(self.run_ids))

    def reload_params(self) -> None:
        self.load_params(
            self.store, self._next_token("params"), list(self.run_ids), not self.show_all_params
        )

    def reload_series(self) -> None:
        if self.metric is None or not self.runs:
            return
        runs = [(r.id, r.name) for r in self.runs]
        chart = self.chart
        self.load_series(
            self.store, self._next_token("series"), self.metric, runs, chart.x_axis, chart.buckets
        )

    @work(thread=True, exclusive=True, group="compare-metrics", exit_on_error=False)
    def load_metrics(self, store: Store, token: int, run_ids: list[str]) -> None:
        comparison = store.compare_metrics(run_ids)
        if not get_current_worker().is_cancelled:
            self.post_message(self.MetricsCompared(token, comparison))

    @work(thread=True, exclusive=True, group="compare-params", exit_on_error=False)
    def load_params(self, store: Store, token: int, run_ids: list[str], only_changed: bool) -> None:
        diff = store.diff_params(run_ids, only_changed=only_changed)
        if not get_current_worker().is_cancelled:
            self.post_message(self.ParamsDiffed(token, diff))

    @work(thread=True, exclusive=True, group="compare-series", exit_on_error=False)
    def load_series(
        self,
        store: Store,
        token: int,
        key: str,
        runs: list[tuple[str, str]],
        x_axis: str,
        buckets: int,
    ) -> None:
        # One downsampled query per run (the store has no multi-run series
        # call); still one message, so the chart draws all runs at once.
        worker = get_current_worker()
        series = []
        for run_id, name in runs:
            if worker.is_cancelled:
                return
            series.append((run_id, name, store.series(run_id, key, buckets=buckets, x_axis=x_axis)))
        if not worker.is_cancelled:
            self.post_message(self.SeriesLoaded(token, key, series))

    # -- handlers: the only code that touches widgets -------------------------

    @on(MetricsCompared)
    def _metrics_compared(self, message: MetricsCompared) -> None:
        if message.token != self._tokens["metrics"]:
            return
        comparison = message.comparison
        self.comparison = comparison
        self._set_runs(comparison.runs)
        self.metric_keys = [row.key for row in comparison.rows]
        self.summary_table.show(comparison, self.baseline, self.labels)
        self.query_one("#compare-summary-title", Label).update(
            f"Summary: {len(self.metric_keys)} metrics, last and best (★)"
        )
        if not self.metric_keys:
            self.chart.clear("no metrics logged by these runs")
            return
        if self.metric not in self.metric_keys:
            self.metric = self.metric_keys[0]
        else:
            self._describe_metric()
            self.reload_series()

    @on(ParamsDiffed)
    def _params_diffed(self, message: ParamsDiffed) -> None:
        if message.token != self._tokens["params"]:
            return
        self.diff = message.diff
        self._set_runs(message.diff.runs)
        self.params_table.show(message.diff, self.baseline, self.labels)
        self.query_one("#compare-params-title", Label).update(
            self.params_table.title(self.show_all_params)
        )

    @on(SeriesLoaded)
    def _series_loaded(self, message: SeriesLoaded) -> None:
        if message.token != self._tokens["series"] or message.key != self.metric:
            return
        self.chart.set_series(message.key, message.series)

    @on(MetricChart.DataWanted, "#compare-chart")
    def _chart_wants_data(self, event: MetricChart.DataWanted) -> None:
        event.stop()
        self.reload_series()

    @on(StoreRefreshed)
    def _store_refreshed(self) -> None:
        # The app only says so when something was appended (or on a forced refresh).
        self.reload_metrics()  # its handler reloads the chart's series too

    @on(DataTable.CellSelected, "#compare-summary")
    def _summary_cell_selected(self) -> None:
        key = self.summary_table.metric_at_cursor()
        if key is not None:
            self.metric = key

    @on(Worker.StateChanged)
    def _load_failed(self, event: Worker.StateChanged) -> None:
        # Not stopped: the app turns the error into a notification as well.
        if event.state is WorkerState.ERROR and event.worker.group.startswith("compare-"):
            self.chart.clear(f"could not load: {clean(event.worker.error)}")

    def _set_runs(self, runs: tuple[RunSummary, ...]) -> None:
        if [r.id for r in runs] == [r.id for r in self.runs] and runs == self.runs:
            return
        self.runs = runs
        self.labels = run_labels(runs)
        if self.baseline not in self.labels:
            self.baseline = runs[0].id if runs else None
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

    def watch_show_all_params(self) -> None:
        self.reload_params()

    def _describe_metric(self) -> None:
        if self.metric is None or self.metric not in self.metric_keys:
            return
        position = self.metric_keys.index(self.metric) + 1
        arrow = ARROWS[direction_of(self.metric)]
        better = "lower" if arrow == "↓" else "higher"
        self.chart.border_subtitle = Content(
            f"metric {position}/{len(self.metric_keys)} {arrow} {better} is better · [ ] step · m pick"
        )

    def _legend_text(self) -> Text:
        count = len(self.runs) or len(self.run_ids)
        text = Text(f"Compare {count} runs  ", style="bold")
        for run in self.runs:
            text.append(LEGEND_MARK, style=run_rich_colour(run.id))
            text.append_text(self.labels[run.id])
            if run.id == self.baseline:
                text.append(LEGEND_BASELINE, style="bold")
            text.append("   ")
        text.rstrip()
        return text

    def _update_legend(self) -> None:
        if self.is_mounted:
            self.query_one("#compare-legend", Static).update(self._legend_text())

    # -- actions -------------------------------------------------------------

    def action_back(self) -> None:
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

    def highlighted_run(self) -> str | None:
        """The run of the cursor's column in the focused table, if any."""
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
