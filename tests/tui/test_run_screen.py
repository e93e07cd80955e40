"""RunScreen driven headlessly on the fixture store: what each tab shows for
finished, failed, killed and crashed runs, every key, hostile names, live updates."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Log, OptionList, Static

import trackui
from trackui.store import fmt
from trackui.store.queries import Store
from trackui.tui.chart import MetricChart
from trackui.tui.messages import StoreRefreshed
from trackui.tui.metric_grid import MetricGrid
from trackui.tui.run_details import read_console
from trackui.tui.run_screen import RunScreen, SeriesLoaded
from trackui.tui.smoothing import smooth
from trackui.tui.tab_bar import TabBar

from ..conftest import FIXED_NOW
from .helpers import RunApp, open_run, screen_text, settle

pytestmark = pytest.mark.anyio


def overview_of(screen: RunScreen) -> str:
    return screen.query_one("#overview-body", Static).content.plain  # type: ignore[union-attr]


def cells(table: DataTable[object]) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


# -- overview per status ------------------------------------------------------


async def test_overview_of_a_finished_run(store: Store) -> None:
    run_id = store.resolve("detect/yolo-adamw")
    async with open_run(store, run_id) as (pilot, screen):
        text = overview_of(screen)
        created = store.get_run(run_id).run.created
        assert "✔ finished" in text
        assert "detect/yolo-adamw" in text and run_id in text
        assert f"{fmt.timestamp(created)} (23h ago)" in text  # through app.clock
        assert "baseline, adamw" in text
        assert "vm · pid 5537" in text and "fixtures/make_store.py" in text
        assert "3.11.7" in text
        header = screen.query_one("#run-header", Static).content.plain  # type: ignore[union-attr]
        assert header.startswith("✔ finished  detect/yolo-adamw")
        assert "✔ finished  detect/yolo-adamw" in screen_text(pilot.app.screen)


@pytest.mark.parametrize(
    ("ref", "status", "reason"),
    [
        (
            "detect/yolo-oom",
            "✖ failed",
            "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB",
        ),
        ("cls/resnet-kill", "■ killed", "signal SIGTERM"),
        ("cls/resnet-crash", "✝ crashed", "heartbeat stale for 24 h (no finish recorded)"),
    ],
)
async def test_overview_says_why_a_run_ended(
    store: Store, ref: str, status: str, reason: str
) -> None:
    async with open_run(store, store.resolve(ref)) as (pilot, screen):
        text = overview_of(screen)
        assert f"{status} — {reason}" in text
        assert reason in screen_text(pilot.app.screen)
        if ref == "detect/yolo-oom":
            assert 'raise RuntimeError("CUDA out of memory' in text  # the traceback's tail
        if ref == "cls/resnet-crash":
            assert "gpu-box-7" in text


# -- params -------------------------------------------------------------------


async def test_params_tab_lists_flattened_params_and_filters_them(store: Store) -> None:
    run_id = store.resolve("detect/yolo-adamw")
    async with open_run(store, run_id) as (pilot, screen):
        await pilot.press("2")
        assert screen.active_tab == "params"
        table = screen.query_one("#params-table", DataTable)
        rows = cells(table)
        assert ["optimizer.name", "AdamW"] in rows and ["lr0", "0.002"] in rows
        assert len(rows) == len(store.get_run(run_id).params)
        await pilot.press("1", "slash")  # `/` from any tab opens the filter
        assert screen.active_tab == "params"
        assert isinstance(screen.focused, Input)
        await pilot.press(*"adam")
        assert cells(table) == [["optimizer.name", "AdamW"]]  # matches a value, any case
        note = screen.query_one("#params-note", Static).content.plain  # type: ignore[union-attr]
        assert note == f"1 of {len(rows)} params match 'adam'"
        await pilot.press("escape")  # leaves the filter, not the screen
        assert screen.focused is table and pilot.app.screen is screen
        await pilot.press("escape")
        assert not isinstance(pilot.app.screen, RunScreen)


# -- metrics ------------------------------------------------------------------


PRIMARY = "metrics/mAP50-95(B)"  # the headline metric of the detect runs


async def test_metrics_tab_charts_the_primary_metric_with_its_summary(store: Store) -> None:
    run_id = store.resolve("detect/yolo-sgd")
    async with open_run(store, run_id) as (pilot, screen):
        await pilot.press("3")
        await settle(pilot)
        keys = [m.key for m in store.metric_summaries(run_id)]
        assert keys[0] == "lr/pg0"  # alphabetically first: a schedule, not what to open on
        picker = screen.query_one("#metric-picker", OptionList)
        assert [picker.get_option_at_index(i).id for i in range(picker.option_count)] == keys
        assert picker.get_option_at_index(picker.highlighted or 0).id == PRIMARY
        plot = screen.chart.last_plot
        assert plot is not None and plot.key == PRIMARY
        history = [p.value for p in store.history(run_id, PRIMARY)]
        n = len(history)
        assert n > 2
        # fewer than 50 points: drawn as logged, unsmoothed
        assert plot.title == f"{PRIMARY} · {n} of {n} points · smoothing 0 · x: step"
        assert list(plot.run(run_id).y) == history
        assert list(plot.run(run_id).smoothed) == smooth(history, 0.0)
        # metric, last, min, at step, max, at step, first, count
        assert cells(screen.query_one("#metric-summary", DataTable)) == [
            ["lr/pg0", "0.0022", "0.0022", "39", "0.01", "0", "0.01", "40"],
            ["metrics/mAP50(B)", "0.5984", "-0.00288", "0", "0.5984", "39", "-0.00288", "40"],
            ["metrics/mAP50-95(B)", "0.434", "-0.00192", "0", "0.434", "39", "-0.00192", "40"],
            ["train/box_loss", "0.4823", "0.4589", "38", "1.994", "0", "1.994", "40"],
            ["train/cls_loss", "0.6944", "0.6944", "39", "3.006", "0", "3.006", "40"],
        ]
        assert plot.title in screen_text(pilot.app.screen)


async def test_every_chart_key(store: Store) -> None:
    run_id = store.resolve("detect/yolo-sgd")
    keys = [m.key for m in store.metric_summaries(run_id)]
    async with open_run(store, run_id, tab="metrics") as (pilot, screen):
        chart = screen.query_one("#run-chart", MetricChart)

        def drawn() -> str:
            assert chart.last_plot is not None
            return chart.last_plot.key

        first = keys.index(PRIMARY)
        assert drawn() == PRIMARY
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert screen.metric == keys[first + 1] and drawn() == keys[first + 1]
        for _ in range(first + 2):
            await pilot.press("left_square_bracket")
        await settle(pilot)
        assert drawn() == keys[-1]  # wraps around

        levels = []
        for key in ("plus", "plus", "plus", "minus", "S", "S", "minus"):
            await pilot.press(key)
            levels.append(chart.smoothing)
        assert levels == [0.6, 0.9, 0.99, 0.9, 0.99, 0.0, 0.0]  # from 0: 40 points
        assert "smoothing 0 ·" in chart.last_plot.title  # type: ignore[union-attr]

        for axis, label in (("relative", "relative time"), ("wall", "wall time"), ("step", "step")):
            await pilot.press("x")
            await settle(pilot)
            assert chart.x_axis == axis
            assert chart.last_plot is not None and chart.last_plot.x_axis == axis
            assert chart.last_plot.title.endswith(f"x: {label}")
        relative = store.series(run_id, keys[-1], x_axis="relative")
        await pilot.press("x")
        await settle(pilot)
        assert chart.last_plot.run(run_id).x == relative.x  # type: ignore[union-attr]

        await pilot.press("l")
        assert chart.log_y and "log y" in chart.last_plot.title  # type: ignore[union-attr]
        await pilot.press("l")
        assert not chart.log_y

        await pilot.press("m")
        assert screen.focused is screen.query_one("#metric-picker")
        await pilot.press("j")
        await settle(pilot)
        assert drawn() == keys[0]  # from the last key, j wraps to the first
        await pilot.press("k")
        await settle(pilot)
        assert drawn() == keys[-1]

        screen.action_show_metric("train/box_loss")
        await settle(pilot)
        assert drawn() == "train/box_loss"


async def test_log_y_on_a_metric_with_non_positive_values_says_what_it_hid(store: Store) -> None:
    run_id = store.resolve("detect/yolo-sgd")
    values = [p.value for p in store.history(run_id, "metrics/mAP50(B)")]
    async with open_run(store, run_id, tab="metrics") as (pilot, screen):
        screen.action_show_metric("metrics/mAP50(B)")
        await settle(pilot)
        await pilot.press("l")
        hidden = sum(v <= 0 for v in values)
        assert hidden >= 1
        title = screen.chart.last_plot.title  # type: ignore[union-attr]
        assert f"{hidden} point{'s' if hidden > 1 else ''} ≤ 0 hidden" in title
        # too long for the border at this width: the short form, notes kept
        assert f"· log y · {hidden} ≤0 hidden" in screen_text(pilot.app.screen)


async def test_chart_keys_only_act_on_the_metrics_tab(store: Store) -> None:
    async with open_run(store, store.resolve("detect/yolo-sgd")) as (pilot, screen):
        await pilot.press("l", "x", "plus")
        assert not screen.query("#run-chart")  # the Metrics tab is not built yet
        footer = screen_text(pilot.app.screen).splitlines()[-1]
        assert "Log y" not in footer  # not offered in the footer
        await pilot.press("3")
        await settle(pilot)
        assert "Log y" in screen_text(pilot.app.screen).splitlines()[-1]
        # the keys pressed on the Overview reached no chart
        assert (screen.chart.log_y, screen.chart.x_axis, screen.chart.smoothing) == (
            False,
            "step",
            0.6,
        )
        await pilot.press("1", "l")
        await pilot.press("3")
        await settle(pilot)
        assert not screen.chart.log_y  # nor on the Overview once the chart is built


async def test_number_keys_switch_tabs_and_q_goes_back(store: Store) -> None:
    async with open_run(store, store.resolve("detect/yolo-adamw")) as (pilot, screen):
        tabs = screen.query_one(TabBar)
        for key, tab in zip(
            "52341", ("artifacts", "params", "metrics", "console", "overview"), strict=True
        ):
            await pilot.press(key)
            assert tabs.active == tab
        await pilot.press("q")
        assert not isinstance(pilot.app.screen, RunScreen)


async def test_stale_series_results_are_dropped(store: Store) -> None:
    run_id = store.resolve("detect/yolo-sgd")
    async with open_run(store, run_id, tab="metrics") as (pilot, screen):
        before = screen.chart.last_plot
        other = store.series(run_id, "train/cls_loss")
        screen.post_message(SeriesLoaded(screen.metric or "", other, generation=0))
        await pilot.pause()
        assert screen.chart.last_plot is before


# -- console and artifacts ----------------------------------------------------


async def test_artifacts_tab(store: Store) -> None:
    async with open_run(store, store.resolve("detect/yolo-adamw")) as (pilot, screen):
        await pilot.press("5")
        assert cells(screen.query_one("#artifacts-table", DataTable)) == [
            ["weights/best.pt", "1.0 KB", "1912805ec8c2", "copied"]
        ]
        await pilot.press("4")
        assert screen.query_one("#console-note", Static).content.plain == (  # type: ignore[union-attr]
            "no console output captured"
        )


def test_read_console_takes_complete_lines_and_starts_over_when_replaced(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_bytes(b"one\ntw")
    assert read_console(log, None) == (["one"], 4, True)
    assert read_console(log, 4) == ([], 4, False)  # "tw" is not a line yet
    with open(log, "ab") as fh:
        fh.write(b"o\r\n 10%\r 50%\r100%\n\x1b[31mred\x1b[0m\n")
    assert read_console(log, 4) == (["two", "100%", "red"], log.stat().st_size, False)
    log.write_bytes(b"new\nlast")  # replaced by a shorter file
    assert read_console(log, 40) == (["new"], 4, True)
    assert read_console(log, 4, whole=True) == (["last"], 8, False)  # the run ended
    assert read_console(tmp_path / "missing.log", None) == ([], 0, False)


def test_read_console_tail_drops_the_cut_first_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trackui.tui.run_details as details

    monkeypatch.setattr(details, "CONSOLE_TAIL_BYTES", 10)
    log = tmp_path / "console.log"
    log.write_bytes(b"first line\nsecond\nthird\n")
    lines, offset, reset = read_console(log, None)
    assert (lines, offset, reset) == (["third"], len(b"first line\nsecond\nthird\n"), True)


# -- hostile text -------------------------------------------------------------

ODD_NAME = "opt[/x] [bold]\x1b[31m\x1b]0;title\x07"


def append_console(run: trackui.Run, text: str) -> None:
    with open(run.dir / "console.log", "a", encoding="utf-8") as fh:
        fh.write(text)


async def test_markup_and_escape_sequences_display_literally(fixture_store: Path) -> None:
    run = trackui.init(
        project="odd",
        name=ODD_NAME,
        config={"opt[/x]": "[red]v[/red]", "esc": "\x1b[2Jboom"},
        tags=["[b]tag"],
        dir=fixture_store,
        console=False,
    )
    try:
        run.log({"loss[/x]": 1.0})
        run.log({"loss[/x]": 0.5})
        append_console(run, "\x1b[2J\x1b[31mred text [bold]x[/bold]\x1b[0m\nplain\x07 bell\n")
    finally:
        run.finish()
    with Store(fixture_store, clock=lambda: FIXED_NOW) as store:
        async with open_run(store, run.id) as (pilot, screen):
            assert "odd/opt[/x] [bold]" in overview_of(screen)
            assert "[b]tag" in overview_of(screen)
            for tab in "12345":
                await pilot.press(tab)
                await settle(pilot)
                seen = screen_text(pilot.app.screen)
                assert "\x1b" not in seen and "\x07" not in seen
                assert "opt[/x] [bold]" in seen  # the header, on every tab
            params = cells(screen.query_one("#params-table", DataTable))
            assert ["opt[/x]", "[red]v[/red]"] in params and ["esc", "\\x1b[2Jboom"] in params
            assert screen.chart.last_plot is not None
            assert screen.chart.last_plot.title.startswith("loss[/x] · 2 of 2 points")
            log = screen.query_one("#console-log", Log)
            assert list(log.lines) == ["red text [bold]x[/bold]", "plain\\x07 bell"]


# -- live ---------------------------------------------------------------------


async def test_live_run_shows_new_points_and_console_lines_after_a_refresh(tmp_path: Path) -> None:
    root = tmp_path / "live-store"
    run = trackui.init(project="live", name="growing", dir=root, console=False)
    try:
        for step in range(5):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
        append_console(run, "epoch 0\nepoch 1\n")
        with Store(root) as store:
            async with open_run(store, run.id, tab="metrics") as (pilot, screen):
                assert screen.query_one("#run-header", Static).content.plain.startswith(  # type: ignore[union-attr]
                    "▶ running"
                )
                assert screen.chart.last_plot.title.startswith("loss · 5 of 5 points")  # type: ignore[union-attr]
                await pilot.press("4", "3")  # the console is read once its tab is shown
                await settle(pilot)
                log = screen.query_one("#console-log", Log)
                assert list(log.lines) == ["epoch 0", "epoch 1"]

                for step in range(5, 8):
                    run.log({"loss": 1.0 / (step + 1)}, step=step)
                append_console(run, "epoch 2\nepoch 3 half")
                stats = store.refresh()
                assert stats.runs_changed
                screen.post_message(StoreRefreshed(stats))
                await settle(pilot)
                plot = screen.chart.last_plot
                assert plot is not None and plot.title.startswith("loss · 8 of 8 points")
                assert plot.run(run.id).y[-1] == pytest.approx(1 / 8)
                assert list(log.lines) == ["epoch 0", "epoch 1", "epoch 2"]  # no repeats
                summary = cells(screen.query_one("#metric-summary", DataTable))
                assert summary[0][0] == "loss" and summary[0][-1] == "8"

                run.finish()
                screen.post_message(StoreRefreshed(store.refresh()))
                await settle(pilot)
                header = screen.query_one("#run-header", Static).content.plain  # type: ignore[union-attr]
                assert header.startswith("✔ finished")
                assert list(log.lines)[-1] == "epoch 3 half"  # the run ended: its last line counts
                assert screen.chart.last_plot is plot  # nothing new to draw, so not redrawn
    finally:
        run.finish()


async def test_a_refresh_that_changed_another_run_does_not_redraw_this_one(
    fixture_store: Path,
) -> None:
    with Store(fixture_store, clock=lambda: FIXED_NOW) as store:
        run_id = store.resolve("detect/yolo-sgd")
        async with open_run(store, run_id, tab="metrics") as (pilot, screen):
            plot = screen.chart.last_plot
            other = Path(store.get_run(store.resolve("detect/yolo-adamw")).dir)
            with open(other / "metrics.jsonl", "a") as fh:
                fh.write('{"_step": 40, "_t": 1795705869.0, "lr/pg0": 0.001}\n')
            stats = store.refresh()
            assert stats.runs_changed == 1
            screen.post_message(StoreRefreshed(stats))
            await settle(pilot)
            assert screen.detail is not None and screen.detail.run.id == run_id
            assert screen.chart.last_plot is plot  # not redrawn


async def test_an_unknown_run_says_so_in_the_header(store: Store) -> None:
    async with open_run(store, "no-such-run") as (pilot, screen):
        header = screen.query_one("#run-header", Static).content.plain  # type: ignore[union-attr]
        assert header.startswith("cannot load run no-such-run: ")
        await pilot.press("3", "l", "2", "4", "5")  # nothing loaded: keys still crash nothing
        assert isinstance(pilot.app.screen, RunScreen)


# -- the primary metric and the grid -----------------------------------------


async def test_a_configured_primary_metric_opens_first(store: Store, tmp_path: Path) -> None:
    config = tmp_path / "config"  # TRACKUI_CONFIG_DIR of this test
    config.mkdir(exist_ok=True)
    (config / "config.toml").write_text('[primary]\ndetect = "train/box_loss"\n')
    async with open_run(store, store.resolve("detect/yolo-sgd"), tab="metrics") as (_, screen):
        assert screen.metric == "train/box_loss"
        assert screen.chart.last_plot is not None
        assert screen.chart.last_plot.key == "train/box_loss"


@pytest.mark.parametrize(
    ("size", "shape"),
    [((80, 24), (2, 2)), ((120, 40), (3, 2))],
)
async def test_v_shows_a_grid_of_the_key_metrics(
    store: Store, size: tuple[int, int], shape: tuple[int, int]
) -> None:
    run_id = store.resolve("detect/yolo-sgd")
    app = RunApp(store, run_id, tab="metrics")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        grid = screen.query_one(MetricGrid)
        assert not grid.display or not screen.grid_shown
        await pilot.press("v")
        await settle(pilot)
        assert screen.grid_shown
        columns, rows = shape
        shown = [c for c in grid.charts if c.display]
        assert len(shown) == min(columns * rows, 5)
        # the primary metric first, the schedule last
        assert grid.shown_keys[0] == PRIMARY
        assert grid.keys[-1] == "lr/pg0"
        text = screen_text(screen)
        for chart, key in zip(shown, grid.shown_keys):
            plot = chart.last_plot
            assert plot is not None and plot.key == key
            assert plot.run(run_id).y == tuple(p.value for p in store.history(run_id, key))
            # readable: each small chart has room for a plot and its axis
            assert chart.size.width >= 36 and chart.size.height >= 8
        assert f"metrics 1–{len(shown)} of 5" in text
        if len(shown) < 5:
            await pilot.press("right_square_bracket")  # the next page
            await settle(pilot)
            assert grid.shown_keys == grid.keys[len(shown) :]
        await pilot.press("l")  # chart keys reach the small charts
        await settle(pilot)
        assert all(c.log_y for c in grid.charts if c.display)
        await pilot.press("v")
        await settle(pilot)
        assert not screen.grid_shown and screen.chart.last_plot is not None
        assert screen.chart.last_plot.key == PRIMARY
        await pilot.press("v", "m")  # picking a metric goes back to the single chart
        await settle(pilot)
        assert not screen.grid_shown
        assert screen.focused is screen.query_one("#metric-picker")


async def test_overview_says_how_many_points_were_dropped(tmp_path: Path, monkeypatch) -> None:
    """A run that lost points (its metrics file deleted under it) says so."""
    import warnings

    monkeypatch.setenv("TRACKUI_HEARTBEAT_INTERVAL", "60")
    root = tmp_path / "store"
    run = trackui.init(project="p", name="lossy", dir=root, console=False)
    run.log({"a": 1.0})
    (run.dir / "metrics.jsonl").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run.log({"a": 2.0, "b": 2.0})
        run.log({"a": 3.0})
        run.finish()
    assert run.dropped >= 2
    with Store(root) as store:
        async with open_run(store, run.id) as (pilot, screen):
            assert f"dropped   {run.dropped} points could not be written" in overview_of(screen)
