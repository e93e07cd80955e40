"""Big metric chunks of many runs read by DuckDB in one statement, with the
keys named up front from a sample, give exactly the rows the Python path
gives (the Python path's, where DuckDB's per-chunk read differs: a line
without ``_t`` keeps the last time logged); a key the sample missed is found by a second, full pass; anything
DuckDB would read differently goes back to the careful path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trackui.store import catalog, chunk_bytes, ingest, ingest_big, ingest_numpy
from trackui.store.queries import Store

from .hostile.catalog_helpers import write_run
from .test_ingest_small import TRICKY, snapshot


def long_run(lines: int, rare_at: int | None = None, key: str = "train/loss") -> bytes:
    """A chunk past what the sample takes whole; ``rare_at``: one line in the
    middle carries a key no sampled line has."""
    out = []
    for step in range(lines):
        row = {"_step": step, "_t": 100.0 + step, key: 1.0 / (step + 1), "lr": 0.1}
        if step == rare_at:
            row["val/acc"] = 0.75
        out.append(json.dumps(row))
    return ("\n".join(out) + "\n").encode()


def python_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every chunk parsed in Python: none is safe for DuckDB's reader."""
    monkeypatch.setattr(ingest, "_fast_path_safe", lambda chunk, lines: False)
    unsafe = chunk_bytes.ChunkBytes(0, False, 0)
    monkeypatch.setattr(chunk_bytes, "facts", lambda chunk: unsafe)


CASES = {
    # what the sample sees is all there is
    "plain": {"a": long_run(600), "b": long_run(700, key="eval:acc"), **TRICKY},
    # a key on one line the sample skips: the full pass finds it
    "rare key": {"a": long_run(1000, rare_at=437), "b": long_run(400)},
    # a null value: a separator without a value, on both passes
    "null": {"a": long_run(500) + b'{"_step": 500, "train/loss": null}\n', "b": long_run(400)},
    # a string that is no number
    "string": {"a": b'{"_step": 0, "x": "high"}\n{"_step": 1, "x": 2.5}\n'},
    # a float step (not a step on the Python path), a quoted step, no step
    "float step": {"a": b'{"_step": 0, "x": 1.5}\n{"_step": 2.0, "x": 2.5}\n'},
    "quoted step": {"a": b'{"_step": 0, "x": 1.5}\n{"_step": "1", "x": 2.5}\n'},
    "no step": {"a": b'{"_step": 0, "x": 1.5}\n{"x": 2.5}\n', "b": long_run(300)},
}
# whether the one-statement read takes the first refresh's group
TAKEN = {
    "plain": True,
    "rare key": True,
    "null": False,
    "string": False,
    "float step": False,
    "quoted step": False,
    "no step": False,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_statement_over_big_chunks_reads_what_python_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    files = CASES[case]
    root = tmp_path / "store"
    for run_id, data in files.items():
        write_run(root, run_id, files={"metrics.jsonl": data}, finished=False)
    monkeypatch.setattr(catalog, "SMALL_CHUNK_BYTES", 0)  # every chunk is big
    results: list[int | None] = []
    attempts: list[list[str]] = []
    real_ingest = ingest_big.BigIngest.ingest
    real_insert = ingest_big.BigIngest._insert

    def counted(self, cur, group):  # type: ignore[no-untyped-def]
        results.append(real_ingest(self, cur, group))
        return results[-1]

    real_read = ingest_numpy.read

    def inserted(self, cur, source, keys):  # type: ignore[no-untyped-def]
        attempts.append(keys)
        return real_insert(self, cur, source, keys)

    def read(con, source, lines, keys, expected):  # type: ignore[no-untyped-def]
        attempts.append(keys)  # (with numpy: the keys of each read)
        return real_read(con, source, lines, keys, expected)

    monkeypatch.setattr(ingest_big.BigIngest, "ingest", counted)
    monkeypatch.setattr(ingest_big.BigIngest, "_insert", inserted)
    monkeypatch.setattr(ingest_numpy, "read", read)
    seen = []
    for big in (True, False):
        if not big:
            # the same store again, each chunk parsed in Python
            python_only(monkeypatch)
        with Store(root, catalog_path=tmp_path / f"c{big}.duckdb") as store:
            first = snapshot(store)
            # appended lines: chunks that start past line 0
            for run_id in files:
                with open(root / "p" / run_id / "metrics.jsonl", "ab") as fh:
                    fh.write(b'{"_step": 9000, "_t": 9.0, "x": 0.125}\n')
            store.refresh()
            seen.append((first, snapshot(store)))
            for run_id, data in files.items():
                (root / "p" / run_id / "metrics.jsonl").write_bytes(data)
    assert seen[0] == seen[1]
    assert (results[0] is not None) == TAKEN[case]
    if case == "rare key":
        assert "val/acc" not in attempts[0] and "val/acc" in attempts[1]
    if case == "plain":
        assert len(attempts) == 2  # the cold read and the appended lines, each in one pass
    rows = seen[0][0][0]
    assert any(r[1] == "x" and r[2] >= 0 for r in rows) or case in ("rare key", "null")


def test_the_sample_takes_whole_lines_from_start_middle_and_end() -> None:
    chunk = long_run(5000)
    lines = chunk.count(b"\n")
    parts = ingest_big.sample_lines(chunk, lines)
    assert len(parts) == ingest_big.SAMPLE_WINDOWS + 2
    for part in parts:
        assert part.endswith(b"\n")
        for line in part.splitlines():
            json.loads(line)
    assert parts[0].startswith(b'{"_step": 0,') and parts[-1].endswith(long_run(5000)[-60:])
    small = long_run(10)
    assert ingest_big.sample_lines(small, 10) == [small]


def test_keys_found_earlier_join_later_groups_but_not_a_twin_by_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "store"
    monkeypatch.setattr(catalog, "SMALL_CHUNK_BYTES", 0)
    results: list[int | None] = []
    real_ingest = ingest_big.BigIngest.ingest

    def counted(self, cur, group):  # type: ignore[no-untyped-def]
        results.append(real_ingest(self, cur, group))
        return results[-1]

    monkeypatch.setattr(ingest_big.BigIngest, "ingest", counted)
    write_run(root, "a", files={"metrics.jsonl": long_run(400, key="loss")})
    with Store(root, catalog_path=tmp_path / "c.duckdb") as store:
        write_run(root, "b", files={"metrics.jsonl": long_run(400, key="Loss")})
        write_run(root, "c", files={"metrics.jsonl": long_run(400, rare_at=200)})
        store.refresh()
        assert store.metric_keys(["b"]) == ["Loss", "lr"]
        assert store.metric_keys(["c"]) == ["lr", "train/loss", "val/acc"]
        assert len(store.history("b", "Loss")) == 400 and store.history("b", "loss") == []
    assert None not in results
