"""`trackui` paints from the catalog as it stands and refreshes behind it."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackui.store.queries import Store
from trackui.tui.app import make_app
from trackui.tui.runs_table import RunsTable

from ..conftest import FIXED_NOW
from .helpers import settle, until

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


async def test_a_cold_build_paints_each_batch_before_it_ends(
    fixture_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first refresh of a big store commits runs in batches: the list
    shows each batch, with a count, while the rest is still being read
    (here the ingest is held after its first batch until the test lets go)."""
    import threading

    from trackui.store import catalog
    from trackui.store.catalog import Catalog

    monkeypatch.setattr(catalog, "BATCH_RUNS", (2,))
    held, go = threading.Event(), threading.Event()
    real = Catalog.refresh

    def paused(self, *, full=True, progress=None):  # type: ignore[no-untyped-def]
        def hold(done: int, total: int) -> None:
            progress(done, total)
            if done == 2:
                held.set()
                go.wait(300)  # the test lets it go (a starved machine is slow)

        return real(self, full=full, progress=hold if progress else None)

    monkeypatch.setattr(Catalog, "refresh", paused)
    with Store(fixture_store, clock=lambda: FIXED_NOW, refresh=False) as store:
        app = make_app(store, clock=lambda: FIXED_NOW, live_interval=0, refresh_on_start=True)
        async with app.run_test(size=(120, 40)) as pilot:
            try:
                await until(
                    pilot,
                    lambda: held.is_set() and app.screen.query_one(RunsTable).row_count == 2,
                    "the first two runs listed while the read is held",
                )
                assert held.is_set()  # the build is paused mid-way ...
                assert app.screen.query_one(RunsTable).row_count == 2  # ... its rows shown
                status = str(app.screen.query_one("#runs-status").render())
                assert "reading the store: 2 of 5 runs" in status
            finally:
                go.set()
            await until(
                pilot,
                lambda: app.screen.query_one(RunsTable).row_count == 5 and app.reading is None,
                "every run listed and the read over",
            )
            await settle(pilot)
            assert app.screen.query_one(RunsTable).row_count == 5
            assert "reading" not in str(app.screen.query_one("#runs-status").render())


async def test_a_warm_catalog_paints_its_first_page_before_the_refresh_starts(
    fixture_store: Path,
) -> None:
    """With runs in the catalog, the start-up refresh (every file of every
    run) waits until the first page is on screen, so it does not slow it."""
    with Store(fixture_store, clock=lambda: FIXED_NOW) as store:  # warm: read once
        rows_when_refreshed: list[int] = []
        real = store.refresh
        app = make_app(store, clock=lambda: FIXED_NOW, live_interval=0, refresh_on_start=True)

        def watched(**kwargs):  # type: ignore[no-untyped-def]
            rows_when_refreshed.append(app.screen.query_one(RunsTable).row_count)
            return real(**kwargs)

        store.refresh = watched  # type: ignore[method-assign]
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await until(pilot, lambda: rows_when_refreshed, "the start-up refresh")
            assert rows_when_refreshed and rows_when_refreshed[0] == 5
