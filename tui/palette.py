"""How runs are told apart on screen: a colour AND a marker per run, by its
position in the view (run 1, run 2, …), never by a hash of its id.

Colours come from a palette chosen for the terminal's colour depth:

- truecolor: Tableau 10 (made to stay distinct for colour-blind readers);
- 256 colours: the nearest xterm-256 entries of the same ten colours (the
  exact palette values, so the terminal's downgrade keeps them apart);
- 16 colours: the twelve ANSI colours that are neither black, white nor grey
  (those vanish on one background or the other), the six most distinct hues
  first. They are given as the exact RGB of Rich's standard palette, so the
  downgrade to 16 colours lands on exactly that ANSI colour.

Every run also gets its own marker (the character its line is drawn with),
so ``NO_COLOR``, monochrome terminals and colour-blind users can follow the
lines: the first 38 runs have 38 different markers. The legend, the summary
table and the params diff show the run's number and marker, the same as the
chart.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

#: Tableau 10 (2016 version), in its own order.
TRUECOLOR: tuple[str, ...] = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
#: The same ten as xterm-256 entries (67, 208, 167, 109, 71, 221, 139, 217, 137, 145).
EIGHT_BIT: tuple[str, ...] = (
    "#5f87af",
    "#ff8700",
    "#d75f5f",
    "#87afaf",
    "#5faf5f",
    "#ffd75f",
    "#af87af",
    "#ffafaf",
    "#af875f",
    "#afafaf",
)
#: ANSI colour numbers, the most distinct first: bright blue, yellow, green,
#: red, magenta, cyan, then the other brightness of each, dark blue last
#: (hardest to read on a dark background).
ANSI_ORDER: tuple[int, ...] = (12, 3, 2, 1, 5, 6, 11, 10, 9, 13, 14, 4)
#: Rich's standard palette (what a 16-colour terminal is matched against).
_STANDARD_RGB: dict[int, str] = {
    1: "#aa0000",
    2: "#00aa00",
    3: "#aa5500",
    4: "#0000aa",
    5: "#aa00aa",
    6: "#00aaaa",
    9: "#ff5555",
    10: "#55ff55",
    11: "#ffff55",
    12: "#5555ff",
    13: "#ff55ff",
    14: "#55ffff",
}
SIXTEEN: tuple[str, ...] = tuple(_STANDARD_RGB[n] for n in ANSI_ORDER)
#: The grey raw (unsmoothed) lines are drawn in where a dimmed colour would
#: fall onto another run's colour (16 colours).
RAW_GREY_16 = "#555555"

#: plotext markers, one per run: braille (the finest line) first, then ASCII
#: symbols and letters, all one cell wide in every terminal.
MARKERS: tuple[str, ...] = (
    "braille",
    "•",
    "+",
    "x",
    "*",
    "o",
    "#",
    "@",
    "%",
    "=",
    "~",
    "^",
    *string.ascii_uppercase,
)
#: What the legend and the tables show for a marker.
GLYPHS: dict[str, str] = {"braille": "⣿"}

DEPTHS = ("16", "256", "truecolor")
#: NO_COLOR: every run in the terminal's own foreground (a colour turned to
#: grey by Textual's monochrome filter can land on the background: black on
#: black), told apart by its marker alone.
MONO = "mono"


def depth_of(color_system: str | None, *, no_color: bool = False) -> str:
    """The palette for a Rich colour system name (``standard``, ``256``,
    ``truecolor``, ``windows``; None when colour is off), or ``mono``."""
    if no_color:
        return MONO
    if color_system == "truecolor":
        return "truecolor"
    if color_system == "256":
        return "256"
    return "16"


def palette(depth: str) -> tuple[str, ...]:
    return {"truecolor": TRUECOLOR, "256": EIGHT_BIT, MONO: ("default",)}.get(depth, SIXTEEN)


@dataclass(frozen=True)
class RunStyle:
    """How one run is drawn and labelled."""

    number: int  # 1-based position in the comparison
    colour: str  # "#rrggbb", or "default" (NO_COLOR)
    marker: str  # a plotext marker

    @property
    def glyph(self) -> str:
        """The marker as one character, for legends and table headers."""
        return GLYPHS.get(self.marker, self.marker)

    @property
    def tag(self) -> str:
        """``3+``: the number and the marker, as every table shows the run."""
        return f"{self.number}{self.glyph}"


def style_for(position: int, depth: str = "truecolor") -> RunStyle:
    """The style of the run at ``position`` (0-based) in a comparison. Colours
    repeat after the palette's length; markers only after 38 runs."""
    colours = palette(depth)
    return RunStyle(
        position + 1, colours[position % len(colours)], MARKERS[position % len(MARKERS)]
    )


def styles(count: int, depth: str = "truecolor") -> list[RunStyle]:
    return [style_for(i, depth) for i in range(count)]
