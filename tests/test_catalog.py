"""The catalog as a derived, rebuildable index: torn and corrupt lines, a
second reader on the same store, rebuilding from the files, files replaced
or removed under it, and refreshes that find nothing new."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

import trackui
from trackui.store import catalog, paths
from trackui.store.catalog import Catalog
from trackui.store.queries import Store
from trackui.store.writer import Run

from .conftest import FIXED_NOW, copy_store


@pytest.fixture(params=["duckdb-reader", "python-parser"])
def ingest_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test over both ways the catalog reads metrics lines."""
    big = request.param == "duckdb-reader"
    monkeypatch.setattr(catalog, "SMALL_CHUNK_BYTES", 0 if big else 1 << 30)
    return str(request.param)


def make_run(root: Path, n: int = 3, name: str = "r", **values: float) -> Run:
    run = Run(project="p", name=name, dir=root, console=False, handle_signals=False)
    for i in range(n):
        run.log({"loss": 1.0 / (i + 1), **values})
    return run


def append(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def values(store: Store, run_id: str, key: str = "loss") -> list[float]:
    return [p.value for p in store.history(run_id, key)]


def count(store: Store, run_id: str, key: str = "loss") -> int:
    (summary,) = [m for m in store.metric_summaries(run_id) if m.key == key]
    return summary.count


# -- torn and corrupt lines ------------------------------------------------------


def test_torn_last_line_waits_for_its_newline_then_counts_once(
    tmp_path: Path, ingest_path: str
) -> None:
    root = tmp_path / "store"
    run = make_run(root, 2)
    metrics = run.dir / paths.METRICS
    store = Store(root)
    assert values(store, run.id) == [1.0, 0.5]

    append(metrics, b'{"_step": 2, "_t": 1.5, "loss": 0.')  # the writer is mid-write
    stats = store.refresh()
    assert stats.points == 0
    assert values(store, run.id) == [1.0, 0.5] and count(store, run.id) == 2

    append(metrics, b"25}\n")  # ...and completes the line
    assert store.refresh().points == 1
    assert values(store, run.id) == [1.0, 0.5, 0.25]
    assert store.refresh().points == 0  # exactly once
    assert values(store, run.id) == [1.0, 0.5, 0.25] and count(store, run.id) == 3
    store.close()

    with Store(root) as reopened:  # the offsets saved with the catalog agree
        assert values(reopened, run.id) == [1.0, 0.5, 0.25] and count(reopened, run.id) == 3
    run.finish()


def test_torn_line_of_a_dead_writer_is_skipped_once_a_new_line_follows(
    tmp_path: Path, ingest_path: str
) -> None:
    root = tmp_path / "store"
    run = make_run(root, 1)
    store = Store(root)
    append(run.dir / paths.METRICS, b'{"_step": 1, "_t": 1.5, "lo')
    store.refresh()
    # a later writer starts its record on a line of its own, as the shim does
    append(run.dir / paths.METRICS, b'\n{"_step": 2, "_t": 2.0, "loss": 0.125}\n')
    store.refresh()
    assert [(p.step, p.value) for p in store.history(run.id, "loss")] == [(0, 1.0), (2, 0.125)]
    store.close()
    run.finish()


@pytest.mark.parametrize(
    "bad",
    [
        b"not json at all",
        b'{"_step": 9, "loss": 1.',
        b"[1, 2, 3]",
        b'{"_step": "x", "loss": 5}',
        b'{"_step": 4.5, "loss": 4.0}',
        b'{"_step": 99999999999999999999999, "loss": 4.0}',
        b'{"loss": 4.0}',
        b'\xff\xfe{"loss": 1}',
        b"",
    ],
    ids=[
        "text",
        "truncated",
        "array",
        "str-step",
        "float-step",
        "huge-step",
        "no-step",
        "bytes",
        "blank",
    ],
)
def test_corrupt_middle_line_is_skipped(tmp_path: Path, bad: bytes, ingest_path: str) -> None:
    root = tmp_path / "store"
    run = make_run(root, 0)
    run.finish()
    (run.dir / paths.METRICS).write_bytes(
        b'{"_step": 0, "_t": 1.0, "loss": 1.0}\n'
        + bad
        + b'\n{"_step": 2, "_t": 2.0, "loss": 3.0, "acc": 0.5}\n'
    )
    with Store(root) as store:
        assert [(p.seq, p.step, p.value) for p in store.history(run.id, "loss")] == [
            (0, 0, 1.0),
            (2, 2, 3.0),
        ]
        assert [(p.step, p.value) for p in store.history(run.id, "acc")] == [(2, 0.5)]
        assert store.get_run(run.id).run.status == "finished"


def test_corrupt_event_line_is_skipped(tmp_path: Path) -> None:
    root = tmp_path / "store"
    run = make_run(root, 1)
    append(run.dir / paths.EVENTS, b"garbage\n")
    run.finish()
    with Store(root) as store:
        assert store.get_run(run.id).run.status == "finished"


# -- a second reader --------------------------------------------------------------


def test_second_store_in_the_same_process(tmp_path: Path) -> None:
    root = tmp_path / "store"
    run = make_run(root, 2)
    first = Store(root)
    second = Store(root)  # never a lock error
    assert not first.catalog.private and second.catalog.private
    run.log({"loss": 0.1})
    first.refresh()
    run.log({"loss": 0.05})
    second.refresh()
    first.refresh()
    for store in (first, second):
        assert values(store, run.id) == [1.0, 0.5, 0.1, 0.05]
        assert count(store, run.id) == 4
    second.close()
    first.refresh()
    assert count(first, run.id) == 4
    first.close()
    with Store(root) as third:  # the file is free again once the first closes
        assert not third.catalog.private and count(third, run.id) == 4
    run.finish()


SECOND_PROCESS = """
import json, sys
from trackui.store.queries import Store
with Store(sys.argv[1]) as store:
    (run,) = store.list_runs()
    print(json.dumps({"private": store.catalog.private,
                      "loss": [p.value for p in store.history(run.id, "loss")]}))
"""


def test_second_process_while_the_first_holds_the_catalog(tmp_path: Path) -> None:
    root = tmp_path / "store"
    run = make_run(root, 3)
    run.finish()
    with Store(root) as holder:
        assert not holder.catalog.private
        out = subprocess.run(
            [sys.executable, "-c", SECOND_PROCESS, str(root)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        assert "lock" not in out.stderr.lower() and "Traceback" not in out.stderr
        assert json.loads(out.stdout) == {"private": True, "loss": [1.0, 0.5, 1 / 3]}
        cli = subprocess.run(
            [sys.executable, "-m", "trackui", "ls", "--json", "--store", str(root)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert cli.returncode == 0, cli.stderr
        assert [r["id"] for r in json.loads(cli.stdout)] == [run.id]
        assert values(holder, run.id) == [1.0, 0.5, 1 / 3]


# -- rebuilding ------------------------------------------------------------------


def build_store(tmp_path: Path) -> Path:
    root = copy_store(tmp_path / "store")
    with Run(
        project="extra",
        name="odd",
        dir=root,
        console=False,
        handle_signals=False,
        config={"lr": 0.1, "opt": {"name": "sgd"}},
    ) as run:
        run.log({"loss": math.nan, "Loss": 1.0, "t": 2.0})
        run.log({"loss": math.inf, "emoji🙂": -0.0}, step=7)
        run.log({"loss": 1e-300}, step=7)
        run.summary["best"] = 1.0
    return root


def snapshot(store: Store) -> str:
    """Everything the query API says about the store, as text (NaN-safe)."""
    columns = ["lr0", "batch", "optimizer.name", "last(train/box_loss)", "min(loss)"]
    runs = store.list_runs(columns=columns)
    ids = [r.id for r in runs]
    keys = store.metric_keys(ids)
    return repr(
        {
            "runs": runs,
            "details": [store.get_run(i) for i in ids],
            "history": {(i, k): store.history(i, k) for i in ids for k in keys},
            "series": {(i, k): store.series(i, k, buckets=4) for i in ids for k in keys},
            "diff": store.diff_params(ids, only_changed=False),
            "changed": store.diff_params(ids),
            "compare": store.compare_metrics(ids),
            "sorted": [r.id for r in store.list_runs(sort="min(train/box_loss)")],
        }
    )


def test_delete_the_catalog_then_reindex_gives_identical_results(
    tmp_path: Path, ingest_path: str
) -> None:
    root = build_store(tmp_path)
    with Store(root, clock=lambda: FIXED_NOW) as store:
        before = snapshot(store)
        catalog_file = store.catalog.path
    assert catalog_file.exists() and "nan" in before and "inf" in before

    catalog_file.unlink()
    Path(str(catalog_file) + ".wal").unlink(missing_ok=True)
    out = subprocess.run(
        [sys.executable, "-m", "trackui", "reindex", "--store", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert catalog_file.exists()
    with Store(root, clock=lambda: FIXED_NOW) as store:
        assert store.refresh().points == 0  # reindex left nothing to read
        assert snapshot(store) == before
        store.reindex()  # the API call does the same in place
        assert snapshot(store) == before


def test_store_reindex_after_the_catalog_file_is_gone(tmp_path: Path) -> None:
    root = build_store(tmp_path)
    with Store(root, clock=lambda: FIXED_NOW) as store:
        before = snapshot(store)
        path = store.catalog.path
    path.unlink()
    with Store(root, clock=lambda: FIXED_NOW, refresh=False) as store:
        assert store.list_runs() == []  # a fresh, empty catalog until asked
        stats = store.reindex()
        assert stats.runs_seen == 6 and stats.points > 0
        assert snapshot(store) == before


def test_a_corrupt_catalog_file_is_rebuilt(tmp_path: Path) -> None:
    root = build_store(tmp_path)
    with Store(root, clock=lambda: FIXED_NOW) as store:
        before = snapshot(store)
        path = store.catalog.path
    path.write_bytes(b"this is not a duckdb database" * 100)
    with Store(root, clock=lambda: FIXED_NOW) as store:
        assert snapshot(store) == before


# -- files replaced or removed ------------------------------------------------------


def replace_metrics(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    tmp = run_dir / ".metrics.tmp"
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    os.replace(tmp, run_dir / paths.METRICS)


@pytest.mark.parametrize("length", [1, 3, 6], ids=["shorter", "same-lines", "longer"])
def test_replaced_metrics_file_is_read_again(tmp_path: Path, length: int, ingest_path: str) -> None:
    root = tmp_path / "store"
    run = make_run(root, 3)
    run.finish()
    store = Store(root)
    assert values(store, run.id) == [1.0, 0.5, 1 / 3]
    rows = [{"_step": 10 * i, "_t": float(i), "loss": float(i), "new": 1.0} for i in range(length)]
    replace_metrics(run.dir, rows)  # as an importer does: temp file + rename
    store.refresh()
    assert [(p.step, p.value) for p in store.history(run.id, "loss")] == [
        (r["_step"], r["loss"]) for r in rows
    ]
    assert count(store, run.id) == length and count(store, run.id, "new") == length
    (loss,) = [m for m in store.metric_summaries(run.id) if m.key == "loss"]
    assert (loss.first, loss.last, loss.min, loss.max) == (0.0, length - 1.0, 0.0, length - 1.0)
    store.close()


def test_deleted_run_directory_leaves_the_catalog(tmp_path: Path) -> None:
    root = tmp_path / "store"
    keep = make_run(root, 2, name="keep")
    gone = make_run(root, 2, name="gone")
    keep.finish()
    gone.finish()
    store = Store(root)
    assert {r.name for r in store.list_runs()} == {"keep", "gone"}
    shutil.rmtree(gone.dir)
    stats = store.refresh()
    assert stats.runs_changed == 1 and stats.runs_seen == 1
    assert [r.name for r in store.list_runs()] == ["keep"]
    assert store.history(gone.id, "loss") == []
    assert store.metric_summaries(gone.id) == []
    assert store.metric_keys([gone.id]) == []
    store.close()


def test_refresh_with_nothing_new_reports_no_change(tmp_path: Path) -> None:
    root = copy_store(tmp_path / "store")
    live = make_run(root, 5)  # a running run among finished ones
    store = Store(root)
    stats = store.refresh()
    assert (stats.runs_changed, stats.points, stats.runs_seen) == (0, 0, 6)
    live.log({"loss": 0.01})
    stats = store.refresh()
    assert (stats.runs_changed, stats.points) == (1, 1)
    assert (store.refresh().runs_changed, store.refresh().points) == (0, 0)
    live.finish()
    assert store.refresh().runs_changed == 1  # the finish event
    assert store.refresh().runs_changed == 0
    store.close()


def test_catalog_path_is_per_user_and_store(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    assert paths.catalog_path(a) != paths.catalog_path(b)
    assert paths.catalog_path(a) == paths.catalog_path(tmp_path / "x" / ".." / "a")
    assert not paths.catalog_path(a).is_relative_to(a)  # never inside the shared store
    with Catalog(a) as catalog:
        assert catalog.path == paths.catalog_path(a)


def test_live_refresh_checks_unfinished_runs_each_time_and_finished_ones_in_turn(
    tmp_path: Path,
) -> None:
    from trackui.store.catalog import ROTATION

    root = tmp_path / "store"
    with trackui.init(project="p", name="done", dir=root, console=False) as done:
        done.log({"a": 1.0})
    live = trackui.init(project="p", name="live", dir=root, console=False)
    live.log({"a": 1.0})
    try:
        with Store(root) as store:
            live.log({"a": 2.0})
            assert store.refresh(full=False).points == 1
            assert len(store.history(live.id, "a")) == 2
            metrics = done.dir / "metrics.jsonl"
            # appended to a finished run that no look has found quiet yet (its first
            # read does not count: docs/refresh.md), so its turns still read it
            with open(metrics, "a") as fh:
                fh.write('{"_step": 1, "_t": 1.0, "a": 2.0}\n')
            # A finished run is looked at only in its turn: once in ROTATION live refreshes.
            turn = zlib.crc32(done.id.encode()) % ROTATION
            first = store.catalog._round + 1
            expected = [int((first + i) % ROTATION == turn) for i in range(ROTATION)]
            picked = [store.refresh(full=False).points for _ in range(ROTATION)]
            assert picked == expected
            assert len(store.history(done.id, "a")) == 2
            with open(metrics, "a") as fh:
                fh.write('{"_step": 2, "_t": 2.0, "a": 3.0}\n')
            assert store.refresh().points == 1  # a full refresh looks at every run
    finally:
        live.finish()
