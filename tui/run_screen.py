"""``RunScreen``: one run in six tabs — overview, params, metrics, console,
artifacts, system (``system_tab``).

Every store call runs in a thread worker that makes one call and posts one
message; only the handlers touch widgets, and a result from a superseded worker
(its generation is no longer the latest) is dropped. On ``StoreRefreshed`` the
screen reloads the run (one cheap query), redraws the chart only when the
current metric moved, and reads only the bytes appended to ``console.log``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import (
    DataTable,
    Input,
    OptionList,
    Static,
    TabbedContent,
    TabPane,
)
from textual.worker import Worker, WorkerState, get_current_worker

from trackui.store import fmt, paths
from trackui.store.models import MetricSummary, RunDetail, Series
from trackui.store.primary import choose

from . import names
from .chart import MetricChart
from .chart_keys import CHART_KEY_ACTIONS, ChartKeys, chart_bindings
from .footer import Footer
from .image_screen import ImageScreen, image_items
from .messages import StoreRefreshed
from .metric_grid import MetricGrid, key_metrics
from .picker import KeyList
from .run_details import STATUS_STYLES, find_metric, overview, read_console, summary_cells
from .run_grid import GridTab
from .safe import clean, literal
from .scrolling import ViLog, ViScroll
from .system_tab import SystemTab, is_system

TABS = ("overview", "params", "metrics", "console", "artifacts", "system")
CONSOLE_MAX_LINES = 10_000
#: actions that act on the chart: offered (and shown in the footer) on the Metrics tab only
CHART_ACTIONS = {"step_metric", "toggle_grid", *CHART_KEY_ACTIONS}
#: what each tab focuses when it opens, so keys act on what is shown (and tab
#: digits never land in the params filter)
TAB_FOCUS = {
    "overview": "#overview-scroll",
    "params": "#params-table",
    "metrics": "#metric-picker",
    "console": "#console-log",
    "artifacts": "#artifacts-table",
    "system": "#system-grid",
}


class RunLoaded(Message):
    def __init__(self, detail: RunDetail, generation: int) -> None:
        super().__init__()
        self.detail = detail
        self.generation = generation


class SeriesLoaded(Message):
    def __init__(self, key: str, series: Series, generation: int) -> None:
        super().__init__()
        self.key = key
        self.series = series
        self.generation = generation


class ConsoleRead(Message):
    def __init__(self, lines: list[str], offset: int, reset: bool, generation: int) -> None:
        super().__init__()
        self.lines = lines
        self.offset = offset
        self.reset = reset
        self.generation = generation


class MetricPicker(KeyList):
    """The metric keys of the run, vi keys included."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="run.picker.down"),
        Binding("k", "cursor_up", "Up", show=False, id="run.picker.up"),
    ]


