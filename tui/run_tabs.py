"""The six tabs of the Run screen: their widgets, built when a tab is first
shown, the messages its workers post, and the metric picker.

Opening a run builds only the tab it opens on (the Overview, unless told
otherwise); a tab's widgets are mounted the first time it is shown and
filled from the run already loaded. A run opened to glance at its chart
never builds, styles or fills the params table, the console log, the
artifacts table or the system charts. ``RunScreen`` (run_screen.py) owns the
wiring; this module says what each tab holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static

from trackui.store import fmt
from trackui.store.models import Artifact, RunDetail, RunSummary, Series

from . import names
from .chart import MetricChart
from .metric_grid import MetricGrid
from .picker import KeyList
from .run_details import STATUS_STYLES
from .safe import clean, literal
from .scrolling import ViLog, ViScroll

TABS = ("overview", "params", "metrics", "console", "artifacts", "system")
TAB_LABELS = {
    "overview": "1 Overview",
    "params": "2 Params",
    "metrics": "3 Metrics",
    "console": "4 Console",
    "artifacts": "5 Artifacts",
    "system": "6 System",
}
CONSOLE_MAX_LINES = 10_000
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
SUMMARY_COLUMNS = ("metric", "last", "min", "at step", "max", "at step", "first", "count")


class RunLoaded(Message):
    def __init__(
        self, detail: RunDetail, generation: int, ahead: tuple[str, Series] | None = None
    ) -> None:
        super().__init__()
        self.detail = detail
        self.generation = generation
        #: the primary metric's series, read with the run when it was first opened
        self.ahead = ahead


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


def tab_body(tab: str, run_id: str) -> list[Widget]:
    """The widgets of one tab, new and empty (tables with their columns)."""
    if tab == "overview":
        return [ViScroll(Static(Content(""), id="overview-body"), id="overview-scroll")]
    if tab == "params":
        return [
            Input(placeholder="/ filter params by key or value", id="params-filter", compact=True),
            Static(Content(""), id="params-note", classes="note"),
            _table("params-table", ("key", "value")),
        ]
    if tab == "metrics":
        main = Vertical(
            MetricChart(id="run-chart"),
            _table("metric-summary", SUMMARY_COLUMNS),
            id="metric-main",
        )
        return [
            Vertical(
                Horizontal(MetricPicker(id="metric-picker"), main, id="metrics-body"),
                Static(Content(""), id="grid-note", classes="note"),
                MetricGrid(id="metric-grid"),
                id="metrics-tab",
            )
        ]
    if tab == "console":
        return [
            Static(Content(""), id="console-note", classes="note"),
            ViLog(id="console-log", max_lines=CONSOLE_MAX_LINES, auto_scroll=True),
        ]
    if tab == "artifacts":
        return [
            Static(Content(""), id="artifacts-note", classes="note"),
            _table("artifacts-table", ("name", "size", "sha256", "kind")),
        ]
    if tab == "system":
        from .system_tab import SystemTab

        return [SystemTab(run_id, id="system-tab")]
    raise ValueError(f"no tab {tab!r}")


class MeasuredTable(DataTable):
    """A DataTable that can measure rows just added now, not when idle."""

    def measure_now(self) -> None:
        """What DataTable does with new rows once idle (their column widths,
        so its height), done now: the layout of the next frame gives the
        widgets beside it their final room (the chart is drawn once)."""
        if self._require_update_dimensions:
            self._require_update_dimensions = False
            rows = self._new_rows.copy()
            self._new_rows.clear()
            self._update_dimensions(rows)


def _table(id: str, columns: Sequence[str]) -> DataTable:
    table: DataTable = MeasuredTable(id=id, cursor_type="row")
    # Text, not str: a str label is read as markup, whose emoji codes (a big
    # module) would be imported on the way to the first chart.
    table.add_columns(*(Text(column) for column in columns))
    return table


def fill_params(table: DataTable, params: Sequence[tuple[str, Any]], typed: str) -> str:
    """The params matching the filter ``typed`` (key or value, any case) in
    ``table``; the note that says how many."""
    needle = typed.casefold()
    rows = [(clean(key), clean(fmt.value(value))) for key, value in params]
    shown = [r for r in rows if needle in r[0].casefold() or needle in r[1].casefold()]
    table.clear()
    for key, value in shown:
        table.add_row(literal(key), literal(value), key=key)
    if needle:
        return f"{len(shown)} of {len(rows)} params match {clean(typed)!r}"
    return f"{len(rows)} params" if rows else "no params logged"


def fill_artifacts(table: DataTable, artifacts: Sequence[Artifact]) -> str:
    """The artifacts in ``table`` (row keys: their index); the note."""
    table.clear()
    for i, art in enumerate(artifacts):
        table.add_row(
            literal(art.name),
            fmt.size(art.size),
            (art.sha256 or "")[:12],
            "copied" if art.copied else "reference",
            key=f"{i}",
        )
    count = len(artifacts)
    return f"{count} artifact{'s' if count != 1 else ''}" if count else "no artifacts logged"


def header(run: RunSummary, width: int) -> Content:
    """Status, project/name and id on one line: the name shortened in the
    middle to what the width leaves (the Overview has it whole), the id left
    out before the name is cut."""
    status = fmt.status(run.status)
    room = width - 2 - names.cells(status) - 2
    ref = clean(f"{run.project}/{run.name}")
    show_id = names.cells(ref) + 2 + len(run.id) <= room
    return Content.assemble(
        (status, STATUS_STYLES.get(run.status, "bold")),
        "  ",
        (names.fit(ref, room), "bold"),
        *(("  ", (run.id, "$text-muted")) if show_id else ()),
    )
