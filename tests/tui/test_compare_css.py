"""Opening Compare parses no CSS again: its rules are the screen's default
CSS, as the Run screen's are (a ``CSS_PATH`` made Textual parse every rule of
the app again and restyle every widget of every screen when it was first
pushed), and they still hold."""

from __future__ import annotations

import pytest
from textual.css.stylesheet import Stylesheet

from trackui.store.queries import Store
from trackui.tui.compare_screen import CompareScreen
from trackui.tui.runs_screen import RunsScreen

from .helpers import build, count_calls, settle, until

pytestmark = pytest.mark.anyio


async def test_opening_compare_parses_no_css_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.runs, "rows")
        reparsed = count_calls(monkeypatch, Stylesheet, "reparse")
        restyled = count_calls(monkeypatch, Stylesheet, "update")
        ids = [r.id for r in store.list_runs(sort="created", descending=False)][:3]
        await app.push_screen(CompareScreen(ids))
        await until(pilot, lambda: isinstance(app.screen, CompareScreen), "the compare screen")
        await settle(pilot)
        assert reparsed == [] and restyled == []
        screen = app.screen
        # The screen's own rules hold: the detail line is at most two rows, the
        # chart has room.
        assert 0 < screen.query_one("#compare-detail").size.height <= 2
        assert screen.query_one("#compare-chart").size.height >= 8
