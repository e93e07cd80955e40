"""MetricChart: what it draws (series, title), not pixels."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from rich.color import ColorSystem
from rich.style import Style
from rich.text import Span, Text
from textual.app import App, ComposeResult

import trackui
from trackui.store.models import Series
from trackui.store.queries import Store
from trackui.tui.chart import MetricChart, new_figure
from trackui.tui.chart_text import figure_text
from trackui.tui.chart_ticks import nice_ticks, time_ticks
from trackui.tui.palette import style_for
from trackui.tui.smoothing import smooth

pytestmark = pytest.mark.anyio


def make_series(
    run_id: str,
    ys: list[float],
    *,
    x_axis: str = "step",
    xs: list[float] | None = None,
    total: int | None = None,
) -> Series:
    xs = xs if xs is not None else [float(i) for i in range(len(ys))]
    return Series(
        run_id,
        "loss",
        x_axis,
        tuple(xs),
        tuple(ys),
        tuple(range(len(ys))),
        total if total is not None else len(ys),
        total is not None and total > len(ys),
    )


class ChartApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.wanted: list[MetricChart.DataWanted] = []

    def compose(self) -> ComposeResult:
        yield MetricChart()

    def on_metric_chart_data_wanted(self, message: MetricChart.DataWanted) -> None:
        self.wanted.append(message)


NOISY = [math.exp(-i / 30) + 0.05 * math.sin(i * 1.3) for i in range(120)]


async def test_set_series_draws_raw_and_smoothed_points_and_says_so_in_the_title() -> None:
    app = ChartApp()
    async with app.run_test(size=(100, 30)) as pilot:
        chart = app.query_one(MetricChart)
        chart.set_series("train/loss", [("r1", "run one", make_series("r1", NOISY, total=500))])
        await pilot.pause()
        plot = chart.last_plot
        assert plot is not None
        assert plot.title == "train/loss · 120 of 500 points · smoothing 0.6 · x: step"
        (run,) = plot.runs
        assert run.y == tuple(NOISY)
        assert run.x == tuple(float(i) for i in range(120))
        assert run.smoothed == tuple(smooth(NOISY, 0.6))
        assert run.style == style_for(0, chart.colour_depth)
        assert "train/loss" in str(chart.border_title)
        # the plot is sized to the widget: at most its content width, y ticks through fmt
        lines = chart.render().plain.splitlines()
        assert max(len(line) for line in lines) <= chart.content_region.width
        assert len(lines) == chart.content_region.height
        assert any(line.lstrip().startswith("1┤") for line in lines)


async def test_smoothing_change_redraws_with_the_new_weight() -> None:
    app = ChartApp()
    async with app.run_test(size=(100, 30)) as pilot:
        chart = app.query_one(MetricChart)
        chart.set_series("loss", [("r1", "a", make_series("r1", NOISY))])
        chart.smoothing = 0.9
        await pilot.pause()
        assert chart.last_plot is not None
        assert chart.last_plot.run("r1").smoothed == tuple(smooth(NOISY, 0.9))
        assert "smoothing 0.9" in chart.last_plot.title
        chart.smoothing = 0.0
        await pilot.pause()
        assert chart.last_plot.run("r1").smoothed == tuple(NOISY)
        assert "smoothing 0 " in chart.last_plot.title
        assert app.wanted == []  # smoothing needs no new data


async def test_x_axis_change_asks_for_data_and_draws_time_ticks() -> None:
    app = ChartApp()
    async with app.run_test(size=(100, 30)) as pilot:
        chart = app.query_one(MetricChart)
        chart.set_series("loss", [("r1", "a", make_series("r1", NOISY))])
        chart.x_axis = "relative"
        await pilot.pause()
        (wanted,) = app.wanted
        assert (wanted.key, wanted.x_axis, wanted.chart) == ("loss", "relative", chart)
        assert wanted.buckets == chart.buckets >= 20
        # the owner answers with the series on the new axis: one point a minute
        xs = [60.0 * i for i in range(len(NOISY))]
        chart.set_series("loss", [("r1", "a", make_series("r1", NOISY, x_axis="relative", xs=xs))])
        await pilot.pause()
        assert chart.last_plot is not None
        assert chart.last_plot.title.endswith("x: relative time")
        assert chart.last_plot.run("r1").x == tuple(xs)
        bottom = chart.render().plain.splitlines()[-1]
        assert "1h00m" in bottom  # ticks are durations, not seconds
        # an axis the data already has asks for nothing
        chart.x_axis = "relative"
        await pilot.pause()
        assert len(app.wanted) == 1


async def test_log_y_hides_non_positive_points_and_says_how_many() -> None:
    ys = [0.0, -1.0, 1.0, 10.0, 100.0, -5.0, 1000.0]
    app = ChartApp()
    async with app.run_test(size=(100, 30)) as pilot:
        chart = app.query_one(MetricChart)
        chart.set_series("loss", [("r1", "a", make_series("r1", ys))])
        chart.log_y = True
        await pilot.pause()
        plot = chart.last_plot
        assert plot is not None and plot.log_y
        assert "log y" in plot.title and "3 points ≤ 0 hidden" in plot.title
        assert plot.run("r1").y == (1.0, 10.0, 100.0, 1000.0)
        assert all(v > 0 for v in plot.run("r1").smoothed)
        text = chart.render().plain
        assert "1000┤" in text.replace(" ", "")  # decades on the axis, in data units
        chart.log_y = False
        await pilot.pause()
        assert "hidden" not in chart.last_plot.title
        assert chart.last_plot.run("r1").y == tuple(ys)


async def test_log_y_with_only_non_positive_points_draws_nothing_and_does_not_crash() -> None:
    app = ChartApp()
    async with app.run_test(size=(100, 30)) as pilot:
        chart = app.query_one(MetricChart)
        chart.log_y = True
        chart.set_series("loss", [("r1", "a", make_series("r1", [0.0, -2.0]))])
        await pilot.pause()
        assert chart.last_plot is not None
        assert "2 points ≤ 0 hidden" in chart.last_plot.title
        assert chart.render().plain == "nothing to draw"


async def test_non_finite_points_are_skipped_in_drawing() -> None:
    ys = [1.0, math.nan, 0.5, math.inf, 0.25, -math.inf, 0.2]
    app = ChartApp()
    async with app.run_test(size=(100, 30)) as pilot:
        chart = app.query_one(MetricChart)
        chart.set_series("loss", [("r1", "a", make_series("r1", ys))])
        chart.set_smoothing(0.6)  # a short series starts unsmoothed
        await pilot.pause()
        run = chart.last_plot.run("r1")  # type: ignore[union-attr]
        assert run.y == (1.0, 0.5, 0.25, 0.2)
        assert run.x == (0.0, 2.0, 4.0, 6.0)
        finite = [v for v in smooth(ys, 0.6) if math.isfinite(v)]
        assert run.smoothed == tuple(finite)
        assert "3 nan/inf skipped" in chart.last_plot.title  # type: ignore[union-attr]


async def test_several_runs_sum_points_and_are_styled_by_position_without_a_legend_inside() -> None:
    app = ChartApp()
    async with app.run_test(size=(100, 30)) as pilot:
        chart = app.query_one(MetricChart)
        odd = "opt[/x] [bold]\x1b[31m"
        chart.set_series(
            "loss",
            [
                ("run-a", odd, make_series("run-a", NOISY[:50], total=70)),
                ("run-b", "plain", make_series("run-b", NOISY[50:], total=70)),
            ],
        )
        await pilot.pause()
        plot = chart.last_plot
        assert plot is not None
        assert "120 of 140 points" in plot.title
        depth = chart.colour_depth
        # by position, not by id: the first run gets the first colour and marker
        assert [r.style for r in plot.runs] == [style_for(0, depth), style_for(1, depth)]
        assert [r.marker for r in plot.runs] == ["braille", "•"]
        assert plot.run("run-a").name == "opt[/x] [bold]\\x1b[31m"  # the escape made visible
        text = chart.render().plain
        # no legend inside the plot (the screen shows one beside it), no escape
        assert "opt[/x]" not in text and "plain" not in text and "\x1b" not in text
        assert "•" in text


async def test_empty_series_and_single_point_do_not_crash() -> None:
    app = ChartApp()
    async with app.run_test(size=(80, 24)) as pilot:
        chart = app.query_one(MetricChart)
        chart.set_series("loss", [("r1", "a", make_series("r1", []))])
        await pilot.pause()
        assert chart.render().plain == "no points yet"
        assert "0 of 0 points" in chart.last_plot.title  # type: ignore[union-attr]
        chart.set_series("loss", [("r1", "a", make_series("r1", [3.5]))])
        chart.log_y = True
        await pilot.pause()
        assert chart.last_plot.run("r1").y == (3.5,)  # type: ignore[union-attr]
        assert "┤" in chart.render().plain


async def test_resize_redraws_at_the_new_size_and_asks_for_more_buckets() -> None:
    app = ChartApp()
    async with app.run_test(size=(60, 20)) as pilot:
        chart = app.query_one(MetricChart)
        chart.set_series("loss", [("r1", "a", make_series("r1", NOISY, total=10_000))])
        await pilot.pause()
        narrow = chart.last_plot.width  # type: ignore[union-attr]
        await pilot.resize_terminal(160, 40)
        await pilot.pause()
        assert chart.last_plot.width > narrow  # type: ignore[union-attr]
        assert app.wanted and app.wanted[-1].buckets == chart.buckets > narrow


def test_nice_ticks() -> None:
    assert nice_ticks(0, 100, 6) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(0.0031, 0.0049, 3) == pytest.approx([0.0035, 0.004, 0.0045])
    assert nice_ticks(1, 1e6, 5) == [200_000, 400_000, 600_000, 800_000, 1_000_000]
    assert nice_ticks(5, 5, 4) == [5]
    assert nice_ticks(-1, 1, 3) == [-1, 0, 1]


def test_time_ticks_fall_on_round_times() -> None:
    assert time_ticks(0, 7140, 4) == [0, 1800, 3600, 5400]
    assert time_ticks(13, 50, 4) == [20, 30, 40, 50]
    assert time_ticks(13, 50, 3) == [15, 30, 45]
    assert time_ticks(0, 3 * 86400, 4) == [0, 86400, 2 * 86400, 3 * 86400]


def _write_big_run(root: Path, points: int, spike_at: int) -> str:
    run = trackui.init(project="big", name="million", dir=root, console=False)
    run.finish()
    lines = []
    t0 = 1_700_000_000.0
    for i in range(points):
        value = 1000.0 if i == spike_at else 1.0 / (1 + i * 1e-4)
        lines.append(json.dumps({"_step": i, "_t": t0 + i * 0.01, "loss": value}))
    with open(run.dir / "metrics.jsonl", "a") as fh:
        fh.write("\n".join(lines) + "\n")
    return run.id


async def test_a_million_points_go_through_the_bucketed_query_and_draw(tmp_path: Path) -> None:
    run_id = _write_big_run(tmp_path / "store", 1_000_000, spike_at=654_321)
    store = Store(tmp_path / "store")
    app = ChartApp()
    async with app.run_test(size=(120, 40)) as pilot:
        chart = app.query_one(MetricChart)
        series = store.series(run_id, "loss", buckets=chart.buckets)
        assert series.total == 1_000_000 and series.downsampled
        assert series.shown <= 2 * chart.buckets
        chart.set_series("loss", [(run_id, "million", series)])
        await pilot.pause()
        plot = chart.last_plot
        assert plot is not None
        assert plot.title.startswith(f"loss · {series.shown} of 1000000 points")
        assert max(plot.run(run_id).y) == 1000.0  # the spike survives the downsampling
        assert "┤" in chart.render().plain
    store.close()


async def test_a_title_too_long_for_the_border_is_shortened_keeping_the_notes() -> None:
    app = ChartApp()
    async with app.run_test(size=(80, 20)) as pilot:
        chart = app.query_one(MetricChart)
        chart.log_y = True
        chart.set_series("metrics/mAP50-95(B)", [("r1", "a", make_series("r1", [0.0, 0.1, 0.2]))])
        await pilot.pause()
        assert chart.last_plot is not None
        assert len(chart.last_plot.title) > 80
        assert chart.last_plot.short_title == (
            "metrics/mAP50-95(B) · 3/3 pts · sm 0 · x: step · log y · 1 ≤0 hidden"
        )
        top = "".join(s.text for s in app.screen._compositor.render_strips()[0])
        assert chart.last_plot.short_title in top


async def test_smoothing_is_off_below_50_points_until_a_key_sets_it() -> None:
    app = ChartApp()
    async with app.run_test(size=(100, 30)) as pilot:
        chart = app.query_one(MetricChart)
        chart.set_series("loss", [("r1", "a", make_series("r1", NOISY[:49]))])
        await pilot.pause()
        assert chart.last_plot is not None and chart.last_plot.smoothing == 0.0
        assert chart.last_plot.run("r1").smoothed == tuple(NOISY[:49])  # drawn as logged
        # a second run with 50 points: the longest series decides
        chart.set_series(
            "loss",
            [
                ("r1", "a", make_series("r1", NOISY[:49])),
                ("r2", "b", make_series("r2", NOISY[:50])),
            ],
        )
        await pilot.pause()
        assert chart.last_plot.smoothing == 0.6
        # downsampled: what counts is how many points were logged
        chart.set_series("loss", [("r1", "a", make_series("r1", NOISY[:20], total=5000))])
        await pilot.pause()
        assert chart.last_plot.smoothing == 0.6
        # once chosen, a level stays for every series
        chart.set_smoothing(0.9)
        chart.set_series("loss", [("r1", "a", make_series("r1", NOISY[:10]))])
        await pilot.pause()
        assert chart.last_plot.smoothing == 0.9 and not chart.smoothing_auto


async def test_a_metric_x_axis_is_named_in_the_title_and_ticked_as_numbers() -> None:
    app = ChartApp()
    async with app.run_test(size=(100, 30)) as pilot:
        chart = app.query_one(MetricChart)
        epochs = [i / 4 for i in range(40)]
        series = make_series("r1", NOISY[:40], x_axis="metric:epoch", xs=epochs)
        chart.x_axis = "metric:epoch"
        chart.set_series("val/loss", [("r1", "a", series)])
        await pilot.pause()
        assert chart.last_plot is not None
        assert chart.last_plot.title.endswith("x: epoch")
        assert chart.last_plot.run("r1").x == tuple(epochs)
        bottom = chart.render().plain.splitlines()[-1]
        assert bottom.split() == ["0", "2", "4", "6", "8"]


@pytest.mark.parametrize(
    "system", [ColorSystem.TRUECOLOR, ColorSystem.EIGHT_BIT, ColorSystem.STANDARD]
)
async def test_focused_run_is_drawn_last_and_bold_and_beyond_12_runs_the_rest_dim(
    system: ColorSystem,
) -> None:
    app = ChartApp()
    app.console._color_system = system
    async with app.run_test(size=(100, 30)) as pilot:
        chart = app.query_one(MetricChart)
        runs = [
            (f"r{i}", f"run {i}", make_series(f"r{i}", [v + i for v in NOISY[:30]]))
            for i in range(14)
        ]
        chart.set_series("loss", runs)
        chart.focused_run = "r3"
        await pilot.pause()
        assert chart.last_plot is not None and chart.last_plot.focused == "r3"
        styles = [span.style for span in chart.render().spans]
        focus_colour = chart.last_plot.run("r3").colour
        bold = [st for st in styles if getattr(st, "bold", False) and st.color is not None]
        assert bold and all(st.color.name == focus_colour for st in bold)
        dimmed = [st for st in styles if getattr(st, "dim", False)]
        if system is ColorSystem.STANDARD:
            # a dimmed ANSI colour would land on another run's colour, or grey
            assert chart.colour_depth == "16" and not dimmed
        else:
            assert dimmed  # the other thirteen runs


async def test_a_band_is_drawn_under_its_run() -> None:
    from trackui.tui.chart import Band

    app = ChartApp()
    async with app.run_test(size=(100, 30)) as pilot:
        chart = app.query_one(MetricChart)
        ys = [1.0, 2.0, 3.0]
        band = Band((0.0, 1.0, 2.0), (0.0, 1.0, 2.0), (5.0, 6.0, 7.0))
        chart.set_series("loss", [("g1", "group", make_series("g1", ys))], bands={"g1": band})
        await pilot.pause()
        lines = chart.render().plain.splitlines()
        # the y-axis reaches the band's upper edge (7), not only the line's maximum (3)
        assert any(line.lstrip().startswith("6┤") for line in lines)


async def test_a_series_for_the_next_frame_is_drawn_once_when_its_layout_is_final() -> None:
    """``at_next_frame``: nothing is drawn until a frame paints the chart
    with ``when()`` true; then once, at that frame's size, in that frame."""
    app = ChartApp()
    async with app.run_test(size=(100, 30)) as pilot:
        chart = app.query_one(MetricChart)
        drawn: list[tuple[int, int]] = []
        draw = chart._draw

        def counted(*args: object) -> object:
            drawn.append((args[2], args[3]))  # type: ignore[arg-type]
            return draw(*args)  # type: ignore[arg-type]

        chart._draw = counted  # type: ignore[method-assign]
        final = [False]
        chart.set_series(
            "loss",
            [("r1", "a", make_series("r1", NOISY))],
            at_next_frame=True,
            when=lambda: final[0],
        )
        for _ in range(3):
            await pilot.pause(0.05)
        assert drawn == [] and chart.last_plot is None  # frames painted, layout not final
        final[0] = True
        chart.refresh()
        await pilot.pause(0.05)
        await pilot.pause()
        assert drawn == [(chart.content_region.width, chart.content_region.height)]
        assert chart.last_plot is not None and "loss" in str(chart.border_title)


