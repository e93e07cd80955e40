"""The run-list table: one row per run keyed by run id (plus project header
rows when grouped), cells built from ``RunSummary``, and in-place merging so a
live refresh changes only the cells that moved and keeps the cursor on its run.

The mark, status and name columns stay pinned while the others scroll
sideways; the name column takes the width the terminal leaves, and the names
in it are shortened together (``names.distinct``) so runs that differ only at
the end (``…-seed1``, ``…-seed2``) stay told apart. Numbers are never cut: each
is the most precise true text that fits ``NUMBER_WIDTH`` and the column is
sized from those texts.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.color import Color, ColorParseError
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

from trackui.store import fmt
from trackui.store.models import RunSummary
from trackui.store.run_list import Column

from . import names
from .safe import clean, literal

MARK = "mark"
#: columns every run list shows after the mark column; the chosen columns
#: (params, metric summaries) come right after the name, where they are seen
BUILTIN_COLUMNS = ("status", "name", "project", "created", "duration")
LEADING_COLUMNS = BUILTIN_COLUMNS[:2]
TRAILING_COLUMNS = BUILTIN_COLUMNS[2:]
#: the box a run is on (the ssh alias, ``local`` here): a column only while
#: runs of more than one box are open, right after the chosen columns
BOX_COLUMN = "box"
#: the widest a box name gets in its column (shortened in the middle beyond)
BOX_WIDTH = 16
#: mark, status and name stay on screen while the table scrolls sideways
PINNED_COLUMNS = 3
#: where the name cell is in a row (after the mark and the status)
NAME_INDEX = 2
GROUP_PREFIX = "group:"
USER_PREFIX = "col:"
VALUE_WIDTH = 24
#: the most cells a number takes before it is shown with fewer digits (still true)
NUMBER_WIDTH = 10
#: the name column never gets narrower than this (or the longest name, if shorter)
NAME_FLOOR = 16
DEFAULT_SORT = "created"

Row = tuple[str, list[Any]]


@dataclass(frozen=True)
class RowTag:
    """The first cell of a row: which run (or project header) it is, and
    whether it is marked. Sorting on it puts rows in any given order."""

    key: str
    marked: bool = False
    header: bool = False

    def __rich__(self) -> Text:
        if self.header:
            return Text("▾", style="bold")
        return Text("●" if self.marked else " ", style="bold")


def column_key(spec: str) -> str:
    return spec if spec in BUILTIN_COLUMNS else USER_PREFIX + spec


def column_spec(key: str) -> str | None:
    """The sortable spec behind a column key (None for the mark column)."""
    if key in BUILTIN_COLUMNS or key == BOX_COLUMN:
        return key
    if key.startswith(USER_PREFIX):
        return key[len(USER_PREFIX) :]
    return None


def column_label(spec: str, sort: str, descending: bool, short: str | None = None) -> Text:
    label = literal(short or spec)
    if spec == sort:
        label.append(" ▼" if descending else " ▲", style="bold")
    return label


def columns_for(
    specs: Sequence[str],
    sort: str | None,
    descending: bool,
    short: Mapping[str, str] | None = None,
    *,
    boxes: bool = False,
) -> list[tuple[str, Text]]:
    """(key, label) of every column; ``short`` gives some specs a shorter label
    (the primary metric's ``mAP50-95`` for ``max(metrics/mAP50-95(B))``);
    ``boxes``: runs of several boxes are open, so the box column is there."""
    sort_spec = sort or DEFAULT_SORT
    desc = descending if sort else True
    short = short or {}
    columns = [(MARK, Text(" "))]
    for spec in (*LEADING_COLUMNS, *specs):
        columns.append((column_key(spec), column_label(spec, sort_spec, desc, short.get(spec))))
    if boxes:
        columns.append((BOX_COLUMN, column_label(BOX_COLUMN, sort_spec, desc)))
    for spec in TRAILING_COLUMNS:
        columns.append((column_key(spec), column_label(spec, sort_spec, desc, short.get(spec))))
    return columns


def status_styles(variables: Mapping[str, str]) -> dict[str, Style]:
    """Status colours from the theme's variables, so every theme (and a
    16-colour terminal) keeps them legible."""

    def style(name: str, bold: bool = False) -> Style:
        try:
            color = Color.parse(variables.get(name, "")).rich_color
        except ColorParseError:
            return Style(bold=bold)
        return Style(color=color, bold=bold)

    return {
        "running": style("accent", bold=True),
        "finished": style("success"),
        "failed": style("error", bold=True),
        "killed": style("warning"),
        "crashed": style("error"),
    }


def _fit(text: object, width: int, style: str = "") -> Text:
    """User text in at most ``width`` cells, shortened in the middle with ``…``."""
    return Text(names.fit(str(text), width), style=style, no_wrap=True)


def value_cell(spec: str, value: Any, now: float) -> Text:
    if value is None:
        return Text("")
    column = Column.parse(spec)
    if column.kind == "builtin":
        if spec == "ended":
            return Text(fmt.ago(value, now))
        return _fit(value, VALUE_WIDTH)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        digits = 4 if column.kind == "stat" else 6
        return Text(fmt.number_fit(value, NUMBER_WIDTH, digits=digits), justify="right")
    return _fit(fmt.value(value), VALUE_WIDTH)


def run_cells(
    run: RunSummary,
    specs: Sequence[str],
    *,
    now: float,
    marked: bool,
    styles: Mapping[str, Style],
    name: str | None = None,
    boxes: bool = False,
) -> list[Any]:
    """The cells of one run; ``name`` is the name as the column shows it
    (shortened with the others), the run's own name when not given;
    ``boxes``: with the box column."""
    box = (_fit(run_box(run), BOX_WIDTH),) if boxes else ()
    return [
        RowTag(run.id, marked),
        Text(fmt.status(run.status), style=styles.get(run.status, "")),
        Text(name if name is not None else clean(run.name), no_wrap=True),
        *(value_cell(spec, run.columns.get(spec), now) for spec in specs),
        *box,
        _fit(run.project, VALUE_WIDTH),
        Text(fmt.ago(run.created, now)),
        Text(fmt.duration(run.duration), justify="right"),
    ]


def run_box(run: RunSummary) -> str:
    """The box a run is on, as its column and the filter name it."""
    return clean(getattr(run, "box", None) or "local")


def header_cells(
    project: str, count: int, specs: Sequence[str], *, boxes: bool = False
) -> list[Any]:
    return [
        RowTag(GROUP_PREFIX + project, header=True),
        Text("─" * 4, style="dim"),
        Text(f"{count} run" + ("" if count == 1 else "s"), style="dim italic"),
        *(Text("") for _ in specs),
        *((Text(""),) if boxes else ()),
        _fit(project, VALUE_WIDTH, style="bold"),
        Text(""),
        Text(""),
    ]


def build_rows(
    runs: Iterable[RunSummary],
    specs: Sequence[str],
    *,
    grouped: bool,
    groups: Mapping[str, int],
    marked: Container[str],
    now: float,
    styles: Mapping[str, Style],
    boxes: bool,
    previous: str | None = None,
) -> list[Row]:
    """The rows of ``runs``, names whole; grouped, a header row above each
    project's first run (``previous``: the project of the run above them)."""
    rows: list[Row] = []
    for run in runs:
        if grouped and run.project != previous:
            count = groups.get(run.project, 0)
            header = header_cells(run.project, count, specs, boxes=boxes)
            rows.append((GROUP_PREFIX + run.project, header))
            previous = run.project
        cells = run_cells(run, specs, now=now, marked=run.id in marked, styles=styles, boxes=boxes)
        rows.append((run.id, cells))
    return rows


