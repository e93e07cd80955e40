"""The boxes a run list spans: which are open (the box column shows only
while there are several), and a line for each box that does not answer
("gpu2 unreachable since 12:03 — ssh: connect to host … refused"), gone
once it answers again (``BoxesLine``). Built from ``Store.sources()``'s
states; no store call here (the run list's worker fetched them with its page)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import Static

from . import names
from .safe import clean

#: at most this many unreachable boxes get a line each; the rest are counted
SHOWN_UNREACHABLE = 3


def open_boxes(sources: Sequence[Any]) -> list[str]:
    """The distinct boxes of ``sources``, in the order they were named."""
    return list(dict.fromkeys(str(getattr(s, "box", None) or "local") for s in sources))


def several_boxes(sources: Sequence[Any]) -> bool:
    return len(open_boxes(sources)) > 1


def since_text(since: float | None, now: float) -> str:
    """``12:03`` today, ``Dec 01 12:03`` before (local time)."""
    if since is None:
        return ""
    then = time.localtime(since)
    same_day = time.localtime(now)[:3] == then[:3]
    return time.strftime("%H:%M" if same_day else "%b %d %H:%M", then)


def unreachable(sources: Sequence[Any]) -> list[Any]:
    """One source per box that does not answer (the first of its locations)."""
    out: dict[str, Any] = {}
    for s in sources:
        if getattr(s, "state", None) == "unreachable":
            out.setdefault(str(getattr(s, "box", None) or "local"), s)
    return list(out.values())


def unreachable_text(sources: Sequence[Any], width: int, now: float) -> Text:
    """A line per box that does not answer, each at most ``width`` cells;
    empty when every box answers."""
    down = unreachable(sources)
    text = Text(no_wrap=True, overflow="ellipsis")
    for i, s in enumerate(down[:SHOWN_UNREACHABLE]):
        if i:
            text.append("\n")
        when = since_text(getattr(s, "since", None), now)
        head = f"✖ {clean(s.box)} unreachable" + (f" since {when}" if when else "")
        error = clean(getattr(s, "error", None) or "")
        runs = getattr(s, "runs", 0) or 0
        tail = f" · {runs} run{'' if runs == 1 else 's'} as last read" if runs else ""
        room = max(8, width - names.cells(head) - names.cells(tail) - 3)
        text.append(head, style="bold")
        if error:
            text.append(" — " + names.fit(error, room))
        text.append(tail, style="dim")
    if len(down) > SHOWN_UNREACHABLE:
        more = len(down) - SHOWN_UNREACHABLE
        text.append(f"\n… and {more} more unreachable box{'' if more == 1 else 'es'}", style="dim")
    return text


class BoxesLine(Static):
    """Above the run list's status line: a line for each box that does not
    answer; hidden while every box does."""

    DEFAULT_CSS = """
    BoxesLine {
        display: none;
        height: auto;
        max-height: 4;
        padding: 0 1;
        color: $text-warning;
    }
    BoxesLine.-shown {
        display: block;
    }
    """

    def show(self, sources: Sequence[Any], width: int, now: float) -> None:
        text = unreachable_text(sources, width, now)
        self.update(text)
        self.set_class(bool(text.plain), "-shown")
