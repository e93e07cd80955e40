"""Seeded fuzzing of run files: bytes flipped, inserted and cut in one run's
files at a time, read live (incrementally) and by fresh catalogs. A refresh
never raises, and every run whose files were not touched stays readable
with all its points."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from trackui.store import catalog
from trackui.store.queries import Store

from .catalog_helpers import metric_lines, write_run

ROUNDS = 40
FILES = (
    "meta.json",
    "config.json",
    "metrics.jsonl",
    "events.jsonl",
    "summary.json",
    "artifacts.jsonl",
)
NASTY = [
    b"\n",
    b"\x00",
    b"\xff",
    b"{",
    b"[" * 50,
    b"[" * 3000,
    b"1" * 25,
    b"\\ud800",
    b'"',
    b"9" * 400,
    b"\r",
]


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(4)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:  # flip a byte
            pos = min(pos, len(buf) - 1)
            buf[pos] ^= 1 << rng.randrange(8)
        elif op == 1:  # insert something nasty
            buf[pos:pos] = rng.choice(NASTY)
        elif op == 2:  # truncate
            del buf[pos:]
        else:  # cut a piece out
            del buf[pos : pos + rng.randrange(1, 64)]
    return bytes(buf)


def readable(store: Store, run_ids: list[str]) -> dict[str, int]:
    runs = {r.id: r for r in store.list_runs()}
    return {
        r: len(store.history(r, "m0"))
        for r in run_ids
        if r in runs and runs[r].status != "unreadable"
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fuzzed_run_files_never_break_a_refresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    root = tmp_path / "store"
    ids = [f"20260101-00000000{i}-fuzz{i}" for i in range(6)]
    expected = {}
    for i, run_id in enumerate(ids):
        points = 40 if i % 2 else 1500  # small files (Python parser) and big (DuckDB's reader)
        write_run(
            root,
            run_id,
            project=f"p{i % 2}",
            points=points,
            files={
                "summary.json": b'{"best": 1.5}',
                "artifacts.jsonl": b'{"name": "a", "path": "a", "size": 1}\n',
            },
        )
        expected[run_id] = points
    monkeypatch.setattr(catalog, "SMALL_CHUNK_BYTES", 16 * 1024)
    rng = random.Random(seed)
    victims, controls = ids[:4], ids[4:]  # one big and one small run never touched
    untouched = {r: expected[r] for r in controls}
    with Store(root) as live:
        assert readable(live, ids) == expected
        for round_ in range(ROUNDS):
            victim = rng.choice(victims)
            name = rng.choice(FILES)
            path = root / f"p{ids.index(victim) % 2}" / victim / name
            data = path.read_bytes() if path.exists() else b""
            if name == "metrics.jsonl" and rng.random() < 0.5:
                # an append, as a live writer would, with damage in it
                data += mutate(metric_lines(20, start=10_000 + round_), rng)
            else:
                data = mutate(data, rng)
            path.write_bytes(data)
            live.refresh(full=rng.random() < 0.5)  # never raises
            got = readable(live, ids)
            assert {r: got.get(r) for r in controls} == untouched, f"round {round_}"
            assert len(live.list_runs()) == len(ids)  # a fuzzed run is still listed
            if round_ % 20 == 19:
                with Store(root, catalog_path=tmp_path / f"fresh{round_}.duckdb") as fresh:
                    got = readable(fresh, ids)
                    assert {r: got.get(r) for r in controls} == untouched
                    assert len(fresh.list_runs()) == len(ids)
                live.reindex()
                got = readable(live, ids)
                assert {r: got.get(r) for r in controls} == untouched