def _cells(text: Text) -> list[tuple[str, object]]:
    """Each character of ``text`` with the style it is drawn in."""
    styles: list[object] = [None] * len(text.plain)
    for span in text.spans:
        for i in range(span.start, span.end):
            styles[i] = span.style
    return list(zip(text.plain, styles, strict=True))


@pytest.mark.parametrize("log_y", [False, True])
def test_the_chart_is_read_from_plotexts_cells_as_its_escape_codes_would_parse(
    log_y: bool,
) -> None:
    """``figure_text`` reads plotext's cell matrix; the text and every
    cell's style are what parsing ``fig.build()``'s escape codes gives,
    with the lines' colour numbers given their styles."""

    def figure() -> object:
        fig = new_figure()
        fig.theme("clear")
        fig._limit_size(False, False)
        fig.plot_size(70, 18)
        xs = list(range(1, 300))
        for slot, (base, marker) in enumerate([(16, "braille"), (176, "braille"), (177, "hd")]):
            ys = [1 + math.sin(x / (9 + slot)) + slot for x in xs]
            fig.plot(
                xs, [math.log10(y) for y in ys] if log_y else ys, color=base + slot, marker=marker
            )
        fig.xticks([0, 100, 200, 300], ["0", "100", "200", "300"])
        fig.yticks([0.5, 1.5, 2.5], ["0.5", "1.5", "2.5"])
        return fig

    styles = {
        16: Style(color="red", dim=True),
        177: Style(color="blue", bold=True),
        178: Style(color="#00ff00"),
    }
    new = figure_text(figure(), styles)
    old = Text.from_ansi(figure().build(), no_wrap=True, end="")
    old.spans = [
        Span(s.start, s.end, styles.get(s.style.color.number, s.style))  # type: ignore[union-attr]
        if isinstance(s.style, Style) and s.style.color is not None
        else s
        for s in old.spans
    ]
    assert new.plain.rstrip("\n") == old.plain.rstrip("\n")
    assert _cells(new)[: len(old.plain.rstrip())] == _cells(old)[: len(old.plain.rstrip())]
    assert sum(ch.strip() != "" for ch, style in _cells(new) if style == styles[177]) > 20
