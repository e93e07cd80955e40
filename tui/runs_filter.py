"""The Runs screen's filter bar: ``/`` opens it on the filter in force,
``enter`` applies what was typed (the bar closes once the rows came), ``esc``
closes it or, closed, clears the filter; a filter the store rejects is
shown under it in one line, and the rows and their query stay as they were.

A mixin of ``RunsScreen`` (runs_screen.py), which owns the loading: it needs
``wanted``, ``query_state``, ``request`` and the serial of the latest request.
"""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Static

from trackui.store.filters import FilterError

from .runs_query import FilterRejected, RunsQuery
from .runs_table import RunsTable
from .safe import clean

PLACEHOLDER = "e.g. yolo status:finished lr0<0.01  (enter applies, esc closes)"


def filter_bar() -> ComposeResult:
    """The bar's widgets, hidden until ``/`` opens it."""
    with Vertical(id="filter-bar"):
        with Horizontal(id="filter-line"):
            yield Static("/", id="filter-prompt")
            yield Input(placeholder=PLACEHOLDER, id="filter-input")
        yield Static(id="filter-error")


class FilterBar:
    """Open, apply, close and clear the filter; show why one was rejected."""

    wanted: RunsQuery
    query_state: RunsQuery
    _serial: int
    #: the request whose rows close the bar once they come (``apply_filter``)
    _close_bar_serial: int = -1

    def on_filter_rejected(self, message: FilterRejected) -> None:
        if message.serial != self._serial:
            return
        self.wanted = self.query_state  # the old rows stay, and so does their query
        self._show_filter_error(message.error)

    def _show_filter_error(self, error: FilterError | None) -> None:
        box = self.query_one("#filter-error", Static)  # type: ignore[attr-defined]
        if error is None:
            box.update("")
            box.remove_class("-shown")
            return
        box.update(Text(f"✖ {clean(str(error))}"))
        box.add_class("-shown")
        self.query_one("#filter-bar").add_class("-open")  # type: ignore[attr-defined]

    def action_filter(self) -> None:
        self.query_one("#filter-bar").add_class("-open")  # type: ignore[attr-defined]
        field = self.query_one("#filter-input", Input)  # type: ignore[attr-defined]
        field.value = self.wanted.where
        field.cursor_position = len(field.value)
        field.focus()

    def apply_filter(self, typed: str) -> None:
        """Enter in the bar: load the runs that match; the bar closes when they come."""
        self.request(replace(self.wanted, where=typed.strip()))  # type: ignore[attr-defined]
        self._close_bar_serial = self._serial

    def _close_filter_bar(self) -> None:
        self.query_one("#filter-bar").remove_class("-open")  # type: ignore[attr-defined]
        self._show_filter_error(None)
        self.query_one(RunsTable).focus()  # type: ignore[attr-defined]

    def action_escape(self) -> None:
        if self.query_one("#filter-bar").has_class("-open"):  # type: ignore[attr-defined]
            self._close_filter_bar()
        elif self.wanted.where:
            self.request(replace(self.wanted, where=""))  # type: ignore[attr-defined]
