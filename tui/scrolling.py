"""Scrolling text the vi way: ``j``/``k`` a line, ``G`` the end, ``gg`` the top,
``ctrl+d``/``ctrl+u`` half a page, on top of the arrows, PgUp/PgDn and
Home/End every scrollable already has. Used by the Overview, the Console and
Help, so a failed run's traceback can be read at 80×24."""

from __future__ import annotations

import time

from textual import events
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Log

#: the most seconds between the two ``g`` of ``gg``
GG_SECONDS = 1.5


class ViKeys:
    """The vi keys for any scrollable widget (``scroll_*`` methods)."""

    HELP_SECTION = "Scrolling"

    BINDINGS = [
        Binding("j", "scroll_down", "Down", show=False, id="scroll.down"),
        Binding("k", "scroll_up", "Up", show=False, id="scroll.up"),
        Binding("G", "scroll_end", "To the end", show=False, id="scroll.end"),
        Binding("g", "go_top", "gg: to the top", show=False, id="scroll.top"),
        Binding("ctrl+d", "half_page(1)", "Half a page down", show=False, id="scroll.half-down"),
        Binding("ctrl+u", "half_page(-1)", "Half a page up", show=False, id="scroll.half-up"),
    ]

    _g_at = -1.0

    def action_go_top(self) -> None:
        """``gg``: a second ``g`` soon after the first goes to the top."""
        now = time.monotonic()
        if now - self._g_at <= GG_SECONDS:
            self._g_at = -1.0
            self.scroll_home(animate=False)  # type: ignore[attr-defined]
        else:
            self._g_at = now

    def action_half_page(self, direction: int) -> None:
        height = max(1, self.scrollable_content_region.height // 2)  # type: ignore[attr-defined]
        self.scroll_relative(y=direction * height, animate=False)  # type: ignore[attr-defined]

    def on_key(self, event: events.Key) -> None:
        if event.key != "g":
            self._g_at = -1.0


class ViScroll(ViKeys, VerticalScroll):
    """A ``VerticalScroll`` with the vi keys."""

    BINDINGS = ViKeys.BINDINGS


class ViLog(ViKeys, Log):
    """A ``Log`` with the vi keys."""

    BINDINGS = ViKeys.BINDINGS
