"""Group mode of the Compare screen, driven through Pilot: the group key
draws each group's mean with its min–max band (values checked against
numpy), the legend and the summary give n, the summary mean ± std."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import pytest
from rich.color import Color
from rich.style import Style
from textual.pilot import Pilot

import trackui
from trackui.store.queries import Store
from trackui.tui.compare_screen import CompareScreen
from trackui.tui.group_view import GROUP_KEY, PICK_KEY, GroupKeysPicker, GroupLegend, GroupTable

from .helpers import build, screen_text, settle

pytestmark = pytest.mark.anyio

# lr=0.01 has three seeds with different step sets; lr=0.02 two.
RUNS = {
    "lr1-s1": ({"lr": 0.01, "seed": 1, "name": "lr1-s1"}, {0: 1.0, 1: 0.8, 2: 0.7, 4: 0.5}),
    "lr1-s2": ({"lr": 0.01, "seed": 2, "name": "lr1-s2"}, {0: 1.2, 2: 0.6, 3: 0.55, 4: 0.45}),
    "lr1-s3": ({"lr": 0.01, "seed": 3, "name": "lr1-s3"}, {1: 0.9, 2: 0.65, 3: 0.52}),
    "lr2-s1": ({"lr": 0.02, "seed": 1, "name": "lr2-s1"}, {0: 2.0, 2: 1.0, 4: 0.2}),
    "lr2-s2": ({"lr": 0.02, "seed": 2, "name": "lr2-s2"}, {0: 2.5, 2: 1.5}),
}
GROUPS = (["lr1-s1", "lr1-s2", "lr1-s3"], ["lr2-s1", "lr2-s2"])


@pytest.fixture
def sweep(tmp_path: Path) -> Store:
    root = tmp_path / "store"
    for name, (config, points) in RUNS.items():
        run = trackui.init(project="sweep", name=name, config=config, dir=root, console=False)
        for step, value in points.items():
            run.log({"val/loss": value, "train/acc": 1 - value / 3}, step=step)
        run.finish()
    with Store(root) as store:
        yield store


@asynccontextmanager
async def compare(
    store: Store, size: tuple[int, int] = (120, 40)
) -> AsyncIterator[tuple[Pilot[None], CompareScreen]]:
    app = build(store)
    run_ids = [r.id for r in store.list_runs(sort="created", descending=False)]
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = CompareScreen(run_ids)
        await app.push_screen(screen)
        await settle(pilot)
        screen.metric = "val/loss"
        await settle(pilot)
        yield pilot, screen


def numpy_band(names: list[str]) -> dict[int, tuple[int, float, float, float]]:
    per_step: dict[int, list[float]] = {}
    for name in names:
        for step, value in RUNS[name][1].items():
            per_step.setdefault(step, []).append(value)
    return {
        s: (len(v), float(np.mean(v)), float(np.min(v)), float(np.max(v)))
        for s, v in sorted(per_step.items())
    }


async def test_group_key_draws_mean_and_band_per_group(sweep: Store) -> None:
    async with compare(sweep) as (pilot, screen):
        assert len(screen.chart.last_plot.runs) == 5  # one line per run before
        await pilot.press(GROUP_KEY)
        await settle(pilot)
        assert screen.grouped
        plot = screen.chart.last_plot
        # groups × lines: one mean line per group, each with its band (min and max edges)
        assert len(plot.runs) == 2
        assert set(screen.chart.bands) == {r.run_id for r in plot.runs}
        for run, names in zip(plot.runs, GROUPS):
            want = numpy_band(names)
            assert run.x == tuple(float(s) for s in want)  # the union of the steps
            assert run.y == pytest.approx([w[1] for w in want.values()])
            band = screen.chart.bands[run.run_id]
            assert band.lower == pytest.approx([w[2] for w in want.values()])
            assert band.upper == pytest.approx([w[3] for w in want.values()])
        # Each group is drawn as three lines in its colour: the mean, and the band's
        # two edges dimmed (no smoothing at 5 points, so no faint raw line either).
        drawn = [span.style for span in screen.chart.render().spans]
        assert plot.smoothing == 0
        for run in plot.runs:
            colour = Color.parse(run.colour)
            mine = [s for s in drawn if isinstance(s, Style) and s.color == colour]
            assert any(s.dim for s in mine) and any(not s.dim for s in mine)
        legend = screen.query_one("#compare-group-legend", GroupLegend)
        assert legend.display and not screen.query_one("#compare-legend").display
        text = screen_text(screen)
        assert "lr=0.01 n=3" in text and "lr=0.02 n=2" in text
        # Back to runs.
        await pilot.press(GROUP_KEY)
        await settle(pilot)
        assert not screen.grouped
        assert len(screen.chart.last_plot.runs) == 5


async def test_group_summary_shows_mean_std_and_n(sweep: Store) -> None:
    async with compare(sweep) as (pilot, screen):
        await pilot.press(GROUP_KEY)
        await settle(pilot)
        table = screen.query_one("#compare-group-summary", GroupTable)
        assert table.display and table.has_focus
        headers = [c.label.plain for c in table.ordered_columns]
        assert headers[2:] == ["G1⣿ lr=0.01 n=3", "G2• lr=0.02 n=2"]
        lasts = [np.array([RUNS[n][1][max(RUNS[n][1])] for n in names]) for names in GROUPS]
        bests = [np.array([min(RUNS[n][1].values()) for n in names]) for names in GROUPS]
        for i, (last, best) in enumerate(zip(lasts, bests)):
            got_last = table.get_cell("val/loss\0last", f"group:{i}").plain
            got_best = table.get_cell("val/loss\0best", f"group:{i}").plain
            mean, std = got_last.split(" ± ")
            assert float(mean) == pytest.approx(last.mean(), rel=1e-3)
            assert float(std) == pytest.approx(np.std(last, ddof=1), rel=0.05)
            mean, std = got_best.removeprefix("★ ").split(" ± ")
            assert float(mean) == pytest.approx(best.mean(), rel=1e-3)
            assert float(std) == pytest.approx(np.std(best, ddof=1), rel=0.05)
        # ★ on the lower mean best (lr=0.01: 0.49 against lr=0.02: 0.85)
        assert table.get_cell("val/loss\0best", "group:0").plain.startswith("★ ")
        assert not table.get_cell("val/loss\0best", "group:1").plain.startswith("★")
        title = screen.query_one("#compare-summary-title").render()
        assert "2 groups of 5 runs (seeds ignored) · mean ± std" in str(title)


async def test_choosing_a_metric_in_the_group_summary_draws_it(sweep: Store) -> None:
    async with compare(sweep) as (pilot, screen):
        await pilot.press(GROUP_KEY)
        await settle(pilot)
        table = screen.query_one("#compare-group-summary", GroupTable)
        row = [str(k.value) for k in table.rows].index("train/acc\0last")
        table.move_cursor(row=row, column=2)
        await pilot.press("enter")
        await settle(pilot)
        assert screen.metric == "train/acc"
        assert screen.chart.last_plot.key == "train/acc"
        assert len(screen.chart.last_plot.runs) == 2


async def test_pick_keys_groups_by_them(sweep: Store) -> None:
    async with compare(sweep) as (pilot, screen):
        await pilot.press(PICK_KEY)
        await settle(pilot)
        picker = pilot.app.screen
        assert isinstance(picker, GroupKeysPicker)
        # only the keys whose values differ: lr, name, seed
        options = picker.query_one("#group-keys")
        assert [options.get_option_at_index(i).value for i in range(options.option_count)] == [
            "lr",
            "name",
            "seed",
        ]
        await pilot.press("escape")  # cancelled: nothing changes
        await settle(pilot)
        assert pilot.app.screen is screen and not screen.grouped
        await pilot.press(PICK_KEY)
        await settle(pilot)
        await pilot.press("down", "down", "space", "enter")  # seed
        await settle(pilot)
        assert pilot.app.screen is screen and screen.grouped and screen.group_by == ("seed",)
        table = screen.query_one("#compare-group-summary", GroupTable)
        headers = [c.label.plain for c in table.ordered_columns][2:]
        assert headers == ["G1⣿ seed=1 n=2", "G2• seed=2 n=2", "G3+ seed=3 n=1"]
        assert "by seed" in str(screen.query_one("#compare-summary-title").render())
        # The seed=3 group has one run: its figures have no ± (no spread from one run).
        assert " ± " not in table.get_cell("val/loss\0last", "group:2").plain
        plot = screen.chart.last_plot
        assert len(plot.runs) == 3
        # seed=1 is lr1-s1 and lr2-s1: at step 4 both (0.5, 0.2), at step 1 only lr1-s1.
        seed1 = plot.runs[0]
        assert dict(zip(seed1.x, seed1.y)) == pytest.approx({0: 1.5, 1: 0.8, 2: 0.85, 4: 0.35})


async def test_help_lists_the_group_keys(sweep: Store) -> None:
    async with compare(sweep) as (pilot, screen):
        await pilot.press("question_mark")
        await settle(pilot)
        text = "\n".join(strip.text for strip in pilot.app.screen._compositor.render_strips())
        assert "Seed groups" in text and "Group by…" in text
