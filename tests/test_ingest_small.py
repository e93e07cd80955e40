"""Small metric chunks of many runs read by DuckDB in one pass give exactly
the rows the Python path gives, chunk by chunk (and fall back to it whole
where DuckDB would read differently)."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackui.store import catalog, ingest_small
from trackui.store.queries import Store

from .hostile.catalog_helpers import write_run

TRICKY = {
    # NaN, infinities, -0.0, a missing _t, an integer past float64, keys per run
    "a": b'{"_step": 0, "_t": 1.5, "x": NaN, "y": -0.0}\n{"_step": 1, "x": Infinity}\n'
    b'{"_step": 2, "_t": 3.0, "x": -Infinity, "z": 1e400}\n',
    "b": b'{"_step": 5, "_t": 2.0, "x": 2, "w": 7}\n{"_step": 6, "x": 1' + b"0" * 400 + b"}\n",
    "c": b'{"_step": 0, "loss": 0.5}\n{}\n{"_step": 2, "loss": 0.25, "x": 1}\n',
}
ODD = {"d": b'{"_step": 0, "x": "1.5", "flag": true}\n{"_step": 1, "x": 2}\n'}


def snapshot(store: Store) -> tuple[list[tuple], list[tuple], list[tuple]]:
    rows = store._rows(
        "SELECT r.run_id, k.key, m.seq, m.step, m.t, m.value::VARCHAR FROM metrics m "
        "JOIN runs r USING (run_no) JOIN metric_keys k USING (key_no) ORDER BY ALL"
    )
    sums = store._rows(
        "SELECT * EXCLUDE (first, last, min, max), "
        "first::VARCHAR, last::VARCHAR, min::VARCHAR, max::VARCHAR "
        "FROM summaries ORDER BY ALL"
    )
    notes = store._rows("SELECT run_id, read_notes FROM runs ORDER BY ALL")
    return rows, sums, notes


@pytest.mark.parametrize("odd", [False, True])
def test_one_pass_over_small_chunks_reads_what_python_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, odd: bool
) -> None:
    root = tmp_path / "store"
    files = dict(TRICKY, **(ODD if odd else {}))
    for run_id, data in files.items():
        write_run(root, run_id, files={"metrics.jsonl": data}, finished=False)
    combined: list[int | None] = []
    real_read = ingest_small.ingest_small

    def counted(*args):  # type: ignore[no-untyped-def]
        combined.append(real_read(*args))
        return combined[-1]

    monkeypatch.setattr(ingest_small, "ingest_small", counted)
    real_init = catalog.MetricIngest.__init__

    def python_only(self, tmpdir):  # type: ignore[no-untyped-def]
        real_init(self, tmpdir)
        self.combine = False

    seen = []
    for combine in (True, False):
        if not combine:
            # the same store again, each chunk parsed in Python
            assert (combined[0] is None) == odd  # a string or a bool: all in Python
            assert combined[-1] is not None  # the appended lines of a and b
            monkeypatch.setattr(catalog.MetricIngest, "__init__", python_only)
        with Store(root, catalog_path=tmp_path / f"c{combine}.duckdb") as store:
            first = snapshot(store)
            # appended lines: chunks that start past line 0, two runs at once
            for run_id in ("a", "b"):
                with open(root / "p" / run_id / "metrics.jsonl", "ab") as fh:
                    fh.write(b'{"_step": 9, "_t": 9.0, "x": 0.125}\n{"_step": 10, "x": 4}\n')
            store.refresh()
            seen.append((first, snapshot(store)))
            for run_id in ("a", "b"):
                path = root / "p" / run_id / "metrics.jsonl"
                path.write_bytes(files[run_id])
    assert seen[0] == seen[1]
    (rows, _, notes), _ = seen[0]
    assert ("a", "x", 1, 1, None, "inf") in rows and ("c", "loss", 2, 2, None, "0.25") in rows
    assert dict(notes)["b"] and "float64" in dict(notes)["b"]
