"""The run list at any terminal size: names that fit and stay told apart
(seed sweeps, CJK, emoji, hostile text), the name pinned while the other
columns scroll sideways, the whole name on the detail line, and numbers that
are never shown wrong."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from textual.widgets import Static

import trackui
from trackui.store.queries import Store
from trackui.tui.config import ColumnMemory
from trackui.tui.runs_table import RunsTable

from ..conftest import FIXED_NOW
from .helpers import build, screen_text
from .test_runs_screen import column, labels, press, running

pytestmark = pytest.mark.anyio

PREFIX = "yolov8-large-coco-pretrained-augment-mosaic-lr0.01"  # 50 characters
SWEEP = [f"{PREFIX}-seed{i}" for i in (1, 2, 3)]
ODD = ["训练运行-学习率-0.01-批次64", "🚀-rocket-run-🔥-final", "opt[/x] [bold]red\x1b[31m"]

#: values a param or a metric may hold: tiny, huge, negative, many digits
VALUES: list[float | int] = [
    1e-300,
    -1e-300,
    1.234567e-300,
    5e-05,
    -5.3e-05,
    0.5166,
    0.0034,
    123456789.123,
    -9.87654321e300,
    1e300,
    3,
    -42,
    2**53 + 1,
    1.5e-7,
    -0.000123456789,
]
_NUMBER = re.compile(r"^-?(\d+)(\.(\d+))?(e([+-]\d+))?$")


def add_runs(root: Path, names: list[str], values: list[float | int] | None = None) -> None:
    for i, name in enumerate(names):
        value = values[i] if values else i
        config = {"v": value, **{f"p{k}": k * 0.001 for k in range(8)}}
        with trackui.init(
            project="sweep", name=name, dir=root, config=config, console=False
        ) as run:
            run.log({"m": value})


def half_unit(text: str) -> float:
    """Half a unit in the last digit ``text`` shows: how far the value may be."""
    match = _NUMBER.match(text)
    assert match, f"not a whole number: {text!r}"
    decimals = len(match.group(3) or "")
    exponent = int(match.group(5) or 0)
    return 0.5 * 10.0 ** (exponent - decimals)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_every_number_in_the_run_list_is_true(
    fixture_store: Path, size: tuple[int, int]
) -> None:
    names = [f"n{i:02d}" for i in range(len(VALUES))]
    add_runs(fixture_store, names, VALUES)
    with Store(fixture_store, clock=lambda: FIXED_NOW) as store:
        ColumnMemory().save(store.root, ["v", "max(m)", "last(m)"])
        app = build(store)
        async with running(app, size):
            by_name = dict(zip(column(app, "name"), range(100)))
            for key in ("col:v", "col:max(m)", "col:last(m)"):
                shown = column(app, key)
                for name, value in zip(names, VALUES):
                    text = shown[by_name[name]]
                    assert not re.search(r"(e[+-]?|\.)$", text), text  # no cut exponent
                    parsed = float(text)
                    assert math.copysign(1, parsed) == math.copysign(1, value), text
                    assert abs(parsed - value) <= half_unit(text) * (1 + 1e-9), (text, value)


async def test_a_seed_sweep_shows_three_different_names_at_80x24(fixture_store: Path) -> None:
    add_runs(fixture_store, SWEEP)
    with Store(fixture_store, clock=lambda: FIXED_NOW) as store:
        app = build(store)
        async with running(app, (80, 24)):
            shown = column(app, "name")[:3]
            assert len(set(shown)) == 3
            assert [s[-5:] for s in shown] == ["seed3", "seed2", "seed1"]
            width = app.screen.query_one(RunsTable).name_width
            assert width is not None and all(cell_len(s) <= width for s in shown)
            text = screen_text(app.screen)
            assert all(s in text for s in shown)


async def test_the_name_column_follows_the_terminal_width(fixture_store: Path) -> None:
    add_runs(fixture_store, SWEEP)
    widths = {}
    for size in ((80, 24), (120, 40), (200, 40)):
        with Store(fixture_store, clock=lambda: FIXED_NOW) as store:
            app = build(store)
            async with running(app, size):
                widths[size[0]] = app.screen.query_one(RunsTable).name_width
                if size[0] == 200:  # room for the whole name
                    assert column(app, "name")[0] == SWEEP[-1]
    assert widths[80] < widths[120] <= widths[200]
    assert widths[120] != 32 and widths[200] == len(SWEEP[0])


async def test_wide_and_hostile_names_keep_every_row_in_its_cells(fixture_store: Path) -> None:
    add_runs(fixture_store, [*SWEEP, *ODD])
    with Store(fixture_store, clock=lambda: FIXED_NOW) as store:
        app = build(store)
        for size in ((80, 24), (120, 40)):
            async with running(app, size):
                lines = screen_text(app.screen).splitlines()
                assert all(cell_len(line) == size[0] for line in lines)
                text = "\n".join(lines)
                assert "训练运行" in text and "🚀" in text
                assert "opt[/x] [bold]red\\x1b[31m" in text  # the escape shown, never sent
                assert "\x1b" not in text
                # the status column lines up on every run row, wide names or not
                starts = {line.index("finished") for line in lines if "✔ finished" in line}
                assert len(starts) == 1
            app = build(store)


def detail(app: Any) -> str:
    return str(app.screen.query_one("#run-detail", Static).render())


async def test_the_name_stays_pinned_while_columns_scroll_sideways(fixture_store: Path) -> None:
    add_runs(fixture_store, SWEEP)
    with Store(fixture_store, clock=lambda: FIXED_NOW) as store:
        ColumnMemory().save(store.root, [f"p{k}" for k in range(8)])
        app = build(store)
        async with running(app, (80, 24)) as pilot:
            table = app.screen.query_one(RunsTable)
            name = column(app, "name")[0]
            assert "p7" not in screen_text(app.screen).splitlines()[0]
            await press(pilot, *["l"] * 12)  # to the last column, duration
            assert table.current_column == "duration"
            assert table.scroll_x > 0
            header, first = screen_text(app.screen).splitlines()[:2]
            assert "duration" in header and "name" in header and "status" in header
            assert name in first  # still on screen
            await press(pilot, *["left"] * 14)
            assert table.current_column == "mark" and table.scroll_x == 0


async def test_the_detail_line_shows_the_whole_name_of_the_cursor_run(
    fixture_store: Path,
) -> None:
    add_runs(fixture_store, SWEEP)
    with Store(fixture_store, clock=lambda: FIXED_NOW) as store:
        app = build(store)
        async with running(app, (80, 24)) as pilot:
            assert column(app, "name")[0] != SWEEP[2]  # shortened in the column
            assert f"sweep/{SWEEP[2]}" in detail(app)
            await press(pilot, "j")
            assert f"sweep/{SWEEP[1]}" in detail(app)


@pytest.mark.parametrize("keys", [(), ("j", "j"), ("g",)])
async def test_a_run_that_appears_keeps_the_cursor_on_its_run(
    store: Store, fixture_store: Path, keys: tuple[str, ...]
) -> None:
    app = build(store)
    async with running(app) as pilot:
        await press(pilot, *keys)
        table = app.screen.query_one(RunsTable)
        before, row = table.current_key, table.cursor_row
        with trackui.init(project="cls", name="new", dir=fixture_store, console=False) as run:
            run.log({"acc": 0.99})
        await press(pilot, "r")
        assert "new" in column(app, "name")
        assert table.current_key == before
        assert table.cursor_row == row + 1  # the new run came in above it
        assert "name" in labels(app)


async def test_a_new_page_builds_only_its_own_rows(
    fixture_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trackui.tui.config import TuiConfig
    from trackui.tui.runs_screen import RunsScreen

    add_runs(fixture_store, [f"bulk-{i:02d}" for i in range(25)])
    built: list[int] = []
    original = RunsScreen._rows

    def spy(self: RunsScreen, runs: Any, previous: Any = None) -> Any:
        built.append(len(runs))
        return original(self, runs, previous)

    monkeypatch.setattr(RunsScreen, "_rows", spy)
    with Store(fixture_store, clock=lambda: FIXED_NOW) as store:
        app = build(store, TuiConfig(page_size=10))
        async with running(app, (80, 24)) as pilot:
            assert len(column(app, "name")) == 10
            built.clear()  # (the first page was built twice: then came the default column)
            await press(pilot, *["j"] * 8)  # near the end of the first page
            assert len(column(app, "name")) == 20
            assert built == [10]  # the second page alone, not all twenty
