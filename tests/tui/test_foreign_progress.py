"""``trackui PATH`` on a folder of other tools' runs paints at once; the
first read of the folder commits its runs batch by batch, and the run list
shows each batch, with "reading N of M runs", while the rest is read."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from trackui.store.queries import Store
from trackui.store.sources import bind, foreign
from trackui.tui.app import make_app
from trackui.tui.runs_table import RunsTable

from ..conftest import FIXED_NOW
from .helpers import settle, until

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
pytestmark = pytest.mark.anyio


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Five runs: three Lightning versions and two Hugging Face output directories."""
    src = tmp_path / "runs"
    shutil.copytree(FIXTURES / "lightning", src / "pl")
    shutil.copytree(FIXTURES / "hf" / "nlp", src / "hf")
    for path in sorted(src.rglob("*"), reverse=True):
        os.utime(path, (1_700_000_000, 1_700_000_000), follow_symlinks=False)
    return src


async def test_the_run_list_fills_batch_by_batch_while_the_first_read_runs(
    tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(foreign, "BATCH_RUNS", (2,))
    held, go = threading.Event(), threading.Event()
    batches: list[tuple[int, int]] = []
    real = foreign.ForeignSource._committed

    def paused(self, catalog, done):  # type: ignore[no-untyped-def]
        real(self, catalog, done)  # committed and told: now hold the reader
        batches.append((done, self.progress.runs_total))
        if done == 2:
            held.set()
            go.wait(300)  # the test lets it go (a starved machine is slow)

    monkeypatch.setattr(foreign.ForeignSource, "_committed", paused)
    root = tmp_path / "store"
    bind(root, folder)
    with Store(root, clock=lambda: FIXED_NOW, refresh=False, private=True) as store:
        app = make_app(store, clock=lambda: FIXED_NOW, live_interval=0, refresh_on_start=True)
        async with app.run_test(size=(120, 40)) as pilot:
            try:
                await until(
                    pilot,
                    lambda: held.is_set() and app.screen.query_one(RunsTable).row_count == 2,
                    "the first two runs listed while the read is held",
                )
                assert held.is_set()  # the first read is paused mid-way ...
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
    assert batches == [(2, 5), (4, 5)]  # in order, each after its commit; the last is the end


def test_progress_is_told_in_order_with_the_runs_to_read(tmp_path: Path, folder: Path) -> None:
    """Without the app: ``on_progress`` after each run (a spinner), the
    catalog's ``progress`` after each committed batch but the last."""
    root = tmp_path / "store"
    bind(root, folder)
    with Store(root, clock=lambda: FIXED_NOW, refresh=False, private=True) as store:
        source = store.catalog.sources[0]
        runs: list[tuple[int, int]] = []
        source.on_progress = lambda p: runs.append((p.runs_done, p.runs_total))
        told: list[tuple[int, int, int]] = []

        def progress(done: int, total: int) -> None:
            (count,) = store.catalog.query("SELECT count(*) FROM runs")[0]
            told.append((done, total, count))

        old = foreign.BATCH_RUNS
        foreign.BATCH_RUNS = (2,)
        try:
            store.catalog.refresh(progress=progress)
        finally:
            foreign.BATCH_RUNS = old
        assert runs == [(n, 5) for n in range(1, 6)]
        assert told == [(2, 5, 2), (4, 5, 4)]  # each batch is in the catalog when told
