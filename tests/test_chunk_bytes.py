"""The byte facts of a big chunk counted in one blocked numpy pass
(``chunk_bytes.facts``) are those of the checks they replace:
``ingest._big_chunk_facts``, ``ingest._fast_path_safe`` and ``bytes.count``
of the separators, ``"_step":`` and ``"_t":``, also where a key or a line
is cut by a block's end, and without numpy."""

from __future__ import annotations

import pytest

from trackui.store import chunk_bytes, columns, ingest

from .test_ingest_big import long_run

pytest.importorskip("numpy", reason="the numpy count: runs where the fast extra is installed")

TAILS = [
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
    b' {"_step": 1, "x": 1}\n',  # a line that does not open with a brace
    b'{"_step": 1, "_step": 2, "_t": 3, "a_t": 1, "_step_": 2, "x": 1}\n',  # keys alike
    b'{"_step": 1, "x:y": 2, "_t": null}\n',  # a colon in a key; a null
    b'{"_step": 1, "x": 2}\n_"_t":',  # keys at the very end of the chunk
    b'{"_step": 1, "x": 2}\n"_step"',
]


def expected(chunk: bytes) -> chunk_bytes.ChunkBytes:
    lines = chunk.count(b"\n")
    flat = ingest._big_chunk_facts(chunk)[1]
    safe = flat and ingest._fast_path_safe(chunk, lines)
    keys = chunk.count(b'"_step":') + chunk.count(b'"_t":')
    return chunk_bytes.ChunkBytes(lines, safe, chunk.count(b":") - keys)


@pytest.mark.parametrize("block", [chunk_bytes.BLOCK, 7, 64])
@pytest.mark.parametrize("tail", TAILS)
def test_one_pass_gives_the_facts_of_the_checks_it_replaces(
    monkeypatch: pytest.MonkeyPatch, tail: bytes, block: int
) -> None:
    monkeypatch.setattr(chunk_bytes, "BLOCK", block)  # keys and lines cut by blocks
    chunk = long_run(300 if block < 100 else 2000) + tail + long_run(5)
    want = expected(chunk)
    assert chunk_bytes.facts(chunk) == want
    assert chunk_bytes.facts(tail) == expected(tail)
    monkeypatch.setattr(columns, "np", None)
    assert chunk_bytes.facts(chunk) == want


def test_an_empty_chunk() -> None:
    assert chunk_bytes.facts(b"") == chunk_bytes.ChunkBytes(0, True, 0)
