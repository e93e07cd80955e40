"""`p` on the run list: pick extra columns (any param, or the last, min or
max of a metric) from a searchable list. Choices apply when it closes."""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, SelectionList, Static
from textual.widgets.selection_list import Selection

from .picker import key_label

#: columns the run list always shows; the picker offers the rest
FIXED_COLUMNS = ("status", "project", "name", "created", "duration")


class ColumnPicker(ModalScreen[list[str]]):
    """Dismissed with the chosen column specs, in the order they were picked."""

    HELP_SECTION = "Columns"
    BINDINGS = [
        Binding("escape", "done", "Apply and close", id="columns.done"),
        Binding("p", "done", "Apply and close", show=False, id="columns.close"),
        Binding("slash", "search", "Search columns", id="columns.search"),
    ]

    def __init__(self, choices: Sequence[str], chosen: Sequence[str]) -> None:
        super().__init__()
        self.choices = [c for c in choices if c not in FIXED_COLUMNS]
        self.chosen = [c for c in chosen if c not in FIXED_COLUMNS]

    def compose(self) -> ComposeResult:
        with Vertical(id="column-dialog"):
            yield Static("Columns", id="column-title")
            yield Input(placeholder="search params and metrics", id="column-search")
            yield SelectionList[str](*self._options(""), id="column-list")
            yield Static(
                Content("type to search · ↓ to the list · space toggles · esc applies"),
                id="column-hint",
            )

    def _options(self, query: str) -> list[Selection[str]]:
        needle = query.strip().lower()
        shown = [c for c in self.choices if needle in c.lower()] if needle else self.choices
        # What is already chosen stays reachable even when the store no longer has it.
        extra = [c for c in self.chosen if c not in self.choices and needle in c.lower()]
        return [Selection(key_label(c), c, c in self.chosen) for c in [*shown, *extra]]

    @on(Input.Changed, "#column-search")
    def search_changed(self, event: Input.Changed) -> None:
        listing = self.query_one("#column-list", SelectionList)
        listing.clear_options()
        listing.add_options(self._options(event.value))
        if listing.option_count:
            listing.highlighted = 0

    @on(Input.Submitted, "#column-search")
    def search_submitted(self) -> None:
        self.query_one("#column-list", SelectionList).focus()

    def on_key(self, event) -> None:  # noqa: ANN001 - textual.events.Key
        search = self.query_one("#column-search", Input)
        if event.key == "down" and search.has_focus:
            event.stop()
            self.query_one("#column-list", SelectionList).focus()

    @on(SelectionList.SelectionToggled, "#column-list")
    def toggled(self, event: SelectionList.SelectionToggled) -> None:
        spec = event.selection.value
        if spec in self.chosen:
            self.chosen.remove(spec)
        else:
            self.chosen.append(spec)

    def action_search(self) -> None:
        self.query_one("#column-search", Input).focus()

    def action_done(self) -> None:
        self.dismiss(list(self.chosen))
