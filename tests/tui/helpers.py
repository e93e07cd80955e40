"""What the TUI tests share: the app built the one way on the fixed clock, a
stand-in app for the Run screen alone, waiting for workers, the screen as
the user reads it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen
from textual.worker import WorkerCancelled

from trackui.store.queries import Store
from trackui.tui.app import TrackuiApp, make_app
from trackui.tui.config import TuiConfig
from trackui.tui.run_screen import RunScreen

from ..conftest import FIXED_NOW

#: what the snapshots are taken with: a fixed theme, whatever the default
SNAPSHOT_THEME = "textual-dark"
SNAPSHOT_CONFIG = TuiConfig(theme=SNAPSHOT_THEME)


def build(store: Store, config: TuiConfig | None = None) -> TrackuiApp:
    # live_interval=0: no timer; tests refresh by key or by calling the app.
    return make_app(store, config=config or TuiConfig(), clock=lambda: FIXED_NOW, live_interval=0)


class RunApp(App[None]):
    """A stand-in for the trackui app: the attributes the Run screen uses."""

    def __init__(self, store: Store, run_id: str, *, tab: str = "overview") -> None:
        super().__init__()
        self.store = store
        self.clock = lambda: FIXED_NOW
        self._run_id = run_id
        self._tab = tab

    def on_mount(self) -> None:
        self.push_screen(RunScreen(self._run_id, tab=self._tab))


async def settle(pilot: Any) -> None:
    """Until no worker is left: a load's handler may start the next load."""
    for _ in range(30):
        await pilot.pause()
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:
            pass  # a newer load replaced it (exclusive workers): wait for that one
        await pilot.pause()
        if all(worker.is_finished for worker in pilot.app.workers):
            return
    raise AssertionError("workers never settled")


#: how long a test waits for something the app does in the background: long,
#: since a starved CI machine is slow, and the wait ends as soon as it holds
WAIT_S = 90.0


async def until(pilot: Any, condition: Callable[[], object], what: str, step: float = 0.05) -> None:
    """Pause until ``condition()`` holds (by the clock, not a count of pauses)."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(step)


def screen_text(screen: Screen[Any]) -> str:
    """The screen as the user sees it, one line per row."""
    return "\n".join(strip.text for strip in screen._compositor.render_strips())


def ids_by_name(store: Store) -> dict[str, str]:
    return {run.name: run.id for run in store.list_runs()}


def count_calls(monkeypatch: Any, owner: Any, name: str) -> list[Any]:
    """Each call of ``owner.name`` (its first argument), recorded as it goes through."""
    calls: list[Any] = []
    original = getattr(owner, name)

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


@asynccontextmanager
async def open_run(
    store: Store, run_id: str, *, tab: str = "overview", size: tuple[int, int] = (120, 40)
) -> AsyncIterator[tuple[Pilot[None], RunScreen]]:
    """The Run screen of ``run_id`` on ``tab`` (at 120x40 unless ``size``), its loads done."""
    app = RunApp(store, run_id, tab=tab)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        yield pilot, screen
