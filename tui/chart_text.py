"""plotext's figure as Rich text, read from its cells (``figure_text``).

plotext builds a chart as a matrix of cells (a character and its colours
each) and then writes it out as one string of escape codes; parsed back by
``Text.from_ansi``, that was most of a chart's drawing time. Here the
matrix is read directly: a run of cells with the same colours becomes one
span, a line's colour slot takes the style the chart gave it, and any other
colour (axes, ticks) the style its escape codes would have parsed to.
"""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text


def figure_text(fig: Any, styles: dict[int, Style]) -> Text:
    """The figure as Rich text, read from plotext's cell matrix: what
    ``Text.from_ansi(fig.build())`` gives, without writing every cell's
    colours out as escape codes and parsing them back (most of a chart's
    drawing time). A run of cells with the same colours is one span; a
    colour number in ``styles`` (a line's slot) takes that style."""
    fig._set_sizes()
    fig._build_matrix()
    matrix = fig.monitor.matrix
    text = Text(no_wrap=True, end="")
    append = text.append
    cols = matrix.cols
    for row in reversed(matrix.Rows):
        markers, fg, st, bg = (
            matrix.marker[row],
            matrix.fullground[row],
            matrix.style[row],
            matrix.background[row],
        )
        start = 0
        for col in range(1, cols + 1):
            if (
                col < cols
                and fg[col] == fg[start]
                and st[col] == st[start]
                and bg[col] == bg[start]
            ):
                continue
            append(
                "".join(markers[start:col]), _cell_style(fg[start], st[start], bg[start], styles)
            )
            start = col
        append("\n")
    return text


def _cell_style(fg: Any, style: Any, bg: Any, styles: dict[int, Style]) -> Style | None:
    """The Rich style of plotext's colours (``fg``: a line's slot number, a
    name or an RGB triple), as its escape codes would parse."""
    if isinstance(fg, int) and fg in styles:
        return styles[fg]
    if fg == style == bg == "default":  # plotext's "no colour": the axes, the ticks
        return None
    key = (repr(fg), repr(style), repr(bg))
    found = _ANSI_STYLES.get(key, _MISSING)
    if found is _MISSING:
        from plotext import _utility as ut

        parsed = Text.from_ansi(ut.colors_to_ansi(fg, style, bg) + "x" + ut.ansi_end)
        found = parsed.spans[0].style if parsed.spans else None
        _ANSI_STYLES[key] = found
    if isinstance(found, Style) and found.color is not None:
        return styles.get(found.color.number, found)  # type: ignore[arg-type]
    return found  # type: ignore[return-value]


_MISSING = object()
#: plotext's colours (the non-line ones: axes, ticks) to Rich styles, parsed once
_ANSI_STYLES: dict[tuple[str, str, str], Any] = {}