class RunsTable(DataTable):
    """Rows keyed by run id; the cursor is a cell, so ``s`` knows its column."""

    HELP_SECTION = "Run list"
    BINDINGS = [
        Binding("enter", "select_cursor", "Open", tooltip="Open this run", id="runs.open"),
        Binding("j", "cursor_down", "Down", show=False, id="runs.down"),
        Binding("k", "cursor_up", "Up", show=False, id="runs.up"),
        Binding("h", "cursor_left", "Column left", show=False, id="runs.left"),
        Binding("l", "cursor_right", "Column right", show=False, id="runs.right"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            cursor_type="cell", zebra_stripes=False, fixed_columns=PINNED_COLUMNS, **kwargs
        )

    @property
    def current_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except CellDoesNotExist:
            return None
        return row_key.value

    @property
    def current_column(self) -> str | None:
        if not self.columns:
            return None
        ordered = self.ordered_columns
        index = min(self.cursor_column, len(ordered) - 1)
        return ordered[index].key.value

    def row_keys(self) -> list[str]:
        return [row.key.value for row in self.ordered_rows if row.key.value is not None]

    @property
    def widths(self) -> list[int]:
        """The width of each column, as given to ``rebuild``."""
        return [c.content_width for c in self.ordered_columns]

    @property
    def name_width(self) -> int | None:
        column = self.columns.get("name")  # type: ignore[call-overload]
        return column.content_width if column is not None else None

    def rebuild(
        self,
        columns: Sequence[tuple[str, Text]],
        rows: Iterable[Row],
        widths: Sequence[int] | None = None,
    ) -> None:
        """Everything anew (the query or a width changed); the cursor stays
        on its run and column when they are still there."""
        key, column = self.current_key, self.current_column
        self.clear(columns=True)
        for i, (ckey, label) in enumerate(columns):
            self.add_column(label, key=ckey, width=widths[i] if widths else None)
        for rkey, cells in rows:
            self.add_row(*cells, key=rkey)
        self._restore(key, column or "name", fallback_row=0)

    def append(self, rows: Iterable[Row]) -> None:
        for rkey, cells in rows:
            self.add_row(*cells, key=rkey)

    def merge(self, rows: Sequence[Row]) -> None:
        """Make the table show ``rows`` with the least change: rows gone are
        removed, new rows added, changed cells updated, then reordered."""
        key, column = self.current_key, self.current_column
        wanted = [rkey for rkey, _ in rows]
        have = set(self.row_keys())
        for gone in have - set(wanted):
            self.remove_row(gone)
        keys = [c.key for c in self.ordered_columns]
        for rkey, cells in rows:
            if rkey not in have:
                self.add_row(*cells, key=rkey)
                continue
            for ckey, cell in zip(keys, cells):
                if self.get_cell(rkey, ckey) != cell:
                    self.update_cell(rkey, ckey, cell)  # the widths were checked first
        if self.row_keys() != wanted:
            position = {rkey: i for i, rkey in enumerate(wanted)}
            self.sort(MARK, key=lambda tag: position[tag.key])
        self._restore(key, column, fallback_row=self.cursor_row)

    def set_tag(self, tag: RowTag) -> None:
        if tag.key in self.rows:
            self.update_cell(tag.key, MARK, tag)

    def _restore(self, key: str | None, column: str | None, *, fallback_row: int) -> None:
        if not self.row_count:
            return
        if key is not None and key in self.rows:
            row = self.get_row_index(key)
        else:
            row = max(0, min(fallback_row, self.row_count - 1))
        col = self.get_column_index(column) if column in self.columns else self.cursor_column
        col = max(0, min(col, len(self.columns) - 1))
        if (row, col) != tuple(self.cursor_coordinate):
            self.move_cursor(row=row, column=col)


def _cell_width(cell: Any) -> int:
    if isinstance(cell, Text):
        return cell.cell_len
    if isinstance(cell, RowTag):
        return 1
    return names.cells(str(cell))


def column_widths(columns: Sequence[tuple[str, Text]], rows: Sequence[Row]) -> list[int]:
    """Each column's width: its widest cell or its label. The table is given
    these widths (it never measures on its own, so what it shows does not
    depend on when it got round to measuring, and no cell is ever cut)."""
    widths = [label.cell_len for _, label in columns]
    for _, cells in rows:
        for index, cell in enumerate(cells):
            width = _cell_width(cell)
            if width > widths[index]:
                widths[index] = width
    return widths


def name_width(available: int, widths: Sequence[int], longest: int) -> int:
    """Cells for the name column: what ``available`` leaves after every other
    column (``widths``), never below ``NAME_FLOOR`` or a third of the width (the
    other columns scroll sideways instead), never above the ``longest`` name."""
    others = sum(w + 2 for i, w in enumerate(widths) if i != NAME_INDEX)  # + padding
    left = available - others - 2
    floor = min(longest, max(NAME_FLOOR, available // 3))
    return max(4, floor, min(longest, left))


def shorten_names(rows: list[Row], shown: dict[str, str]) -> None:
    """Put each run's shortened name in its row's name cell."""
    for key, cells in rows:
        if key in shown and cells[NAME_INDEX].plain != shown[key]:
            cells[NAME_INDEX] = Text(shown[key], no_wrap=True)
