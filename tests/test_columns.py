"""store/columns.py: points given as columns land in ``metrics`` and
``summaries`` exactly as the same points read from run files do, with numpy
(scanned in place) and without it (the JSON-lines fallback)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from trackui.store import columns
from trackui.store.queries import Store

from .hostile.catalog_helpers import write_run
from .test_ingest_small import snapshot

# Two runs: NaN, ±inf, -0.0, a point without a time, keys only one run has.
LINES = {
    "a": [
        {"_step": 0, "_t": 1.5, "x": math.nan, "y": -0.0},
        {"_step": 1, "x": math.inf},
        {"_step": 2, "_t": 3.0, "x": -math.inf, "y": 2.0},
        {"_step": 3, "_t": 4.0, "x": 0.5, "y": 1.0},
    ],
    "b": [{"_step": 5, "_t": 2.0, "x": 2.0, "w": 7.0}, {"_step": 6, "_t": 2.5, "x": 1.0}],
}


def _jsonl(lines: list[dict[str, float]]) -> bytes:
    import json

    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def _columns(lines: dict[str, list[dict[str, float]]], runs: dict, keys: dict) -> dict[str, list]:
    """The points of ``lines`` as lists, in line order (not series order)."""
    cols: dict[str, list] = {c: [] for c in ("run_no", "key_no", "seq", "step", "t", "value")}
    for run_id, rows in lines.items():
        for seq, row in enumerate(rows):
            for key, value in row.items():
                if key.startswith("_"):
                    continue
                cols["run_no"].append(runs[run_id])
                cols["key_no"].append(keys[key])
                cols["seq"].append(seq)
                cols["step"].append(row["_step"])
                cols["t"].append(row.get("_t"))
                cols["value"].append(value)
    return cols


def _store_with_runs(root: Path, metrics: bool) -> None:
    for run_id, rows in LINES.items():
        data = _jsonl(rows) if metrics else b""
        write_run(root, run_id, files={"metrics.jsonl": data}, finished=False)


def _insert(store: Store, tmp_path: Path, how: str, split: bool) -> int:
    cur = store.catalog.cursor()
    cur.execute("BEGIN TRANSACTION")
    runs = columns.run_numbers(cur, LINES)
    keys = columns.key_numbers(cur, {k for rows in LINES.values() for r in rows for k in r})
    keys = {k: n for k, n in keys.items() if not k.startswith("_")}
    cols = _columns(LINES, runs, keys)
    if how == "numpy":
        np = pytest.importorskip(
            "numpy", reason="numpy path: runs where the fast extra is installed"
        )
        t = cols["t"]
        given: dict[str, Any] = {
            "run_no": np.array(cols["run_no"], dtype="int32"),
            "key_no": np.array(cols["key_no"], dtype="int32"),
            "seq": np.array(cols["seq"], dtype="int64"),
            "step": np.array(cols["step"], dtype="int64"),
            "t": np.array([math.nan if x is None else x for x in t]),
            "value": np.array(cols["value"]),
            "t_null": np.array([x is None for x in t]),
        }
    else:
        given = cols
    n = 0
    parts = [(0, 3), (3, None)] if split else [(0, None)]
    for lo, hi in parts:  # in two inserts: the second merges into the first's summaries
        rows = [i for i in range(len(cols["seq"])) if (i >= lo and (hi is None or i < hi))]
        part = {name: [col[i] for i in rows] for name, col in given.items()}
        if how == "numpy":
            part = {name: np.array(col, dtype=given[name].dtype) for name, col in part.items()}
        n += columns.insert_points(cur, str(tmp_path), columns.Points(**part))
    cur.execute("COMMIT")
    return n


@pytest.mark.parametrize("split", [False, True])
def test_columns_give_the_catalog_run_files_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, split: bool
) -> None:
    _store_with_runs(tmp_path / "files", metrics=True)
    with Store(tmp_path / "files", catalog_path=tmp_path / "files.duckdb") as store:
        expected = snapshot(store)
    assert len(expected[0]) == 10
    seen = {}
    for how in ("numpy", "lists", "no numpy"):
        if how == "no numpy":
            monkeypatch.setattr(columns, "np", None)
        root = tmp_path / how
        _store_with_runs(root, metrics=False)
        with Store(root, catalog_path=tmp_path / f"{how}.duckdb") as store:
            assert _insert(store, tmp_path, "numpy" if how == "numpy" else "lists", split) == 10
            seen[how] = snapshot(store)
    for how, got in seen.items():
        # the rows and summaries; run files' notes are the run files' own
        assert got[:2] == expected[:2], how


def test_series_stay_contiguous_when_given_out_of_order(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy", reason="numpy path: runs where the fast extra is installed")
    root = tmp_path / "s"
    _store_with_runs(root, metrics=False)
    with Store(root, catalog_path=tmp_path / "c.duckdb") as store:
        cur = store.catalog.cursor()
        runs = columns.run_numbers(cur, ["a", "b"])
        keys = columns.key_numbers(cur, ["k1", "k2"])
        n = 1000
        rng = np.random.default_rng(0)
        order = rng.permutation(4 * n)
        run_no = np.repeat([runs["a"], runs["b"]], 2 * n).astype("int32")[order]
        key_no = np.tile(np.repeat([keys["k1"], keys["k2"]], n), 2).astype("int32")[order]
        seq = np.tile(np.arange(n), 4).astype("int64")[order]
        pts = columns.Points(run_no, key_no, seq, seq * 10, seq * 0.5, seq * 1.0)
        assert not columns._is_sorted(run_no, key_no, seq)
        assert columns.insert_points(cur, str(tmp_path), pts) == 4 * n
        got = cur.execute("SELECT run_no, key_no, seq FROM metrics").fetchall()
        assert got == sorted(got)
        s = store._rows("SELECT run_id, key, count, last_step, max FROM summaries ORDER BY ALL")
        assert s == [(r, k, n, (n - 1) * 10, n - 1.0) for r in ("a", "b") for k in ("k1", "k2")]


def test_columns_of_different_lengths_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "s"
    _store_with_runs(root, metrics=False)
    with Store(root, catalog_path=tmp_path / "c.duckdb") as store:
        cur = store.catalog.cursor()
        with pytest.raises(ValueError):
            columns.insert_points(
                cur, str(tmp_path), columns.Points([1], [1], [0, 1], [0], [0.0], [1.0])
            )


def test_the_catalog_imports_numpy_only_when_it_ingests_columns() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import trackui.store.catalog, trackui.store.ingest_numpy; "
        "print('numpy' in sys.modules); from trackui.store import columns; "
        "print(columns.np is not None, 'numpy' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "True", "True"]
