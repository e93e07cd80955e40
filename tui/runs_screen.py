"""The Runs screen: every run of the store in a table you can filter, sort,
group by project, mark and open, updated live.

Data flow: each store call runs in a thread worker that posts one message;
handlers drop results for a query that is no longer the current one. Rows
come a page at a time (``page_size``) and more as the cursor nears the end;
a live refresh re-reads the rows already shown and merges them in place.

Grouping (``g``) orders runs by project (then by the chosen sort inside each
project) and puts a header row with the project and its run count above each
group; ``space`` on a header marks every loaded run of that project.

The filter bar (``/``) is a mixin of its own: runs_filter.py; so is the
way the runs become the table's rows: runs_rows.py.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static
from textual.worker import Worker, WorkerState, get_current_worker

from trackui.store.filters import FilterError
from trackui.store.models import RunSummary

from .boxes import BoxesLine
from .config import ColumnMemory
from .filter_help import FILTER_EXAMPLES, filter_help
from .footer import Footer
from .messages import StoreRefreshed
from .primary_column import primary_columns
from .runs_filter import FilterBar, filter_bar
from .runs_query import (
    ColumnChoicesLoaded,
    FilterRejected,
    PrimaryColumnsChosen,
    RunsLoaded,
    RunsPage,
    RunsQuery,
    fetch_runs,
    page_margin,
)
from .runs_rows import RunRows
from .runs_table import (
    GROUP_PREFIX,
    Row,
    RowTag,
    RunsTable,
    column_spec,
)

if TYPE_CHECKING:
    from trackui.store.queries import Store

__all__ = ["FILTER_EXAMPLES", "RunsLoaded", "RunsPage", "RunsQuery", "RunsScreen"]


class RunsScreen(FilterBar, RunRows, Screen):
    HELP_SECTION = "Runs"
    HELP = filter_help()
    BINDINGS = [
        Binding("slash", "filter", "Filter", tooltip="Filter the runs", id="runs.filter"),
        Binding("s", "sort", "Sort", tooltip="Sort by this column: up, down, off", id="runs.sort"),
        Binding("space", "mark", "Mark", tooltip="Mark or unmark this run", id="runs.mark"),
        Binding("c", "compare", "Compare", tooltip="Compare the marked runs", id="runs.compare"),
        Binding("p", "pick_columns", "Columns", tooltip="Pick columns", id="runs.columns"),
        Binding(
            "g", "group", "Group", show=False, tooltip="Group by project (on/off)", id="runs.group"
        ),
        Binding(
            "x",
            "clear_marks",
            "Unmark",
            show=False,
            tooltip="Clear all marks",
            id="runs.clear_marks",
        ),
        Binding("r", "reload", "Refresh", show=False, tooltip="Refresh now", id="runs.refresh"),
        Binding(
            "escape",
            "escape",
            "Close filter",
            show=False,
            tooltip="Close the filter bar, or clear the filter",
            id="runs.escape",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.query_state = RunsQuery()  # what the table shows
        self.wanted = RunsQuery()  # what was last asked for
        self.runs: list[RunSummary] = []
        self.total = 0
        self.groups: dict[str, int] = {}
        #: ``Store.sources()`` as the last page brought it: boxes open, and down
        self.sources: tuple = ()
        self.marked: dict[str, None] = {}  # insertion-ordered set of run ids
        self.loading_more = False
        self._serial = 0
        self._loaded_once = False
        #: ``_first_page_painted`` ran (once: after the first page's refresh, or
        #: when a screen covers the list before that refresh)
        self._first_page_done = False
        #: short headers of the columns chosen for the user (spec -> header)
        self.short_labels: dict[str, str] = {}
        self._auto_columns = False
        #: primary columns chosen while a run was open over the list: shown on return
        self._columns_held: PrimaryColumnsChosen | None = None
        self._shown_names: dict[str, str] = {}
        self._last_rows: list[Row] | None = None  # what the table was last given

    @property
    def store(self) -> Store:
        return self.app.store  # type: ignore[attr-defined]

    @property
    def page_size(self) -> int:
        config = getattr(self.app, "config", None)
        return getattr(config, "page_size", 200)

    def compose(self) -> ComposeResult:
        yield RunsTable(id="runs-table")
        yield from filter_bar()
        yield Static(id="run-detail")
        yield BoxesLine(id="runs-boxes")
        yield Static(id="runs-status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        remembered = ColumnMemory().load(self.store.root)
        config = getattr(self.app, "config", None)
        columns = remembered if remembered is not None else getattr(config, "columns", ())
        self._auto_columns = remembered is None and not columns
        self.request(replace(self.wanted, columns=tuple(columns)))
        self.query_one(RunsTable).focus()

    def _first_page_painted(self, *, covered: bool = False) -> None:
        """After the first page is drawn: what can wait for it (the app's
        read of the run under the cursor first, then the primary metrics'
        columns; the app's start-up refresh). ``covered``: a screen was
        pushed over the list before its refresh ran this (``enter`` right
        after the first page: Textual runs a covered screen's after-refresh
        callbacks only when it shows again); the run opened reads itself."""
        if self._first_page_done:
            return
        self._first_page_done = True
        started = getattr(self.app, "first_page_shown", None)
        if callable(started):
            current = None if covered else self.query_one(RunsTable).current_key
            started(None if current is None or current.startswith(GROUP_PREFIX) else current)
        if self._auto_columns:
            self.load_primary_columns()

    # -- loading -------------------------------------------------------------

    def request(self, query: RunsQuery) -> None:
        """Load the first page of ``query``; the table changes when it arrives."""
        self.wanted = query
        self._serial += 1
        limit = max(self.page_size, len(self.runs)) if query == self.query_state else self.page_size
        self.load_runs(query, self._serial, limit)

    @work(thread=True, exclusive=True, group="runs", exit_on_error=False)
    def load_runs(self, query: RunsQuery, serial: int, limit: int) -> None:
        try:
            page = fetch_runs(self.store, query, 0, limit)
        except FilterError as exc:
            message: Message = FilterRejected(query, serial, exc)
        else:
            message = RunsLoaded(query, serial, page, "replace")
        if not get_current_worker().is_cancelled:
            self.post_message(message)

    @work(thread=True, exclusive=True, group="primary-columns", exit_on_error=False)
    def load_primary_columns(self) -> None:
        """Behind the first paint: the columns of each project's primary metric."""
        labels = primary_columns(self.store)
        if not get_current_worker().is_cancelled:
            self.post_message(PrimaryColumnsChosen(labels))

    @work(thread=True, exclusive=True, group="runs-page", exit_on_error=False)
    def load_more(self, query: RunsQuery, offset: int) -> None:
        page = fetch_runs(self.store, query, offset, self.page_size)
        if not get_current_worker().is_cancelled:
            self.post_message(RunsLoaded(query, self._serial, page, "more"))

    @work(thread=True, exclusive=True, group="runs-live", exit_on_error=False)
    def load_live(self, query: RunsQuery, limit: int) -> None:
        page = fetch_runs(self.store, query, 0, limit)
        if not get_current_worker().is_cancelled:
            self.post_message(RunsLoaded(query, self._serial, page, "live"))

    @work(thread=True, exclusive=True, group="columns", exit_on_error=False)
    def load_column_choices(self) -> None:
        choices = self.store.column_choices()
        if not get_current_worker().is_cancelled:
            self.post_message(ColumnChoicesLoaded(choices))

    def on_runs_loaded(self, message: RunsLoaded) -> None:
        table = self.query_one(RunsTable)
        page = message.page
        if message.reason == "replace":
            if message.serial != self._serial:
                return  # a newer request is on its way
            self._take_sources(page.sources)
            self.query_state = self.wanted = message.query
            self.runs = list(page.runs)
            self.total, self.groups = page.total, dict(page.groups)
            self.loading_more = False
            self._show_filter_error(None)
            self._show(rebuild=True)
            if not self._loaded_once:
                self.call_after_refresh(self._first_page_painted)
            self._loaded_once = True
            if message.serial == self._close_bar_serial:
                self._close_filter_bar()
        elif message.query != self.query_state:
            return
        elif message.reason == "more":
            self.loading_more = False
            if page.offset != len(self.runs):
                return  # the list changed under it; the cursor will ask again
            if self._moved_under(page.runs):
                # runs landed ahead of it since it was asked for (a cold build,
                # a live tick): this page overlaps the rows shown; read them whole
                self.load_live(self.query_state, len(self.runs) + len(page.runs))
                return
            self.runs += page.runs
            self.total, self.groups = page.total, dict(page.groups) or self.groups
            self._show(appended=len(page.runs), rebuild=self._take_sources(page.sources))
        else:
            rebuild = self._take_sources(page.sources)
            self.runs = list(page.runs)
            self.total, self.groups = page.total, dict(page.groups)
            self._show(rebuild=rebuild)
        self._update_status()
        self._update_boxes()
        self._update_detail()
        self._maybe_load_more(table.cursor_row)

    def _moved_under(self, more: tuple[RunSummary, ...]) -> bool:
        """Whether a next page does not follow the rows shown: one of its runs
        is shown already, or (grouped) it starts a project shown above."""
        if not more or not self.runs:
            return False
        shown = {run.id for run in self.runs}
        if any(run.id in shown for run in more):
            return True
        first, last = more[0].project, self.runs[-1].project
        grouped = self.query_state.grouped
        return grouped and first != last and any(run.project == first for run in self.runs)

    def on_column_choices_loaded(self, message: ColumnChoicesLoaded) -> None:
        def chosen(columns: list[str] | None) -> None:
            if columns is None or tuple(columns) == self.wanted.columns:
                return
            ColumnMemory().save(self.store.root, columns)
            self._auto_columns = False
            self.request(replace(self.wanted, columns=tuple(columns)))

        from .column_picker import ColumnPicker  # when asked for: not on the way to the list

        self.app.push_screen(ColumnPicker(message.choices, self.wanted.columns), chosen)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            if event.worker.group == "runs":
                self.wanted = self.query_state  # what failed to load is not what is shown
            elif event.worker.group == "runs-page":
                self.loading_more = False
        self.app.report_worker_error(event.worker)  # type: ignore[attr-defined]

    def on_store_refreshed(self, message: StoreRefreshed) -> None:
        message.stop()
        if self._auto_columns and not self.wanted.columns:
            self.load_primary_columns()  # the store had no metrics at first: choose again
        if self._loaded_once:
            self.load_live(self.query_state, max(self.page_size, len(self.runs)))

    def on_primary_columns_chosen(self, message: PrimaryColumnsChosen) -> None:
        if not self._auto_columns:
            return  # the user chose columns meanwhile
        if self.app.screen is not self:
            # A run was opened over the list (enter right after the first
            # page): the list is read again with them when it shows again,
            # not while the Run screen is being built.
            self._columns_held = message
            return
        self.short_labels = dict(message.labels)
        specs = tuple(spec for spec, _ in message.labels)
        if specs != self.wanted.columns:
            self.request(replace(self.wanted, columns=specs))

    def on_screen_suspend(self) -> None:
        if self._loaded_once and not self._first_page_done:
            self._first_page_painted(covered=True)

    def on_screen_resume(self) -> None:
        held, self._columns_held = self._columns_held, None
        if held is not None:
            self.on_primary_columns_chosen(held)

    def on_resize(self) -> None:
        if self._loaded_once:
            self._show()
            self._update_boxes()

    @on(DataTable.CellHighlighted, "#runs-table")
    def cursor_moved(self, event: DataTable.CellHighlighted) -> None:
        self._maybe_load_more(event.coordinate.row)
        self._update_detail()

    def _maybe_load_more(self, row: int) -> None:
        table = self.query_one(RunsTable)
        near_end = row >= table.row_count - page_margin(self.page_size)
        if near_end and len(self.runs) < self.total and not self.loading_more:
            self.loading_more = True
            self.load_more(self.query_state, len(self.runs))

    # -- actions -------------------------------------------------------------

    @on(Input.Submitted, "#filter-input")
    def filter_submitted(self, event: Input.Submitted) -> None:
        self.apply_filter(event.value)

    def action_sort(self) -> None:
        table = self.query_one(RunsTable)
        spec = column_spec(table.current_column or "")
        if spec is None:
            self.notify("Move to a column (h/l or ←/→) to sort by it", timeout=3)
            return
        q = self.wanted
        if q.sort != spec:
            self.request(replace(q, sort=spec, descending=False))
        elif not q.descending:
            self.request(replace(q, descending=True))
        else:
            self.request(replace(q, sort=None, descending=True))

    def action_group(self) -> None:
        self.request(replace(self.wanted, grouped=not self.wanted.grouped))

    def action_pick_columns(self) -> None:
        self.load_column_choices()

    def action_reload(self) -> None:
        refresh = getattr(self.app, "refresh_store", None)
        if refresh is not None:
            refresh(force=True)
        else:
            self.request(self.wanted)

    def action_mark(self) -> None:
        table = self.query_one(RunsTable)
        key = table.current_key
        if key is None:
            return
        if key.startswith(GROUP_PREFIX):
            project = key[len(GROUP_PREFIX) :]
            ids = [r.id for r in self.runs if r.project == project]
            mark = not all(i in self.marked for i in ids)
        else:
            ids, mark = [key], key not in self.marked
        for run_id in ids:
            if mark:
                self.marked[run_id] = None
            else:
                self.marked.pop(run_id, None)
            table.set_tag(RowTag(run_id, mark))
        table.action_cursor_down()
        self._update_status()

    def action_clear_marks(self) -> None:
        table = self.query_one(RunsTable)
        for run_id in list(self.marked):
            table.set_tag(RowTag(run_id, False))
        self.marked.clear()
        self._update_status()

    def action_compare(self) -> None:
        ids = list(self.marked)
        current = self.query_one(RunsTable).current_key
        if (
            len(ids) == 1
            and current
            and not current.startswith(GROUP_PREFIX)
            and current not in ids
        ):
            ids.append(current)
        if len(ids) < 2:
            self.notify("Mark two or more runs with space to compare them", timeout=3)
            return
        self.app.open_compare(ids)  # type: ignore[attr-defined]

    @on(DataTable.CellSelected, "#runs-table")
    def open_run(self, event: DataTable.CellSelected) -> None:
        run_id = event.cell_key.row_key.value
        if run_id is not None and not run_id.startswith(GROUP_PREFIX):
            self.app.open_run(run_id)  # type: ignore[attr-defined]
