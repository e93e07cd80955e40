"""Work the way from the run list to the first chart no longer does: pushing
the Run screen parses no CSS again, the first chart is drawn once at its
size (and again when that size changes), even when the run is read after
its tab was built, and its series is read with the run, in one worker; the
start-up refresh waits until the user is idle. The time itself is a
benchmark figure: benchmarks/bench_launch.py."""

from __future__ import annotations

from typing import Any

import pytest
from textual.css.stylesheet import Stylesheet
from textual.worker import get_current_worker

from trackui.store.queries import Store
from trackui.tui.app import make_app
from trackui.tui.chart import MetricChart
from trackui.tui.metric_grid import MetricGrid
from trackui.tui.run_screen import RunScreen
from trackui.tui.runs_screen import RunsScreen

from ..conftest import FIXED_NOW
from .helpers import RunApp, build, count_calls, settle, until

pytestmark = pytest.mark.anyio

PRIMARY = "metrics/mAP50-95(B)"  # the headline metric of the detect runs


async def test_opening_a_run_parses_no_css_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.runs, "rows")
        reparsed = count_calls(monkeypatch, Stylesheet, "reparse")
        restyled = count_calls(monkeypatch, Stylesheet, "update")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen), "the run screen")
        await settle(pilot)
        await pilot.press("3")
        await until(pilot, lambda: app.screen.chart.last_plot is not None, "the chart")
        # A screen's CSS_PATH would parse every rule again and restyle the app.
        assert reparsed == [] and restyled == []
        screen = app.screen
        # The screen's own rules hold: a one-line header, the grid hidden
        # until `v`, the picker beside the chart.
        assert screen.query_one("#run-header").size.height == 1
        assert screen.query_one(MetricGrid).display is False
        picker = screen.query_one("#metric-picker")
        assert 0 < picker.size.width <= 30
        assert picker.region.right <= screen.chart.region.x


async def test_the_run_screen_brings_its_rules_to_any_app(store: Store) -> None:
    app = RunApp(store, store.resolve("detect/yolo-sgd"), tab="metrics")  # no trackui.tcss
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        assert screen.query_one("#run-header").size.height == 1
        assert screen.query_one(MetricGrid).display is False
        assert screen.chart.size.height > 10


