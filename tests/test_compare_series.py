"""The Compare chart's one query for many runs gives each run exactly the
series ``Store.series`` gives it alone (raw or downsampled, every x-axis)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from trackui.store.compare_series import series_of_runs
from trackui.store.queries import Store

from .hostile.catalog_helpers import T0, write_run


def lines(n: int, seed: int, *, nan_every: int = 0, t_every: int = 1) -> bytes:
    out = []
    for step in range(n):
        row: dict[str, object] = {"_step": step * 3}
        if step % t_every == 0:
            row["_t"] = T0 + seed * 100 + step * 0.5
        row["loss"] = (
            "NaN" if nan_every and step % nan_every == 0 else ((step * 7919 + seed) % 101) / 7.0
        )
        out.append(json.dumps(row).replace('"NaN"', "NaN"))
    return ("\n".join(out) + "\n").encode()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    tmp = tmp_path_factory.mktemp("cmp")
    root = tmp / "store"
    write_run(root, "big", files={"metrics.jsonl": lines(900, 1)})
    write_run(root, "nan", files={"metrics.jsonl": lines(700, 2, nan_every=9, t_every=4)})
    write_run(root, "small", files={"metrics.jsonl": lines(30, 3)})
    write_run(root, "flat", files={"metrics.jsonl": b'{"_step": 1, "loss": 2.0}\n' * 500})
    write_run(root, "other", files={"metrics.jsonl": b'{"_step": 1, "acc": 2.0}\n'})
    with Store(root, catalog_path=tmp / "c.duckdb") as s:
        yield s


@pytest.mark.parametrize("x_axis", ["step", "relative", "wall"])
@pytest.mark.parametrize("buckets", [None, 10, 200])
def test_one_query_gives_each_run_its_own_series(
    store: Store, x_axis: str, buckets: int | None
) -> None:
    runs = ["big", "nan", "small", "flat", "other", "missing"]
    many = series_of_runs(store, runs, "loss", buckets=buckets, x_axis=x_axis)
    assert [s.run_id for s in many] == runs
    for got in many:
        alone = store.series(got.run_id, "loss", buckets=buckets, x_axis=x_axis)
        assert repr(got) == repr(alone), got.run_id  # repr: NaN equals NaN
    if buckets == 10:
        assert many[0].downsampled and 10 <= len(many[0].x) <= 20
    if buckets == 200:
        assert many[0].downsampled and not many[2].downsampled and len(many[2].x) == 30
    assert many[4].total == many[5].total == 0 and many[4].x == ()


def test_an_x_axis_that_is_a_metric_and_a_bad_axis(store: Store) -> None:
    assert [s.total for s in series_of_runs(store, ["big"], "loss", x_axis="metric:loss")] == [900]
    with pytest.raises(ValueError, match="x axis"):
        series_of_runs(store, ["big"], "loss", x_axis="nope")
    assert series_of_runs(store, [], "loss") == []
