"""A first read writes a foreign run's points as columns (``points.py``) and
gets exactly the rows and summaries the metrics.jsonl path gets: each
point's seq (its line), step, time and value, bit for bit (NaN, ±inf, -0.0,
unknown times), and runs the columns cannot carry (a key twice at one step
and time) go the metrics.jsonl way. The TensorBoard reader's float32
conversion with NumPy gives the floats the digit search gives."""

from __future__ import annotations

import math
import random
import struct
from pathlib import Path
from typing import Any

import pytest

from trackui.store.importers import _tfevents, _tfscalars
from trackui.store.importers.base import ForeignRun, Point
from trackui.store.queries import Store
from trackui.store.sources import bind, points

NOW = 1_900_000_000.0


def mlflow_store(root: Path, runs: dict[str, dict[str, str]]) -> Path:
    """An MLflow file store: run name -> metric name -> the metric file's text."""
    exp = root / "mlruns" / "1"
    exp.mkdir(parents=True)
    (exp / "meta.yaml").write_text("experiment_id: '1'\nlifecycle_stage: active\nname: cols\n")
    for n, (name, metrics) in enumerate(sorted(runs.items())):
        run = exp / f"{n:032x}"
        (run / "metrics").mkdir(parents=True)
        (run / "tags").mkdir()
        (run / "tags" / "mlflow.runName").write_text(name)
        (run / "meta.yaml").write_text(
            f"run_id: {n:032x}\nexperiment_id: '1'\nlifecycle_stage: active\nstatus: 3\n"
            "start_time: 1700000000000\nend_time: 1700000100000\n"
        )
        for key, text in metrics.items():
            (run / "metrics" / key).parent.mkdir(parents=True, exist_ok=True)
            (run / "metrics" / key).write_text(text)
    return root


def store_rows(store: Store) -> tuple[list[Any], list[Any], list[Any]]:
    """A catalog's metrics, summaries (by repr: NaN, -0.0 and the last digit
    count) and each run's cursor (its next line, where following goes on)."""
    cat = store.catalog
    metrics = cat.query(
        """SELECT r.name, k.key, m.seq, m.step, m.t::VARCHAR, m.value::VARCHAR
           FROM metrics m JOIN runs r USING (run_no) JOIN metric_keys k USING (key_no)
           ORDER BY 1, 2, 3"""
    )
    summaries = cat.query(
        "SELECT r.name, s.* EXCLUDE (run_id) FROM summaries s JOIN runs r USING (run_id) "
        "ORDER BY 1, 2"
    )
    names = dict(cat.query("SELECT run_id, name FROM runs"))
    cursors = sorted((names[k], row.offset) for k, row in cat.sources[0].runs.items())
    return metrics, [tuple(map(repr, row)) for row in summaries], cursors


def catalog_rows(tmp_path: Path, src: Path, tag: str) -> tuple[list[Any], list[Any], list[Any]]:
    root = tmp_path / f"store-{tag}"
    bind(root, src)
    with Store(root, catalog_path=tmp_path / f"{tag}.duckdb", clock=lambda: NOW) as store:
        return store_rows(store)


def test_columns_give_the_rows_and_summaries_of_the_jsonl_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = mlflow_store(
        tmp_path / "src",
        {
            "plain": {
                "loss": "1700000000000 0.5 0\n1700000001000 0.25 1\n1700000002000 nan 2\n",
                "acc": "1700000000000 -0.0 0\n1700000001000 inf 1\n1700000002000 -inf 2\n",
                "lr": "1700000000500 0.001 0\n1700000003000 1e-05 3\n",
            },
            # the same key twice at one step and time: two lines in metrics.jsonl
            "twice": {"loss": "1700000000000 1.0 0\n1700000000000 2.0 0\n1700000000000 3.0 1\n"},
            "big": {"x": "1700000000000 12345678901234567890 9007199254740993\n"},
        },
    )
    used: list[str] = []
    real, real_num = points._columns, points.num_columns

    def spy(run_id: str, pts: list[Any]) -> Any:
        got = real(run_id, pts)
        used.append("columns" if got is not None else "jsonl")
        return got

    def spy_num(run_id: str, pts: Any, first_line: int = 0) -> Any:
        got = real_num(run_id, pts, first_line)
        used.append("numpy" if got is not None else "not numpy")
        return got

    monkeypatch.setattr(points, "_columns", spy)
    monkeypatch.setattr(points, "num_columns", spy_num)
    by_columns = catalog_rows(tmp_path, src, "columns")
    # "twice" went the jsonl way; the others as NumPy columns when the reader gave them
    assert used.count("jsonl") == 1 and used.count("columns") + used.count("numpy") == 2
    monkeypatch.setattr(points, "num_columns", lambda run_id, pts, first_line=0: None)
    by_csv = catalog_rows(tmp_path, src, "csv")
    monkeypatch.setattr(points, "_columns", lambda run_id, pts: None)
    by_lines = catalog_rows(tmp_path, src, "lines")
    assert by_columns == by_lines == by_csv
    metrics, _, cursors = by_columns
    assert ("plain", "acc", 0, 0, "1700000000.0", "-0.0") in metrics
    assert ("plain", "loss", 3, 2, "1700000002.0", "nan") in metrics  # lr at .5 s: line 1
    assert dict(cursors) == {"big": 1, "plain": 5, "twice": 3}  # the next line of each


