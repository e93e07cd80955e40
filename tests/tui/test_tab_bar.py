"""The Run screen's tab bar (``tui/tab_bar.py``): one widget for the labels
and the bar under them, in place of Textual's tabs. A click on a label
switches, the bar is lit under the active label only, only the active
tab's pane is shown, and the screen opens with few widgets."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from trackui.store.queries import Store
from trackui.tui.run_tabs import TAB_LABELS
from trackui.tui.tab_bar import BAR, HALF_LEFT, HALF_RIGHT, TabBar

from .helpers import open_run, settle

pytestmark = pytest.mark.anyio


class BarApp(App[None]):
    def __init__(self, active: str) -> None:
        super().__init__()
        self.active = active
        self.chosen: list[str] = []

    def compose(self) -> ComposeResult:
        yield TabBar(TAB_LABELS, self.active, id="bar")

    def on_tab_bar_chosen(self, event: TabBar.Chosen) -> None:
        self.chosen.append(event.tab)


def lines(bar: TabBar) -> list[str]:
    return [strip.text for strip in bar.render_lines(bar.content_region.reset_offset)]


async def test_the_bar_is_lit_under_the_active_label_only() -> None:
    app = BarApp("metrics")
    async with app.run_test(size=(100, 10)):
        bar = app.query_one(TabBar)
        labels, under = lines(bar)[:2]
        start, end = bar.spans()["metrics"]
        assert labels[start:end] == " 3 Metrics "
        assert len(under) == 100
        assert under[start - 1] == HALF_RIGHT and under[end] == HALF_LEFT
        assert set(under[start:end]) == {BAR}
        lit = bar.render_line(1)
        colours = {seg.style.color for seg in lit if seg.text.strip() and seg.style}
        assert len(colours) == 2  # the lit part, and the rest

        bar.active = "overview"  # the first: no half cell before it
        await app.workers.wait_for_complete()
        under = lines(bar)[1]
        assert under[: bar.spans()["overview"][1]] == BAR * bar.spans()["overview"][1]


async def test_a_click_on_a_label_chooses_its_tab() -> None:
    app = BarApp("overview")
    async with app.run_test(size=(100, 10)) as pilot:
        bar = app.query_one(TabBar)
        for tab in ("artifacts", "params", "system"):
            start, end = bar.spans()[tab]
            await pilot.click("#bar", offset=(start + 2, 0))
            await pilot.pause()
        await pilot.click("#bar", offset=(99, 0))  # past the last label: nothing
        await pilot.pause()
        assert app.chosen == ["artifacts", "params", "system"]


async def test_a_click_switches_the_run_screen_and_shows_one_pane(store: Store) -> None:
    async with open_run(store, store.resolve("detect/yolo-sgd")) as (pilot, screen):
        bar = screen.query_one(TabBar)
        start, _ = bar.spans()["params"]
        await pilot.click("#run-tabs", offset=(start + 2, 0))
        await settle(pilot)
        assert screen.active_tab == "params" and bar.active == "params"
        shown = [pane.id for pane in screen.query(".tab-pane") if pane.display]
        assert shown == ["params"]
        assert screen.focused is screen.query_one("#params-table")
        await pilot.press("1")
        await settle(pilot)
        shown = [pane.id for pane in screen.query(".tab-pane") if pane.display]
        assert shown == ["overview"]
        assert sorted(pane.id for pane in screen.query(".tab-pane")) == ["overview", "params"]


async def test_a_run_opens_with_few_widgets(store: Store) -> None:
    """The header, the tab bar, the Overview's pane and the footer's keys:
    no widget per tab label or per tab not shown."""
    async with open_run(store, store.resolve("detect/yolo-sgd")) as (_, screen):
        footer = screen.query_one("Footer")
        outside_footer = [w for w in screen.walk_children() if footer not in w.ancestors_with_self]
        assert len(outside_footer) <= 6, [type(w).__name__ for w in outside_footer]
