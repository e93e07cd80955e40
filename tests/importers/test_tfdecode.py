"""The C decoder of event files (``_tfdecode``, built at install where a C
compiler is present) gives what the NumPy columns reader and the record
reader give: the same points bit for bit, problem lines, offsets, hparams,
text and times, on every fixture and on hostile files (a bad CRC, a torn
tail, data that frames as a header, huge tags and records, odd floats,
steps out of order, windows cut anywhere, reads from the middle); and a
read-through catalog built with it (runs decoded ahead by a thread) holds
the rows, summaries, problems and cursors of one built without it."""

from __future__ import annotations

import random
import struct
from pathlib import Path
from typing import Any

import pytest

from trackui.store.importers import (
    _protobuf,
    _tfahead,
    _tfcolumns,
    _tfevents,
    _tfscalars,
    tensorboard,
)
from trackui.store.importers._pointcols import PointColumns

from .helpers import crc32c_bitwise, f32, record, varint
from .test_tfcolumns import scalars, tb_event, write

np = pytest.importorskip("numpy", reason="the columns reader needs NumPy (CI installs it)")
c = _tfcolumns._tfdecode
pytestmark = pytest.mark.skipif(
    c is None,
    reason="the C decoder is built at install where a C compiler is present (as in CI)",
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
EVENT_FILES = sorted(p for p in FIXTURES.rglob("*tfevents*") if p.is_file())
WAYS = ("c", "numpy", "records")


def read_as(way: str, path: Path, monkeypatch: pytest.MonkeyPatch, start: int = 0) -> Any:
    """What one way read (points by repr, problems, offsets, the rest)."""
    monkeypatch.setattr(_tfevents, "USE_COLUMNS", way != "records")
    monkeypatch.setattr(_tfcolumns, "USE_C", way == "c")
    problems: list[str] = []
    fd = _tfevents.read_event_file(path, problems, start=start)
    assert isinstance(fd.points, PointColumns) == (way != "records")
    return (
        [(p.key, p.step, repr(p.value), repr(p.t if p.t == p.t else None)) for p in fd.points],
        problems,
        (fd.end, fd.torn_at, fd.not_events),
        (fd.hparams, fd.session_status, fd.text),
        (repr(fd.first_t), repr(fd.last_t)),
    )


def three(path: Path, monkeypatch: pytest.MonkeyPatch, start: int = 0) -> Any:
    """What the three ways read, held equal; the C way's."""
    got = [read_as(way, path, monkeypatch, start) for way in WAYS]
    assert got[0] == got[1] == got[2]
    return got[0]


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_fixture_reads_the_same_three_ways(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    three(path, monkeypatch)


def test_scan_frames_and_decodes_a_clean_window() -> None:
    records = scalars(300)
    buf = b"".join(records)
    starts, lengths, end, damaged, cut, rec, step, wall, value, ids, tags, other = c.scan(buf)
    assert end == len(buf) and not damaged and cut == -1
    assert (
        np.frombuffer(starts, np.int64).tolist()
        == np.cumsum([0] + [len(r) for r in records[:-1]]).tolist()
    )
    assert len(np.frombuffer(rec, np.int64)) == 300  # every scalar record
    # the file version and the text summary go to the Python decoder
    assert np.frombuffer(other, np.int64).tolist() == [0, 152]
    assert sorted(tags) == sorted(
        t.encode()
        for t in ["loss", "train/box_loss", "lr/pg0", "lr/pg1", "metrics/mAP50-95(B)", "é/ü"]
    )
    assert len(np.frombuffer(ids, np.int32)) == len(np.frombuffer(value, np.float64)) == 300
    assert len(np.frombuffer(step, np.int64)) == len(np.frombuffer(wall, np.float64)) == 300


@pytest.mark.parametrize("where", [0, 1, 151, 299])
def test_a_bad_data_crc_in_one_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: int
) -> None:
    records = scalars(300)
    broken = bytearray(records[where])
    broken[-5] ^= 0x01  # the last data byte
    records[where] = bytes(broken)
    got = three(write(tmp_path, records), monkeypatch)
    assert "record data CRC mismatch" in got[1][0]


@pytest.mark.parametrize(
    "damage", ["torn", "torn header", "length crc", "garbage", "zeros", "huge length"]
)
def test_damaged_tails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    records = scalars(500)
    tail = {
        "torn": records[7][:-3],
        "torn header": records[7][:10],
        "garbage": bytes(range(200)),
        "zeros": bytes(64),
        # a header that frames (its CRC checks) for a record of 2**40 bytes
        "huge length": struct.pack("<Q", 1 << 40)
        + struct.pack("<I", _protobuf.masked_crc32c(struct.pack("<Q", 1 << 40)))
        + b"x" * 40,
    }.get(damage, b"")
    if damage == "length crc":
        broken = bytearray(records[250])
        broken[9] ^= 0x10
        records[250] = bytes(broken)
    got = three(write(tmp_path, records, tail), monkeypatch)
    assert got[1] or got[2][1] is not None  # a problem line, or a torn end


def test_data_that_frames_as_a_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    length = struct.pack("<Q", 30)
    fake = length + struct.pack("<I", _protobuf.masked_crc32c(length))
    records = scalars(200)
    records.insert(100, tb_event(b"h" + fake, 7, 0.5, 1e9))
    records.insert(0, tb_event(fake, 1, 0.25, 1e9))  # at the very start, too
    got = three(write(tmp_path, records), monkeypatch)
    assert len(got[0]) == 202


def test_huge_tags_and_a_record_of_16_mib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tags past one-byte lengths and a record too long for the framing's
    candidates (16 MiB or more): the Python decoder and the record reader take them."""
    records = scalars(100)
    records.insert(10, tb_event("t" * 118, 1, 1.0, 1e9))  # the longest common tag
    records.insert(11, tb_event("u" * 119, 1, 2.0, 1e9))  # one byte longer: not common
    records.insert(12, tb_event("v" * 70_000, 2, 3.0, 1e9))
    records.insert(50, big_record(b"\x1a" + varint(1 << 24) + b"w" * (1 << 24)))  # file_version
    got = three(write(tmp_path, records), monkeypatch)
    assert len(got[0]) == 103 and got[1] == []


def big_record(data: bytes) -> bytes:
    """``record`` with the CRCs by the library (the bitwise one takes minutes here)."""
    head = struct.pack("<Q", len(data))
    masked = _protobuf.masked_crc32c
    return head + struct.pack("<I", masked(head)) + data + struct.pack("<I", masked(data))


def test_odd_floats_steps_and_times(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(3)
    specials = [0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x00800000]
    specials += [0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00001]
    specials += [0x3F800000, 0x3DCCCCCD, 0x7E800000, 0x7E7FFFFF, 0x4B189680]
    bits = specials + [rng.getrandbits(32) for _ in range(3000)]
    no_step = b"\x09" + struct.pack("<d", 5.0) + b"\x2a"
    value = b"\x0a\x01a\x15" + f32(1.5)
    summary = b"\x0a" + varint(len(value)) + value
    records = [record(no_step + varint(len(summary)) + summary)]
    for i, b in enumerate(bits):
        step = [5, 3, 1 << 40, 0, (1 << 63) - 1, 2**21, 4][i % 7]  # out of order, long
        t = [float("nan"), 1e9 + i, -0.0, float("inf")][i % 4]
        event = b"\x09" + struct.pack("<d", t) + b"\x10" + varint(step)
        raw = b"k" + bytes([48 + i % 3])
        val = b"\x0a" + varint(len(raw)) + raw + b"\x15" + struct.pack("<I", b)
        summ = b"\x0a" + varint(len(val)) + val
        records.append(record(event + b"\x2a" + varint(len(summ)) + summ))
    negative = b"\x09" + struct.pack("<d", 1.0) + b"\x10" + varint((1 << 64) - 3)  # step -3
    records.append(record(negative + b"\x2a" + varint(len(summary)) + summary))
    got = three(write(tmp_path, records), monkeypatch)
    assert len(got[0]) == len(bits) + 2


def tf2_event(tag: bytes, step: int, tensor: bytes, meta: bytes = b"", t: float = 1e9) -> bytes:
    """A TF2 scalar: the value a tensor, with the plugin's metadata or without."""
    value = b"\x0a" + varint(len(tag)) + tag + b"\x42" + varint(len(tensor)) + tensor
    if meta:
        value += b"\x4a" + varint(len(meta)) + meta
    summary = b"\x0a" + varint(len(value)) + value
    event = b"\x09" + struct.pack("<d", t) + b"\x10" + varint(step)
    return record(event + b"\x2a" + varint(len(summary)) + summary)


def test_tf2_tensor_scalars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """0-d float tensors as TF2 writes them (the C decoder takes the plain
    ones), beside the shapes it leaves to the Python decoder: metadata,
    doubles, float_val, a shape with a dimension, a string."""
    rng = random.Random(4)
    meta = b"\x0a\x09\x0a\x07scalars"
    records = [record(b"\x09" + struct.pack("<d", 1e9) + b"\x1a\x0dbrain.Event:2")]
    records.append(tf2_event(b"epoch_loss", 0, b"\x08\x01\x12\x00\x22\x04" + f32(0.5), meta))
    for i in range(1, 300):
        bits = struct.pack("<I", rng.getrandbits(32)) if i % 3 else f32(rng.uniform(0, 2))
        tag = [b"epoch_loss", b"epoch_accuracy", b"", "é".encode() * 50][i % 4]
        records.append(tf2_event(tag, i, b"\x08\x01\x12\x00\x22\x04" + bits))
        if i % 37 == 0:
            records.append(tf2_event(b"d", i, b"\x08\x02\x12\x00\x22\x08" + struct.pack("<d", 0.1)))
            records.append(tf2_event(b"fv", i, b"\x08\x01\x12\x00\x2a\x04" + f32(0.25)))
            records.append(tf2_event(b"dim", i, b"\x08\x01\x12\x04\x12\x02\x08\x01\x22\x04" + bits))
    f = write(tmp_path, records)
    got = three(f, monkeypatch)
    assert len(got[0]) == 300 + 2 * 8 and got[1] == []  # the dimensioned ones are no scalars
    rec = np.frombuffer(c.scan(f.read_bytes())[5], np.int64)
    assert len(rec) == 299  # the plain ones, in C


def test_shortest_float32_equals_the_digit_search() -> None:
    rng = random.Random(5)
    bits = [rng.getrandbits(32) for _ in range(100_000)]
    bits += [struct.unpack("<I", struct.pack("<f", rng.uniform(-9, 9)))[0] for _ in range(50_000)]
    bits += [0, 1 << 31, 1, 0x7F800000, 0x7FC00000, 0x7F7FFFFF, 0x00800000, 0x3F800000]
    for b in bits:
        want = _tfscalars._shortest_of_raw(struct.pack("<I", b))
        got = c.shortest_float32(b)
        assert repr(got) == repr(want), hex(b)
        assert struct.pack("<d", got) == struct.pack("<d", want) or want != want


def test_crc32c_both_ways_equal_the_reference() -> None:
    rng = random.Random(6)
    for n in [*range(0, 70), 1000, 4099]:
        data = rng.randbytes(n)
        want = crc32c_bitwise(data)
        assert c.crc32c(data) == c.crc32c_table(data) == want


@pytest.mark.parametrize("window", [997, 4096])
def test_windows_cut_anywhere_and_reads_from_the_middle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: int
) -> None:
    """Appends as the sources layer reads them: from each earlier end on."""
    records = scalars(1500)
    monkeypatch.setattr(_tfcolumns, "WINDOW", window)
    f = write(tmp_path, records[:400])
    start = 0
    for grown in (records[400:401], records[401:900], records[900:]):
        got = three(f, monkeypatch, start=start)
        start = got[2][0]
        with open(f, "ab") as out:
            out.write(b"".join(grown))
    got = three(f, monkeypatch, start=start)
    assert got[2][0] == f.stat().st_size