def test_columns_keep_unknown_times_and_split_lines_where_step_or_time_change() -> None:
    run = ForeignRun("tensorboard", "/nowhere", "r", "p", "r")
    run.points = [
        Point("a", 0, 1.0, None),
        Point("b", 0, 2.0, None),
        Point("a", 1, 3.0, None),
        Point("a", 1, 4.0, 5.0),
        Point("b", 1, 5.0, 5.0),
    ]
    prep = points.prepare("r", run)
    assert isinstance(prep.chunk, points.Columns)
    assert prep.rows == 3 and prep.keys == {"a", "b"} and prep.last_step == 1
    assert prep.chunk.seq.split() == [b"0", b"0", b"1", b"2", b"2"]
    assert prep.chunk.rows.split() == [b"0,0,None", b"1,1,None", b"2,1,5.0"]


@pytest.mark.parametrize(
    "points_",
    [
        [Point("_step", 0, 1.0, 1.0), Point("a", 0, 2.0, 1.0)],  # a reserved name
        [Point("a", 0, 1, 1.0)],  # not a float
        [Point("a", 0, 1.0, math.inf)],  # a time that is no time
        [Point("a", 1 << 63, 1.0, 1.0)],  # past int64
    ],
)
def test_what_columns_cannot_carry_goes_the_jsonl_way(points_: list[Point]) -> None:
    run = ForeignRun("tensorboard", "/nowhere", "r", "p", "r", points=points_)
    prep = points.prepare("r", run)
    assert isinstance(prep.chunk, tuple) and not isinstance(prep.chunk, points.Columns)
    assert prep.chunk[0] == "r" and prep.chunk[1].endswith(b"\n")


def test_numpy_float32_conversion_equals_the_digit_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("numpy", reason="the NumPy path runs where NumPy is installed (CI has it)")
    rng = random.Random(8)
    raws = [struct.pack("<I", rng.getrandbits(32)) for _ in range(20_000)]
    raws += [
        struct.pack("<f", rng.uniform(-2, 2) * 10 ** rng.randint(-9, 9)) for _ in range(20_000)
    ]
    raws += [
        struct.pack("<I", b)
        for b in (
            0,
            1 << 31,
            0x7F800000,
            0xFF800000,
            0x7FC00000,
            1,
            0x00800000,
            0x3F800000,
            0x7F7FFFFF,
        )
    ]
    want = [_tfevents._shortest_of_raw(r) for r in raws]
    got = _tfscalars.shortest_many(raws, _tfevents._shortest_of_raw, {})
    monkeypatch.setattr(_tfscalars, "USE_NUMPY", False)
    pure = _tfscalars.shortest_many(raws, _tfevents._shortest_of_raw, {})
    assert list(map(repr, got)) == list(map(repr, want)) == list(map(repr, pure))


def test_event_file_points_are_the_same_with_and_without_numpy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thousands of scalar events (the NumPy pass starts at 256 values), a
    step past two varint bytes and a text summary in between (the general
    decoder), read both ways."""
    from ..sources.test_live_sources import tb_event

    rng = random.Random(3)
    events = [tb_event("loss", s, rng.uniform(0, 3), 1e9 + s) for s in range(3000)]
    events.insert(1500, tb_event("big/step", 1 << 30, 0.1, 1e9 + 1500))
    f = tmp_path / "events.out.tfevents.1.host"
    f.write_bytes(b"".join(events))
    fast = _tfevents.read_event_file(f, problems := [])
    monkeypatch.setattr(_tfscalars, "USE_NUMPY", False)
    pure = _tfevents.read_event_file(f, problems)
    assert problems == [] and len(fast.points) == 3001
    assert [(p.key, p.step, repr(p.value), p.t) for p in fast.points] == [
        (p.key, p.step, repr(p.value), p.t) for p in pure.points
    ]
    assert fast.points[1500].step == 1 << 30 and fast.end == pure.end == f.stat().st_size
