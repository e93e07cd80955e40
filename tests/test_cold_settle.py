"""What a cold build keeps in memory once a batch is committed.

A cold build used to keep every file state of every run it read for as long
as the catalog stayed open (about 60 MB at 100 k small runs); each committed
batch's finished runs are now kept as a warm start loads them
(``Catalog._load_state``: partial, the rest loaded again when read), and the
catalog and later refreshes are those of the build that kept everything."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from trackui.store import catalog, cold_batches, paths
from trackui.store.catalog_schema import FOLDER
from trackui.store.queries import Store

from .test_cold_batches import NOW, digest
from .test_cold_reader import write_hostile_store


def held(store: Store) -> dict[str, tuple[bool, dict]]:
    """Each run's state as this process holds it: (partial, its file states)."""
    states = store.catalog._states or {}
    return {key: (s.partial, dict(s.files)) for key, s in states.items()}


@pytest.fixture
def store_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(catalog, "BATCH_RUNS", (3, 4))
    root = tmp_path / "store"
    write_hostile_store(root)  # finished and running runs, an imported one, bad ones
    return root


@pytest.mark.parametrize("overlapped, child", [(True, False), (True, True), (False, False)])
def test_a_cold_build_keeps_committed_runs_as_a_warm_start_loads_them(
    store_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    overlapped: bool,
    child: bool,
) -> None:
    with monkeypatch.context() as m:
        m.setattr(cold_batches, "OVERLAP_MIN_RUNS", 10**9)
        with Store(store_root, catalog_path=tmp_path / "plain.duckdb", clock=lambda: NOW) as store:
            plain = digest(store)
    if overlapped:
        monkeypatch.setattr(cold_batches, "OVERLAP_MIN_RUNS", 0)
    else:  # one batch at a time, yet many runs: kept lean too
        monkeypatch.setattr(cold_batches, "OVERLAP_MIN_RUNS", 1)
        monkeypatch.setattr(cold_batches.ColdBatches, "_overlapped", no_overlap)
    monkeypatch.setattr(cold_batches, "PROCESS_MIN_RUNS", 0 if child else 10**9)
    path = tmp_path / "got.duckdb"
    with Store(store_root, catalog_path=path, refresh=False, clock=lambda: NOW) as store:
        store.refresh(progress=lambda done, total: None)
        assert digest(store) == plain
        states = held(store)
        finished = {k for k, s in store.catalog._states.items() if s.finished}
        imported = {k for k, (_, files) in states.items() if paths.SOURCE in files}
        assert imported and finished - imported and set(states) - finished
        for key, (partial, files) in states.items():
            lean = key in finished - imported
            assert partial == lean, key
            assert not lean or set(files) <= {FOLDER, paths.META}, key
        # What was dropped is what the catalog gives back when it is needed.
        store.catalog._complete(list(states))
        assert held(store) == {
            k: (s.partial, dict(s.files)) for k, s in store.catalog._load_state().items()
        }
        assert not any(partial for partial, _ in held(store).values())
        # A refresh after it reads nothing new, then sees a renamed run.
        assert store.refresh().runs_changed == 0
        again = digest(store)  # (a run found quiet now may have its FOLDER row)
        assert {k: v for k, v in again.items() if k != "files"} == {
            k: v for k, v in plain.items() if k != "files"
        }
        rename(store_root, "name-run01", "renamed")
        store.refresh()
        assert "renamed" in {r.name for r in store.list_runs(limit=100)}


def no_overlap(self, parts, now, progress, total):  # type: ignore[no-untyped-def]
    return parts, 0, 0, 0  # every batch goes the one-at-a-time way


def rename(root: Path, run_name: str, new: str) -> None:
    """meta.json of ``run_name`` replaced by rename, as ``trackui rename`` does."""
    for meta in root.rglob("meta.json"):
        try:
            doc = json.loads(meta.read_bytes())
        except ValueError:
            continue  # the run with a broken meta.json
        if isinstance(doc, dict) and doc.get("name") == run_name:
            doc["name"] = new
            tmp = meta.with_name("meta.json.tmp")
            tmp.write_text(json.dumps(doc))
            os.replace(tmp, meta)
            return
    raise AssertionError(f"no run {run_name}")