# -- the catalog, with and without the C decoder ----------------------------------------------


def catalog(tmp_path: Path, src: Path, tag: str) -> Any:
    from trackui.store.queries import Store
    from trackui.store.sources import bind

    from ..sources.test_points_columns import NOW, store_rows

    root = tmp_path / f"store-{tag}"
    bind(root, src)
    with Store(root, catalog_path=tmp_path / f"{tag}.duckdb", clock=lambda: NOW) as store:
        source = store.catalog.sources[0]
        files = sorted((k, v.offset, v.size) for k, v in source.cursors.items())
        status = store.catalog.query("SELECT name, status, status_reason FROM runs ORDER BY 1")
        read = source.progress.bytes_read  # through the bounded opener, counted
        return (*store_rows(store), sorted(source.problems), files, status, read)


def hostile_runs(root: Path) -> Path:
    """Runs with the damage above, a run with split writers, one empty."""
    rng = random.Random(9)
    for r in range(6):
        run = root / f"run-{r}"
        run.mkdir(parents=True)
        records = scalars(400 + 50 * r, seed=r)
        tail = b""
        if r == 1:
            broken = bytearray(records[123])
            broken[-5] ^= 0x02
            records[123] = bytes(broken)
        elif r == 2:
            tail = records[5][:-9]
        elif r == 3:
            records.insert(7, tb_event("x" * 300, 3, 0.5, 1e9))
            records.append(tb_event("nan", 9, float("nan"), 2e9))
        elif r == 4:
            rng.shuffle(records)
        (run / "events.out.tfevents.1.host").write_bytes(b"".join(records) + tail)
    for split in ("train", "val"):
        d = root / "run-0" / split
        d.mkdir()
        (d / "events.out.tfevents.2.host").write_bytes(b"".join(scalars(90, seed=len(split))))
    (root / "run-empty").mkdir()
    (root / "run-empty" / "events.out.tfevents.3.host").write_bytes(b"")
    return root