class RunScreen(GridTab, ChartKeys, Screen[None]):
    """One run: overview, params, metric charts, console tail, artifacts."""

    DEFAULT_CSS = """
    RunScreen #run-header {
        height: 1;
        padding: 0 1;
        background: $panel;
    }
    RunScreen TabbedContent { height: 1fr; }
    RunScreen TabPane { padding: 0; height: 1fr; }
    RunScreen #overview-body { padding: 1 2; }
    RunScreen #params-filter { margin: 0 0 0 0; }
    RunScreen .note { height: 1; padding: 0 1; color: $text-muted; }
    RunScreen #metrics-body { height: 1fr; }
    RunScreen #metric-picker { width: 30; max-width: 30%; height: 1fr; border: round $primary-darken-2; }
    RunScreen #metric-picker:focus { border: round $accent; }
    RunScreen #metric-main { width: 1fr; height: 1fr; }
    RunScreen #metric-summary { height: auto; max-height: 25%; }
    RunScreen #console-log { height: 1fr; }
    RunScreen #metric-grid { display: none; }
    RunScreen #metrics-tab.-grid #metric-grid { display: block; }
    RunScreen #metrics-tab.-grid #metrics-body { display: none; }
    RunScreen #grid-note { display: none; }
    RunScreen #metrics-tab.-grid #grid-note { display: block; }
    """

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
        self._generation = {"detail": 0, "series": 0, "console": 0, "grid": 0}
        self._console_offset: int | None = None
        self._params_filter = ""

    # -- layout --------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(Content("loading run…"), id="run-header")
        with TabbedContent(initial=self._initial_tab, id="run-tabs"):
            with TabPane("1 Overview", id="overview"):
                with ViScroll(id="overview-scroll"):
                    yield Static(Content(""), id="overview-body")
            with TabPane("2 Params", id="params"):
                yield Input(
                    placeholder="/ filter params by key or value", id="params-filter", compact=True
                )
                yield Static(Content(""), id="params-note", classes="note")
                yield DataTable(id="params-table", cursor_type="row")
            with TabPane("3 Metrics", id="metrics"):
                with Vertical(id="metrics-tab"):
                    with Horizontal(id="metrics-body"):
                        yield MetricPicker(id="metric-picker")
                        with Vertical(id="metric-main"):
                            yield MetricChart(id="run-chart")
                            yield DataTable(id="metric-summary", cursor_type="row")
                    yield Static(Content(""), id="grid-note", classes="note")
                    yield MetricGrid(id="metric-grid")
            with TabPane("4 Console", id="console"):
                yield Static(Content(""), id="console-note", classes="note")
                yield ViLog(id="console-log", max_lines=CONSOLE_MAX_LINES, auto_scroll=True)
            with TabPane("5 Artifacts", id="artifacts"):
                yield Static(Content(""), id="artifacts-note", classes="note")
                yield DataTable(id="artifacts-table", cursor_type="row")
            with TabPane("6 System", id="system"):
                yield SystemTab(self.run_id, id="system-tab")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#params-table", DataTable).add_columns("key", "value")
        self.query_one("#metric-summary", DataTable).add_columns(
            "metric", "last", "min", "at step", "max", "at step", "first", "count"
        )
        self.query_one("#artifacts-table", DataTable).add_columns("name", "size", "sha256", "kind")
        self.load_detail(self._next("detail"))

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
    def load_detail(self, generation: int) -> None:
        detail = self.app.store.get_run(self.run_id)  # type: ignore[attr-defined]
        if not get_current_worker().is_cancelled:
            self.post_message(RunLoaded(detail, generation))

    @work(thread=True, exclusive=True, group="run-series", exit_on_error=False)
    def load_series(self, generation: int, key: str, x_axis: str, buckets: int) -> None:
        series = self.app.store.series(  # type: ignore[attr-defined]
            self.run_id, key, buckets=buckets, x_axis=x_axis
        )
        if not get_current_worker().is_cancelled:
            self.post_message(SeriesLoaded(key, series, generation))

    @work(thread=True, exclusive=True, group="run-console", exit_on_error=False)
    def load_console(self, generation: int, path: str, offset: int | None, whole: bool) -> None:
        lines, new_offset, reset = read_console(path, offset, whole=whole)
        if not get_current_worker().is_cancelled:
            self.post_message(ConsoleRead(lines, new_offset, reset, generation))

    def _load_series(self) -> None:
        if self.metric is None:
            return
        chart = self.chart
        self.load_series(self._next("series"), self.metric, chart.x_axis, chart.buckets)

    def _load_console(self) -> None:
        if self.detail is None:
            return
        path = self.detail.console_path or str(Path(self.detail.dir) / paths.CONSOLE)
        whole = self.detail.run.status != "running"
        self.load_console(self._next("console"), path, self._console_offset, whole)

    # -- handlers: the only code that touches widgets -----------------------

    def on_run_loaded(self, message: RunLoaded) -> None:
        if message.generation != self._generation["detail"]:
            return
        old, detail = self.detail, message.detail
        self.detail = detail
        self._update_header()
        self.query_one("#overview-body", Static).update(overview(detail, self._now()))
        if old is None or old.params != detail.params:
            self._fill_params()
        if old is None or old.metrics != detail.metrics:
            # system/ series have their own tab
            self._fill_metrics(_results(detail.metrics), _results(old.metrics) if old else ())
            self.query_one(SystemTab).set_summaries(detail.metrics)
        if old is None or old.artifacts != detail.artifacts:
            self._fill_artifacts()
        self._load_console()

    def _update_header(self) -> None:
        """Status, project/name and id on one line: the name shortened in the
        middle to what the width leaves (the Overview has it whole), the id
        left out before the name is cut."""
        if self.detail is None:
            return
        run = self.detail.run
        status = fmt.status(run.status)
        room = (self.size.width or self.app.size.width) - 2 - names.cells(status) - 2
        ref = clean(f"{run.project}/{run.name}")
        show_id = names.cells(ref) + 2 + len(run.id) <= room
        self.query_one("#run-header", Static).update(
            Content.assemble(
                (status, STATUS_STYLES.get(run.status, "bold")),
                "  ",
                (names.fit(ref, room), "bold"),
                *(("  ", (run.id, "$text-muted")) if show_id else ()),
            )
        )

    def on_resize(self) -> None:
        self._update_header()

    def _fill_params(self) -> None:
        assert self.detail is not None
        table = self.query_one("#params-table", DataTable)
        needle = self._params_filter.casefold()
        rows = [(clean(key), clean(fmt.value(value))) for key, value in self.detail.params]
        shown = [r for r in rows if needle in r[0].casefold() or needle in r[1].casefold()]
        table.clear()
        for key, value in shown:
            table.add_row(literal(key), literal(value), key=key)
        note = f"{len(rows)} params" if rows else "no params logged"
        if needle:
            note = f"{len(shown)} of {len(rows)} params match {clean(self._params_filter)!r}"
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
        if keys != [m.key for m in before]:
            self.query_one(MetricGrid).set_keys(key_metrics(keys, project))
        if not keys:
            self.chart.clear("no metrics logged")
            return
        if self.metric not in cells:
            self.metric = wanted or keys[0]
            return
        self._sync_metric_cursor(self.metric)
        if find_metric(before, self.metric) != find_metric(metrics, self.metric):
            self._load_series()  # the metric on screen moved: redraw it

    @on(DataTable.RowSelected, "#artifacts-table")
    def _artifact_chosen(self, event: DataTable.RowSelected) -> None:
        """Enter on an image (logged, or a plot a tool wrote) opens the image viewer."""
        if self.detail is None or event.row_key.value is None:
            return
        chosen = self.detail.artifacts[int(event.row_key.value)]
        items = image_items(self.detail.artifacts, self.detail.dir)
        at = next((i for i, item in enumerate(items) if item.name == chosen.name), None)
        if at is not None:
            self.app.push_screen(ImageScreen(items, at))

    def _fill_artifacts(self) -> None:
        assert self.detail is not None
        table = self.query_one("#artifacts-table", DataTable)
        table.clear()
        for i, art in enumerate(self.detail.artifacts):
            table.add_row(
                literal(art.name),
                fmt.size(art.size),
                (art.sha256 or "")[:12],
                "copied" if art.copied else "reference",
                key=f"{i}",
            )
        count = len(self.detail.artifacts)
        note = f"{count} artifact{'s' if count != 1 else ''}" if count else "no artifacts logged"
        self.query_one("#artifacts-note", Static).update(Content(note))

    def on_series_loaded(self, message: SeriesLoaded) -> None:
        if message.generation != self._generation["series"] or message.key != self.metric:
            return
        name = self.detail.run.name if self.detail else self.run_id
        self.chart.set_series(message.key, [(self.run_id, name, message.series)])

    @on(MetricChart.DataWanted, ".grid-chart")
    def _grid_chart_wants_data(self, event: MetricChart.DataWanted) -> None:
        event.stop()
        self._load_grid()

    def on_console_read(self, message: ConsoleRead) -> None:
        if message.generation != self._generation["console"]:
            return
        log = self.query_one("#console-log", ViLog)
        if message.reset:
            log.clear()
        self._console_offset = message.offset
        if message.lines:
            log.write_lines(message.lines)
        if log.line_count:
            following = self.detail is not None and self.detail.run.status == "running"
            note = f"{log.line_count} lines{' · following' if following else ''}"
        else:
            note = "no console output captured"
        self.query_one("#console-note", Static).update(Content(note))

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

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        self.refresh_bindings()
        self._focus_tab()

    def _focus_tab(self) -> None:
        tab = self.active_tab
        pane = self.query_one(f"#{tab}", TabPane)
        focused = self.focused
        if focused is not None and pane in focused.ancestors:
            return  # already there (``/`` focused the params filter)
        selector = TAB_FOCUS.get(tab)
        if tab == "metrics" and self.grid_shown:
            selector = "#metric-grid"
        if selector is not None:
            self.query_one(selector).focus()

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

    @property
    def active_tab(self) -> str:
        return self.query_one("#run-tabs", TabbedContent).active

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

    def action_show_tab(self, tab: str) -> None:
        if tab in TABS:
            self.query_one("#run-tabs", TabbedContent).active = tab

    def action_filter_params(self) -> None:
        self.action_show_tab("params")
        self.query_one("#params-filter", Input).focus()

    def action_pick_metric(self) -> None:
        self.action_show_tab("metrics")
        if self.grid_shown:
            self.action_toggle_grid()  # the picker belongs to the single chart
        self.query_one("#metric-picker", MetricPicker).focus()

    def action_show_metric(self, key: str) -> None:
        """Open the Metrics tab on ``key`` (the command palette calls this)."""
        self.action_show_tab("metrics")
        if self.grid_shown:
            self.action_toggle_grid()
        self.metric = key

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


def _results(metrics: Sequence[MetricSummary]) -> list[MetricSummary]:
    """The metrics the Metrics tab shows: all but the sampled system series."""
    return [m for m in metrics if not is_system(m.key)]
