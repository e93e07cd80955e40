"""The Run screen's System tab: small charts of a run's sampled system series
(two GPUs, host and process), at 80×24 and 120×40; the one line shown when a
run has none; the Metrics tab keeps to the metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from trackui.store import paths
from trackui.store.queries import Store
from trackui.tui.chart import MetricChart
from trackui.tui.run_screen import RunScreen
from trackui.tui.system_tab import NO_READINGS, SystemGrid, SystemTab, panels

from ..conftest import FIXED_NOW
from .helpers import SNAPSHOT_THEME, RunApp, screen_text, settle

RUN = "detect/yolo-adamw"
GB = 1024**3


def write_samples(store_root: Path, run_ref: str, n: int = 30) -> str:
    """``n`` deterministic system lines, 10 s apart from the run's start, in
    the shape the sampler writes; returns the run id."""
    with Store(store_root, clock=lambda: FIXED_NOW) as store:
        run_id = store.resolve(run_ref)
        detail = store.get_run(run_id)
    created = detail.run.created
    lines = []
    for i in range(n):
        line: dict[str, float] = {"_t": created + 10 * (i + 1)}
        for g in (0, 1):
            line[f"system/gpu{g}.util"] = float((40 + 7 * i + 30 * g) % 100)
            line[f"system/gpu{g}.mem_used"] = (20 + i % 5 + 10 * g) * GB
            line[f"system/gpu{g}.mem_total"] = 80 * GB
            line[f"system/gpu{g}.temp"] = 50.0 + i % 10 + 5 * g
            line[f"system/gpu{g}.power"] = 250.0 + 3 * i - 20 * g
        line["system/host.cpu"] = 20.0 + i % 7
        line["system/proc.cpu"] = 95.0 + i % 3
        line["system/proc.rss"] = (2 + i / 30) * GB
        line["system/host.mem_used"] = 12 * GB + i * 2**26
        lines.append(json.dumps(line) + "\n")
    (Path(detail.dir) / paths.SYSTEM).write_text("".join(lines))
    return run_id


class SystemSnapshotApp(RunApp):
    """The Run screen on the System tab, in the snapshot theme."""

    def __init__(self, store: Store, run_id: str) -> None:
        super().__init__(store, run_id, tab="system")
        self.theme = SNAPSHOT_THEME


@pytest.fixture
def sampled(fixture_store: Path) -> tuple[Store, str]:
    run_id = write_samples(fixture_store, RUN)
    store = Store(fixture_store, clock=lambda: FIXED_NOW)
    yield store, run_id
    store.close()


async def all_drawn(pilot: Pilot[None]) -> None:
    await settle(pilot)
    grid = pilot.app.screen.query_one(SystemGrid)
    shown = [c for c in grid.charts if c.display]
    assert shown and all(c.last_plot is not None for c in shown)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_system_tab_snapshot(sampled: tuple[Store, str], snap_compare: Any, size) -> None:
    store, run_id = sampled
    assert snap_compare(SystemSnapshotApp(store, run_id), terminal_size=size, run_before=all_drawn)


@pytest.mark.anyio
async def test_system_tab_charts_units_and_pages(sampled: tuple[Store, str]) -> None:
    store, run_id = sampled
    app = RunApp(store, run_id)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunScreen) and screen.active_tab == "system"
        tab = screen.query_one(SystemTab)
        assert list(tab.panels) == [
            "GPU util % · gpu0⣿ gpu1•",
            "GPU memory GB (of 80.0 GB) · gpu0⣿ gpu1•",
            "GPU temp °C · gpu0⣿ gpu1•",
            "GPU power W · gpu0⣿ gpu1•",
            "host CPU %",
            "process CPU % of a core",
            "process RSS GB",
            "host memory GB",
        ]
        grid = tab.grid
        assert grid.capacity == 4 and grid.pages == 2  # 2×2 at 80×24
        first = [c for c in grid.charts if c.display]
        assert [c.key for c in first] == list(tab.panels)[:4]
        memory = first[1]
        # one line per GPU, bytes drawn in GB
        assert [(name, max(s.y)) for _, name, s in memory.series] == [
            ("gpu0", 24.0),
            ("gpu1", 34.0),
        ]
        assert "system 1–4 of 8 charts · page 1/2" in screen_text(screen)
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert [c.key for c in grid.charts if c.display] == list(tab.panels)[4:]
        rss = next(c for c in grid.charts if c.key == "process RSS GB")
        assert rss.series[0][2].y[0] == pytest.approx(2.0)
        assert isinstance(rss, MetricChart) and rss.last_plot is not None
        # the Metrics tab lists the metrics, not the system series
        await pilot.press("3")
        await settle(pilot)
        picker = screen.query_one("#metric-picker")
        ids = [picker.get_option_at_index(i).id for i in range(picker.option_count)]
        assert ids and not any(k.startswith("system/") for k in ids)


@pytest.mark.anyio
async def test_without_system_series_one_line_says_how(store: Store) -> None:
    app = RunApp(store, store.resolve(RUN), tab="system")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.pause(0.1)  # painted
        assert NO_READINGS in screen_text(app.screen)
        assert len(NO_READINGS) <= 78
        assert not [c for c in app.screen.query_one(SystemGrid).charts if c.display]


def test_panels_keep_other_tools_series_under_their_names() -> None:
    from trackui.store.models import MetricSummary

    def summary(key: str, top: float = 1.0) -> MetricSummary:
        return MetricSummary(key, 1.0, 1.0, 1.0, top, 1, 0, 0, 0)

    got = panels(
        [
            summary("loss"),
            summary("system/gpu1.util"),
            summary("system/gpu0.util"),
            summary("system/disk_usage_percentage"),
            summary("system/gpu0.mem_total", 8 * GB),
        ]
    )
    assert [(p.title, p.lines) for p in got] == [
        ("GPU util % · gpu0⣿ gpu1•", (("gpu0", "system/gpu0.util"), ("gpu1", "system/gpu1.util"))),
        ("disk_usage_percentage", (("disk_usage_percentage", "system/disk_usage_percentage"),)),
    ]


@pytest.mark.anyio
async def test_new_samples_of_a_live_run_are_drawn_after_a_refresh(fixture_store: Path) -> None:
    from trackui.tui.messages import StoreRefreshed

    run_id = write_samples(fixture_store, RUN, n=5)
    with Store(fixture_store, clock=lambda: FIXED_NOW) as store:
        app = RunApp(store, run_id, tab="system")
        async with app.run_test(size=(120, 40)) as pilot:
            await all_drawn(pilot)
            grid = app.screen.query_one(SystemGrid)
            util = grid.charts[0]
            assert [s.total for _, _, s in util.series] == [5, 5]
            detail = store.get_run(run_id)
            later = detail.run.created + 1000
            with open(Path(detail.dir) / paths.SYSTEM, "a") as fh:
                fh.write(json.dumps({"_t": later, "system/gpu0.util": 99.0}) + "\n")
            app.screen.post_message(StoreRefreshed(store.refresh()))
            await all_drawn(pilot)
            assert [s.total for _, _, s in util.series] == [6, 5]
            assert util.series[0][2].y[-1] == 99.0