async def test_the_first_chart_is_drawn_once_then_again_on_resize(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn = count_calls(monkeypatch, MetricChart, "_draw")
    app = RunApp(store, store.resolve("detect/yolo-sgd"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert drawn == []  # the Overview: no chart exists yet
        await pilot.press("3")
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await until(pilot, lambda: screen.ready("metrics"), "the Metrics tab")
        await until(pilot, lambda: screen.chart.last_plot is not None, "the chart")
        await settle(pilot)
        chart = screen.chart
        plot = chart.last_plot
        assert plot is not None
        # Drawn once, at the size it was laid out at (not again for the
        # Resize of that same layout).
        assert [c for c in drawn if c is chart] == [chart]
        assert (plot.width, plot.height) == (
            chart.content_region.width,
            chart.content_region.height,
        )
        await pilot.resize_terminal(100, 30)
        await until(
            pilot,
            lambda: chart.last_plot is not None and chart.last_plot.width != plot.width,
            "the chart redrawn at its new size",
        )
        await settle(pilot)
        now = chart.last_plot
        assert now is not None
        assert (now.width, now.height) == (chart.content_region.width, chart.content_region.height)


def record_series(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, int]]:
    """(metric, worker group, buckets) of each ``Store.series`` call."""
    asked: list[tuple[str, str, int]] = []
    series = store.series

    def spy(run_id: str, key: str, **kwargs: Any) -> Any:
        asked.append((key, get_current_worker().group, kwargs["buckets"]))
        return series(run_id, key, **kwargs)

    monkeypatch.setattr(store, "series", spy)
    return asked


@pytest.mark.parametrize("tab", ["overview", "metrics"])
async def test_the_first_series_is_read_with_the_run(
    store: Store, monkeypatch: pytest.MonkeyPatch, tab: str
) -> None:
    asked = record_series(store, monkeypatch)
    app = RunApp(store, store.resolve("detect/yolo-sgd"), tab=tab)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        if tab != "metrics":
            await pilot.press("3")
        await until(pilot, lambda: screen.chart.last_plot is not None, "the chart")
        await settle(pilot)
        assert screen.chart.last_plot is not None and screen.chart.last_plot.key == PRIMARY
        # one read, by the worker that read the run, as fine as the chart asks
        assert asked == [(PRIMARY, "run-detail", 100)]
        assert screen.chart.buckets <= 100
        await pilot.press("right_square_bracket")  # another metric: read on its own
        await until(pilot, lambda: len(asked) == 2, "the next metric's series")
        assert asked[1][0] != PRIMARY and asked[1][1] == "run-series"


async def test_a_chart_wider_than_that_read_asks_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = record_series(store, monkeypatch)
    app = RunApp(store, store.resolve("detect/yolo-sgd"), tab="metrics")
    async with app.run_test(size=(260, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await until(pilot, lambda: len(asked) == 2, "the series at the chart's width")
        await settle(pilot)
        wide = screen.chart.buckets
        assert wide > 100
        assert asked == [(PRIMARY, "run-detail", 100), (PRIMARY, "run-series", wide)]


# -- the start-up work waits for an idle moment ------------------------------


def idle_clock(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[float]]:
    """The app module, with its idle clock at ``now[0]`` (the test moves it)
    and its idle timers too long to fire by themselves."""
    from trackui.tui import app as app_module

    now = [1000.0]
    monkeypatch.setattr(app_module, "monotonic", lambda: now[0])
    monkeypatch.setattr(app_module, "START_IDLE_S", 3600.0)
    monkeypatch.setattr(app_module, "START_LATEST_S", 7200.0)
    return app_module, now


def watch_refreshes(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The ``full`` flag of each ``store.refresh`` call, as they come."""
    refreshed: list[bool] = []
    real = store.refresh

    def watched(**kwargs: Any) -> Any:
        refreshed.append(kwargs.get("full", False))
        return real(**kwargs)

    monkeypatch.setattr(store, "refresh", watched)
    return refreshed


async def test_the_start_up_refresh_waits_until_the_user_is_idle(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``enter`` and ``3`` right after the list shows: the start-up refresh
    runs after the first chart (the start is over), once
    no key was pressed for ``START_IDLE_S`` and no worker runs, not while the
    Run screen is being built."""
    app_module, now = idle_clock(monkeypatch)
    refreshed = watch_refreshes(store, monkeypatch)
    import threading

    go = threading.Event()
    read_run = store.get_run

    def held(run_id: str) -> Any:
        go.wait(300)
        return read_run(run_id)

    monkeypatch.setattr(store, "get_run", held)
    app = make_app(store, clock=lambda: FIXED_NOW, live_interval=0, refresh_on_start=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.runs, "rows")
        try:
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, RunScreen), "the run screen")
            now[0] += app_module.START_IDLE_S * 1.5  # no key for a while, but ...
            app._start_when_idle()
            await pilot.pause()
            assert app.screen.starting  # ... the run is not read yet
            assert refreshed == [] and not app.start_over
        finally:
            go.set()
        now[0] -= app_module.START_IDLE_S * 1.5
        await pilot.press("3")
        await until(pilot, lambda: app.screen.chart.last_plot is not None, "the chart")
        await settle(pilot)
        assert refreshed == [] and not app.start_over  # the first chart came first
        now[0] += app_module.START_IDLE_S / 2  # a key pressed half the wait ago
        app._start_when_idle()
        await settle(pilot)
        assert refreshed == [] and not app.start_over
        now[0] += app_module.START_IDLE_S  # idle long enough: it runs, once
        app._start_when_idle()
        await until(pilot, lambda: refreshed, "the start-up refresh")
        await settle(pilot)
        assert refreshed == [True] and app.start_over
        app._start_when_idle()  # once over, the start is not begun again
        await settle(pilot)
        assert refreshed == [True]


async def test_the_start_up_work_runs_at_the_latest_after_a_while(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys pressed all the time do not hold the start-up refresh off for
    ever: ``START_LATEST_S`` after the first page it runs anyway."""
    app_module, now = idle_clock(monkeypatch)
    refreshed = watch_refreshes(store, monkeypatch)
    app = make_app(store, clock=lambda: FIXED_NOW, live_interval=0, refresh_on_start=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.runs, "rows")
        await settle(pilot)
        await pilot.press("j")
        app._start_when_idle()
        await settle(pilot)
        assert refreshed == []  # a key was just pressed
        now[0] += app_module.START_LATEST_S
        await pilot.press("k")
        app._start_when_idle()
        await until(pilot, lambda: refreshed, "the start-up refresh")
        assert refreshed == [True]


async def test_a_chart_shown_before_its_run_is_read_is_drawn_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``3`` before the run is read: the Metrics tab is built empty, and the
    chart is drawn once the run filled the tab (its summary table takes room
    from the chart), at the size it is shown at, not first at the size the
    empty tab left it and again for the Resize."""
    import threading

    drawn = count_calls(monkeypatch, MetricChart, "_draw")
    go = threading.Event()
    real = store.get_run

    def held(run_id: str) -> Any:
        go.wait(300)
        return real(run_id)

    monkeypatch.setattr(store, "get_run", held)
    app = RunApp(store, store.resolve("detect/yolo-sgd"))
    async with app.run_test(size=(120, 40)) as pilot:
        try:
            screen = app.screen
            assert isinstance(screen, RunScreen)
            await until(pilot, lambda: screen.is_mounted, "the run screen")
            await pilot.press("3")
            await until(pilot, lambda: screen.ready("metrics"), "the Metrics tab")
            await pilot.pause()
            assert screen.detail is None  # the tab was built before the run was read
        finally:
            go.set()
        await until(pilot, lambda: screen.chart.last_plot is not None, "the chart")
        await settle(pilot)
        chart = screen.chart
        plot = chart.last_plot
        assert plot is not None and plot.key == PRIMARY
        assert [c for c in drawn if c is chart] == [chart]
        assert (plot.width, plot.height) == (
            chart.content_region.width,
            chart.content_region.height,
        )


async def test_the_run_tables_column_labels_are_not_read_as_markup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Markup would import Rich's emoji codes (a big module) on the way to
    the first chart."""
    from rich.text import Text
    from textual.app import App

    from trackui.tui.run_tabs import SUMMARY_COLUMNS, _table

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a column label read as markup")

    async with App().run_test():
        monkeypatch.setattr(Text, "from_markup", refused)
        table = _table("metric-summary", SUMMARY_COLUMNS)
        assert [str(c.label) for c in table.columns.values()] == list(SUMMARY_COLUMNS)


# (Textual's compact footer, when its keys overflow, shows a cell of them
# beyond the palette's key, in its margin: not a width compared here.)
@pytest.mark.parametrize(("compact", "width"), [(False, 60), (False, 100), (True, 100)])
async def test_the_footer_is_one_widget_drawn_as_textuals_footer(compact: bool, width: int) -> None:
    """The footer draws the keys on one line itself, no widget per key:
    every cell (character, colours, bold, dim) as Textual's footer shows
    the same bindings, a disabled key and the palette's key included, and
    the keys that do not fit cut where Textual's are."""
    from textual.app import App
    from textual.binding import Binding
    from textual.widgets import Footer as TextualFooter

    from trackui.tui.footer import Footer

    class Keys(App[None]):
        BINDINGS = [
            ("a", "bell", "Alpha"),
            Binding("b", "nothing", "Beta (off)"),
            ("c", "quit", "Gamma"),
            Binding("d", "bell", "Delta again", show=True),  # same action as a: not shown
            *[(f"{k}", f"key_{k}", f"Key {k}") for k in "efghijk"],
        ]

        def __init__(self, footer: type[Any]) -> None:
            super().__init__()
            self.footer_class = footer

        def compose(self) -> Any:
            yield self.footer_class(compact=compact)

        def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
            return None if action == "nothing" else True

    drawn = []
    for footer in (TextualFooter, Footer):
        app = Keys(footer)
        async with app.run_test(size=(width, 3)) as pilot:
            await pilot.pause()
            await pilot.pause()
            strip = app.screen._compositor.render_strips()[-1]
            cells = []
            for segment in strip:
                style = segment.style
                for ch in segment.text:
                    if ch == " ":  # a blank shows its background only
                        cells.append((ch, style.bgcolor if style else None))
                    else:
                        cells.append(
                            (ch, style.color, style.bgcolor, style.bold, style.dim)
                            if style
                            else (ch,)
                        )
            drawn.append(cells)
            if footer is Footer:
                assert len(app.screen.children) == 1  # the footer, and nothing in it
                assert not app.query_one(Footer).children
    assert drawn[0] == drawn[1]


async def test_the_footer_presses_a_clicked_key_and_scrolls_with_the_wheel() -> None:
    from textual import events
    from textual.app import App

    from trackui.tui.footer import Footer

    class Keys(App[None]):
        BINDINGS = [(k, f"press('{k}')", f"Key number {k}") for k in "abcdefghij"]

        def __init__(self) -> None:
            super().__init__()
            self.pressed: list[str] = []

        def compose(self) -> Any:
            yield Footer()

        def action_press(self, key: str) -> None:
            self.pressed.append(key)

    app = Keys()
    async with app.run_test(size=(60, 3)) as pilot:
        await pilot.pause()
        footer = app.query_one(Footer)
        assert footer.key_names()[:10] == list("abcdefghij")
        start = footer.render().plain.index(" c ")
        await pilot.click(Footer, offset=(start + 1, 0))
        await pilot.pause()
        assert app.pressed == ["c"]
        assert "Key number j" not in footer.render().plain  # too wide for 60 cells
        for _ in range(40):
            await pilot._post_mouse_events([events.MouseScrollDown], Footer, offset=(5, 0))
        await pilot.pause()
        assert "Key number j" in footer.render().plain
        assert footer.render().plain.rstrip().endswith("palette")  # still at the right
        footer.show_command_palette = False
        await pilot.pause()
        assert "palette" not in footer.render().plain and "ctrl+p" not in footer.key_names()


async def test_the_start_up_work_waits_for_the_first_chart(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No key and no worker for a while, but the Run screen's chart is not
    drawn yet (a busy machine): the start-up work still waits for it."""
    app_module, now = idle_clock(monkeypatch)
    draw = RunScreen._draw_held
    monkeypatch.setattr(RunScreen, "_draw_held", lambda self: None)  # not yet
    app = make_app(store, clock=lambda: FIXED_NOW, live_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.runs, "rows")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen), "the run screen")
        await pilot.press("3")
        screen = app.screen
        await until(pilot, lambda: screen.ready("metrics") and screen.detail, "the run")
        await settle(pilot)
        now[0] += app_module.START_IDLE_S * 1.5
        app._start_when_idle()
        await settle(pilot)
        assert screen.starting and not app.start_over
        draw(screen)
        await until(pilot, lambda: screen.chart.last_plot is not None, "the chart")
        assert not screen.starting
        await settle(pilot)  # what the drawing started (a read for its size) is done
        app._start_when_idle()
        assert app.start_over


async def test_an_idle_check_while_the_app_closes_is_quiet(store: Store) -> None:
    """Its timer may fire when the screens are gone (a slow machine)."""
    app = build(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.runs, "rows")
        app.first_page_shown()
    app._start_when_idle()  # no screen left: nothing to do, no error


async def test_opening_a_run_focuses_the_tabs_widget_and_nothing_before(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each focus move restyles what it leaves and enters: the Run screen
    focuses its opening tab's widget at once, never the tab bar first."""
    from textual.widget import Widget

    focused: list[str] = []
    watch = Widget.watch_has_focus

    def spy(self: Widget, value: bool) -> None:
        if value:
            focused.append(f"{type(self).__name__}#{self.id}")
        watch(self, value)

    monkeypatch.setattr(Widget, "watch_has_focus", spy)
    app = build(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.runs, "rows")
        focused.clear()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen), "the run screen")
        await settle(pilot)
        assert focused == ["ViScroll#overview-scroll"]
        await pilot.press("3")
        await until(pilot, lambda: app.screen.ready("metrics"), "the Metrics tab")
        await settle(pilot)
        assert focused == ["ViScroll#overview-scroll", "MetricPicker#metric-picker"]


async def test_a_tab_being_built_shows_no_frame_before_it_is_filled(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``3`` on a run already read: a frame due while the Metrics tab mounts
    (the screen's update timer, forced here from a widget's mount) lays
    nothing out; the first layout shows the tab filled."""
    from textual.screen import Screen

    frames: list[int] = []  # the summary's rows at each layout of the tab
    layout = Screen._refresh_layout

    def spy(self: Screen, *args: Any, **kwargs: Any) -> None:
        if isinstance(self, RunScreen) and self.active_tab == "metrics":
            frames.extend(t.row_count for t in self.query("#metric-summary"))
        layout(self, *args, **kwargs)

    def tick_while_mounting(self: MetricChart) -> None:
        self.screen._layout_required = True
        self.screen._on_timer_update()  # a frame falls due now

    monkeypatch.setattr(Screen, "_refresh_layout", spy)
    monkeypatch.setattr(MetricChart, "on_mount", tick_while_mounting, raising=False)
    app = RunApp(store, store.resolve("detect/yolo-sgd"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await until(pilot, lambda: screen.detail is not None, "the run")
        await settle(pilot)
        await pilot.press("3")
        await until(pilot, lambda: screen.chart.last_plot is not None, "the chart")
        await settle(pilot)
        assert frames and 0 not in frames
