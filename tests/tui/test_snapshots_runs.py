"""Snapshots of the Runs screen at 120×40 and 80×24 and of Help at 120×40:
the fixture store, a fixed clock, the default theme, two remembered columns
and one marked run; and 20 runs with long, CJK, emoji and hostile names and
the default column (the primary metric at its best). Nothing on screen
depends on the store's path or the time."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from trackui.store.queries import Store
from trackui.tui.app import TrackuiApp
from trackui.tui.config import ColumnMemory

from ..conftest import FIXED_NOW
from .helpers import SNAPSHOT_CONFIG, build, settle
from .test_runs_screen import measured

COLUMNS = ["lr0", "max(metrics/mAP50-95(B))"]


@pytest.fixture
def app(fixture_store: Path, store: Store) -> TrackuiApp:
    ColumnMemory().save(fixture_store, COLUMNS)
    return build(store, SNAPSHOT_CONFIG)


async def mark_one(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("j", "space")  # mark resnet-kill; the cursor moves on to yolo-oom
    await measured(pilot)


async def open_help(pilot: Pilot[None]) -> None:
    await measured(pilot)
    await pilot.press("question_mark")
    await settle(pilot)


def test_runs_120x40(app: TrackuiApp, snap_compare: Any) -> None:
    assert snap_compare(app, terminal_size=(120, 40), run_before=mark_one)


def test_runs_80x24(app: TrackuiApp, snap_compare: Any) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=mark_one)


def test_help_120x40(app: TrackuiApp, snap_compare: Any) -> None:
    assert snap_compare(app, terminal_size=(120, 40), run_before=open_help)


PREFIX = "yolov8-large-coco-pretrained-augment-mosaic-lr0.01"
NAMES = [
    *(f"{PREFIX}-seed{i}" for i in (1, 2, 3)),
    "训练运行-学习率-0.01-批次64",
    "🚀-rocket-run-🔥-final",
    "opt[/x] [bold]red\x1b[31m",
    "bidi\u202eevil\u200bname",
    "a" * 70 + "-end",
    *(f"sweep-batch{b}-wd{w}" for b in (16, 32, 64) for w in ("1e-4", "5e-5")),
    "short",
    "ベースライン",
    "mixed-名前-emoji-🎉-end",
    "tab\there",
    "x",
    "resnet50-imagenet-finetune-cosine-warmup5-ep90",
]


def twenty_runs(root: Path) -> None:
    """20 copies of a finished detect run, ids and times fixed, each with its
    own name and a slightly different mAP."""
    source = root / "detect" / "20261126-151108458-rhhzwg"
    for i, name in enumerate(NAMES):
        run_id = f"20261126-17{i:02d}00000-snap{i:02d}"
        dest = root / "sweep" / run_id
        shutil.copytree(source, dest)
        meta = json.loads((dest / "meta.json").read_text())
        meta.update(id=run_id, project="sweep", name=name, created=FIXED_NOW - 7200 + 60 * i)
        (dest / "meta.json").write_text(json.dumps(meta))
        lines = []
        for line in (dest / "metrics.jsonl").read_text().splitlines():
            point = json.loads(line)
            if "metrics/mAP50-95(B)" in point:
                point["metrics/mAP50-95(B)"] *= 1 - i / 97
            lines.append(json.dumps(point))
        (dest / "metrics.jsonl").write_text("\n".join(lines) + "\n")


@pytest.fixture
def twenty(fixture_store: Path) -> Iterator[TrackuiApp]:
    twenty_runs(fixture_store)
    with Store(fixture_store, clock=lambda: FIXED_NOW) as store:
        yield build(store, SNAPSHOT_CONFIG)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_twenty_runs_with_hard_names(
    twenty: TrackuiApp, snap_compare: Any, size: tuple[int, int]
) -> None:
    assert snap_compare(twenty, terminal_size=size, run_before=measured)
