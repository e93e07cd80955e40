"""The fast paths of the import code give exactly what the plain ways give.

Each fast path (CRC32C over many records at once or over segments of a long
one, the memoized length CRC, chunked reading of event files, the decoder
for the common scalar event, the digit search in ``shortest_float32``, the
metrics.jsonl lines written without ``json.dumps``) is checked against the
simple version it replaces, written out again here, on inputs chosen to
reach it, and damage must still be caught where it was.
"""

from __future__ import annotations

import random

import pytest

from trackui.store.importers import _protobuf

# -- references ----------------------------------------------------------------------


def crc32c_bitwise(data: bytes, crc: int = 0) -> int:
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


@pytest.fixture(params=["python", "c"])
def crc_impl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the pure-Python CRC32C, and with the C one when installed."""
    if request.param == "python":
        monkeypatch.setattr(_protobuf, "_C_CRC32C", None)
    elif _protobuf._C_CRC32C is None:
        pytest.skip("no C CRC32C module installed")
    return str(request.param)


# -- CRC32C --------------------------------------------------------------------------


def test_crc32c_check_value(crc_impl: str) -> None:
    assert _protobuf.crc32c(b"123456789") == 0xE3069283  # the standard check value
    assert _protobuf.crc32c(b"") == 0


@pytest.mark.parametrize("size", [1, 63, 2047, 2048, 2049, 4096 + 17, 70_001])
def test_crc32c_of_long_data_by_segments(crc_impl: str, size: int) -> None:
    rng = random.Random(size)
    data = rng.randbytes(size)
    start = rng.getrandbits(32)
    assert _protobuf.crc32c(data) == crc32c_bitwise(data)
    # continuing a CRC (as the W&B reader does) goes through the same path
    assert _protobuf.crc32c(data, start) == crc32c_bitwise(data, start)
    half = size // 2
    assert _protobuf.crc32c(data[half:], _protobuf.crc32c(data[:half])) == crc32c_bitwise(data)


def test_crc32c_each_equals_one_at_a_time(crc_impl: str) -> None:
    rng = random.Random(7)
    # enough equal lengths to run side by side (more than one pass of lanes for 58),
    # a few lengths too rare for it, empty records and long ones
    sizes = [58] * 2100 + [60] * 9 + [3] * 2 + [0] * 3 + [3000] * 2 + [1] * 40
    rng.shuffle(sizes)
    records = [rng.randbytes(n) for n in sizes]
    assert _protobuf.crc32c_each(records) == [crc32c_bitwise(r) for r in records]
    assert _protobuf.crc32c_each([]) == []


def test_crc32c_each_tells_one_flipped_bit_among_many(crc_impl: str) -> None:
    rng = random.Random(3)
    records = [rng.randbytes(40) for _ in range(500)]
    good = _protobuf.crc32c_each(records)
    damaged = list(records)
    blob = bytearray(damaged[321])
    blob[17] ^= 0x04
    damaged[321] = bytes(blob)
    got = _protobuf.crc32c_each(damaged)
    assert [i for i, (a, b) in enumerate(zip(good, got, strict=True)) if a != b] == [321]