@pytest.mark.parametrize("fixture", ["tensorboard", "tensorboard-layouts", "hostile"])
def test_read_through_catalog_is_the_same_with_and_without_c(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fixture: str
) -> None:
    src = hostile_runs(tmp_path / "src") if fixture == "hostile" else FIXTURES / fixture
    ahead: list[bool] = []

    def spy(*args: Any) -> Any:
        got = _tfahead.read_ahead(*args)
        ahead.append(got is not None)
        return got

    monkeypatch.setattr(tensorboard, "read_ahead", spy)
    with_c = catalog(tmp_path, src, "c")
    assert ahead and all(ahead)  # runs decoded by the thread ahead
    ahead.clear()
    monkeypatch.setattr(_tfcolumns, "USE_C", False)
    with_numpy = catalog(tmp_path, src, "numpy")
    assert ahead and all(ahead)  # with NumPy too
    ahead.clear()
    monkeypatch.setattr(_tfevents, "USE_COLUMNS", False)
    by_records = catalog(tmp_path, src, "records")
    assert with_c[0], "the source has points"
    assert with_c[-1] > 0, "the bytes read are counted"
    assert with_c == with_numpy == by_records
    assert ahead and not any(ahead)  # record by record: no thread
    if fixture == "hostile":
        assert any("CRC mismatch" in p for p in with_c[3])


