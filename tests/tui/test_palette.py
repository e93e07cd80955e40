"""Runs told apart by position: colour and marker per run, for every colour
depth, and with no colour at all (NO_COLOR)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.color import Color, ColorSystem

from trackui.store.queries import Store
from trackui.tui.palette import (
    DEPTHS,
    EIGHT_BIT,
    MARKERS,
    SIXTEEN,
    TRUECOLOR,
    depth_of,
    style_for,
    styles,
)

from ..conftest import FIXED_NOW
from .compare_runs import sweep, sweep_names
from .helpers import build, settle

#: ANSI colours that vanish on a dark or a light background
INVISIBLE = {0, 7, 8, 15}


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("count", range(2, 13))
def test_no_two_runs_share_colour_and_marker(depth: str, count: int) -> None:
    runs = styles(count, depth)
    assert len({(s.colour, s.marker) for s in runs}) == count
    # without colour (NO_COLOR, monochrome) the markers alone tell them apart
    assert len({s.marker for s in runs}) == count
    assert len({s.glyph for s in runs}) == count
    assert [s.number for s in runs] == list(range(1, count + 1))


def test_markers_stay_distinct_well_past_twelve_runs() -> None:
    assert len(set(MARKERS)) == len(MARKERS) >= 38
    assert len({style_for(i).marker for i in range(38)}) == 38


def test_sixteen_colour_palette_lands_on_twelve_distinct_visible_ansi_colours() -> None:
    numbers = [Color.parse(c).downgrade(ColorSystem.STANDARD).number for c in SIXTEEN]
    assert len(set(numbers)) == len(SIXTEEN) == 12
    assert not set(numbers) & INVISIBLE
    # the first six, used by the smallest comparisons, are six different hues
    assert {n % 8 for n in numbers[:6]} == {1, 2, 3, 4, 5, 6}


def test_256_and_truecolor_palettes_stay_apart_when_downgraded() -> None:
    eight = [Color.parse(c).downgrade(ColorSystem.EIGHT_BIT).number for c in EIGHT_BIT]
    assert len(set(eight)) == len(EIGHT_BIT)
    from_true = [Color.parse(c).downgrade(ColorSystem.EIGHT_BIT).number for c in TRUECOLOR]
    assert len(set(from_true)) == len(TRUECOLOR)


def test_depth_follows_the_terminal() -> None:
    assert depth_of("truecolor") == "truecolor"
    assert depth_of("256") == "256"
    assert depth_of("standard") == "16"
    assert depth_of("windows") == "16"
    assert depth_of(None) == "16"
    assert depth_of("truecolor", no_color=True) == "mono"


@pytest.mark.anyio
async def test_no_color_every_run_keeps_its_own_marker_in_chart_and_legend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trackui.tui.compare_screen import CompareScreen

    monkeypatch.setenv("NO_COLOR", "1")
    root = tmp_path / "sweep"
    run_ids = sweep(root, 12, names=sweep_names("plain", 12))
    with Store(root, clock=lambda: FIXED_NOW) as store:
        app = build(store)
        assert app.no_color
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            screen = CompareScreen(run_ids)
            await app.push_screen(screen)
            await settle(pilot)
            plot = screen.chart.last_plot
            assert plot is not None
            assert len({run.marker for run in plot.runs}) == 12
            # no colour at all: Textual's monochrome filter would turn some
            # colours to black on black; the terminal's foreground is always seen
            assert {run.colour for run in plot.runs} == {"default"}
            for span in screen.chart.render().spans:
                color = getattr(span.style, "color", None)
                assert color is None or color.is_default, span
            drawn = screen.chart.render().plain
            legend = str(screen.query_one("#legend-lines").render())
            for i, run in enumerate(plot.runs):
                assert f"{i + 1}{run.style.glyph} " in legend
                if run.marker != "braille":
                    assert run.marker in drawn
