"""Points appended to event files, followed by a refresh, land as a first
read of the grown files puts them: the same lines (seq), steps, times,
values and summaries, whether they go in as plain lists (a few points of
many runs), as NumPy columns (many), or without NumPy."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from trackui.store.importers import _tfevents, _tfscalars
from trackui.store.queries import Store
from trackui.store.sources import bind, follow, points

from .test_live_sources import append, tb_event
from .test_points_columns import store_rows as rows

NOW = 1_900_000_000.0


def source(root: Path, runs: int) -> list[Path]:
    files = []
    for r in range(runs):
        f = root / f"run{r}" / f"events.out.tfevents.1.host.{r}"
        f.parent.mkdir(parents=True)
        f.write_bytes(b"".join(tb_event(k, s, s / 3 + r, 1e9 + s) for s in range(5) for k in "ab"))
        files.append(f)
    return files


def grow(files: list[Path], many: bool) -> None:
    for r, f in enumerate(files):
        events = [
            tb_event("a", 9, 0.5, 1e9 + 9),
            tb_event("a", 9, 0.75, 1e9 + 9),  # a key twice at one step and time: a new line
            tb_event("b", 10, math.inf, math.nan),  # no time
            tb_event("new/key", 11, -0.0, 1e9 + 11),
        ]
        if r != 2:  # run2's "b" ends on a point with no time: its last time stays the last known
            events.append(tb_event("b", 12, 1.0, 1e9 + 12))
        if many:
            events += [tb_event("c", 100 + s, s / 7, 1e9 + 100 + s) for s in range(3000)]
        if r % 2:
            events = events[:1]
        append(f, b"".join(events))


@pytest.mark.parametrize("way", ["lists", "columns", "no numpy"])
def test_appended_points_land_as_a_first_read_puts_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, way: str
) -> None:
    if way == "no numpy":
        from trackui.store import columns

        monkeypatch.setattr(_tfscalars, "USE_NUMPY", False)
        monkeypatch.setattr(columns, "np", None)
        monkeypatch.setattr(follow, "numpy_or_none", lambda: None)
        monkeypatch.setattr(points, "num_columns", lambda *a, **k: None)
    elif way == "columns":
        pytest.importorskip("numpy", reason="the columns path runs where NumPy is (CI has it)")
    src = tmp_path / "src"
    files = source(src, 4)
    bind(tmp_path / "followed", src, "tensorboard")
    with Store(tmp_path / "followed", catalog_path=tmp_path / "f.duckdb", clock=lambda: NOW) as s:
        grow(files, many=way == "columns")
        stats = s.refresh(full=False)
        assert stats.points > 0
        followed = rows(s)
    bind(tmp_path / "fresh", src, "tensorboard")
    with Store(tmp_path / "fresh", catalog_path=tmp_path / "r.duckdb", clock=lambda: NOW) as s:
        fresh = rows(s)
    assert followed == fresh
    metrics = followed[0]
    assert ("run0", "a", 6, 9, "1000000009.0", "0.75") in metrics  # its own line
    assert ("run0", "b", 7, 10, None, "inf") in metrics


def test_few_numbers_lines_as_metric_rows_does() -> None:
    from trackui.store.importers import _metric_rows
    from trackui.store.importers.base import ForeignRun, Point

    pts = [
        Point("a", 0, 1.0, None),
        Point("b", 0, 2.0, None),
        Point("a", 0, 3.0, None),
        Point("_step", 1, 1.0, 2.0),
        Point("a", 1, "x", 2.0),  # type: ignore[arg-type]
        Point("a", 1, 4.0, math.nan),
        Point("b", 1, 5.0, None),
        Point("b", 2, 6.0, 3.0),
    ]

    class Cur:
        pass

    captured: dict[str, Any] = {}

    def insert(cur: Any, tmpdir: str, got: Any) -> int:
        captured["seq"] = list(got.seq)
        return len(got.seq)

    mp = pytest.MonkeyPatch()
    from trackui.store import columns

    mp.setattr(points, "_run_numbers", lambda cur, ids, *_: {i: 1 for i in ids})
    mp.setattr(points, "_key_numbers", lambda cur, keys, *_: {k: 1 for k in keys})
    mp.setattr(columns, "insert_points", insert)
    mp.setattr(columns, "np", None)  # the lists go in as they are

    class Catalog:
        class _ingest:  # noqa: N801 - the attribute the catalog has
            tmpdir = "/nowhere"

    try:
        made, n = points.few(Cur(), Catalog(), [("r", pts, 5)])
    finally:
        mp.undo()
    _, lines = _metric_rows(ForeignRun("", "", "", "", "", points=pts))
    assert made == [len(lines)] and n == 6
    assert captured["seq"] == [5, 5, 6, 7, 7, 8]
    assert _tfevents.is_event_file("events.out.tfevents.1.host")
