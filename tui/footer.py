"""``Footer``: the keys of the screen on one line, as one widget.

Textual's footer makes a widget per key (and a scrolling container around
them) and makes them all again whenever the screen's bindings may have
changed: every focus move and tab switch, so a dozen widgets are mounted and
styled on each step from the run list to the first chart. This footer draws
the same line itself: the keys as Textual shows them (key bold, then its
description; dim when disabled; the command palette's key kept at the right
behind a thin rule), a key lit under the mouse with its tooltip, a click
presses it, and the wheel scrolls keys that do not fit. It redraws at most
once per frame, and only when the keys shown changed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget

#: the rule before the command palette's key (Textual's ``vkey`` border)
RULE = "▏"
DIM = Style(dim=True)


@dataclass(frozen=True)
class Item:
    """One thing on the footer line: a key (``key`` set) or a group's label."""

    key: str | None
    display: str
    description: str
    enabled: bool = True
    tooltip: str = ""
    grouped: bool = False


class Footer(Widget, can_focus=False):
    """The screen's keys on one line (see the module's note)."""

    ALLOW_SELECT = False
    DEFAULT_CSS = """
    Footer {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
    }
    Footer > .footer--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    Footer > .footer--description {
        color: $footer-description-foreground;
        background: $footer-description-background;
    }
    Footer > .footer--item {
        background: $footer-item-background;
    }
    Footer > .footer--hover {
        color: $footer-key-foreground;
        background: $block-hover-background;
    }
    Footer > .footer--rule {
        color: $foreground 20%;
    }
    """
    COMPONENT_CLASSES = {
        "footer--key",
        "footer--description",
        "footer--item",
        "footer--hover",
        "footer--rule",
    }

    #: Textual's compact footer: less room around the keys
    compact = reactive(False, toggle_class="-compact", layout=False)
    show_command_palette = reactive(True)

    def __init__(
        self,
        *,
        id: str | None = None,
        classes: str | None = None,
        compact: bool = False,
        show_command_palette: bool = True,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.set_reactive(Footer.compact, compact)
        self.set_reactive(Footer.show_command_palette, show_command_palette)
        self._pending = False
        self._shown: tuple[Any, ...] | None = None
        #: the left part's items, the palette's key (or None)
        self.items: list[Item] = []
        self.palette: Item | None = None
        self._scroll = 0
        self._hover: int | None = None  # index in ``_cells``
        #: each key's cells on the line as last drawn: (start, end, item)
        self._cells: list[tuple[int, int, Item]] = []

    # -- what is shown ---------------------------------------------------------

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)
        self._update()

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._pending:
            self._pending = True
            self.call_after_refresh(self._update)

    def shown_keys(self) -> tuple[Any, ...]:
        """What the footer would show now."""
        keys = tuple(
            (binding.key, binding.description, binding.action, enabled, tooltip, binding.group)
            for (_, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show
        )
        palette = self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE
        return (keys, palette, self.compact)

    def watch_show_command_palette(self) -> None:
        if self.is_attached:
            self._update()  # the palette's key comes or goes

    def _update(self) -> None:
        self._pending = False
        if not self.is_attached:
            return
        shown = self.shown_keys()
        if shown == self._shown:
            return
        self._shown = shown
        self.items, self.palette = self._items()
        self.refresh()

    def _items(self) -> tuple[list[Item], Item | None]:
        """The keys as Textual's footer lays them out: one per action, a
        group's keys then its label."""
        active = self.screen.active_bindings
        by_action: defaultdict[str, list[tuple[Binding, bool, str]]] = defaultdict(list)
        for _, binding, enabled, tooltip in active.values():
            if binding.show:
                by_action[binding.action].append((binding, enabled, tooltip))
        items: list[Item] = []
        display = self.app.get_key_display
        for group, members in groupby(by_action.values(), lambda m: m[0][0].group):
            chunk = list(members)
            if group is not None and len(chunk) > 1:
                for binding, enabled, tooltip in (m[0] for m in chunk):
                    tip = tooltip or binding.description
                    items.append(Item(binding.key, display(binding), "", enabled, tip, True))
                items.append(Item(None, "", group.description))
            else:
                for binding, enabled, tooltip in (m[0] for m in chunk):
                    items.append(
                        Item(binding.key, display(binding), binding.description, enabled, tooltip)
                    )
        palette = None
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            found = active.get(self.app.COMMAND_PALETTE_BINDING)
            if found is not None:
                _, binding, enabled, _ = found
                tip = binding.tooltip or binding.description
                palette = Item(binding.key, display(binding), binding.description, enabled, tip)
        return items, palette

    # -- drawing ---------------------------------------------------------------

    def _styles(self) -> dict[str, Style]:
        """The parts' styles, each over the footer's own (once a drawing)."""
        base = self.rich_style
        get = self.get_component_rich_style
        item = base + get("footer--item")
        hover = item + get("footer--hover")
        return {
            "label": base + get("footer--description"),
            "item": item,
            "hover": hover,
            "key": get("footer--key"),
            "description": get("footer--description"),
            "rule": base + get("footer--rule"),
        }

    @staticmethod
    def _piece(item: Item, compact: bool, hover: bool, styles: dict[str, Style]) -> Text:
        """One key as Textual's ``FooterKey`` draws it (or a group's label)."""
        if item.key is None:  # a group's label: margin 0 1 0 0, or none when compact
            return Text(item.description + ("" if compact else " "), styles["label"])
        item_style = styles["hover" if hover else "item"]
        key_style = item_style + styles["key"]
        description_style = item_style + styles["description"]
        if not item.enabled:
            item_style += DIM
            key_style += DIM
            description_style += DIM
        key_pad = "" if compact else " "
        if item.description:
            described = (" " + item.description) if compact else (item.description + " ")
            text = Text.assemble(
                (key_pad + item.display + key_pad, key_style), (described, description_style)
            )
        else:
            text = Text(item.display, key_style)
        text.stylize_before(item_style)
        return text

    def _margins(self, item: Item, compact: bool) -> tuple[int, int]:
        """The cells left and right of a key, as Textual's footer CSS gives."""
        if item.key is None:
            return 0, 0
        if item.grouped:
            return (0, 0) if compact else (1, 1)
        return (0, 1) if compact else (0, 0)

    def render(self) -> Text:
        width = self.size.width
        compact = self.compact
        line = Text(no_wrap=True, end="")
        cells: list[tuple[int, int, Item]] = []
        x = 0
        hovered = self._cells[self._hover][2] if self._hover is not None else None
        styles = self._styles()
        for item in self.items:
            left, right = self._margins(item, compact)
            piece = self._piece(item, compact, item is hovered, styles)
            line.append(" " * left)
            start = x + left
            line.append_text(piece)
            end = start + piece.cell_len
            if item.key is not None:
                cells.append((start, end, item))
            line.append(" " * right)
            x = end + right
        right_part = Text(no_wrap=True, end="")
        if self.palette is not None:
            # docked right, behind a rule; Textual keeps it compact, and a
            # cell after it (its padding, or its margin in a compact footer)
            piece = self._piece(self.palette, True, self.palette is hovered, styles)
            right_part.append(RULE, styles["rule"])
            right_part.append_text(piece)
            right_part.append(" ", Style(bgcolor=self.rich_style.bgcolor))
        room = max(0, width - right_part.cell_len)
        self._scroll = max(0, min(self._scroll, x - room))
        shown = line[self._scroll : self._scroll + room] if x > room else line
        shown.pad_right(room - shown.cell_len)
        cells = [(s - self._scroll, e - self._scroll, it) for s, e, it in cells]
        cells = [(s, min(e, room), it) for s, e, it in cells if e > 0 and s < room]
        if self.palette is not None:
            start = room + 1
            cells.append((start, start + right_part.cell_len - 1, self.palette))
        self._cells = cells
        shown.append_text(right_part)
        return shown

    def render_line(self, y: int) -> Strip:
        """The line as segments straight from ``render``'s Rich text
        (Textual's line API): not turned into Textual's content and back
        every time the keys change, on every screen the app opens."""
        width = self.size.width
        if y:
            return Strip.blank(width, self.rich_style)
        base = self.rich_style  # under every part, as Textual's content has it
        text = self.render()
        strip = Strip(list(text.render(self.app.console)), text.cell_len).apply_style(base)
        return strip.adjust_cell_length(width, base)

    # -- the mouse ---------------------------------------------------------------

    def _at(self, x: int) -> int | None:
        for i, (start, end, _) in enumerate(self._cells):
            if start <= x < end:
                return i
        return None

    def on_mouse_move(self, event: events.MouseMove) -> None:
        index = self._at(event.x)
        if index != self._hover:
            self._hover = index
            item = self._cells[index][2] if index is not None else None
            self.tooltip = (item.tooltip or None) if item is not None else None
            self.refresh()

    def on_leave(self) -> None:
        if self._hover is not None:
            self._hover = None
            self.tooltip = None
            self.refresh()

    def on_mouse_down(self, event: events.MouseDown) -> None:
        index = self._at(event.x)
        if index is None:
            return
        item = self._cells[index][2]
        if not item.enabled:
            self.app.bell()
        elif item.key is not None:
            self.app.simulate_key(item.key)

    def _on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._scroll_by(4, event)

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._scroll_by(-4, event)

    def _scroll_by(self, cells: int, event: events.Event) -> None:
        before = self._scroll
        self._scroll = max(0, self._scroll + cells)
        if self._scroll != before:
            event.stop()
            event.prevent_default()
            self.refresh()

    def key_names(self) -> list[str]:
        """The keys shown, in order (the palette's last)."""
        keys = [item.key for item in self.items if item.key is not None]
        return keys + ([self.palette.key] if self.palette is not None and self.palette.key else [])


__all__ = ["Footer", "Item"]
