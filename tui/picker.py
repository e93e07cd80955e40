"""Picking a key (a metric, a column) from a list.

``key_label`` is how a key a user wrote shows in any such list: as typed,
never read as markup. ``KeyList`` lists keys with the key as each option's
id (the Run screen's metric list, and the list inside ``MetricPicker``).
``MetricPicker`` is the searchable modal the Compare screen's ``m`` opens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from .safe import clean


def key_label(key: str) -> Content:
    """``key`` as it will be listed: literally, control characters cleaned."""
    return Content(clean(key))


class KeyList(OptionList):
    """Keys listed as typed; each option's id is its key."""

    def show_keys(self, keys: Sequence[str], current: str | None = None) -> None:
        """List ``keys``, highlighting ``current`` (the first key when
        ``current`` is not among them)."""
        # clear_options, not set_options: it redraws even when no key is left.
        self.clear_options()
        self.add_options(Option(key_label(k), id=k) for k in keys)
        if keys:
            self.highlighted = keys.index(current) if current in keys else 0


class MetricPicker(ModalScreen[str | None]):
    """A searchable list of metric keys; dismisses with the key chosen."""

    DEFAULT_CSS = """
    MetricPicker {
        align: center middle;
    }
    MetricPicker > Vertical {
        width: 60;
        max-width: 90%;
        height: auto;
        max-height: 80%;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    MetricPicker Input {
        margin: 0 0 1 0;
    }
    MetricPicker OptionList {
        height: auto;
        max-height: 16;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="compare.picker.cancel"),
        Binding("down", "cursor_down", "Down", show=False, id="compare.picker.down"),
        Binding("up", "cursor_up", "Up", show=False, id="compare.picker.up"),
    ]

    def __init__(
        self, keys: Sequence[str], current: str | None = None, *, title: str = "Metric"
    ) -> None:
        super().__init__()
        self.keys = list(keys)
        self.current = current
        self.title = title

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title
            yield Input(placeholder="type to filter", id="metric-picker-filter")
            yield KeyList(id="metric-picker-options")

    def on_mount(self) -> None:
        self.options.show_keys(self.keys, self.current)

    @property
    def options(self) -> KeyList:
        return self.query_one("#metric-picker-options", KeyList)

    def matching(self, query: str) -> list[str]:
        """Keys containing every word of ``query`` (case-insensitive)."""
        words = query.lower().split()
        return [k for k in self.keys if all(w in k.lower() for w in words)]

    @on(Input.Changed, "#metric-picker-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.options.show_keys(self.matching(event.value), self.current)

    @on(Input.Submitted, "#metric-picker-filter")
    def _filter_submitted(self) -> None:
        options = self.options
        if options.highlighted is not None:
            self.dismiss(options.get_option_at_index(options.highlighted).id)

    @on(OptionList.OptionSelected, "#metric-picker-options")
    def _option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cursor_down(self) -> None:
        self.options.action_cursor_down()

    def action_cursor_up(self) -> None:
        self.options.action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)