def followed(tmp_path: Path, tag: str) -> Any:
    """A catalog of three runs followed through a big append (read from its
    cursor by the columns reader), a small one and a file written anew."""
    from trackui.store.queries import Store
    from trackui.store.sources import bind

    from ..sources.test_points_columns import NOW, store_rows

    src = tmp_path / f"src-{tag}"
    files = []
    for r in range(3):
        f = src / f"run-{r}" / "events.out.tfevents.1.host"
        f.parent.mkdir(parents=True)
        f.write_bytes(b"".join(scalars(200, seed=r)))
        files.append(f)
    root = tmp_path / f"followed-{tag}"
    bind(root, src)
    with Store(root, catalog_path=tmp_path / f"{tag}.duckdb", clock=lambda: NOW) as store:
        with open(files[0], "ab") as out:  # past the small-append limit (64 KiB)
            out.write(b"".join(tb_event("big", s, s / 9, 2e9 + s) for s in range(3000)))
        with open(files[1], "ab") as out:
            out.write(tb_event("small", 1, 0.125, 2e9))
        files[2].write_bytes(b"".join(scalars(50, seed=7)))  # shorter: written anew
        stats = store.refresh(full=False)
        source = store.catalog.sources[0]
        cursors = sorted((k, v.offset, v.size) for k, v in source.cursors.items())
        return stats.points, (*store_rows(store), sorted(source.problems), cursors)


def test_a_followed_catalog_is_the_same_with_and_without_c(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    points_c, with_c = followed(tmp_path, "c")
    monkeypatch.setattr(_tfcolumns, "USE_C", False)
    points_numpy, with_numpy = followed(tmp_path, "numpy")
    monkeypatch.setattr(_tfevents, "USE_COLUMNS", False)
    points_records, by_records = followed(tmp_path, "records")
    assert points_c == points_numpy == points_records > 3000
    # the source folders differ in name only: compare what the catalogs hold
    assert with_c == with_numpy == by_records
