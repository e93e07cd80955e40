"""The TensorBoard reader with NumPy (``_tfcolumns``: whole files framed,
CRC-checked and decoded into columns) gives what the record-at-a-time
reader gives: the same points bit for bit, problem lines, offsets, hparams,
text and times, on every fixture and on damaged, odd and growing files; and
a read-through catalog built either way, or with no NumPy at all, holds the
same rows."""

from __future__ import annotations

import random
import struct
from pathlib import Path
from typing import Any

import pytest

from trackui.store.importers import _pointcols, _tfcolumns, _tfevents, _tfscalars
from trackui.store.importers._pointcols import PointColumns
from trackui.store.importers._tfshortest import shortest_array

from .helpers import f32, record, varint

np = pytest.importorskip("numpy", reason="the columns reader needs NumPy (CI installs it)")

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
EVENT_FILES = sorted(p for p in FIXTURES.rglob("*tfevents*") if p.is_file())


def tb_event(tag: str | bytes, step: int, value: float, t: float) -> bytes:
    """A scalar event record (``simple_value``), the tag as UTF-8 or raw bytes."""
    raw = tag.encode() if isinstance(tag, str) else tag
    value_msg = b"\x0a" + varint(len(raw)) + raw + b"\x15" + f32(value)
    summary = b"\x0a" + varint(len(value_msg)) + value_msg
    event = b"\x09" + struct.pack("<d", t) + b"\x10" + varint(step) + b"\x2a"
    return record(event + varint(len(summary)) + summary)


