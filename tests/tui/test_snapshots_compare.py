"""Snapshots of the Compare screen, and the same screens checked as text.

Snapshots: the fixture store's three detect runs at 120×40; and written
sweeps (fixed ids and times, tests/tui/compare_runs.py) of 2, 7 and 20 runs
at 80×24 with the 16-colour palette (the console told it is a TERM=xterm
terminal: snapshots record colours as truecolor, so the 16-colour output
itself is checked in tests/e2e/test_compare_e2e.py) and at 120×40 with 256
colours. Names share a 40-character prefix and differ at the end, or are
CJK/emoji, or carry markup, escapes, bidi and zero-width characters.

The text checks, at the same sizes: every run is listed in the legend with
its own number and marker and a name told apart from the others; every row
of the chart frame keeps its right border; the x axis is drawn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from rich.color import ColorSystem
from textual.pilot import Pilot

from trackui.store.queries import Store
from trackui.tui.app import TrackuiApp
from trackui.tui.compare_screen import CompareScreen
from trackui.tui.palette import GLYPHS, MARKERS

from ..conftest import FIXED_NOW
from .compare_runs import sweep, sweep_names
from .helpers import SNAPSHOT_CONFIG, build, ids_by_name, settle

SYSTEMS = {"16": ColorSystem.STANDARD, "256": ColorSystem.EIGHT_BIT}
#: (runs, names, size, colours)
CASES = [
    (2, "long", (80, 24), "16"),
    (7, "mixed", (80, 24), "16"),
    (20, "mixed", (80, 24), "16"),
    (2, "long", (120, 40), "256"),
    (7, "mixed", (120, 40), "256"),
    (20, "cjk", (120, 40), "256"),
]


def case_id(case: tuple[int, str, tuple[int, int], str]) -> str:
    n, names, (w, h), colours = case
    return f"{n}-{names}-{w}x{h}-{colours}"


def test_compare_120x40(store: Store, snap_compare: Any) -> None:
    ids = ids_by_name(store)
    run_ids = [ids["yolo-sgd"], ids["yolo-adamw"], ids["yolo-oom"]]
    app = build(store, SNAPSHOT_CONFIG)
    app.console._color_system = SYSTEMS["256"]  # not whatever $TERM the tests run under

    async def open_compare(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.app.push_screen(CompareScreen(run_ids))
        await settle(pilot)

    assert snap_compare(app, terminal_size=(120, 40), run_before=open_compare)


def sweep_app(tmp_path: Path, n: int, names: str, colours: str) -> tuple[TrackuiApp, list[str]]:
    root = tmp_path / "sweep"
    run_ids = sweep(root, n, names=sweep_names(names, n), differ=12)
    store = Store(root, clock=lambda: FIXED_NOW)
    app = build(store, SNAPSHOT_CONFIG)
    app.console._color_system = SYSTEMS[colours]  # what TERM=xterm / xterm-256color detect
    return app, run_ids


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_compare_sweep_snapshot(
    tmp_path: Path, snap_compare: Any, case: tuple[int, str, tuple[int, int], str]
) -> None:
    n, names, size, colours = case
    app, run_ids = sweep_app(tmp_path, n, names, colours)

    async def open_compare(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.app.push_screen(CompareScreen(run_ids))
        await settle(pilot)

    try:
        assert snap_compare(app, terminal_size=size, run_before=open_compare)
    finally:
        app.store.close()


def chart_rows(screen: CompareScreen) -> list[str]:
    """The chart widget's rows as drawn on screen, cut by cells (not characters)."""
    region = screen.chart.region
    strips = screen._compositor.render_strips()
    return [strips[y].crop(region.x, region.right).text for y in range(region.y, region.bottom)]


@pytest.mark.anyio
@pytest.mark.parametrize("case", CASES, ids=case_id)
async def test_compare_sweep_as_text(
    tmp_path: Path, case: tuple[int, str, tuple[int, int], str]
) -> None:
    n, names, size, colours = case
    app, run_ids = sweep_app(tmp_path, n, names, colours)
    try:
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            screen = CompareScreen(run_ids)
            await app.push_screen(screen)
            await settle(pilot)
            rows = chart_rows(screen)
            width = screen.chart.region.width
            # the frame: every row keeps both borders and its width in cells
            assert rows[0].startswith("╭") and rows[0].endswith("╮")
            assert rows[-1].startswith("╰") and rows[-1].endswith("╯")
            for row in rows[1:-1]:
                assert row.startswith("│") and row.endswith("│"), row
                assert cell_len(row) == width
            # the x axis: its line and its tick labels
            axis = [i for i, row in enumerate(rows) if "└" in row and "┘" in row]
            assert axis, "\n".join(rows)
            assert any(ch.isdigit() for ch in rows[axis[0] + 1])
            # every run identified: its number and marker in the legend, with a
            # name told apart from every other run's
            legend = screen.query_one("#legend-lines").render()
            lines = str(legend).splitlines()
            assert len(lines) == n
            shown_names = []
            for i, line in enumerate(lines):
                marker = MARKERS[i]
                tag = f"{i + 1}{GLYPHS.get(marker, marker)} "
                assert tag in line, line
                shown_names.append(line.split(tag, 1)[1].removesuffix(" ◆").strip())
            assert len(set(shown_names)) == n, shown_names
            # the chart draws every run with its own marker
            plot = screen.chart.last_plot
            assert plot is not None and len(plot.runs) == n
            assert len({run.marker for run in plot.runs}) == n
    finally:
        app.store.close()
