"""Big chunks read on a second thread while the catalog writes
(``ingest_parallel``): the next part is read while the part before is
written, by another thread on its own DuckDB; a part that fails its check
leaves only its own chunks to the careful path; a failure in the reader
reaches the refresh's retries. Each way the catalog is the Python path's."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from trackui.store import catalog, ingest_numpy, ingest_parallel
from trackui.store.queries import Store

from .hostile.catalog_helpers import write_run
from .test_ingest_big import long_run, python_only
from .test_ingest_small import snapshot

pytest.importorskip("numpy", reason="the numpy path: runs where the fast extra is installed")

#: Long enough to wait for the other thread on a starved CPU.
DEADLINE_S = 90

FILES = {
    "a": long_run(900),
    "b": long_run(500) + b'{"_step": 500, "train/loss": null}\n' + long_run(300),
    "c": long_run(700, rare_at=350),
    "d": long_run(600, key="eval:acc"),
}


def _store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    for run_id, data in FILES.items():
        write_run(root, run_id, files={"metrics.jsonl": data}, finished=False)
    return root


def _python_snapshot(tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch) -> tuple:
    with monkeypatch.context() as m:
        python_only(m)
        with Store(root, catalog_path=tmp_path / "python.duckdb") as store:
            return snapshot(store)


def test_the_next_part_is_read_while_one_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _store(tmp_path)
    monkeypatch.setattr(catalog, "SMALL_CHUNK_BYTES", 0)  # every chunk is big
    monkeypatch.setattr(ingest_parallel, "PART_BYTES", 1)  # a part a run
    reads: list[tuple[str, bool, bool]] = []  # (thread, taken, with val/acc) of each read
    writes: list[int] = []
    started: list[int] = []  # the lines of each read, as it begins
    begun = threading.Condition()
    real_read, real_write = ingest_numpy.read, ingest_numpy.write

    def read(*args):  # type: ignore[no-untyped-def]
        with begun:
            started.append(args[2])
            begun.notify_all()
        got = real_read(*args)
        reads.append((threading.current_thread().name, got is not None, "val/acc" in args[3]))
        return got

    def write(cur, tmpdir, got, spans, ids):  # type: ignore[no-untyped-def]
        if not writes:  # the first part written: a later part is read meanwhile
            with begun:  # (each run has its own number of lines)
                own = max(i for i, lines in enumerate(started) if lines == spans[0][3])
                assert begun.wait_for(lambda: len(started) > own + 1, DEADLINE_S), "none read"
        writes.append(len(spans))
        return real_write(cur, tmpdir, got, spans, ids)

    monkeypatch.setattr(ingest_numpy, "read", read)
    monkeypatch.setattr(ingest_numpy, "write", write)
    with Store(root, catalog_path=tmp_path / "c.duckdb") as store:
        got = snapshot(store)
        main = threading.current_thread().name
    assert writes == [1, 1, 1]  # a, c, d; b is left to the careful path
    assert all(name != main and name.startswith("trackui-big-read") for name, _, _ in reads)
    # a and d are read once; b's null fails its check (a full pass finds no
    # other key: no second read); c's rare key is found by the full pass
    assert sorted(taken for _, taken, _ in reads) == [False, False, True, True, True]
    assert any(taken and rare for _, taken, rare in reads)
    assert got == _python_snapshot(tmp_path, root, monkeypatch)


def test_a_failure_in_the_reader_reaches_the_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _store(tmp_path)
    monkeypatch.setattr(catalog, "SMALL_CHUNK_BYTES", 0)
    monkeypatch.setattr(ingest_parallel, "PART_BYTES", 1)
    real_read = ingest_numpy.read
    calls = []

    def read(*args):  # type: ignore[no-untyped-def]
        calls.append(threading.current_thread().name)
        if len(calls) == 2:
            raise RuntimeError("the reader failed")
        return real_read(*args)

    monkeypatch.setattr(ingest_numpy, "read", read)
    with Store(root, catalog_path=tmp_path / "c.duckdb") as store:
        got = snapshot(store)
        assert store._rows("SELECT count(*) FROM runs WHERE problems IS NOT NULL") == [(0,)]
    assert len(calls) >= 2
    assert got == _python_snapshot(tmp_path, root, monkeypatch)


def test_parts_are_cut_at_chunks_in_order() -> None:
    group = [(k, b"x" * n, 0, None) for k, n in (("a", 5), ("b", 5), ("c", 20), ("d", 1))]
    parts = ingest_parallel.cut(group, 10)
    assert [[c[0] for c in part] for part in parts] == [["a", "b"], ["c"], ["d"]]