def both(path: Path, monkeypatch: pytest.MonkeyPatch, start: int = 0) -> tuple[Any, Any]:
    """``(columns reader, record reader)``: what each read, problems included."""
    out = []
    for columns in (True, False):
        monkeypatch.setattr(_tfevents, "USE_COLUMNS", columns)
        problems: list[str] = []
        fd = _tfevents.read_event_file(path, problems, start=start)
        out.append(
            (
                # an unknown time and a NaN one are both NULL in the catalog
                [
                    (p.key, p.step, repr(p.value), repr(p.t if p.t == p.t else None))
                    for p in fd.points
                ],
                problems,
                (fd.end, fd.torn_at, fd.not_events),
                (fd.hparams, fd.session_status, fd.text),
                (repr(fd.first_t), repr(fd.last_t)),
            )
        )
        assert isinstance(fd.points, PointColumns) == columns
    return out[0], out[1]


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_fixture_reads_the_same(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, slow = both(path, monkeypatch)
    assert fast == slow


def scalars(n: int, seed: int = 1) -> list[bytes]:
    """Scalar events of a few tags (lengths differ), a step past two varint
    bytes now and then, a text summary and a file-version record between."""
    rng = random.Random(seed)
    tags = ["loss", "train/box_loss", "lr/pg0", "lr/pg1", "metrics/mAP50-95(B)", "é/ü"]
    out = [record(b"\x09" + struct.pack("<d", 1e9) + b"\x1a\x0dbrain.Event:2")]
    for i in range(n):
        step = i // 3 if i % 50 else (1 << 22) + i
        out.append(tb_event(tags[i % len(tags)], step, rng.uniform(-3, 3), 1e9 + i // 3))
        if i == n // 2:
            meta = b"\x0a\x06\x0a\x04text"  # SummaryMetadata{plugin_data{plugin_name}}
            tensor = b"\x08\x07" + b"\x42\x05hello"  # TensorProto{dtype=string, string_val}
            value = b"\x0a\x04note" + b"\x42" + varint(len(tensor)) + tensor
            value += b"\x4a" + varint(len(meta)) + meta
            summary = b"\x0a" + varint(len(value)) + value
            event = b"\x09" + struct.pack("<d", 1e9 + i) + b"\x2a" + varint(len(summary)) + summary
            out.append(record(event))
    return out


def write(tmp_path: Path, records: list[bytes], tail: bytes = b"") -> Path:
    f = tmp_path / "events.out.tfevents.1.host"
    f.write_bytes(b"".join(records) + tail)
    return f


def test_a_clean_file_with_general_records_between(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = write(tmp_path, scalars(3000))
    fast, slow = both(f, monkeypatch)
    assert fast == slow and fast[1] == [] and len(fast[0]) == 3000
    assert fast[3][2] == {"note": "hello"}  # the text summary, through the general decoder


@pytest.mark.parametrize("where", [0, 1, 700, 2999])
def test_a_bad_data_crc_ends_the_file_where_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: int
) -> None:
    records = scalars(3000)
    broken = bytearray(records[where])
    broken[20] ^= 0x40  # inside the data: its CRC no longer matches
    records[where] = bytes(broken)
    fast, slow = both(write(tmp_path, records), monkeypatch)
    assert fast == slow
    assert "record data CRC mismatch" in fast[1][0]


def test_two_damaged_records_of_one_length_are_each_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The XOR of a length group's CRCs hides nothing here: the first bad one wins."""
    records = scalars(600)
    for i in (100, 106):  # the same tag, so the same length
        broken = bytearray(records[i])
        broken[-6] ^= 0x01
        records[i] = bytes(broken)
    fast, slow = both(write(tmp_path, records), monkeypatch)
    assert fast == slow and len(fast[0]) < 100


@pytest.mark.parametrize("damage", ["length crc", "torn", "short header", "garbage"])
def test_damage_after_good_records_is_said_as_the_record_reader_says_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    records = scalars(1000)
    tail = b""
    if damage == "length crc":
        broken = bytearray(records[500])
        broken[8] ^= 0xFF
        records[500] = bytes(broken)
    elif damage == "torn":
        tail = records[-1][:-7]
    elif damage == "short header":
        tail = records[-1][:9]
    else:
        tail = b"\x07" * 40
    fast, slow = both(write(tmp_path, records, tail), monkeypatch)
    assert fast == slow
    assert fast[1] or fast[2][1] is not None  # a problem line, or a torn end


def test_a_record_whose_data_looks_like_a_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tag holding 12 bytes that frame as a record header (length and its
    CRC): a candidate inside a record, which the chain steps over."""
    length = struct.pack("<Q", 30)
    fake = length + struct.pack("<I", _protobuf_masked(length))
    tag = b"x" + fake
    records = scalars(300)
    records.insert(150, tb_event(tag, 7, 0.5, 1e9))
    records.insert(151, tb_event("y", 8, 0.25, 1e9))
    fast, slow = both(write(tmp_path, records), monkeypatch)
    assert fast == slow and len(fast[0]) == 302


def _protobuf_masked(data: bytes) -> int:
    from trackui.store.importers._protobuf import masked_crc32c

    return masked_crc32c(data)


def test_not_an_event_file_and_an_empty_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "make_tfevents_helper"
    f.write_bytes(b"#!/usr/bin/env python\nprint('not records at all')\n")
    fast, slow = both(f, monkeypatch)
    assert fast == slow and fast[2][2] is True
    f.write_bytes(b"")
    fast, slow = both(f, monkeypatch)
    assert fast == slow and fast[0] == []


def test_windows_carry_records_across_and_a_read_from_the_middle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = scalars(2000)
    f = write(tmp_path, records, records[5][:11])
    monkeypatch.setattr(_tfcolumns, "WINDOW", 997)  # records cut at window edges
    fast, slow = both(f, monkeypatch)
    assert fast == slow and fast[2][1] is not None  # torn at the end
    start = sum(map(len, records[:1234]))
    fast, slow = both(f, monkeypatch, start=start)
    assert fast == slow and 700 < len(fast[0]) < 800


def test_odd_times_and_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A NaN wall time first and later, a long step, a record without a step."""
    nan = float("nan")
    no_step = b"\x09" + struct.pack("<d", 5.0) + b"\x2a"
    value = b"\x0a\x01a\x15" + f32(1.5)
    summary = b"\x0a" + varint(len(value)) + value
    records = [
        tb_event("a", 1, 0.1, nan),
        tb_event("a", 2, 0.2, 3.0),
        record(no_step + varint(len(summary)) + summary),
        tb_event("a", (1 << 62) + 5, 0.3, nan),
        tb_event("b", 3, float("inf"), 1.0),
    ]
    for i in range(400):
        records.append(tb_event("c", i, i / 7, 10.0 + i))
    fast, slow = both(write(tmp_path, records), monkeypatch)
    assert fast == slow
    fast, slow = both(write(tmp_path, records[1:]), monkeypatch)
    assert fast == slow


def test_shortest_array_equals_the_digit_search() -> None:
    rng = np.random.default_rng(8)
    values = np.concatenate(
        [
            rng.integers(0, 1 << 32, 50_000, dtype=np.uint64).astype(np.uint32).view(np.float32),
            (rng.uniform(-2, 2, 50_000) * 10.0 ** rng.integers(-12, 12, 50_000)).astype(np.float32),
            np.array([0.1, 0.5, 1, 10, 1e-3, 9.96, 0.44395, 1e7, 99999.99, 3e-30], np.float32),
            np.array([0, 1 << 31, 0x7F800000, 0x7FC00000, 1, 0x7F7FFFFF], np.uint32).view(
                np.float32
            ),
        ]
    )
    got = shortest_array(values, _tfevents._shortest_of_raw, {})
    raw = values.tobytes()
    want = [_tfevents._shortest_of_raw(raw[i : i + 4]) for i in range(0, len(raw), 4)]
    assert list(map(repr, got.tolist())) == list(map(repr, want))


def test_point_columns_read_as_points() -> None:
    cols = PointColumns(
        ["a", "b"],
        np.array([0, 1, 0], np.int32),
        np.array([1, 1, 2], np.int64),
        np.array([0.5, 1.5, 2.5]),
        np.array([9.0, 9.0, np.nan]),
    )
    listed = list(cols)
    assert [(p.key, p.step, p.value, p.t) for p in listed] == [
        ("a", 1, 0.5, 9.0),
        ("b", 1, 1.5, 9.0),
        ("a", 2, 2.5, None),
    ]
    assert cols == listed and cols[-1] == listed[-1] and cols[1:] == listed[1:]
    assert _pointcols.key_set(cols) == {"a", "b"}
    moved = _pointcols.renamed(cols, lambda k: "train/" + k)
    both_ = _pointcols.concat([moved, listed])
    assert [p.key for p in both_] == ["train/a", "train/b", "train/a", "a", "b", "a"]
    assert [p.t for p in _pointcols.sorted_by_t(both_)][:2] == [None, None]


# -- the catalog, built three ways ------------------------------------------------------------


def catalog(tmp_path: Path, src: Path, tag: str) -> Any:
    from ..sources.test_points_columns import catalog_rows

    return catalog_rows(tmp_path, src, tag)


@pytest.mark.parametrize("fixture", ["tensorboard", "tensorboard-layouts"])
def test_read_through_catalog_is_the_same_with_columns_records_and_no_numpy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fixture: str
) -> None:
    from trackui.store import columns
    from trackui.store.sources import follow, points

    src = FIXTURES / fixture
    by_columns = catalog(tmp_path, src, "columns")
    monkeypatch.setattr(_tfevents, "USE_COLUMNS", False)
    by_records = catalog(tmp_path, src, "records")
    monkeypatch.setattr(_tfscalars, "USE_NUMPY", False)
    monkeypatch.setattr(columns, "np", None)
    monkeypatch.setattr(follow, "numpy_or_none", lambda: None)
    monkeypatch.setattr(points, "num_columns", lambda *a, **k: None)
    by_pure = catalog(tmp_path, src, "pure")
    assert by_columns[0], "the fixture has points"
    assert by_columns == by_records == by_pure
