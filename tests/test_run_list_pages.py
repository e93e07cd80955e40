"""A page of the run list (``list_runs(limit=…, offset=…)``, what the TUI
fetches) holds the same rows, in the same order, as that slice of the whole
list, for every kind of sort column, ties, missing values and filters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from trackui.store.queries import Store

RUNS = 23


def write_runs(root: Path) -> None:
    for n in range(RUNS):
        run_dir = root / f"proj{n % 3}" / f"20260101-0000{n:02d}000-run{n:02d}"
        run_dir.mkdir(parents=True)
        created = 1_790_000_000.0 + n
        meta = {"format": 1, "project": f"proj{n % 3}", "name": f"run-{n:02d}", "created": created}
        (run_dir / "meta.json").write_text(json.dumps(meta))
        config: dict[str, object] = {"batch": 16 << (n % 3), "opt": ("SGD", "Adam")[n % 2]}
        if n % 5:
            config["lr0"] = 0.001 * (n % 4)  # ties, and runs without lr0
        (run_dir / "config.json").write_text(json.dumps(config))
        lines = [
            json.dumps({"_step": s, "_t": created + s, "val/loss": (n % 7 + 1) / (s + 1)})
            for s in range(3 + n % 4)
        ]
        if n % 6 == 0:
            lines = []  # no metrics at all
        (run_dir / "metrics.jsonl").write_text("".join(line + "\n" for line in lines))
        events = [{"event": "start", "t": created}, {"event": "finish", "t": created + 9}]
        (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    root = tmp_path_factory.mktemp("pages") / "store"
    write_runs(root)
    with Store(root, catalog_path=root.parent / "catalog.duckdb", private=True) as store:
        assert store.count_runs() == RUNS
        yield store


COLUMNS = ("param:lr0", "param:opt", "min(val/loss)", "last(val/loss)", "duration", "project")


@pytest.mark.parametrize(
    "sort",
    ["created", "-created", "param:lr0", "param:opt", "min(val/loss)", "count(val/loss)", "name"],
)
@pytest.mark.parametrize("descending", [None, True, False])
@pytest.mark.parametrize("where", [None, "lr0<0.003", "opt=Adam", "proj1"])
def test_a_page_is_that_slice_of_the_whole_list(
    store: Store, sort: str, descending: bool | None, where: str | None
) -> None:
    whole = store.list_runs(sort=sort, descending=descending, where=where, columns=COLUMNS)
    assert whole, "the filter matches some runs"
    for offset, limit in ((0, 5), (5, 5), (3, 100), (len(whole) - 1, 4), (len(whole), 3)):
        page = store.list_runs(
            sort=sort,
            descending=descending,
            where=where,
            columns=COLUMNS,
            limit=limit,
            offset=offset,
        )
        assert page == whole[offset : offset + limit], (offset, limit)


def test_a_page_carries_its_columns(store: Store) -> None:
    (first,) = store.list_runs(sort="param:lr0", descending=True, columns=COLUMNS, limit=1)
    assert first.columns["param:lr0"] == pytest.approx(0.003)
    assert first.columns["param:opt"] in ("SGD", "Adam")
    assert set(first.columns) == set(COLUMNS)


@pytest.mark.parametrize("where", [None, "lr0<0.003", "opt=Adam", "nothing-matches-this"])
@pytest.mark.parametrize("offset", [0, 4, 50])
def test_a_page_and_its_count(store: Store, where: str | None, offset: int) -> None:
    runs, total = store.page_runs(where=where, limit=5, offset=offset, sort="param:lr0")
    assert total == store.count_runs(where=where)
    assert runs == store.list_runs(where=where, limit=5, offset=offset, sort="param:lr0")
