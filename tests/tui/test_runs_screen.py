"""The Runs screen driven through Pilot: every key, and what the user then
sees in the table, the status line, the filter bar and the pushed screens."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.command import CommandPalette
from textual.widgets import DataTable, Input, Static

import trackui
from trackui.store.catalog import RefreshStats
from trackui.store.queries import Store
from trackui.tui.app import TrackuiApp
from trackui.tui.column_picker import ColumnPicker
from trackui.tui.config import ColumnMemory, TuiConfig
from trackui.tui.help_screen import HelpScreen
from trackui.tui.messages import StoreRefreshed
from trackui.tui.runs_screen import RunsLoaded, RunsPage, RunsScreen
from trackui.tui.runs_table import RowTag, RunsTable

from ..conftest import FIXED_NOW
from .helpers import WAIT_S, build, ids_by_name, settle

pytestmark = pytest.mark.anyio

NEWEST_FIRST = ["resnet-crash", "resnet-kill", "yolo-oom", "yolo-adamw", "yolo-sgd"]
MARKUP_NAME = "opt[/x] [bold]red\x1b[31m"
MARKUP_SHOWN = "opt[/x] [bold]red\\x1b[31m"  # the escape made visible, never sent


async def measured(pilot: Any) -> None:
    """Settled, and every table on screen has sized its columns for its rows:
    DataTable measures on an Idle event, which a loaded machine sends late.
    Three quiet checks in a row, since a late resize may rebuild the table."""
    await settle(pilot)
    quiet = 0
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        tables = [t for s in pilot.app.screen_stack for t in s.query(DataTable)]
        busy = any(t._require_update_dimensions or t._updated_cells for t in tables)
        quiet = 0 if busy else quiet + 1
        if quiet >= 3:
            return
        await pilot.pause(0.02)
    raise AssertionError("a table never measured its rows")


@asynccontextmanager
async def running(app: TrackuiApp, size: tuple[int, int] = (120, 40)) -> AsyncIterator[Any]:
    async with app.run_test(size=size) as pilot:
        await measured(pilot)
        yield pilot


async def press(pilot: Any, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await measured(pilot)


def text_of(cell: Any) -> str:
    if isinstance(cell, Text):
        return cell.plain
    if isinstance(cell, RowTag):
        return cell.__rich__().plain
    return str(cell)


def table(app: TrackuiApp) -> RunsTable:
    return app.screen.query_one(RunsTable)


def rows(app: TrackuiApp) -> list[list[str]]:
    t = table(app)
    return [[text_of(c) for c in t.get_row_at(i)] for i in range(t.row_count)]


def column(app: TrackuiApp, key: str) -> list[str]:
    t = table(app)
    index = t.get_column_index(key)
    return [r[index] for r in rows(app)]


def labels(app: TrackuiApp) -> list[str]:
    return [c.label.plain for c in table(app).ordered_columns]


def status_line(app: TrackuiApp) -> str:
    return str(app.screen.query_one("#runs-status", Static).render())


def current_name(app: TrackuiApp) -> str:
    t = table(app)
    return column(app, "name")[t.cursor_row]


# -- what the first paint shows ----------------------------------------------


async def test_first_paint_lists_runs_newest_first(store: Store) -> None:
    app = build(store)
    async with running(app):
        assert isinstance(app.screen, RunsScreen)
        assert column(app, "name") == NEWEST_FIRST
        assert column(app, "status") == [
            "✝ crashed",
            "■ killed",
            "✖ failed",
            "✔ finished",
            "✔ finished",
        ]
        assert column(app, "project") == ["cls", "cls", "detect", "detect", "detect"]
        assert set(column(app, "created")) == {"23h ago"}  # the app's clock, not the wall's
        assert all(d.endswith("s") for d in column(app, "duration"))
        assert labels(app) == [
            " ",
            "status",
            "name",
            "mAP50-95",  # each project's primary metric at its best, out of the box
            "acc",
            "project",
            "created ▼",
            "duration",
        ]
        assert column(app, "col:max(metrics/mAP50-95(B))") == ["", "", "0.3783", "0.4332", "0.434"]
        assert column(app, "col:max(acc)") == ["0.9601", "0.9502", "", "", ""]
        assert status_line(app) == "5 runs"
        assert current_name(app) == "resnet-crash"
        assert table(app).current_column == "name"


async def test_j_k_arrows_and_h_l_move_the_cursor(store: Store) -> None:
    app = build(store)
    async with running(app) as pilot:
        await press(pilot, "j", "j")
        assert current_name(app) == "yolo-oom"
        await press(pilot, "k")
        assert current_name(app) == "resnet-kill"
        await press(pilot, "down", "down", "down")
        assert current_name(app) == "yolo-sgd"
        await press(pilot, "up")
        assert current_name(app) == "yolo-adamw"
        await press(pilot, "l")
        assert table(app).current_column == "col:max(metrics/mAP50-95(B))"
        await press(pilot, "h", "h", "left")
        assert table(app).current_column == "mark"
        await press(pilot, "right")
        assert table(app).current_column == "status"


# -- sorting -------------------------------------------------------------------


async def test_s_cycles_ascending_descending_off_on_the_current_column(store: Store) -> None:
    app = build(store)
    async with running(app) as pilot:
        await press(pilot, "s")
        assert column(app, "name") == sorted(NEWEST_FIRST)
        assert "name ▲" in labels(app)
        assert "sorted by name ▲" in status_line(app)
        await press(pilot, "s")
        assert column(app, "name") == sorted(NEWEST_FIRST, reverse=True)
        assert "name ▼" in labels(app)
        await press(pilot, "s")
        assert column(app, "name") == NEWEST_FIRST
        assert "created ▼" in labels(app) and "name" in labels(app)
        assert "sorted" not in status_line(app)
        await press(pilot, "h", "s")  # the status column
        assert column(app, "status")[0] == "✝ crashed"
        assert column(app, "status")[-1] == "■ killed"
        assert table(app).current_column == "status"


async def test_s_on_the_mark_column_says_how_to_sort(store: Store) -> None:
    app = build(store)
    said: list[str] = []
    async with running(app) as pilot:
        app.notify = lambda message, **kw: said.append(message)  # type: ignore[method-assign]
        await press(pilot, "h", "h", "h", "s")
        assert column(app, "name") == NEWEST_FIRST
        assert said and "column" in said[0]


# -- filter --------------------------------------------------------------------


async def test_filter_bar_filters_and_a_bad_filter_keeps_the_old_rows(store: Store) -> None:
    app = build(store)
    async with running(app) as pilot:
        bar = app.screen.query_one("#filter-bar")
        assert not bar.display
        await press(pilot, "slash")
        field = app.screen.query_one("#filter-input", Input)
        assert bar.display and field.has_focus
        await pilot.press(*"project:detect")
        await press(pilot, "enter")
        assert column(app, "name") == ["yolo-oom", "yolo-adamw", "yolo-sgd"]
        assert "filter: project:detect" in status_line(app)
        assert status_line(app).startswith("3 runs")
        assert not bar.display and table(app).has_focus

        await press(pilot, "slash")
        assert field.value == "project:detect"
        field.value = ""
        await pilot.press(*"lr0 <")
        await press(pilot, "enter")
        error = app.screen.query_one("#filter-error", Static)
        assert error.display
        assert "expected a value after '<'" in str(error.render())
        assert column(app, "name") == ["yolo-oom", "yolo-adamw", "yolo-sgd"]  # kept
        assert "filter: project:detect" in status_line(app)
        assert field.has_focus  # still there to be fixed

        await press(pilot, "escape")
        assert not bar.display and not error.display
        assert column(app, "name") == ["yolo-oom", "yolo-adamw", "yolo-sgd"]
        await press(pilot, "escape")  # with the bar closed: clears the filter
        assert column(app, "name") == NEWEST_FIRST
        assert "filter" not in status_line(app)


@pytest.mark.parametrize(
    ("where", "names"),
    [
        ("max(metrics/mAP50-95(B))>0.43", ["yolo-adamw", "yolo-sgd"]),
        ("lr0<0.01 or arch=resnet50", ["resnet-crash", "yolo-adamw"]),
        ("status:killed", ["resnet-kill"]),
        ("tag:baseline and not sgd", ["yolo-adamw"]),
    ],
)
async def test_filter_expressions_from_the_bar(store: Store, where: str, names: list[str]) -> None:
    app = build(store)
    async with running(app) as pilot:
        await press(pilot, "slash")
        app.screen.query_one("#filter-input", Input).value = where
        await press(pilot, "enter")
        assert column(app, "name") == names


# -- marks, compare, open ------------------------------------------------------


async def test_space_marks_and_moves_down_x_clears(store: Store) -> None:
    app = build(store)
    async with running(app) as pilot:
        await press(pilot, "space")
        assert current_name(app) == "resnet-kill"
        await press(pilot, "j", "space")
        assert column(app, "mark") == ["●", " ", "●", " ", " "]
        assert "2 marked" in status_line(app)
        await press(pilot, "k", "space")  # unmark yolo-oom again
        assert column(app, "mark") == ["●", " ", " ", " ", " "]
        assert "1 marked" in status_line(app)
        await press(pilot, "x")
        assert column(app, "mark") == [" "] * 5
        assert "marked" not in status_line(app)


async def test_marks_survive_a_filter_and_a_sort(store: Store) -> None:
    app = build(store)
    async with running(app) as pilot:
        await press(pilot, "j", "j", "space")  # yolo-oom
        await press(pilot, "s")
        marked = [n for n, m in zip(column(app, "name"), column(app, "mark")) if m == "●"]
        assert marked == ["yolo-oom"]


async def test_c_compares_the_marked_runs(store: Store) -> None:
    from trackui.tui.compare_screen import CompareScreen

    ids = ids_by_name(store)
    app = build(store)
    async with running(app) as pilot:
        await press(pilot, "space", "j", "space")  # resnet-crash and yolo-oom
        await press(pilot, "c")
        assert isinstance(app.screen, CompareScreen)
        assert app.screen.run_ids == [ids["resnet-crash"], ids["yolo-oom"]]
        await press(pilot, "q")  # back, not quit
        assert isinstance(app.screen, RunsScreen)


async def test_c_with_one_mark_adds_the_current_run(store: Store) -> None:
    from trackui.tui.compare_screen import CompareScreen

    ids = ids_by_name(store)
    app = build(store)
    async with running(app) as pilot:
        await press(pilot, "j", "space", "j")  # mark resnet-kill, stand on yolo-adamw
        await press(pilot, "c")
        assert isinstance(app.screen, CompareScreen)
        assert app.screen.run_ids == [ids["resnet-kill"], ids["yolo-adamw"]]


async def test_c_without_two_runs_says_so_and_stays(store: Store) -> None:
    app = build(store)
    said: list[str] = []
    async with running(app) as pilot:
        app.notify = lambda message, **kw: said.append(message)  # type: ignore[method-assign]
        await press(pilot, "c")
        assert isinstance(app.screen, RunsScreen)
        await press(pilot, "space", "k", "c")  # the current run is the marked one
        assert isinstance(app.screen, RunsScreen)
        assert len(said) == 2 and "two" in said[0]


async def test_enter_opens_the_run_under_the_cursor(store: Store) -> None:
    from trackui.tui.run_screen import RunScreen

    ids = ids_by_name(store)
    app = build(store)
    async with running(app) as pilot:
        await press(pilot, "j", "j", "enter")
        assert isinstance(app.screen, RunScreen)
        assert app.screen.run_id == ids["yolo-oom"]
        await press(pilot, "escape")
        assert isinstance(app.screen, RunsScreen)
        assert current_name(app) == "yolo-oom"


# -- grouping ------------------------------------------------------------------


async def test_g_groups_by_project_with_header_rows(store: Store) -> None:
    app = build(store)
    async with running(app) as pilot:
        await press(pilot, "g")
        assert column(app, "project") == [
            "cls",
            "cls",
            "cls",
            "detect",
            "detect",
            "detect",
            "detect",
        ]
        assert column(app, "name") == [
            "2 runs",
            "resnet-crash",
            "resnet-kill",
            "3 runs",
            "yolo-oom",
            "yolo-adamw",
            "yolo-sgd",
        ]
        assert "grouped by project" in status_line(app)
        assert current_name(app) == "resnet-crash"  # the cursor kept its run

        await press(pilot, "s")  # inside each group, by name
        assert column(app, "name")[4:] == ["yolo-adamw", "yolo-oom", "yolo-sgd"]

        await press(pilot, "k", "k", "space")  # the cls header: marks its runs
        assert column(app, "mark")[:3] == ["▾", "●", "●"]
        assert "2 marked" in status_line(app)

        await press(pilot, "g")
        assert len(rows(app)) == 5
        assert "grouped" not in status_line(app)


# -- help, quit ----------------------------------------------------------------


async def test_help_lists_the_keys_of_the_screen_and_the_app(store: Store) -> None:
    app = build(store)
    async with running(app) as pilot:
        await press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = {(e.section, ", ".join(e.keys), e.description) for e in app.screen.entries}
        for row in [
            ("Runs", "/", "Filter the runs"),
            ("Runs", "s", "Sort by this column: up, down, off"),
            ("Runs", "space", "Mark or unmark this run"),
            ("Runs", "x", "Clear all marks"),
            ("Runs", "c", "Compare the marked runs"),
            ("Runs", "p", "Pick columns"),
            ("Runs", "g", "Group by project (on/off)"),
            ("Runs", "r", "Refresh now"),
            ("Runs", "esc", "Close the filter bar, or clear the filter"),
            ("Run list", "⏎", "Open this run"),
            ("Run list", "j, ↓", "Down"),
            ("Run list", "k, ↑", "Up"),
            ("Run list", "h, ←", "Column left"),
            ("Run list", "l, →", "Column right"),
            ("Run list", "pgdn", "Page down"),
            ("Everywhere", "?", "Show all keys"),
            ("Everywhere", "q", "Back, or quit on the run list"),
            ("Everywhere", "^p", "Commands"),
        ]:
            assert row in shown, row
        sections = [e.section for e in app.screen.entries]
        assert sections.index("Runs") < sections.index("Run list") < sections.index("Everywhere")
        body = str(app.screen.query_one("#help-notes", Static).render())
        assert "max(metrics/mAP50-95(B))>0.3" in body
        await press(pilot, "question_mark")
        assert isinstance(app.screen, RunsScreen)
        await press(pilot, "question_mark", "escape")
        assert isinstance(app.screen, RunsScreen)


async def test_q_goes_back_then_quits_from_the_run_list(store: Store) -> None:
    app = build(store)
    exits: list[bool] = []
    async with running(app) as pilot:
        original = app.exit

        def exit_spy(*args: Any, **kwargs: Any) -> None:
            exits.append(True)
            original(*args, **kwargs)

        app.exit = exit_spy  # type: ignore[method-assign]
        await press(pilot, "question_mark", "q")
        assert isinstance(app.screen, RunsScreen) and exits == []
        await pilot.press("q")
        assert exits == [True]


# -- columns -------------------------------------------------------------------


async def test_p_adds_a_column_that_a_new_app_on_the_store_remembers(
    store: Store, fixture_store: Path, tmp_path: Path
) -> None:
    app = build(store)
    async with running(app) as pilot:
        await press(pilot, "p")
        assert isinstance(app.screen, ColumnPicker)
        await pilot.press(*"lr0")
        await press(pilot, "down", "space")
        await pilot.press("slash")
        app.screen.query_one("#column-search", Input).value = "max(acc"
        await press(pilot, "down", "space", "escape")  # the default column, taken off
        assert isinstance(app.screen, RunsScreen)
        assert labels(app)[3:5] == ["mAP50-95", "lr0"]
        assert "acc" not in labels(app)
        assert column(app, "col:lr0") == ["", "", "0.02", "0.002", "0.01"]
        assert column(app, "col:max(metrics/mAP50-95(B))") == ["", "", "0.3783", "0.4332", "0.434"]

    again = build(store)
    async with running(again):
        assert labels(again)[3:5] == ["max(metrics/mAP50-95(B))", "lr0"]

    other_root = tmp_path / "other"
    shutil.copytree(fixture_store, other_root)
    with Store(other_root, catalog_path=tmp_path / "other.duckdb", clock=lambda: FIXED_NOW) as s:
        elsewhere = build(s)
        async with running(elsewhere):
            assert "lr0" not in labels(elsewhere)


async def test_a_remembered_column_sorts_by_s(store: Store) -> None:
    ColumnMemory().save(store.root, ["batch"])
    app = build(store)
    async with running(app) as pilot:
        await press(pilot, "l", "s")
        assert table(app).current_column == "col:batch"
        assert "mAP50-95" not in labels(app)  # a choice was made: no default column
        assert column(app, "col:batch")[:3] == ["16", "32", "64"]


# -- live ----------------------------------------------------------------------


def append_points(run_dir: Path, start: int, values: list[float]) -> None:
    with open(run_dir / "metrics.jsonl", "a") as fh:
        for i, v in enumerate(values):
            fh.write(json.dumps({"_step": start + i, "_t": FIXED_NOW - 100 + i, "loss": v}) + "\n")


async def test_refresh_updates_cells_in_place_adds_new_runs_and_keeps_the_cursor(
    store: Store, fixture_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ColumnMemory().save(store.root, ["last(loss)", "count(loss)"])
    ids = ids_by_name(store)
    app = build(store)
    async with running(app) as pilot:
        await press(pilot, "j")
        assert current_name(app) == "resnet-kill"
        assert column(app, "col:count(loss)")[:2] == ["30", "25"]

        cleared: list[bool] = []
        monkeypatch.setattr(RunsTable, "clear", lambda self, columns=False: cleared.append(True))
        append_points(fixture_store / "cls" / ids["resnet-kill"], 25, [0.125, 0.0625])
        with trackui.init(project="cls", name="fresh", dir=fixture_store, console=False) as run:
            run.log({"loss": 1.5})
        await press(pilot, "r")

        assert column(app, "name") == ["fresh", *NEWEST_FIRST]
        assert current_name(app) == "resnet-kill"  # same run, though its row moved
        kill = column(app, "name").index("resnet-kill")
        assert column(app, "col:count(loss)")[kill] == "27"
        assert column(app, "col:last(loss)")[kill] == "0.0625"
        assert column(app, "col:last(loss)")[0] == "1.5"
        assert column(app, "status")[0] == "✔ finished"
        assert status_line(app) == "6 runs"
        assert cleared == []  # merged, not rebuilt


async def test_the_live_tick_refreshes_and_reaches_every_screen(
    store: Store, fixture_store: Path
) -> None:
    app = build(store)
    async with running(app) as pilot:
        got: list[RefreshStats] = []
        original = RunsScreen.on_store_refreshed

        def spy(self: RunsScreen, message: StoreRefreshed) -> None:
            got.append(message.stats)
            original(self, message)

        RunsScreen.on_store_refreshed = spy  # type: ignore[method-assign]
        try:
            app._live_tick()  # nothing changed: no message
            await settle(pilot)
            assert got == []
            with trackui.init(project="detect", name="tick", dir=fixture_store, console=False):
                pass
            app._live_tick()
            await settle(pilot)
            assert len(got) == 1 and got[0].runs_changed >= 1
            assert "tick" in column(app, "name")
        finally:
            RunsScreen.on_store_refreshed = original  # type: ignore[method-assign]


async def test_a_stale_answer_is_dropped(store: Store) -> None:
    app = build(store)
    async with running(app) as pilot:
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        old = RunsPage(runs=(), total=0, offset=0)
        screen.post_message(RunsLoaded(screen.query_state, screen._serial - 1, old, "replace"))
        screen.post_message(RunsLoaded(screen.query_state.__class__(where="x"), 0, old, "live"))
        await settle(pilot)
        assert column(app, "name") == NEWEST_FIRST


# -- paging --------------------------------------------------------------------


def clone_runs(root: Path, count: int) -> list[str]:
    """``count`` copies of a fixture run, one second apart, named run-000…"""
    source = next((root / "cls").iterdir())
    names = []
    for i in range(count):
        run_id = f"20261126-16{i // 60:02d}{i % 60:02d}000-page{i:02d}"
        dest = root / "bulk" / run_id
        shutil.copytree(source, dest)
        meta = json.loads((dest / "meta.json").read_text())
        meta.update(id=run_id, project="bulk", name=f"run-{i:03d}", created=FIXED_NOW - 5000 + i)
        (dest / "meta.json").write_text(json.dumps(meta))
        names.append(f"run-{i:03d}")
    return names


async def test_rows_come_a_page_at_a_time_as_the_cursor_nears_the_end(
    fixture_store: Path,
) -> None:
    names = clone_runs(fixture_store, 30)
    with Store(fixture_store, clock=lambda: FIXED_NOW) as s:
        app = build(s, TuiConfig(page_size=10))
        async with running(app) as pilot:
            assert len(rows(app)) == 10
            assert status_line(app) == "10 of 35 runs"
            assert column(app, "name") == names[::-1][:10]
            await press(pilot, *["j"] * 7)
            assert len(rows(app)) == 10
            await press(pilot, "j")  # two rows from the end
            assert len(rows(app)) == 20
            assert current_name(app) == names[::-1][8]
            await press(pilot, "ctrl+end")
            await press(pilot, "ctrl+end")
            await press(pilot, "ctrl+end")
            assert len(rows(app)) == 35
            assert status_line(app) == "35 runs"
            assert column(app, "name")[-5:] == NEWEST_FIRST


# -- user text -----------------------------------------------------------------


async def test_a_name_with_markup_and_an_escape_shows_literally(
    store: Store, fixture_store: Path
) -> None:
    with trackui.init(
        project="detect", name=MARKUP_NAME, tags=["[red]t"], dir=fixture_store, console=False
    ) as run:
        run.log({"loss": 0.5})
    store.refresh()
    app = build(store)
    async with running(app) as pilot:
        assert column(app, "name")[0] == MARKUP_SHOWN
        svg = app.export_screenshot()
        assert "\x1b" not in svg
        await press(pilot, "slash")
        app.screen.query_one("#filter-input", Input).value = 'name:"[bold]" or tag:"[red]t"'
        await press(pilot, "enter")
        assert column(app, "name") == [MARKUP_SHOWN]
        assert "[bold]" in status_line(app)
        await press(pilot, "s", "g", "space", "question_mark", "escape")
        assert MARKUP_SHOWN in column(app, "name")


# -- app wiring ----------------------------------------------------------------


async def test_a_failing_worker_becomes_a_notification(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build(store)
    said: list[tuple[str, str]] = []
    async with running(app) as pilot:
        app.notify = lambda message, **kw: said.append((message, kw.get("severity", "")))  # type: ignore[method-assign]

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise OSError("disk on fire")

        monkeypatch.setattr(store, "list_runs", broken)
        monkeypatch.setattr(store, "page_runs", broken)  # what an ungrouped list asks
        await press(pilot, "s")
        assert said and "disk on fire" in said[0][0] and said[0][1] == "error"
        assert column(app, "name") == NEWEST_FIRST  # the old rows stay
        monkeypatch.undo()
        await press(pilot, "s")
        assert column(app, "name") == sorted(NEWEST_FIRST)


async def test_the_palette_opens_a_run_by_name(store: Store) -> None:
    from trackui.tui.run_screen import RunScreen

    ids = ids_by_name(store)
    app = build(store)
    async with running(app) as pilot:
        await press(pilot, "ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"open run detect/yolo-adamw")
        await settle(pilot)
        await press(pilot, "enter")
        assert isinstance(app.screen, RunScreen)
        assert app.screen.run_id == ids["yolo-adamw"]


async def test_keymap_from_the_config_rebinds_by_id(store: Store) -> None:
    app = build(store, TuiConfig(keys={"runs.mark": "m"}))
    async with running(app) as pilot:
        await press(pilot, "m")
        assert column(app, "mark")[0] == "●"


async def test_animations_are_off(store: Store) -> None:
    app = build(store)
    assert app.animation_level == "none"
    assert build(store, TuiConfig(animations=True)).animation_level == "full"
