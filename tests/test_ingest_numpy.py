"""Big metric chunks read into numpy columns (``ingest_numpy``) give the
catalog the SQL path gives with numpy away (``columns.np`` None) and the
Python path gives: points, summaries, notes, after a cold read and after
appended lines; the points of one insert lie in series order."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from trackui.store import catalog, columns, ingest, ingest_numpy
from trackui.store.queries import Store

from .hostile.catalog_helpers import write_run
from .test_ingest_big import CASES as BIG_CASES
from .test_ingest_big import long_run, python_only
from .test_ingest_small import snapshot

pytest.importorskip("numpy", reason="the numpy path: runs where the fast extra is installed")


def sparse_run(lines: int, every: int, t_every: int = 1) -> bytes:
    """A key logged every ``every`` lines (an eval metric), NaN and
    infinities now and then, a time on every ``t_every``-th line only."""
    out = []
    for step in range(lines):
        row: dict[str, float | int] = {"_step": step}
        if step % t_every == 0:
            row["_t"] = 50.0 + step
        row["loss"] = 1.0 / (step + 1) if step % 97 else math.nan
        if step % every == 0:
            row["val/acc"] = (step % 7) / 7 if step % 5 else (math.inf if step % 2 else -math.inf)
        out.append(json.dumps(row))
    return ("\n".join(out) + "\n").encode()


CASES = {
    **BIG_CASES,
    "sparse": {"a": sparse_run(900, 50), "b": sparse_run(700, 3), "c": long_run(500)},
    "some times": {"a": sparse_run(800, 1, t_every=4), "b": sparse_run(600, 7, t_every=1000)},
    "ties": {
        # the same minimum and maximum on many steps: the first one's step
        "a": "".join(
            json.dumps({"_step": s, "_t": float(s), "x": float(s % 3), "y": -0.0 if s % 2 else 0.0})
            + "\n"
            for s in range(600)
        ).encode()
    },
}
_results: list = []  # what each numpy read returned
# whether the numpy read takes the first refresh's group
TAKEN = {"sparse": True, "some times": True, "ties": True, "plain": True, "rare key": True}


def _build(tmp_path: Path, files: dict[str, bytes], name: str, marks: list[int]) -> list:
    root = tmp_path / "store"
    with Store(root, catalog_path=tmp_path / f"{name}.duckdb") as store:
        first = snapshot(store)
        marks.append(len(_results))
        for run_id in files:  # appended lines: chunks that start past line 0
            with open(root / "p" / run_id / "metrics.jsonl", "ab") as fh:
                fh.write(b'{"_step": 9000, "_t": 9.0, "x": 0.125, "loss": -1.5}\n')
        store.refresh()
        got = [first, snapshot(store)]
    for run_id, data in files.items():
        (root / "p" / run_id / "metrics.jsonl").write_bytes(data)
    return got


@pytest.mark.parametrize("case", sorted(CASES))
def test_numpy_columns_give_the_catalog_of_the_sql_and_python_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    files = CASES[case]
    for run_id, data in files.items():
        write_run(tmp_path / "store", run_id, files={"metrics.jsonl": data}, finished=False)
    monkeypatch.setattr(catalog, "SMALL_CHUNK_BYTES", 0)  # every chunk is big
    results = _results
    results.clear()
    real = ingest_numpy.read

    def counted(*args):  # type: ignore[no-untyped-def]
        results.append(real(*args))
        return results[-1]

    monkeypatch.setattr(ingest_numpy, "read", counted)
    monkeypatch.setattr(ingest_numpy, "PART_POINTS", 1000)  # several inserts a group
    marks: list[int] = []
    with_numpy = _build(tmp_path, files, "numpy", marks)
    # the cold read's tries (a second one with the keys the sample missed)
    cold = results[: marks[0]]
    assert any(r is not None for r in cold) == TAKEN.get(case, False)
    monkeypatch.setattr(columns, "np", None)  # numpy away: the SQL path
    tried = len(results)
    without = _build(tmp_path, files, "sql", marks)
    assert len(results) == tried
    python_only(monkeypatch)
    python = _build(tmp_path, files, "python", marks)
    assert with_numpy == without == python


@pytest.mark.parametrize("dense", [False, True])
def test_each_series_lands_contiguous(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dense: bool
) -> None:
    root = tmp_path / "store"
    # runs written in an order their run numbers do not follow
    for run_id in ("m", "b", "z", "a"):
        data = long_run(400) if dense else sparse_run(400, 9)
        write_run(root, run_id, files={"metrics.jsonl": data}, finished=False)
    monkeypatch.setattr(catalog, "SMALL_CHUNK_BYTES", 0)
    calls: list[int | None] = []
    real = ingest_numpy.write
    monkeypatch.setattr(ingest_numpy, "write", lambda *a: calls.append(real(*a)) or calls[-1])
    monkeypatch.setattr(ingest_numpy, "PART_POINTS", 700)  # a part holds one or two runs
    with Store(root, catalog_path=tmp_path / "c.duckdb") as store:
        order = store._rows("SELECT run_no, key_no, seq FROM metrics ORDER BY rowid")
    assert calls and None not in calls
    assert len(order) == sum(calls)
    series = [(r, k) for r, k, _ in order]
    blocks = [s for i, s in enumerate(series) if i == 0 or series[i - 1] != s]
    assert len(blocks) == len(set(blocks)) == 4 * 2  # each series in one block
    assert all(a[2] < b[2] for a, b in zip(order, order[1:]) if a[:2] == b[:2])
    if not dense:
        assert order == sorted(order)  # long columns: by run, key and seq


@pytest.mark.parametrize(
    "tail",
    [
        b"",
        b"\n",  # a blank line
        b"   \n",
        b'{"_step": 1, "x": {"y": 1}}\n',  # nested
        b'{"_step": 1, "x": [1]}\n',
        b'{"_step": 1, "k\\ud800": 1}\n',  # an escaped lone surrogate
        b'{"_step": 1, "k\\u00e9": 1}\n',  # an escape that is fine
        b'{"_step": 1, "\xff": 1}\n',  # invalid UTF-8
        b'{"_step": 1, "\xc3\xa9": 1}\n',
        b"[1, 2]\n",
        b"1\n",
    ],
)
def test_the_byte_checks_with_numpy_agree_with_bytes_count(
    monkeypatch: pytest.MonkeyPatch, tail: bytes
) -> None:
    chunk = long_run(2000) + tail + long_run(5)
    assert len(chunk) > 65536  # where numpy counts
    lines = chunk.count(b"\n")
    got = (ingest._big_chunk_facts(chunk), ingest._fast_path_safe(chunk, lines))
    monkeypatch.setattr(columns, "np", None)
    assert got == (ingest._big_chunk_facts(chunk), ingest._fast_path_safe(chunk, lines))
    assert got[0][0] == lines


@pytest.mark.parametrize("alone", [False, True])
def test_lines_with_no_metric_but_step_and_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, alone: bool
) -> None:
    root = tmp_path / "store"
    lines = "".join(json.dumps({"_step": s, "_t": float(s)}) + "\n" for s in range(3000))
    write_run(root, "a", files={"metrics.jsonl": lines.encode()}, finished=False)
    if alone:  # a group with no key at all
        with Store(root, catalog_path=tmp_path / "alone.duckdb") as store:
            assert store.metric_keys(["a"]) == []
            assert store._rows("SELECT count(*) FROM metrics") == [(0,)]
        return
    write_run(root, "b", files={"metrics.jsonl": long_run(800)}, finished=False)
    monkeypatch.setattr(catalog, "SMALL_CHUNK_BYTES", 0)
    calls: list[int | None] = []
    real = ingest_numpy.write
    monkeypatch.setattr(ingest_numpy, "write", lambda *a: calls.append(real(*a)) or calls[-1])
    with Store(root, catalog_path=tmp_path / "c.duckdb") as store:
        assert store.metric_keys(["a"]) == []
        assert store.metric_keys(["b"]) == ["lr", "train/loss"]
        assert len(store.history("b", "lr")) == 800
    assert calls == [1600]
