"""The run under the list's cursor is read while the user reads the list, and
``enter`` opens it from that read (``tui/read_ahead.py``): read once, never
stale (a refresh that lands drops it), never for another run."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from textual.worker import NoActiveWorker, get_current_worker

from trackui.store.queries import Store
from trackui.tui.app import make_app
from trackui.tui.read_ahead import ReadAhead, RunReadAhead
from trackui.tui.run_screen import RunScreen
from trackui.tui.runs_screen import RunsScreen
from trackui.tui.runs_table import RunsTable

from ..conftest import FIXED_NOW
from .helpers import count_calls, settle, until

pytestmark = pytest.mark.anyio


# -- ReadAhead on its own ----------------------------------------------------


def test_a_screen_that_asks_while_the_read_runs_gets_it_when_it_lands() -> None:
    ahead = ReadAhead()
    generation = ahead.start("r1")
    got: list[Any] = []
    assert ahead.take("r1", got.append)  # pending: it waits
    assert got == []
    ahead.done(RunReadAhead("r1", generation, ("detail", None)))
    assert got == [("detail", None)]
    assert not ahead.take("r1", got.append)  # given once


def test_a_read_that_landed_is_given_at_once_and_only_for_its_run() -> None:
    ahead = ReadAhead()
    generation = ahead.start("r1")
    ahead.done(RunReadAhead("r1", generation, ("detail", None)))
    got: list[Any] = []
    assert not ahead.take("r2", got.append)
    assert ahead.take("r1", got.append) and got == [("detail", None)]


def test_a_change_of_the_catalog_drops_it_and_tells_who_waits() -> None:
    ahead = ReadAhead()
    generation = ahead.start("r1")
    got: list[Any] = []
    assert ahead.take("r1", got.append)
    ahead.invalidate()
    assert got == [None]  # read it yourself
    ahead.done(RunReadAhead("r1", generation, ("stale", None)))  # lands after: dropped
    assert not ahead.take("r1", got.append) and got == [None]


def test_a_failed_read_sends_the_screen_to_read_it_itself() -> None:
    ahead = ReadAhead()
    generation = ahead.start("r1")
    got: list[Any] = []
    ahead.take("r1", got.append)
    ahead.done(RunReadAhead("r1", generation, None))
    assert got == [None]


# -- in the app ----------------------------------------------------------------


def spy_reads(store: Store, monkeypatch: pytest.MonkeyPatch, gate: threading.Event | None = None):
    """(run id, worker group) of each ``get_run``; ``gate``: reads wait for it."""
    reads: list[tuple[str, str]] = []
    real = store.get_run

    def spy(run_id: str) -> Any:
        try:
            group = get_current_worker().group
        except NoActiveWorker:
            group = "test"
        reads.append((run_id, group))
        if gate is not None:
            gate.wait(300)
        return real(run_id)

    monkeypatch.setattr(store, "get_run", spy)
    return reads


async def listed(pilot: Any, app: Any, *, read: bool = False) -> None:
    """Until the run list shows rows; ``read``: and the read ahead landed."""
    await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.runs, "rows")
    if read:
        await until(pilot, lambda: not app.read_ahead.pending and app.read_ahead.run_id, "the read")


async def open_first(pilot: Any, app: Any) -> RunScreen:
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, RunScreen), "the run screen")
    screen = app.screen
    await until(pilot, lambda: screen.detail is not None, "the run read")
    return screen


async def test_enter_opens_the_run_read_ahead_without_reading_it_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = spy_reads(store, monkeypatch)
    app = make_app(store, clock=lambda: FIXED_NOW, live_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await listed(pilot, app)
        current = app.screen.query_one(RunsTable).current_key
        await until(pilot, lambda: reads, "the read ahead")
        screen = await open_first(pilot, app)
        await pilot.press("3")
        await until(pilot, lambda: screen.chart.last_plot is not None, "the chart")
        await settle(pilot)
        assert screen.run_id == current
        assert reads == [(current, "read-ahead")]  # read once, before enter
        assert screen.detail == store.get_run(current)


async def test_enter_while_the_read_runs_waits_for_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()
    reads = spy_reads(store, monkeypatch, gate)
    app = make_app(store, clock=lambda: FIXED_NOW, live_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await listed(pilot, app)
        try:
            await until(pilot, lambda: reads, "the read ahead, held")
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, RunScreen), "the run screen")
            await until(pilot, lambda: app.screen.is_mounted, "the run screen mounted")
            for _ in range(5):
                await pilot.pause(0.05)
            assert app.screen.detail is None  # waiting, not reading beside it:
            assert not [w for w in app.workers if w.group == "run-detail"]
        finally:
            gate.set()
        screen = app.screen
        await until(pilot, lambda: screen.detail is not None, "the run read")
        await settle(pilot)
        assert [group for _, group in reads] == ["read-ahead"]


async def test_a_refresh_that_lands_first_makes_the_screen_read_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = spy_reads(store, monkeypatch)
    app = make_app(store, clock=lambda: FIXED_NOW, live_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await listed(pilot, app, read=True)
        app.refresh_store(force=True)  # the catalog changed under what was read
        await until(pilot, lambda: app.read_ahead.run_id is None, "the read dropped")
        await open_first(pilot, app)
        await settle(pilot)
        assert [group for _, group in reads] == ["read-ahead", "run-detail"]


async def test_another_run_under_the_cursor_is_read_when_opened(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = spy_reads(store, monkeypatch)
    app = make_app(store, clock=lambda: FIXED_NOW, live_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await listed(pilot, app, read=True)
        table = app.screen.query_one(RunsTable)
        first = table.current_key
        await pilot.press("down")
        second = table.current_key
        assert second != first
        screen = await open_first(pilot, app)
        assert screen.run_id == second
        assert reads == [(first, "read-ahead"), (second, "run-detail")]


async def test_the_run_screen_first_shows_the_run_read_ahead(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read landed before enter: the Run screen's first layout already
    shows the run (no "loading run…" frame before it)."""
    from textual.screen import Screen
    from textual.widgets import Static

    headers: list[str] = []
    layout = Screen._refresh_layout

    def spy(self: Screen, *args: Any, **kwargs: Any) -> None:
        if isinstance(self, RunScreen):
            headers.append(str(self.query_one("#run-header", Static).content))
        layout(self, *args, **kwargs)

    monkeypatch.setattr(Screen, "_refresh_layout", spy)
    app = make_app(store, clock=lambda: FIXED_NOW, live_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await listed(pilot, app)
        await until(pilot, lambda: not app.read_ahead.pending and app.read_ahead.run_id, "the read")
        await open_first(pilot, app)
        await settle(pilot)
        assert headers and not [h for h in headers if "loading run" in h]


async def test_primary_columns_chosen_under_an_open_run_wait_for_the_list(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Enter right after the first page: the primary metrics' columns that
    come meanwhile do not reload the hidden list while the Run screen is
    built; they are shown when the list is back."""
    from trackui.tui import runs_screen

    gate, asked_for = threading.Event(), threading.Event()
    real = runs_screen.primary_columns

    def held(store: Any) -> Any:
        asked_for.set()
        gate.wait(300)
        return real(store)

    monkeypatch.setattr(runs_screen, "primary_columns", held)
    app = make_app(store, clock=lambda: FIXED_NOW, live_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await listed(pilot, app)
        # asked for once the first page is painted (on a busy machine, rows
        # can be there a frame before): enter comes while they are on their way
        await until(pilot, asked_for.is_set, "the columns asked for")
        runs = app.screen
        asked: list[Any] = []
        request = runs.request
        monkeypatch.setattr(runs, "request", lambda query: (asked.append(query), request(query)))
        try:
            await open_first(pilot, app)
        finally:
            gate.set()
        await until(pilot, lambda: runs._columns_held is not None, "the columns, held")
        await settle(pilot)
        assert asked == []  # the hidden list was not read again
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is runs, "the list again")
        await until(pilot, lambda: asked and runs.query_state.columns, "the primary columns")
        assert runs._columns_held is None


async def test_the_run_under_the_cursor_is_asked_for_before_the_primary_columns(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both read the catalog behind the first page; the read that ``enter``
    waits for is started first."""
    from trackui.tui.app import TrackuiApp

    order: list[str] = []
    shown = TrackuiApp.first_page_shown
    columns = RunsScreen.load_primary_columns

    def first_page_shown(self: TrackuiApp, *args: Any) -> None:
        order.append("read ahead")
        shown(self, *args)

    def load_primary_columns(self: RunsScreen) -> Any:
        order.append("primary columns")
        return columns(self)

    monkeypatch.setattr(TrackuiApp, "first_page_shown", first_page_shown)
    monkeypatch.setattr(RunsScreen, "load_primary_columns", load_primary_columns)
    app = make_app(store, clock=lambda: FIXED_NOW, live_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: len(order) == 2, "both started")
        await settle(pilot)
        assert order == ["read ahead", "primary columns"]


async def test_enter_before_the_lists_first_refresh_still_ends_the_start(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Textual runs a screen's after-refresh callbacks only while it is shown
    (or when it shows again): ``enter`` before the list's first refresh ran
    them covered the list with the start-up work still waiting (no primary
    columns, no warm-up, the start never over until the list showed again;
    seen on a quick machine). Covering the list does that work, once, without
    reading ahead the run the Run screen reads itself; the held callback, run
    when the list shows again, does nothing."""
    from trackui.tui.app import TrackuiApp

    reads = spy_reads(store, monkeypatch)
    shown = count_calls(monkeypatch, TrackuiApp, "first_page_shown")
    asked = count_calls(monkeypatch, RunsScreen, "load_primary_columns")
    held: list[Any] = []
    after_refresh = RunsScreen.call_after_refresh

    def hold_first_page(self: RunsScreen, callback: Any, *args: Any) -> bool:
        if getattr(callback, "__func__", None) is RunsScreen._first_page_painted:
            held.append(callback)  # as when Textual has not got to it before enter
            return True
        return after_refresh(self, callback, *args)

    monkeypatch.setattr(RunsScreen, "call_after_refresh", hold_first_page)
    app = make_app(store, clock=lambda: FIXED_NOW, live_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await listed(pilot, app)
        assert held and shown == []
        await open_first(pilot, app)
        await settle(pilot)
        assert len(shown) == 1 and app._first_page_at is not None
        assert len(asked) == 1
        assert [group for _, group in reads] == ["run-detail"]  # the Run screen's own read
        held[0]()  # the list shows again and Textual runs it: nothing more
        await settle(pilot)
        assert len(shown) == 1 and len(asked) == 1
