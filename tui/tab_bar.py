"""``TabBar``: a row of tab labels and the bar under them, as one widget.

Textual's ``TabbedContent`` makes a widget per tab, one for the bar, a
content switcher and a pane per tab (fifteen of the Run screen's widgets),
and each is mounted, styled and laid out when a run opens. The Run screen
needs none of what they add (focus on the labels, animation): it shows the
labels, marks the active one, and switches on a digit or a click. The look
follows Textual's tabs: the labels dim but the active one, a thin bar under
them lit under the active label.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.style import Style
from rich.text import Text
from textual import events
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from . import names

BAR = "━"
HALF_LEFT = "╺"  # the bar starts half a cell in
HALF_RIGHT = "╸"  # the bar ends half a cell in


class TabBar(Widget):
    """Tab labels on one line, the bar under them on the next."""

    DEFAULT_CSS = """
    TabBar {
        width: 1fr;
        height: 2;
    }
    TabBar > .tab-bar--label {
        color: $foreground 50%;
    }
    TabBar > .tab-bar--active {
        color: $foreground;
    }
    TabBar > .tab-bar--bar {
        color: $block-cursor-background;
        background: $foreground 10%;
    }
    TabBar:ansi > .tab-bar--label {
        text-style: dim;
    }
    TabBar:ansi > .tab-bar--active {
        text-style: not dim bold;
    }
    TabBar:ansi > .tab-bar--bar {
        color: $block-cursor-background;
        background: $border-blurred;
    }
    """
    COMPONENT_CLASSES = {"tab-bar--label", "tab-bar--active", "tab-bar--bar"}
    ALLOW_SELECT = False

    #: the id of the tab shown
    active: reactive[str] = reactive("")

    class Chosen(Message):
        """A label was clicked."""

        def __init__(self, bar: TabBar, tab: str) -> None:
            super().__init__()
            self.bar = bar
            self.tab = tab

        @property
        def control(self) -> TabBar:
            return self.bar

    def __init__(self, labels: Mapping[str, str], active: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.labels = dict(labels)
        self.set_reactive(TabBar.active, active)

    def spans(self) -> dict[str, tuple[int, int]]:
        """Each tab's cells on the label line, [start, end)."""
        out: dict[str, tuple[int, int]] = {}
        x = 0
        for tab, label in self.labels.items():
            width = names.cells(label) + 2  # a cell of padding each side
            out[tab] = (x, x + width)
            x += width
        return out

    def render(self) -> Text:
        label_style = self.get_component_rich_style("tab-bar--label")
        active_style = self.get_component_rich_style("tab-bar--active")
        text = Text(no_wrap=True, end="")
        for tab, label in self.labels.items():
            text.append(f" {label} ", active_style if tab == self.active else label_style)
        text.append("\n")
        text.append_text(self._bar(self.content_region.width or self.size.width))
        return text

    def _bar(self, width: int) -> Text:
        """The bar: lit under the active label, as Textual's ``Bar`` draws it
        (half cells at the ends of the lit part)."""
        style = self.get_component_rich_style("tab-bar--bar")
        lit = Style(color=style.color)
        rest = Style(color=style.bgcolor)
        bar = Text(no_wrap=True, end="")
        span = self.spans().get(self.active)
        if span is None or width <= 0:
            bar.append(BAR * max(width, 0), rest)
            return bar
        start, end = span[0], min(span[1], width)
        if start > 0:
            bar.append(BAR * (start - 1), rest)
            bar.append(HALF_RIGHT, rest)
        bar.append(BAR * (end - start), lit)
        if end < width:
            bar.append(HALF_LEFT, rest)
            bar.append(BAR * (width - end - 1), rest)
        return bar

    def on_click(self, event: events.Click) -> None:
        for tab, (start, end) in self.spans().items():
            if start <= event.x < end:
                event.stop()
                self.post_message(self.Chosen(self, tab))
                return
