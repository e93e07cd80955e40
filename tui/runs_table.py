"""The run-list table: one row per run keyed by run id (plus project header
rows when grouped), cells built from ``RunSummary``, and in-place merging so a
live refresh changes only the cells that moved and keeps the cursor on its run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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
from trackui.store.queries import Column

from .safe import literal

MARK = "mark"
#: columns every run list shows, in order, after the mark column
BUILTIN_COLUMNS = ("status", "project", "name", "created", "duration")
GROUP_PREFIX = "group:"
USER_PREFIX = "col:"
NAME_WIDTH = 32
VALUE_WIDTH = 24
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
    if key in BUILTIN_COLUMNS:
        return key
    if key.startswith(USER_PREFIX):
        return key[len(USER_PREFIX) :]
    return None


def column_label(spec: str, sort: str, descending: bool) -> Text:
    label = literal(spec)
    if spec == sort:
        label.append(" ▼" if descending else " ▲", style="bold")
    return label


def columns_for(specs: Sequence[str], sort: str | None, descending: bool) -> list[tuple[str, Text]]:
    sort_spec = sort or DEFAULT_SORT
    desc = descending if sort else True
    columns = [(MARK, Text(" "))]
    for spec in (*BUILTIN_COLUMNS, *specs):
        columns.append((column_key(spec), column_label(spec, sort_spec, desc)))
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


def _clip(text: Text, width: int) -> Text:
    if text.cell_len > width:
        text.truncate(width, overflow="ellipsis")
    return text


def value_cell(spec: str, value: Any, now: float) -> Text:
    if value is None:
        return Text("")
    column = Column.parse(spec)
    if column.kind == "builtin":
        if spec == "ended":
            return Text(fmt.ago(value, now))
        return _clip(literal(value), VALUE_WIDTH)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        digits = 4 if column.kind == "stat" else 6
        return Text(fmt.number(value, digits=digits), justify="right")
    return _clip(literal(fmt.value(value)), VALUE_WIDTH)


def run_cells(
    run: RunSummary,
    specs: Sequence[str],
    *,
    now: float,
    marked: bool,
    styles: Mapping[str, Style],
) -> list[Any]:
    return [
        RowTag(run.id, marked),
        Text(fmt.status(run.status), style=styles.get(run.status, "")),
        _clip(literal(run.project), VALUE_WIDTH),
        _clip(literal(run.name), NAME_WIDTH),
        Text(fmt.ago(run.created, now)),
        Text(fmt.duration(run.duration), justify="right"),
        *(value_cell(spec, run.columns.get(spec), now) for spec in specs),
    ]


def header_cells(project: str, count: int, specs: Sequence[str]) -> list[Any]:
    return [
        RowTag(GROUP_PREFIX + project, header=True),
        Text("─" * 4, style="dim"),
        _clip(literal(project, style="bold"), VALUE_WIDTH),
        Text(f"{count} run" + ("" if count == 1 else "s"), style="dim italic"),
        Text(""),
        Text(""),
        *(Text("") for _ in specs),
    ]


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
        super().__init__(cursor_type="cell", zebra_stripes=False, **kwargs)

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

    def rebuild(self, columns: Sequence[tuple[str, Text]], rows: Iterable[Row]) -> None:
        """Everything anew (the query changed); the cursor stays on its run and
        column when they are still there."""
        key, column = self.current_key, self.current_column
        self.clear(columns=True)
        for ckey, label in columns:
            self.add_column(label, key=ckey)
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
                    self.update_cell(rkey, ckey, cell, update_width=True)
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
