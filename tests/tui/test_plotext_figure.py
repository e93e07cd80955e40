"""plotext's figure loaded alone (tui/plotext_figure.py): the chart's
figure comes without plotext's whole API and documentation, draws (with
its two faster helpers) the same cells as plotext imported the usual way,
and leaves the package whole for anything else in the process that imports
it."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

DRAW = """
import math
fig = FIGURE()
fig.plot_size(60, 15)
fig.theme("clear")
xs = [k * 2.5 for k in range(200)]
fig.plot(xs, [math.exp(-x / 150) + 0.05 * math.sin(x) for x in xs], marker="braille", color=16)
fig.plot([0, 1, 2, 3, 4], [3.0, 1.5, 2.5, 0.5, 1.0], marker="braille", color=176)
fig.plot([0, 2, 4], [0.0, 2.0, 4.0], marker="hd", color=177)
fig.xticks([0, 200, 400], ["0", "200", "400"])  # apart: plotext keeps one of a column's labels by set order
fig.title("loss")
print(repr(fig.build()))
"""

# the figure loaded alone, drawn with the faster helpers ...
ALONE = "from trackui.tui.plotext_figure import figure_class\nFIGURE = figure_class()\n" + DRAW
# ... and plotext as it comes, its own helpers and all
USUAL = "import plotext\nFIGURE = plotext._figure._figure_class\n" + DRAW


def run(code: str) -> str:
    # one hash seed for every run: plotext dedups some labels through sets
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return out.stdout


def test_the_figure_comes_without_plotexts_api_and_documentation() -> None:
    loaded = run(
        "import sys\n"
        "from trackui.tui.plotext_figure import figure_class\n"
        "figure_class()\n"
        "print(sorted(m for m in sys.modules if m.startswith('plotext')))\n"
    )
    assert "'plotext._figure'" in loaded
    assert "plotext._core" not in loaded and "plotext._doc'" not in loaded


def test_the_figure_alone_draws_what_plotext_draws() -> None:
    alone = run(ALONE)
    assert any(0x2800 < ord(c) <= 0x28FF for c in alone)  # the braille line was drawn
    assert alone == run(USUAL)


def test_plotext_imported_after_it_is_whole() -> None:
    out = run(
        "from trackui.tui.plotext_figure import figure_class\n"
        "figure_class()\n"
        "import plotext\n"
        "from plotext import __version__\n"
        "from plotext import *\n"
        "plotext.clear_figure()\n"
        "plotext.plotsize(30, 8)\n"
        "plotext.plot([1, 2, 3], [3, 1, 2])\n"
        "print(__version__ == plotext.__version__, len(plotext.build()) > 100, 'bar' in dir())\n"
        "import sys; print(type(sys.modules['plotext']).__name__)\n"
    )
    assert out.split() == ["True", "True", "True", "module"]


POINT = st.one_of(
    st.none(),
    st.just(math.nan),
    st.integers(-5, 60),
    st.floats(-5, 60, allow_nan=False),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(POINT, POINT), min_size=1, max_size=80),
    st.sampled_from([1, 2]),
    st.sampled_from([1, 2, 3, 4]),
    st.booleans(),
)
def test_the_cell_grouping_gives_what_plotexts_gives(
    points: list[tuple[Any, Any]], fx: int, fy: int, mixed: bool
) -> None:
    """``_hd_group`` (the braille cells of a line's points) against plotext's
    own, on points as plotext hands them over (canvas cells, None, NaN),
    with one marker's cell size or several (handed to plotext's own)."""
    from plotext import _utility

    from trackui.tui.plotext_figure import _hd_group, figure_class

    figure_class()
    assert _utility.hd_group is _hd_group  # in place for every chart
    x, y = [p[0] for p in points], [p[1] for p in points]
    xf, yf = [fx] * len(x), [fy] * len(x)
    if mixed:
        xf[0] = 3 - fx

    def outcome(group: Any) -> str:
        try:
            return repr(group(list(x), list(y), list(xf), list(yf)))
        except Exception as exc:  # plotext's own fails on some mixed sizes: so must this
            return type(exc).__name__

    assert outcome(_hd_group) == outcome(_hd_group.__wrapped__)  # type: ignore[attr-defined]


CELL = st.one_of(st.none(), st.just(math.nan), st.integers(-20, 120), st.floats(-10, 100))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(CELL, CELL, st.integers(0, 255)), min_size=1, max_size=40))
def test_the_lines_between_points_are_plotexts(points: list[tuple[Any, Any, int]]) -> None:
    """``_get_lines`` (the canvas points joining each point to the next,
    with their markers, colours and styles) against plotext's own."""
    from plotext import _utility

    from trackui.tui.plotext_figure import _get_lines, figure_class

    figure_class()
    assert _utility.get_lines is _get_lines
    x, y = [p[0] for p in points], [p[1] for p in points]
    other = (["braille"] * len(x), [p[2] for p in points], ["default"] * len(x))

    def outcome(lines: Any) -> str:
        try:
            return repr(lines(list(x), list(y), *other))
        except Exception as exc:
            return type(exc).__name__

    assert outcome(_get_lines) == outcome(_get_lines.__wrapped__)  # type: ignore[attr-defined]
