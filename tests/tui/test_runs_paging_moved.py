"""A next page of the run list asked for before runs landed ahead of it (a
cold build filling the list, a live tick) overlaps the rows shown: it is not
appended (the table would hold one run twice, and Textual refuses a second
row of one key), the list is read whole again instead."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from trackui.store.queries import Store
from trackui.tui.config import TuiConfig
from trackui.tui.runs_query import RunsLoaded, fetch_runs
from trackui.tui.runs_screen import RunsScreen
from trackui.tui.runs_table import RunsTable

from ..conftest import FIXED_NOW
from .helpers import build, settle, until

pytestmark = pytest.mark.anyio


def clone(root: Path, project: str, count: int, start: int, created: float) -> list[str]:
    """``count`` copies of a fixture run in ``project``, one second apart."""
    source = next((root / "cls").iterdir())
    names = []
    for i in range(start, start + count):
        run_id = f"20261126-17{i // 60:02d}{i % 60:02d}000-{project}{i:02d}"
        dest = root / project / run_id
        shutil.copytree(source, dest)
        meta = json.loads((dest / "meta.json").read_text())
        meta.update(id=run_id, project=project, name=f"{project}-{i:03d}", created=created + i)
        (dest / "meta.json").write_text(json.dumps(meta))
        names.append(f"{project}-{i:03d}")
    return names


def shown_keys(screen: RunsScreen) -> list[str]:
    table = screen.query_one(RunsTable)
    return [row.key.value for row in table.ordered_rows]


@pytest.mark.parametrize("grouped", [False, True])
async def test_a_page_that_overlaps_the_rows_shown_is_read_whole_again(
    fixture_store: Path, grouped: bool
) -> None:
    clone(fixture_store, "bulk", 30, 0, FIXED_NOW - 5000)
    with Store(fixture_store, clock=lambda: FIXED_NOW) as store:
        app = build(store, TuiConfig(page_size=10))
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            assert isinstance(screen, RunsScreen)
            await until(pilot, lambda: len(screen.runs) == 10, "the first page")
            if grouped:
                screen.request(screen.query_state.__class__(grouped=True))
                await until(pilot, lambda: screen.query_state.grouped, "the grouped list")
                await settle(pilot)
            query, serial = screen.query_state, screen._serial
            # Newer runs land ahead of the shown ones, and the page after them
            # is read now: its first rows are the last ones shown.
            clone(fixture_store, "bulk", 3, 30, FIXED_NOW - 4000)
            clone(fixture_store, "aaa", 2, 0, FIXED_NOW - 3000)
            store.refresh()
            page = fetch_runs(store, query, len(screen.runs), 10)
            shown = {run.id for run in screen.runs}
            assert shown & {run.id for run in page.runs} or grouped  # the list moved under it
            screen.post_message(RunsLoaded(query, serial, page, "more"))
            await until(
                pilot,
                lambda: not shown >= {run.id for run in screen.runs},
                "the list read again",
            )
            await settle(pilot)
            keys = shown_keys(screen)
            assert len(keys) == len(set(keys))
            ids = [run.id for run in screen.runs]
            assert len(ids) == len(set(ids))
            # what is shown is the store's list from its top, in its order
            expected = fetch_runs(store, query, 0, len(ids))
            assert ids == [run.id for run in expected.runs]
