"""``RunScreen``: one run in six tabs — overview, params, metrics, console,
artifacts, system (``system_tab``). A tab's widgets are built the first time
it is shown (``run_tabs``): opening a run builds the tab it opens on, and
the Metrics tab's series is read before its chart exists, so ``3`` draws it
at once.

Every store call runs in a thread worker that posts one message (the run's
first load also reads the series its chart shows first: ``read_run``); only
the handlers touch widgets, and a result from a superseded worker
(its generation is no longer the latest) is dropped. On ``StoreRefreshed`` the
screen reloads the run (one cheap query), redraws the chart only when the
current metric moved, and reads only the bytes appended to ``console.log``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import AwaitMount
from textual.widgets import DataTable, Input, OptionList, Static
from textual.worker import Worker, WorkerState, get_current_worker

from trackui.store.models import MetricSummary, RunDetail, Series
from trackui.store.primary import choose

from .chart import MetricChart
from .chart_keys import CHART_KEY_ACTIONS, ChartKeys, chart_bindings
from .footer import Footer
from .messages import StoreRefreshed
from .metric_grid import MetricGrid, key_metrics
from .read_ahead import UNBUILT_BUCKETS, Result, read_run
from .read_ahead import metric_results as _results
from .run_console import ConsoleTab
from .run_details import find_metric, overview, summary_cells
from .run_grid import GridTab
from .run_tab_switch import TabSwitching, pane
from .run_tabs import (
    TAB_FOCUS,
    TAB_LABELS,
    TABS,
    MeasuredTable,
    MetricPicker,
    RunLoaded,
    SeriesLoaded,
    fill_artifacts,
    fill_params,
    header,
)
from .safe import clean
from .system_tab import SystemTab, is_system
from .tab_bar import TabBar

__all__ = ["RunScreen", "SeriesLoaded"]
#: actions that act on the chart: offered (and shown in the footer) on the Metrics tab only
CHART_ACTIONS = {"step_metric", "toggle_grid", *CHART_KEY_ACTIONS}
CSS_FILE = Path(__file__).with_name("run_screen.tcss")


class RunScreen(TabSwitching, ConsoleTab, GridTab, ChartKeys, Screen[None]):
    """One run: overview, params, metric charts, console tail, artifacts."""

    #: The screen's rules, from run_screen.tcss. Not ``CSS_PATH``: Textual reads
    #: a screen's CSS_PATH when the screen is first pushed, then parses every
    #: rule of the app again and restyles every widget of every screen (about a
    #: tenth of a second between the run list and the first chart); default CSS
    #: is added to the rules already parsed. The rules start with ``RunScreen``,
    #: so they beat the widgets' own defaults.
    DEFAULT_CSS = CSS_FILE.read_text(encoding="utf-8")

    BINDINGS = [
        Binding("escape,q", "back", "Back", id="run.back"),
        Binding("1", "show_tab('overview')", "Overview", show=False, id="run.tab.overview"),
        Binding("2", "show_tab('params')", "Params", show=False, id="run.tab.params"),
        Binding("3", "show_tab('metrics')", "Metrics", show=False, id="run.tab.metrics"),
        Binding("4", "show_tab('console')", "Console", show=False, id="run.tab.console"),
        Binding("5", "show_tab('artifacts')", "Artifacts", show=False, id="run.tab.artifacts"),
        Binding("6", "show_tab('system')", "System", show=False, id="run.tab.system"),
        Binding("slash", "filter_params", "Filter", id="run.filter-params"),
        Binding("m", "pick_metric", "Metric", id="run.pick-metric"),
        Binding("left_square_bracket", "step_metric(-1)", "Prev metric", id="run.prev-metric"),
        Binding("right_square_bracket", "step_metric(1)", "Next metric", id="run.next-metric"),
        Binding(
            "v",
            "toggle_grid",
            "Grid",
            tooltip="Small charts of the key metrics, or one chart",
            id="run.grid",
        ),
        *chart_bindings("run", show_less_smoothing=False),
    ]

    #: the metric shown on the Metrics tab
    metric: reactive[str | None] = reactive(None, init=False)

    def __init__(self, run_id: str, *, tab: str = "overview") -> None:
        super().__init__()
        self.run_id = run_id
        self.detail: RunDetail | None = None
        self._initial_tab = tab if tab in TABS else "overview"
        # Focus goes straight to the tab's widget: not first to the tab bar,
        # Textual's pick, then over (each move restyles the widgets it leaves).
        self.AUTO_FOCUS = TAB_FOCUS.get(self._initial_tab)
        self._generation = {"detail": 0, "series": 0, "console": 0, "grid": 0}
        self._params_filter = ""
        #: the tabs whose widgets exist (see ``build_tab``), and those still mounting
        self.built: set[str] = set()
        self._mounting: dict[str, AwaitMount] = {}
        #: the app's batches begun by ``build_tab`` and not yet ended
        self._batches = 0
        #: (key, x-axis) of the latest series asked for
        self._series_wanted: tuple[str, str] | None = None
        #: a series that came before its chart was built: drawn when it is
        self._held_series: tuple[str, Series] | None = None
        #: the primary metric's series read with the run (``load_detail``)
        self._ahead: tuple[str, Series] | None = None

    # -- layout --------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(Content("loading run…"), id="run-header")
        yield TabBar(TAB_LABELS, self._initial_tab, id="run-tabs")
        # Only the tab shown is built; the others when first shown (build_tab).
        self.built.add(self._initial_tab)
        yield pane(self._initial_tab, self.run_id)
        yield Footer()

    def on_mount(self) -> None:
        generation = self._next("detail")
        read_ahead = getattr(self.app, "read_ahead", None)
        taken = partial(self._read_ahead_taken, generation)
        if read_ahead is None or not read_ahead.take(self.run_id, taken):
            self.load_detail(generation, with_series=True)

    def _read_ahead_taken(self, generation: int, result: Result | None) -> None:
        """The run as the app read it ahead (``read_ahead``); None: read it here."""
        if not self.is_attached:
            return
        if result is None:
            self.load_detail(self._next("detail"), with_series=True)
        else:
            # At once (from on_mount when the read has landed): the screen's
            # first layout shows the run, not "loading run…" a frame before.
            self.on_run_loaded(RunLoaded(result[0], generation, result[1]))

    @property
    def starting(self) -> bool:
        """Until the run is read and, on the Metrics tab, its chart drawn
        (the app's start-up work waits: ``TrackuiApp._start_when_idle``)."""
        if self.detail is None:
            return True
        if not self.is_mounted or self.active_tab != "metrics" or self.metric is None:
            return False
        return not self.ready("metrics") or self.chart.last_plot is None

    def _fill_tab(self, tab: str, detail: RunDetail, old: RunDetail | None = None) -> None:
        """Bring a built tab up to ``detail`` (``old``: what it shows now)."""
        if tab == "overview":
            self.query_one("#overview-body", Static).update(overview(detail, self._now()))
        elif tab == "params" and (old is None or old.params != detail.params):
            self._fill_params()
        elif tab == "metrics" and (old is None or old.metrics != detail.metrics):
            self._fill_metrics(_results(detail.metrics), _results(old.metrics) if old else ())
        elif tab == "system" and (old is None or old.metrics != detail.metrics):
            self.query_one(SystemTab).set_summaries(detail.metrics)
        elif tab == "artifacts" and (old is None or old.artifacts != detail.artifacts):
            self._fill_artifacts()
        elif tab == "console":
            self._load_console()

    @property
    def chart(self) -> MetricChart:
        return self.query_one("#run-chart", MetricChart)

    def _next(self, group: str) -> int:
        self._generation[group] += 1
        return self._generation[group]

    def _now(self) -> float:
        clock = getattr(self.app, "clock", None)
        return float(clock()) if callable(clock) else time.time()

    # -- workers: one store call (or file read), one message -----------------

    @work(thread=True, exclusive=True, group="run-detail", exit_on_error=False)
    def load_detail(self, generation: int, with_series: bool = False) -> None:
        detail, ahead = read_run(self.app.store, self.run_id, with_series=with_series)  # type: ignore[attr-defined]
        if not get_current_worker().is_cancelled:
            self.post_message(RunLoaded(detail, generation, ahead))

    @work(thread=True, exclusive=True, group="run-series", exit_on_error=False)
    def load_series(self, generation: int, key: str, x_axis: str, buckets: int) -> None:
        series = self.app.store.series(  # type: ignore[attr-defined]
            self.run_id, key, buckets=buckets, x_axis=x_axis
        )
        if not get_current_worker().is_cancelled:
            self.post_message(SeriesLoaded(key, series, generation))

    def _load_series(self) -> None:
        if self.metric is None:
            return
        if self.ready("metrics"):
            chart = self.chart
            x_axis, buckets = chart.x_axis, chart.buckets
        else:  # read ahead of the chart, as a chart not yet laid out asks
            x_axis, buckets = "step", UNBUILT_BUCKETS
        self._series_wanted = (self.metric, x_axis)
        self._held_series = None
        generation = self._next("series")
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] == self.metric and x_axis == "step":
            if buckets <= UNBUILT_BUCKETS:  # as fine as the chart asks: read with the run
                self.post_message(SeriesLoaded(ahead[0], ahead[1], generation))
                return
        self.load_series(generation, self.metric, x_axis, buckets)

    # -- handlers: the only code that touches widgets -----------------------

    def on_run_loaded(self, message: RunLoaded) -> None:
        if message.generation != self._generation["detail"]:
            return
        old, detail = self.detail, message.detail
        self.detail = detail
        self._ahead = message.ahead  # taken by the first _load_series below, if any
        self._update_header()
        for tab in TABS:
            if self.ready(tab):
                self._fill_tab(tab, detail, old)
        if not self.ready("metrics") and (old is None or old.metrics != detail.metrics):
            # The chart is not built: its series is read now, drawn when it is.
            keys = [m.key for m in _results(detail.metrics)]
            if keys and self.metric not in keys:
                self.metric = choose(keys, project=detail.run.project) or keys[0]
            elif old is not None and self.metric is not None:
                before, now = (find_metric(m, self.metric) for m in (old.metrics, detail.metrics))
                if before != now:
                    self._load_series()  # what was read ahead moved: read it again
        self._ahead = None  # not taken: another metric or axis is shown

    def _update_header(self) -> None:
        if self.detail is not None:
            width = self.size.width or self.app.size.width
            self.query_one("#run-header", Static).update(header(self.detail.run, width))

    def on_resize(self) -> None:
        self._update_header()

    def _fill_params(self) -> None:
        assert self.detail is not None
        note = fill_params(
            self.query_one("#params-table", DataTable), self.detail.params, self._params_filter
        )
        self.query_one("#params-note", Static).update(Content(note))

    def _fill_metrics(
        self, metrics: Sequence[MetricSummary], before: Sequence[MetricSummary]
    ) -> None:
        keys = [m.key for m in metrics]
        project = self.detail.run.project if self.detail else None
        # The primary metric (configured, headline, main loss), never a counter;
        # chosen before the picker highlights it, so no other key flashes first.
        wanted = self.metric if self.metric in keys else choose(keys, project=project)
        picker = self.query_one("#metric-picker", MetricPicker)
        if keys != [m.key for m in before]:
            picker.show_keys(keys, wanted)
        table = self.query_one("#metric-summary", DataTable)
        cells = {m.key: summary_cells(m) for m in metrics}
        if keys == [m.key for m in before]:
            columns = list(table.columns)
            for m in metrics:
                for column, value in zip(columns[1:], cells[m.key][1:], strict=True):
                    table.update_cell(m.key, column, value)
        else:
            table.clear()
            for key in keys:
                table.add_row(*cells[key], key=key)
            if isinstance(table, MeasuredTable):
                table.measure_now()  # its height is known to the next layout
        if keys != [m.key for m in before]:
            self.query_one(MetricGrid).set_keys(key_metrics(keys, project))
        if not keys:
            self.chart.clear("no metrics logged")
            return
        if self.metric not in cells:
            self.metric = wanted or keys[0]
            return
        self._sync_metric_cursor(self.metric)
        if not before and self._series_wanted == (self.metric, self.chart.x_axis):
            # Read before the chart was built (or on its way): drawn in the
            # next frame, at the size its layout gives (the summary rows just
            # added take room from it), once.
            self._draw_held()
        elif find_metric(before, self.metric) != find_metric(metrics, self.metric):
            self._load_series()  # the metric on screen moved: redraw it

    def _draw_held(self) -> None:
        held, self._held_series = self._held_series, None
        if held is not None and held[0] == self.metric:
            name = self.detail.run.name if self.detail else self.run_id
            self.chart.set_series(
                held[0],
                [(self.run_id, name, held[1])],
                at_next_frame=True,
                when=self._summary_measured,
            )

    def _summary_measured(self) -> bool:
        """Whether the layout gave the summary table room for its rows."""
        table = self.query_one("#metric-summary", DataTable)
        header = table.header_height if table.show_header else 0
        return table.row_count == 0 or table.size.height > header

    @on(DataTable.RowSelected, "#artifacts-table")
    def _artifact_chosen(self, event: DataTable.RowSelected) -> None:
        """Enter on an image (logged, or a plot a tool wrote) opens the image viewer."""
        if self.detail is None or event.row_key.value is None:
            return
        from .image_screen import ImageScreen, image_items

        chosen = self.detail.artifacts[int(event.row_key.value)]
        items = image_items(self.detail.artifacts, self.detail.dir)
        at = next((i for i, item in enumerate(items) if item.name == chosen.name), None)
        if at is not None:
            self.app.push_screen(ImageScreen(items, at))

    def _fill_artifacts(self) -> None:
        assert self.detail is not None
        note = fill_artifacts(self.query_one("#artifacts-table", DataTable), self.detail.artifacts)
        self.query_one("#artifacts-note", Static).update(Content(note))

    def on_series_loaded(self, message: SeriesLoaded) -> None:
        if message.generation != self._generation["series"] or message.key != self.metric:
            return
        if not self.ready("metrics"):
            self._held_series = (message.key, message.series)
            return
        if self.chart.last_plot is None:
            # The first drawing waits for the layout that the run just filled
            # (the summary table's rows take room from the chart): drawn once,
            # at the size it is shown at.
            self._held_series = (message.key, message.series)
            self._draw_held()
            return
        name = self.detail.run.name if self.detail else self.run_id
        self.chart.set_series(message.key, [(self.run_id, name, message.series)])

    @on(MetricChart.DataWanted, ".grid-chart")
    def _grid_chart_wants_data(self, event: MetricChart.DataWanted) -> None:
        event.stop()
        self._load_grid()

    def on_store_refreshed(self, message: StoreRefreshed) -> None:
        # The app only posts this when something moved (or the user asked);
        # reloading the run is one small query, and the chart and the console
        # are redrawn only when this run's data changed.
        self.load_detail(self._next("detail"))

    @on(MetricChart.DataWanted, "#run-chart")
    def _chart_wants_data(self, event: MetricChart.DataWanted) -> None:
        event.stop()
        self._load_series()

    @on(OptionList.OptionHighlighted, "#metric-picker")
    def _metric_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is not None:
            self.metric = event.option.id

    @on(DataTable.RowSelected, "#metric-summary")
    def _summary_row_chosen(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.metric = event.row_key.value

    @on(Input.Changed, "#params-filter")
    def _params_filter_changed(self, event: Input.Changed) -> None:
        self._params_filter = event.value
        if self.detail is not None:
            self._fill_params()

    @on(Input.Submitted, "#params-filter")
    def _params_filter_done(self) -> None:
        self.query_one("#params-table", DataTable).focus()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.group == "run-detail":
            error = event.worker.error
            self.query_one("#run-header", Static).update(
                Content.styled(clean(f"cannot load run {self.run_id}: {error}"), "$error")
            )

    def watch_metric(self, metric: str | None) -> None:
        if metric is None:
            return
        self._sync_metric_cursor(metric)
        self._load_series()

    def _sync_metric_cursor(self, metric: str) -> None:
        if not self.ready("metrics"):
            return
        picker = self.query_one("#metric-picker", MetricPicker)
        try:
            index = picker.get_option_index(metric)
        except Exception:  # not listed (yet)
            return
        if picker.highlighted != index:
            picker.highlighted = index
        table = self.query_one("#metric-summary", DataTable)
        if table.row_count > index and table.cursor_row != index:
            table.move_cursor(row=index)

    # -- actions -------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "step_metric" and self.is_mounted and self.active_tab == "system":
            return True  # [ ] page the system charts
        if action in CHART_ACTIONS:
            return self.is_mounted and self.active_tab == "metrics"
        return True

    def action_back(self) -> None:
        focused = self.focused
        if isinstance(focused, Input) and focused.id == "params-filter":
            self.query_one("#params-table", DataTable).focus()
            return
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
        else:
            self.app.exit()

    def action_filter_params(self) -> None:
        self.action_show_tab("params")
        self.query_one("#params-filter", Input).focus()

    def action_pick_metric(self) -> None:
        self.action_show_tab("metrics")
        self.call_later(self._pick_metric)  # after the tab is built

    def _pick_metric(self) -> None:
        if self.grid_shown:
            self.action_toggle_grid()  # the picker belongs to the single chart
        self.query_one("#metric-picker", MetricPicker).focus()

    def action_show_metric(self, key: str) -> None:
        """Open the Metrics tab on ``key`` (the command palette calls this)."""
        self.action_show_tab("metrics")
        self.metric = key
        self.call_later(self._single_chart)  # after the tab is built

    def _single_chart(self) -> None:
        if self.grid_shown:
            self.action_toggle_grid()

    def action_step_metric(self, step: int) -> None:
        if self.active_tab == "system":
            self.query_one(SystemTab).step_page(step)
            return
        if self.grid_shown:
            self.query_one(MetricGrid).step_page(step)
            return
        keys = [k for k in self.detail.metric_keys if not is_system(k)] if self.detail else []
        if not keys:
            return
        index = keys.index(self.metric) if self.metric in keys else -1
        self.metric = keys[(index + step) % len(keys)]
