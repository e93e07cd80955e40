"""`trackui` paints from the catalog as it stands and refreshes behind it."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackui.store.queries import Store
from trackui.tui.app import make_app
from trackui.tui.runs_table import RunsTable

from ..conftest import FIXED_NOW
from .helpers import settle

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("refresh_on_start, rows", [(True, 5), (False, 0)])
async def test_a_cold_catalog_fills_in_after_the_first_paint(
    fixture_store: Path, refresh_on_start: bool, rows: int
) -> None:
    with Store(fixture_store, clock=lambda: FIXED_NOW, refresh=False) as store:
        assert store.count_runs() == 0  # nothing read yet
        app = make_app(
            store, clock=lambda: FIXED_NOW, live_interval=0, refresh_on_start=refresh_on_start
        )
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            assert app.screen.query_one(RunsTable).row_count == rows
