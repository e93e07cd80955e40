"""Keys that behave the same everywhere: no screen binds a key twice, Esc goes
back on every screen, tab digits always switch tabs, and j/k/G/gg/PgUp/PgDn/
Home/End scroll the Overview, the Console and Help (a failed run's
traceback is read at 80×24)."""

from __future__ import annotations

import importlib
import pkgutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input

import trackui
import trackui.tui
from trackui.store.filters import compile_filter
from trackui.store.queries import Store
from trackui.tui.app import TrackuiApp
from trackui.tui.filter_help import FILTER_EXAMPLES
from trackui.tui.help_screen import HelpScreen
from trackui.tui.run_screen import RunScreen
from trackui.tui.runs_screen import RunsScreen
from trackui.tui.scrolling import ViLog, ViScroll
from trackui.tui.tab_bar import TabBar

from ..conftest import FIXED_NOW
from .helpers import RunApp, build, settle

pytestmark = pytest.mark.anyio

#: a screen takes over an app key (esc, q, ?) only to mean "back" or "close"
BACK_ACTIONS = {"back", "dismiss", "done", "escape", "leave", "close", "cancel"}


def screen_classes() -> list[type[Screen[Any]]]:
    """Every Screen class trackui defines (all its tui modules imported)."""
    for info in pkgutil.iter_modules(trackui.tui.__path__):
        importlib.import_module(f"trackui.tui.{info.name}")
    found: list[type[Screen[Any]]] = []
    todo = list(Screen.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith("trackui.tui.") and cls not in found:
            found.append(cls)
    return found


def own_bindings(cls: type) -> list[Binding]:
    """The bindings a class declares, with those of its trackui base classes."""
    out: list[Binding] = []
    for base in reversed(cls.__mro__):
        if not base.__module__.startswith("trackui."):
            continue
        for item in base.__dict__.get("BINDINGS", []):
            binding = item if isinstance(item, Binding) else Binding(*item)
            if binding not in out:
                out.append(binding)
    return out


def keys_of(binding: Binding) -> list[str]:
    return [k.strip() for k in binding.key.split(",") if k.strip()]


def test_the_walk_finds_every_screen() -> None:
    names = {cls.__name__ for cls in screen_classes()}
    assert {"RunsScreen", "RunScreen", "CompareScreen", "HelpScreen", "ColumnPicker"} <= names


@pytest.mark.parametrize("screen", screen_classes(), ids=lambda c: c.__name__)
def test_no_screen_binds_one_key_twice(screen: type[Screen[Any]]) -> None:
    bindings = own_bindings(screen)
    counts = Counter(key for b in bindings for key in keys_of(b))
    assert [k for k, n in counts.items() if n > 1] == [], screen.__name__
    ids = Counter(b.id for b in bindings if b.id)
    assert [i for i, n in ids.items() if n > 1] == [], screen.__name__
    assert all(b.id for b in bindings), "every binding has an id, so a keymap can rebind it"
    app_keys = {key: b for b in TrackuiApp.BINDINGS for key in keys_of(b)}  # type: ignore[union-attr]
    for b in bindings:
        for key in keys_of(b):
            if key in app_keys:
                says_no = b.action.split("(")[0] in BACK_ACTIONS or b.action == "answer(False)"
                assert says_no, f"{screen.__name__} takes {key!r} from the app for {b.action!r}"


def test_the_app_binds_no_key_twice() -> None:
    bindings = [b for b in TrackuiApp.BINDINGS if isinstance(b, Binding)]
    counts = Counter(key for b in bindings for key in keys_of(b))
    assert [k for k, n in counts.items() if n > 1] == []


async def test_esc_goes_back_on_every_screen(store: Store) -> None:
    ids = [r.id for r in store.list_runs()]
    app = build(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for open_screen in (
            lambda: app.open_run(ids[0]),
            lambda: app.open_compare(ids[:2]),
            lambda: pilot.press("question_mark"),
            lambda: pilot.press("p"),
        ):
            result = open_screen()
            if result is not None:
                await result
            await settle(pilot)
            assert not isinstance(app.screen, RunsScreen)
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, RunsScreen), type(app.screen).__name__


# -- tab digits ---------------------------------------------------------------


async def test_tab_digits_switch_tabs_after_the_params_filter(store: Store) -> None:
    app = RunApp(store, store.resolve("detect/yolo-adamw"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        tabs = screen.query_one(TabBar)
        await pilot.press("2")
        field = screen.query_one("#params-filter", Input)  # built when its tab is shown
        assert tabs.active == "params" and not field.has_focus
        await pilot.press("1")
        assert tabs.active == "overview"
        # `/`, a filter with a digit in it, Enter: the box lets go, digits switch tabs
        await pilot.press("2", "slash", "l", "r", "0", "enter")
        assert field.value == "lr0" and not field.has_focus
        await pilot.press("1")
        assert tabs.active == "overview"
        await pilot.press("2", "slash", "1", "escape")  # Esc lets go too
        assert field.value == "1" and not field.has_focus  # (focus selects what was there)
        assert tabs.active == "params"
        await pilot.press("3")
        assert tabs.active == "metrics"
        for key, tab in zip("45213", ("console", "artifacts", "params", "overview", "metrics")):
            await pilot.press(key)
            assert tabs.active == tab
        assert field.value == "1"


# -- scrolling ----------------------------------------------------------------


def failed_run(root: Path) -> str:
    """A failed run with a deep traceback and a long console log."""

    def deep(n: int) -> None:
        if n == 0:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        deep(n - 1)

    with pytest.raises(RuntimeError):
        with trackui.init(project="detect", name="oom", dir=root, console=False) as run:
            with open(Path(run.dir) / "console.log", "w") as fh:
                fh.writelines(f"epoch {i} loss {1 / (i + 1):.4f}\n" for i in range(200))
            run.log({"loss": 1.0})
            deep(30)
    return run.id


async def scrolls(pilot: Any, widget: Any) -> None:
    """j/k, PgDn/PgUp, End/Home, G/gg move ``widget`` as vi and less users expect."""
    assert widget.has_focus
    assert widget.max_scroll_y > 0
    await pilot.press("j", "j")
    assert widget.scroll_y == 2
    await pilot.press("k")
    assert widget.scroll_y == 1
    await pilot.press("pagedown")
    assert widget.scroll_y > 5
    await pilot.press("pageup")
    assert widget.scroll_y <= 1
    await pilot.press("end")
    assert widget.scroll_y == widget.max_scroll_y
    await pilot.press("home")
    assert widget.scroll_y == 0
    await pilot.press("G")
    assert widget.scroll_y == widget.max_scroll_y
    await pilot.press("g", "g")
    assert widget.scroll_y == 0
    await pilot.press("ctrl+d")
    assert widget.scroll_y > 3


async def test_a_failed_runs_traceback_is_read_at_80x24(fixture_store: Path) -> None:
    run_id = failed_run(fixture_store)
    with Store(fixture_store, clock=lambda: FIXED_NOW) as store:
        app = RunApp(store, run_id)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            screen = app.screen
            overview = screen.query_one("#overview-scroll", ViScroll)
            await scrolls(pilot, overview)
            await pilot.press("G")
            await pilot.pause()
            shown = "\n".join(s.text for s in screen._compositor.render_strips())
            assert "RuntimeError: CUDA out of memory" in shown  # the last line, on screen
            await pilot.press("4")
            await settle(pilot)
            console = screen.query_one("#console-log", ViLog)
            await pilot.press("g", "g")
            await scrolls(pilot, console)


async def test_help_scrolls_at_80x24(store: Store) -> None:
    app = build(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        await scrolls(pilot, app.screen.query_one("#help-body", ViScroll))


# -- `?` explains the filter language ----------------------------------------


@pytest.mark.parametrize("example", [e for e, _ in FILTER_EXAMPLES])
def test_every_filter_example_in_help_parses(example: str) -> None:
    sql, _ = compile_filter(example)
    assert sql


async def test_help_on_the_run_list_shows_the_filter_examples(store: Store) -> None:
    app = build(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        notes = str(app.screen.query_one("#help-notes").render())
        for example, meaning in FILTER_EXAMPLES:
            assert example in notes and meaning in notes
        # an example typed into the filter bar filters (here: the detect runs)
        await pilot.press("escape", "slash")
        app.screen.query_one("#filter-input", Input).value = "project:det*"
        await pilot.press("enter")
        await settle(pilot)
        assert "3 runs" in str(app.screen.query_one("#runs-status").render())


async def test_esc_on_a_screen_without_its_own_goes_back_through_the_app(store: Store) -> None:
    from textual.screen import Screen as PlainScreen

    app = build(store)
    exits: list[bool] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.exit = lambda *a, **k: exits.append(True)  # type: ignore[method-assign]
        await app.push_screen(PlainScreen())
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, RunsScreen)
        app.screen.set_focus(None)
        await pilot.press("escape")  # on the run list: never quits
        await settle(pilot)
        assert isinstance(app.screen, RunsScreen) and exits == []
