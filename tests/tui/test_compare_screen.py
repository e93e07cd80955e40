"""The Compare screen driven through Pilot: what the user sees in the legend,
the chart, the summary table and the params diff after each key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from rich.style import Style
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Input, Static

import trackui
from trackui.store.queries import Store
from trackui.tui.chart import MetricChart
from trackui.tui.compare_screen import CompareScreen, MetricPicker
from trackui.tui.messages import StoreRefreshed
from trackui.tui.metric_table import MetricTable
from trackui.tui.param_diff import ParamDiffTable
from trackui.tui.runs_screen import RunsScreen

from ..conftest import FIXED_NOW
from .compare_runs import sweep, sweep_names
from .helpers import build, ids_by_name, screen_text, settle

pytestmark = pytest.mark.anyio

MARKUP_NAME = "opt[/x] [bold]\x1b[31m"
MARKUP_SHOWN = "opt[/x] [bold]\\x1b[31m"  # the escape made visible, not obeyed


@asynccontextmanager
async def compare(
    store: Store, run_ids: list[str], size: tuple[int, int] = (120, 40)
) -> AsyncIterator[tuple[Pilot[None], CompareScreen]]:
    app = build(store)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = CompareScreen(run_ids)
        await app.push_screen(screen)
        await settle(pilot)
        yield pilot, screen


async def press(pilot: Pilot[None], *keys: str) -> None:
    await pilot.press(*keys)
    await settle(pilot)


def params_rows(screen: CompareScreen) -> list[list[str]]:
    table = screen.params_table
    return [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)]


def legend(screen: CompareScreen) -> str:
    return str(screen.query_one("#legend-lines", Static).render())


def has_style(cell: Text, style: Style) -> bool:
    return cell.style == style or any(span.style == style for span in cell.spans)


def header(table: ParamDiffTable | MetricTable, index: int) -> str:
    return table.ordered_columns[index].label.plain


async def test_params_diff_shows_exactly_the_keys_that_differ(store: Store) -> None:
    ids = ids_by_name(store)
    sgd, adamw = ids["yolo-sgd"], ids["yolo-adamw"]
    async with compare(store, [sgd, adamw]) as (_pilot, screen):
        assert params_rows(screen) == [
            ["batch", "16", "32"],
            ["lr0", "0.01", "0.002"],
            ["optimizer.name", "SGD", "AdamW"],
        ]
        title = screen.query_one("#compare-params-title").render()
        assert str(title) == "Params: 3 of 8 differ (a: show all)"
        keys = {row[0] for row in params_rows(screen)}
        assert not keys & {"model", "imgsz", "data", "epochs", "optimizer.momentum"}


async def test_a_shows_every_param_and_back(store: Store) -> None:
    ids = ids_by_name(store)
    sgd, adamw = ids["yolo-sgd"], ids["yolo-adamw"]
    async with compare(store, [sgd, adamw]) as (pilot, screen):
        await press(pilot, "a")
        rows = params_rows(screen)
        assert [row[0] for row in rows] == [
            "batch",
            "data",
            "epochs",
            "imgsz",
            "lr0",
            "model",
            "optimizer.momentum",
            "optimizer.name",
        ]
        assert ["model", "yolo26n.pt", "yolo26n.pt"] in rows
        assert ["imgsz", "640", "640"] in rows
        title = screen.query_one("#compare-params-title").render()
        assert str(title) == "Params: all 8, 3 differ (a: only differing)"
        # equal values are not highlighted, differing ones are
        table = screen.params_table
        assert ("model", adamw) not in table.highlighted
        assert ("lr0", adamw) in table.highlighted
        await press(pilot, "a")
        assert [row[0] for row in params_rows(screen)] == ["batch", "lr0", "optimizer.name"]


async def test_missing_param_shows_a_dim_dash(store: Store) -> None:
    ids = ids_by_name(store)
    # cls runs have arch/lr; detect runs have none of those
    async with compare(store, [ids["yolo-sgd"], ids["resnet-kill"]]) as (_pilot, screen):
        rows = {row[0]: row[1:] for row in params_rows(screen)}
        assert rows["arch"] == ["—", "resnet18"]
        assert rows["lr0"] == ["0.01", "—"]
        table = screen.params_table
        dash = table.get_cell("lr0", ids["resnet-kill"])
        assert dash.style.dim  # type: ignore[union-attr]
        # a key the baseline has and this run lacks differs from the baseline
        assert ("lr0", ids["resnet-kill"]) in table.highlighted
        assert not table.get_cell("lr0", ids["yolo-sgd"]).style


async def test_b_pins_the_cursor_run_as_baseline(store: Store) -> None:
    ids = ids_by_name(store)
    sgd, adamw, oom = ids["yolo-sgd"], ids["yolo-adamw"], ids["yolo-oom"]
    async with compare(store, [sgd, adamw, oom]) as (pilot, screen):
        params = screen.params_table
        changed = params.get_component_rich_style("param-diff--changed", partial=True)
        # the first run is the baseline until another is pinned
        assert screen.baseline == sgd
        assert "1⣿ yolo-sgd ◆" in legend(screen)
        assert params.highlighted == {
            ("batch", adamw),
            ("batch", oom),
            ("lr0", adamw),
            ("lr0", oom),
            ("optimizer.momentum", oom),
            ("optimizer.name", adamw),
        }
        assert has_style(params.get_cell("optimizer.name", adamw), changed)
        assert not has_style(params.get_cell("optimizer.name", oom), changed)  # SGD like sgd
        # deltas against yolo-sgd: box_loss last 0.48225 (sgd) vs 0.45485 (adamw)
        assert summary_cell(screen, "train/box_loss", "last", sgd).plain == "0.4823"
        assert summary_cell(screen, "train/box_loss", "last", adamw).plain == "0.4548 -0.0274"
        assert summary_cell(screen, "train/cls_loss", "last", adamw).plain == "0.7218 +0.02739"

        # move the params cursor onto yolo-adamw's column and pin it
        params.focus()
        await press(pilot, "right")
        assert params.run_at_cursor() == sgd
        await press(pilot, "right")
        assert params.run_at_cursor() == adamw
        await press(pilot, "b")
        assert screen.baseline == adamw
        assert "2• yolo-adamw ◆" in legend(screen)
        assert "yolo-sgd ◆" not in legend(screen)
        assert header(params, 2) == "2• yolo-adamw ◆"
        assert header(params, 1) == "1⣿ yolo-sgd"
        assert header(screen.summary_table, 3) == "2• yolo-adamw ◆"
        assert params.highlighted == {
            ("batch", sgd),
            ("batch", oom),
            ("lr0", sgd),
            ("lr0", oom),
            ("optimizer.momentum", oom),
            ("optimizer.name", sgd),
            ("optimizer.name", oom),
        }
        assert has_style(params.get_cell("optimizer.name", oom), changed)
        assert not has_style(params.get_cell("optimizer.name", adamw), changed)
        assert summary_cell(screen, "train/box_loss", "last", adamw).plain == "0.4548"
        assert summary_cell(screen, "train/box_loss", "last", sgd).plain == "0.4823 +0.0274"
        # the cursor stayed on the run it was on
        assert params.run_at_cursor() == adamw


async def test_b_off_a_run_column_moves_the_baseline_to_the_next_run(store: Store) -> None:
    ids = ids_by_name(store)
    sgd, adamw, oom = ids["yolo-sgd"], ids["yolo-adamw"], ids["yolo-oom"]
    async with compare(store, [sgd, adamw, oom]) as (pilot, screen):
        assert screen.focused is screen.summary_table
        assert screen.summary_table.run_at_cursor() is None  # on the metric column
        await press(pilot, "b")
        assert screen.baseline == adamw
        await press(pilot, "b", "b")
        assert screen.baseline == sgd


async def test_summary_marks_the_best_run_by_direction(store: Store) -> None:
    ids = ids_by_name(store)
    sgd, adamw = ids["yolo-sgd"], ids["yolo-adamw"]
    async with compare(store, [sgd, adamw]) as (_pilot, screen):
        table = screen.summary_table
        best_style = table.get_component_rich_style("metric-table--best", partial=True)
        # a loss: lower is better, yolo-adamw's min 0.45485 beats 0.45888
        assert table.get_cell("train/box_loss\0best", "\0stat").plain == "best ↓"
        loss_best = summary_cell(screen, "train/box_loss", "best", adamw)
        assert loss_best.plain.startswith("★ 0.4548")
        assert has_style(loss_best, best_style)
        assert "★" not in summary_cell(screen, "train/box_loss", "best", sgd).plain
        # mAP: higher is better, yolo-sgd's max 0.434 beats 0.43321
        assert table.get_cell("metrics/mAP50-95(B)\0best", "\0stat").plain == "best ↑"
        map_best = summary_cell(screen, "metrics/mAP50-95(B)", "best", sgd)
        assert map_best.plain == "★ 0.434"
        assert "★" not in summary_cell(screen, "metrics/mAP50-95(B)", "best", adamw).plain
        # "last" rows never carry the mark
        assert "★" not in summary_cell(screen, "train/box_loss", "last", adamw).plain


async def test_brackets_and_picker_change_the_charted_metric(store: Store) -> None:
    ids = ids_by_name(store)
    sgd, adamw = ids["yolo-sgd"], ids["yolo-adamw"]
    async with compare(store, [sgd, adamw]) as (pilot, screen):
        chart = screen.query_one(MetricChart)

        def drawn() -> tuple[str, tuple[str, ...]]:
            plot = chart.last_plot
            assert plot is not None
            return plot.key, tuple(run.run_id for run in plot.runs)

        # the primary metric first (a headline metric, not lr/pg0, the first by name)
        assert drawn() == ("metrics/mAP50-95(B)", (sgd, adamw))
        assert chart.last_plot is not None
        assert chart.last_plot.title.startswith("metrics/mAP50-95(B) · 80 of 80")
        await press(pilot, "right_square_bracket", "right_square_bracket")
        assert drawn() == ("train/cls_loss", (sgd, adamw))
        assert "metric 5/5 · ↓ lower is better" in str(chart.border_subtitle)
        await press(pilot, "right_square_bracket")
        assert drawn() == ("lr/pg0", (sgd, adamw))  # wraps around
        assert "metric 1/5 · no known direction" in str(chart.border_subtitle)
        await press(pilot, "left_square_bracket")
        assert drawn() == ("train/cls_loss", (sgd, adamw))
        assert chart.last_plot.run(sgd).total == 40
        assert chart.last_plot.run(sgd).y[-1] == 0.69438  # yolo-sgd's last cls_loss

        await press(pilot, "m")
        picker = pilot.app.screen
        assert isinstance(picker, MetricPicker)
        await press(pilot, *"box")
        assert picker.matching(picker.query_one(Input).value) == ["train/box_loss"]
        await press(pilot, "enter")
        assert pilot.app.screen is screen
        assert drawn() == ("train/box_loss", (sgd, adamw))

        # escape leaves the picker without changing the metric
        await press(pilot, "m", "escape")
        assert pilot.app.screen is screen
        assert drawn() == ("train/box_loss", (sgd, adamw))

        # a filter that matches nothing empties the list; enter then picks nothing
        await press(pilot, "m", *"zzz")
        picker = pilot.app.screen
        assert isinstance(picker, MetricPicker) and picker.options.option_count == 0
        await press(pilot, "enter")
        assert pilot.app.screen is picker
        await press(pilot, "escape")
        assert drawn() == ("train/box_loss", (sgd, adamw))

        # enter on a summary row charts that row's metric
        table = screen.summary_table
        table.focus()
        await press(pilot, "down", "down", "enter")  # metrics/mAP50(B), "last"
        assert drawn() == ("metrics/mAP50(B)", (sgd, adamw))

        screen.action_show_metric("metrics/mAP50-95(B)")
        await settle(pilot)
        assert drawn() == ("metrics/mAP50-95(B)", (sgd, adamw))
        screen.action_show_metric("no/such/metric")
        await settle(pilot)
        assert drawn()[0] == "metrics/mAP50-95(B)"


async def test_command_palette_offers_the_metrics(store: Store) -> None:
    ids = ids_by_name(store)
    async with compare(store, [ids["yolo-sgd"], ids["yolo-adamw"]]) as (pilot, screen):
        await press(pilot, "ctrl+p")
        await press(pilot, *"metric box_loss")
        await press(pilot, "enter")
        await settle(pilot)
        assert pilot.app.screen is screen
        assert screen.metric == "train/box_loss"
        assert screen.chart.last_plot is not None
        assert screen.chart.last_plot.key == "train/box_loss"


async def test_chart_keys_reach_the_chart(store: Store) -> None:
    ids = ids_by_name(store)
    sgd, adamw = ids["yolo-sgd"], ids["yolo-adamw"]
    async with compare(store, [sgd, adamw]) as (pilot, screen):
        chart = screen.chart
        # 40 points a run: drawn as logged until a key asks for smoothing
        assert chart.effective_smoothing == 0.0 and chart.smoothing_auto
        await press(pilot, "S")
        assert chart.smoothing == 0.6
        await press(pilot, "plus")
        assert chart.smoothing == 0.9
        await press(pilot, "plus", "plus")
        assert chart.smoothing == 0.99  # the top level stays
        await press(pilot, "minus", "minus", "minus", "minus")
        assert chart.smoothing == 0.0
        await press(pilot, "S")
        assert chart.smoothing == 0.6
        assert chart.last_plot is not None and "smoothing 0.6" in chart.last_plot.title

        await press(pilot, "x")
        assert chart.x_axis == "relative"
        # new series were loaded on the new axis for both runs
        assert chart.last_plot.x_axis == "relative"
        assert {s.x_axis for _, _, s in chart.series} == {"relative"}
        assert [run_id for run_id, _, _ in chart.series] == [sgd, adamw]
        await press(pilot, "x", "x")
        assert chart.x_axis == "step"
        assert chart.last_plot.x_axis == "step"

        await press(pilot, "l")
        assert chart.log_y is True
        assert "log y" in chart.last_plot.title
        await press(pilot, "l")
        assert chart.log_y is False


async def test_escape_and_q_go_back(store: Store) -> None:
    ids = ids_by_name(store)
    async with compare(store, [ids["yolo-sgd"], ids["yolo-adamw"]]) as (pilot, _screen):
        await press(pilot, "escape")
        assert isinstance(pilot.app.screen, RunsScreen)
        screen = CompareScreen([ids["yolo-sgd"], ids["yolo-adamw"]])
        await pilot.app.push_screen(screen)
        await settle(pilot)
        await press(pilot, "q")
        assert isinstance(pilot.app.screen, RunsScreen)
        assert pilot.app.is_running


def make_runs(root: Path, count: int) -> list[str]:
    ids = []
    for i in range(count):
        with trackui.init(
            project="sweep",
            name=f"lr-{i}",
            config={"lr": 0.001 * (i + 1), "seed": 7, "width": 64 if i % 2 else 128},
            dir=root,
            console=False,
        ) as run:
            for step in range(10):
                run.log({"val/loss": 1.0 / (step + 1 + i), "acc": 0.1 * step + 0.01 * i}, step=step)
            ids.append(run.id)
    return ids


async def test_many_runs_become_rows_with_the_run_column_pinned(tmp_path: Path) -> None:
    root = tmp_path / "sweep"
    run_ids = make_runs(root, 7)
    with Store(root, clock=lambda: FIXED_NOW) as store:
        async with compare(store, run_ids) as (pilot, screen):
            text = legend(screen)
            assert all(f"{i + 1}{glyph} lr-{i}" in text for i, glyph in enumerate("⣿•+x*o#"))
            summary, params = screen.summary_table, screen.params_table
            # seven runs do not fit side by side: one row per run, in legend order
            assert summary.runs_as_rows and params.runs_as_rows
            assert [r.key.value for r in summary.ordered_rows] == run_ids
            assert [r.key.value for r in params.ordered_rows] == run_ids
            assert [c.key.value for c in params.ordered_columns][1:] == ["lr", "width"]
            # the best val/loss is the last run's (lowest), the best acc too (highest)
            assert summary_cell(screen, "val/loss", "best", run_ids[6]).plain.startswith("★")
            assert summary_cell(screen, "acc", "best", run_ids[6]).plain.startswith("★")
            assert screen.chart.last_plot is not None
            assert len(screen.chart.last_plot.runs) == 7
            # the cursor on a run's row focuses it: named in full on the detail line
            await press(pilot, "down", "down")
            assert summary.run_at_cursor() == run_ids[2]
            assert screen.focused_run == run_ids[2]
            assert "▶ 3+ lr-2" in screen_text(screen)
            await press(pilot, "b")
            assert screen.baseline == run_ids[2]
            assert "3+ lr-2 ◆" in legend(screen)
            # t turns the table back: runs as columns, scrolled sideways with
            # the metric column pinned
            await press(pilot, "t")
            assert not summary.runs_as_rows
            assert [c.key.value for c in summary.ordered_columns][2:] == run_ids
            await press(pilot, "end")
            assert summary.scroll_x > 0 and summary.fixed_columns == 2
            assert summary.run_at_cursor() == run_ids[6]


def summary_cell(screen: CompareScreen, key: str, stat: str, run_id: str) -> Text:
    table = screen.summary_table
    if table.runs_as_rows:
        return table.get_cell(run_id, f"{key}\0{stat}")
    return table.get_cell(f"{key}\0{stat}", run_id)


async def test_a_name_with_markup_and_escapes_shows_literally(tmp_path: Path) -> None:
    root = tmp_path / "odd"
    with trackui.init(
        project="p", name=MARKUP_NAME, config={"lr": 1}, dir=root, console=False
    ) as a:
        a.log({"loss": 1.0}, step=0)
        a.log({"loss": 0.5}, step=1)
    with trackui.init(project="p", name="plain", config={"lr": 2}, dir=root, console=False) as b:
        b.log({"loss": 0.7}, step=0)
    with Store(root, clock=lambda: FIXED_NOW) as store:
        async with compare(store, [a.id, b.id]) as (_pilot, screen):
            assert f"1⣿ {MARKUP_SHOWN} ◆" in legend(screen)
            for table, column in ((screen.params_table, 1), (screen.summary_table, 2)):
                shown_header = header(table, column)
                assert shown_header.startswith("1⣿ opt[/x]") and shown_header.endswith(" ◆")
                assert "\x1b" not in shown_header
            assert screen.chart.last_plot is not None
            assert screen.chart.last_plot.run(a.id).name == MARKUP_SHOWN
            shown = screen_text(screen)
            assert MARKUP_SHOWN in shown
            assert "\x1b" not in shown
            assert "0.5" in summary_cell(screen, "loss", "best", a.id).plain


async def test_live_refresh_updates_summary_and_chart(tmp_path: Path) -> None:
    root = tmp_path / "live"
    with trackui.init(project="p", name="done", dir=root, console=False) as done:
        for step in range(3):
            done.log({"loss": 1.0 - 0.1 * step}, step=step)
    running = trackui.init(project="p", name="running", dir=root, console=False)
    running.log({"loss": 2.0}, step=0)
    try:
        with Store(root, clock=lambda: FIXED_NOW) as store:
            async with compare(store, [done.id, running.id]) as (pilot, screen):
                assert summary_cell(screen, "loss", "last", running.id).plain == "2 +1.2"
                assert screen.chart.last_plot is not None
                assert screen.chart.last_plot.run(running.id).total == 1
                table = screen.summary_table
                await press(pilot, "down", "right", "right", "right")
                cursor = table.cursor_coordinate
                assert table.run_at_cursor() == running.id
                running.log({"loss": 0.25}, step=1)
                stats = store.refresh()
                assert stats.runs_changed
                screen.post_message(StoreRefreshed(stats))
                await settle(pilot)
                last = summary_cell(screen, "loss", "last", running.id)
                assert last.plain == "0.25 -0.55"
                assert summary_cell(screen, "loss", "best", running.id).plain == "★ 0.25 -0.55"
                assert screen.chart.last_plot.run(running.id).total == 2
                assert screen.chart.last_plot.run(running.id).y == (2.0, 0.25)
                # updated in place: the cursor did not move
                assert table.cursor_coordinate == cursor
    finally:
        running.finish()


async def test_usable_at_80x24(store: Store) -> None:
    ids = ids_by_name(store)
    sgd, adamw, oom = ids["yolo-sgd"], ids["yolo-adamw"], ids["yolo-oom"]
    async with compare(store, [sgd, adamw, oom], size=(80, 24)) as (pilot, screen):
        shown = screen_text(screen)
        for visible in (
            "Compare 3 runs",
            "yolo-oom",
            "metrics/mAP50-95(B) · 92/92 pts",
            "Summary: 5 metrics",
            "Params: 4 of 8 differ",
        ):
            assert visible in shown
        screen_region = screen.region
        for widget in (screen.chart, screen.summary_table, screen.params_table):
            assert screen_region.contains_region(widget.region)
        assert screen.chart.region.height >= 8
        assert screen.summary_table.region.height >= 3
        assert screen.params_table.region.height >= 2
        # the params diff, once focused, grows to show all its rows
        await press(pilot, "tab")
        assert screen.focused is screen.params_table
        assert screen.params_table.region.height >= 1 + 4
        assert "optimizer.name" in screen_text(screen)
        await press(pilot, "right_square_bracket")
        assert screen.chart.last_plot is not None
        assert screen.chart.last_plot.key == "train/box_loss"


async def test_an_unknown_run_shows_an_error_instead_of_crashing(store: Store) -> None:
    ids = ids_by_name(store)
    async with compare(store, [ids["yolo-sgd"], "no-such-run"]) as (pilot, screen):
        assert pilot.app.screen is screen
        assert "could not load: no run 'no-such-run'" in screen_text(screen)
        await press(pilot, "right_square_bracket", "b", "a")  # nothing loaded: keys do nothing
        assert pilot.app.screen is screen


async def test_a_stale_series_answer_is_dropped(store: Store) -> None:
    ids = ids_by_name(store)
    sgd, adamw = ids["yolo-sgd"], ids["yolo-adamw"]
    async with compare(store, [sgd, adamw]) as (pilot, screen):
        chart = screen.chart
        assert chart.last_plot is not None and chart.last_plot.key == "metrics/mAP50-95(B)"
        old = store.series(sgd, "train/box_loss")
        # an answer to a request made before the latest one
        stale_token = screen._tokens["series"] - 1
        stale = CompareScreen.SeriesLoaded(stale_token, "metrics/mAP50-95(B)", [(sgd, "x", old)])
        screen.post_message(stale)
        # an answer for a metric no longer shown
        token = screen._tokens["series"]
        screen.post_message(CompareScreen.SeriesLoaded(token, "train/box_loss", [(sgd, "x", old)]))
        await settle(pilot)
        assert chart.last_plot.key == "metrics/mAP50-95(B)"
        assert [run.run_id for run in chart.last_plot.runs] == [sgd, adamw]


# -- issue 7: the first chart, ★, smoothing, x = epoch, focus and zoom keys ----


@asynccontextmanager
async def compare_sweep(
    tmp_path: Path, n: int, size: tuple[int, int] = (120, 40), **kwargs: object
) -> AsyncIterator[tuple[Pilot[None], CompareScreen, list[str]]]:
    root = tmp_path / "sweep"
    run_ids = sweep(root, n, **kwargs)  # type: ignore[arg-type]
    with Store(root, clock=lambda: FIXED_NOW) as store:
        async with compare(store, run_ids, size=size) as (pilot, screen):
            yield pilot, screen, run_ids


async def test_opens_on_the_headline_metric_not_the_first_by_name(tmp_path: Path) -> None:
    # keys: acc, epoch, lr, val/loss: "acc" is the headline, never epoch or lr
    async with compare_sweep(tmp_path, 2) as (_pilot, screen, _ids):
        assert screen.metric_keys == ["acc", "epoch", "lr", "val/loss"]
        assert screen.metric == "acc"
        assert screen.chart.last_plot is not None and screen.chart.last_plot.key == "acc"


async def test_opens_on_the_primary_metric_configured_for_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text('[primary]\nsweep = "val/loss"\n"*" = "lr"\n')
    monkeypatch.setenv("TRACKUI_CONFIG_DIR", str(config))
    async with compare_sweep(tmp_path, 2) as (_pilot, screen, _ids):
        assert screen.metric == "val/loss"
        assert "↓ lower is better" in str(screen.chart.border_subtitle)


async def test_best_star_only_on_metrics_with_a_known_direction(tmp_path: Path) -> None:
    async with compare_sweep(tmp_path, 3) as (_pilot, screen, ids):
        table = screen.summary_table
        stars = {
            key: [summary_cell(screen, key, "best", run_id).plain.startswith("★") for run_id in ids]
            for key in screen.metric_keys
        }
        # acc (higher is better) and val/loss (lower): one ★ each, on the right run
        assert stars["acc"] == [True, False, False]  # run 0 rises fastest
        assert stars["val/loss"] == [True, False, False]
        # epoch and lr: no direction, so no ★ and no "best" claimed
        assert stars["epoch"] == stars["lr"] == [False, False, False]
        assert not table.runs_as_rows  # three runs: columns
        assert table.get_cell("acc\0best", "\0stat").plain == "best ↑"
        assert table.get_cell("val/loss\0best", "\0stat").plain == "best ↓"
        assert table.get_cell("epoch\0best", "\0stat").plain in ("min", "max")
        assert table.get_cell("lr\0best", "\0stat").plain in ("min", "max")
        screen.metric = "lr"
        assert "no known direction" in str(screen.chart.border_subtitle)


@pytest.mark.parametrize(("points", "weight"), [(20, 0.0), (49, 0.0), (50, 0.6), (120, 0.6)])
async def test_smoothing_starts_off_below_50_points(
    tmp_path: Path, points: int, weight: float
) -> None:
    async with compare_sweep(tmp_path, 2, points=points) as (pilot, screen, ids):
        plot = screen.chart.last_plot
        assert plot is not None and plot.smoothing == weight
        assert f"smoothing {weight:g} ·" in plot.title
        if weight == 0:  # drawn as logged: the line is the points themselves
            assert plot.run(ids[0]).smoothed == plot.run(ids[0]).y
        await press(pilot, "plus")
        assert screen.chart.last_plot.smoothing == (0.6 if weight == 0 else 0.9)


async def test_x_cycles_to_epoch_and_X_picks_any_metric_as_x(tmp_path: Path) -> None:
    async with compare_sweep(tmp_path, 2) as (pilot, screen, ids):
        chart = screen.chart
        assert chart.x_metrics == ["epoch"]
        await press(pilot, "x", "x", "x")  # step -> relative -> wall -> epoch
        assert chart.x_axis == "metric:epoch"
        plot = chart.last_plot
        assert plot is not None and plot.title.endswith("x: epoch")
        # the sweep logs epoch = step // 4: each point's x is its step's epoch
        assert plot.run(ids[0]).x == tuple(float(step // 4) for step in range(20))
        assert "x: epoch" in str(chart.border_subtitle)
        await press(pilot, "x")
        assert chart.x_axis == "step"
        # X: any logged metric, here lr
        await press(pilot, "X")
        picker = pilot.app.screen
        assert isinstance(picker, MetricPicker)
        await press(pilot, *"lr", "enter")
        assert chart.x_axis == "metric:lr"
        lrs = [0.1 * 0.9**step for step in range(20)]
        assert sorted(chart.last_plot.run(ids[1]).x) == pytest.approx(sorted(lrs))


async def test_f_focuses_runs_and_the_detail_line_names_them_in_full(tmp_path: Path) -> None:
    names = sweep_names("long", 3)
    async with compare_sweep(tmp_path, 3, names=names) as (pilot, screen, ids):
        screen.set_focus(None)
        await press(pilot, "f")
        assert screen.focused_run == ids[0]
        assert screen.chart.last_plot is not None and screen.chart.last_plot.focused == ids[0]
        # the legend shortens the shared prefix; the detail line has the whole name
        assert names[0] in screen_text(screen)
        await press(pilot, "f", "f")
        assert screen.focused_run == ids[2] and names[2] in screen_text(screen)
        await press(pilot, "F")
        assert screen.focused_run == ids[1]
        assert f"▶ 2• {names[1]}" in screen_text(screen)


async def test_z_maximizes_the_focused_pane_and_escape_restores(tmp_path: Path) -> None:
    async with compare_sweep(tmp_path, 20, size=(80, 24), differ=12) as (pilot, screen, ids):
        params = screen.params_table
        params.focus()
        await press(pilot, "z")
        assert screen.zoomed == "params"
        assert not screen.chart.display or screen.chart.region.height == 0
        assert params.region.height >= 18  # nearly the whole screen
        await press(pilot, "escape")
        assert screen.zoomed is None and pilot.app.screen is screen
        screen.chart.focus()
        await press(pilot, "z")
        assert screen.zoomed == "chart"
        assert screen.chart.region.height >= 18
        await press(pilot, "z")
        assert screen.zoomed is None


async def test_twenty_runs_at_80x24_are_rows_and_every_run_reachable(tmp_path: Path) -> None:
    async with compare_sweep(tmp_path, 20, size=(80, 24), differ=12) as (pilot, screen, ids):
        summary = screen.summary_table
        assert summary.runs_as_rows
        summary.focus()
        await press(pilot, "end")  # DataTable: the last column (ctrl+end: last row)
        await press(pilot, *["down"] * 19)
        assert summary.run_at_cursor() == ids[19]
        assert summary.scroll_y > 0
        # the run column stays pinned while the metrics scroll sideways
        assert summary.scroll_x > 0 and summary.fixed_columns == 1
        assert "▶ 20H run-19" in screen_text(screen)  # the cursor's run, on the detail line


async def test_runs_with_the_same_name_are_told_apart_by_number_and_marker(
    tmp_path: Path,
) -> None:
    async with compare_sweep(tmp_path, 3, names=["seed", "seed", "seed"]) as (_p, screen, ids):
        lines = legend(screen).splitlines()
        assert [line.strip() for line in lines] == ["1⣿ seed ◆", "2• seed", "3+ seed"]
        assert [header(screen.summary_table, i) for i in (2, 3, 4)] == [
            "1⣿ seed ◆",
            "2• seed",
            "3+ seed",
        ]
        assert [header(screen.params_table, i) for i in (1, 2, 3)] == [
            "1⣿ seed ◆",
            "2• seed",
            "3+ seed",
        ]
