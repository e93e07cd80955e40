"""``Footer``: Textual's footer, rebuilt only when the keys it shows change.

Textual's footer rebuilds all its key widgets each time the screen's
bindings may have changed (every focus move, every tab switch), once per
signal, even when two signals come in one frame and even when the keys
shown stay the same. Opening a run moves the focus and switches tabs a few
times before the first chart, and each rebuild restyles a dozen widgets:
this footer rebuilds at most once per frame, and only when the shown keys
(key, label, action, enabled, tooltip) differ from those it shows; and its
keys are styled once, not again for their ``compact`` flag.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer as TextualFooter
from textual.widgets._footer import FooterKey


class Footer(TextualFooter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending = False
        self._shown: tuple[Any, ...] | None = None

    def compose(self) -> ComposeResult:
        # Each key is made as it will be shown. FooterKey's ``compact``
        # starts True and (but for the palette's key) is bound to the
        # footer's once mounted: its class was set, then for a footer that
        # is not compact unset, each time restyling the key just styled.
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                bound = not widget.has_class("-command-palette")
                compact = self.compact if bound else True
                widget.set_reactive(FooterKey.compact, compact)
                widget.set_class(compact, "-compact", update=False)
            yield widget

    def shown_keys(self) -> tuple[Any, ...]:
        """What the footer would show now."""
        keys = tuple(
            (binding.key, binding.description, binding.action, enabled, tooltip, binding.group)
            for (_, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show
        )
        palette = self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE
        return (keys, palette, self.compact)

    def bindings_changed(self, screen: Screen[Any]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._pending:
            self._pending = True
            self.call_after_refresh(self._rebuild)

    async def _rebuild(self) -> None:
        self._pending = False
        if not self.is_attached:
            return
        shown = self.shown_keys()
        if shown != self._shown:
            self._shown = shown
            await self.recompose()
