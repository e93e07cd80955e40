"""The fast paths of the import code give exactly what the plain ways give.

Each fast path (CRC32C over many records at once or over segments of a long
one, the memoized length CRC, chunked reading of event files, the decoder
for the common scalar event, the digit search in ``shortest_float32``, the
metrics.jsonl lines written without ``json.dumps``) is checked against the
simple version it replaces, written out again here, on inputs chosen to
reach it, and damage must still be caught where it was.
"""

from __future__ import annotations

import heapq
import json
import math
import random
import shutil
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackui.store.importers import (
    _metric_lines,
    _metric_rows,
    _mlflow_run,
    _protobuf,
    _tfevents,
    _tfrecords,
    mlflow,
    tensorboard,
)
from trackui.store.importers import write_foreign_run as write_run
from trackui.store.importers.base import ForeignRun, Point

from .helpers import crc32c_bitwise, f32, masked, record, varint

# -- references ----------------------------------------------------------------------


def shortest_float32_linear(value: float) -> float:
    """The first number of digits that reads back, tried in order."""
    if value != value or value in (math.inf, -math.inf):
        return value
    packed = struct.pack("<f", value)
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        try:
            if struct.pack("<f", candidate) == packed:
                return candidate
        except OverflowError:
            break
    return value


def metric_lines_by_json(points: list[Point]) -> bytes:
    out: list[str] = []
    row: dict[object, object] | None = None
    for p in points:
        if p.key in ("_step", "_t"):
            continue
        try:
            value = float(p.value)
        except (TypeError, ValueError, OverflowError):
            continue
        t = None if p.t is None or not math.isfinite(p.t) else float(p.t)
        if row is None or row["_step"] != p.step or row.get("_t") != t or p.key in row:
            if row is not None:
                out.append(json.dumps(row))
            row = {"_step": int(p.step)}
            if t is not None:
                row["_t"] = t
        row[p.key] = value
    if row is not None:
        out.append(json.dumps(row))
    return ("\n".join(out) + "\n").encode() if out else b""


@pytest.fixture(params=["python", "c"])
def crc_impl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the pure-Python CRC32C, and with the C one when installed."""
    if request.param == "python":
        monkeypatch.setattr(_protobuf, "_C_CRC32C", None)
    elif _protobuf._C_CRC32C is None:
        pytest.skip("no C CRC32C module installed; runs where google-crc32c is (the test extra)")
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


# -- event files ---------------------------------------------------------------------


def ld(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def scalar_event(wall: float, step: int | None, tag: bytes, raw_value: bytes) -> bytes:
    out = b"\x09" + struct.pack("<d", wall)
    if step is not None:
        out += b"\x10" + varint(step)
    return out + ld(5, ld(1, ld(1, tag) + b"\x15" + raw_value))


def common_events() -> list[bytes]:
    """Events of the common scalar shape, with every kind of step, tag and value."""
    events = []
    steps = [None, 0, 1, 127, 128, 16383, 16384, 2**21 - 1, 2**21, 2**40, -1, -(2**63)]
    tags = [b"loss", b"metrics/mAP50-95_B_", "\u00e9t\u00e9/\u2603".encode(), b"\xff\xfebad", b""]
    values = [0.44395, -2.5, 0.0, -0.0, 1e-45, 3.4028234663852886e38, math.inf, -math.inf]
    values += [math.nan, 1 / 3, 2.0**-126]
    for i, step in enumerate(steps):
        for j, tag in enumerate(tags):
            for k, value in enumerate(values):
                wall = 1_795_700_000.0 + (i * 100 + j * 10 + k) * 0.25 - (k % 3)  # not monotone
                events.append(scalar_event(wall, step, tag, f32(value)))
    # the longest tag whose summary length still fits in one byte
    events.append(scalar_event(1_795_700_000.5, 3, b"q" * 118, f32(0.5)))
    return events


def other_events() -> list[bytes]:
    """Events the fast path must leave to the general decoder."""
    wall = b"\x09" + struct.pack("<d", 1_795_700_001.0)
    value = ld(1, b"loss") + b"\x15" + f32(0.25)
    return [
        wall + ld(3, b"brain.Event:2"),  # file_version
        scalar_event(1_795_700_001.0, 5, b"t" * 200, f32(0.25)),  # two-byte lengths
        scalar_event(1_795_700_001.0, 5, b"t" * 119, f32(0.25)),  # one byte more
        wall + b"\x10\x05" + ld(5, ld(1, value) + ld(1, value)),  # two values
        wall + b"\x10\x05" + ld(5, ld(1, value + ld(9, ld(1, ld(1, b"scalars"))))),  # metadata
        wall + b"\x10\x05" + ld(5, ld(1, value)) + b"\x18\x01",  # a field after the summary
        b"\x10\x05" + wall + ld(5, ld(1, value)),  # fields in another order
        wall + b"\x10\x05" + ld(5, ld(1, b"\x15" + f32(0.25) + ld(1, b"loss"))),  # value first
        wall,  # no summary
        b"\x09\x00",  # cut short: not decodable
        wall + b"\x10\xff\xff\xff",  # a step varint that runs past the end
        wall + b"\x10" + b"\xff" * 11 + b"\x01" + ld(5, ld(1, value)),  # one of 12 bytes
    ]


def general(events: list[bytes]) -> _tfevents._FileData:
    out = _tfevents._FileData()
    for data in events:
        try:
            _tfevents._decode_event(data, out)
        except (ValueError, TypeError, struct.error):
            pass
    return out


def as_tuples(points: list[Point]) -> list[tuple[str, int, str, float | None]]:
    return [(p.key, p.step, repr(p.value), p.t) for p in points]


def test_common_scalar_shape_is_what_the_fast_path_takes() -> None:
    assert all(_tfevents._common_scalar(e) is not None for e in common_events())
    for event in other_events():
        try:
            assert _tfevents._common_scalar(event) is None
        except (IndexError, ValueError):
            pass  # the reader sends these to the general decoder too


def test_fast_path_gives_what_the_general_decoder_gives(tmp_path: Path) -> None:
    events = common_events()
    mixed = [e for pair in zip(events, other_events() * 100, strict=False) for e in pair]
    mixed += events[len(other_events() * 100) :]
    f = tmp_path / "events.out.tfevents.1795700000.host"
    f.write_bytes(b"".join(record(e) for e in mixed))
    problems: list[str] = []
    got = tensorboard.read_event_file(f, problems)
    want = general(mixed)
    assert len(got.points) > len(events)
    assert as_tuples(got.points) == as_tuples(want.points)
    assert (got.first_t, got.last_t) == (want.first_t, want.last_t)
    cut = mixed.index(b"\x09\x00")
    first_bad = sum(len(record(e)) for e in mixed[:cut])
    undecodable = sum(mixed.count(e) for e in other_events()[-3:])
    assert problems == [
        f"{f}: {undecodable} event(s) not decodable, skipped, first at byte {first_bad}"
    ]


def scalar_file(tmp_path: Path, n: int = 300) -> tuple[Path, list[int]]:
    """An event file of ``n`` scalar records of equal length; their offsets."""
    blobs = [
        record(scalar_event(1_795_700_000.0 + i, 200 + i, b"loss", f32(i / 7))) for i in range(n)
    ]
    offsets = [sum(len(b) for b in blobs[:i]) for i in range(n)]
    f = tmp_path / "events.out.tfevents.1795700000.host"
    f.write_bytes(b"".join(blobs))
    return f, offsets


@pytest.mark.parametrize("chunk", [7, 100, 1 << 20])
def test_chunked_reading_finds_the_same_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    f, offsets = scalar_file(tmp_path)
    monkeypatch.setattr(_tfrecords, "_CHUNK", chunk)
    problems: list[str] = []
    with open(f, "rb") as handle:
        assert [o for o, _ in _tfevents.iter_records(handle, f, problems)] == offsets
    assert problems == []
    # cut inside the last record: the same torn offset whatever the chunk size
    with open(f, "r+b") as handle:
        handle.truncate(offsets[-1] + 13)
    fd = tensorboard.read_event_file(f, problems)
    assert fd.torn_at == offsets[-1] and len(fd.points) == len(offsets) - 1
    assert problems == []


@pytest.mark.parametrize("chunk", [100, 1 << 20])
def test_a_flipped_data_byte_among_equal_records_ends_the_file_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crc_impl: str, chunk: int
) -> None:
    monkeypatch.setattr(_tfrecords, "_CHUNK", chunk)
    f, offsets = scalar_file(tmp_path)
    blob = bytearray(f.read_bytes())
    blob[offsets[250] + 12 + 5] ^= 0x01  # inside the wall time of record 250
    f.write_bytes(bytes(blob))
    problems: list[str] = []
    fd = tensorboard.read_event_file(f, problems)
    assert [p.step for p in fd.points] == [200 + i for i in range(250)]
    assert problems == [f"{f}: corrupt at byte {offsets[250]} (record data CRC mismatch)"]


def test_the_memoized_length_crc_still_rejects_a_bad_header(tmp_path: Path) -> None:
    f, offsets = scalar_file(tmp_path)
    blob = bytearray(f.read_bytes())
    # the same length was checked 100 times before: a wrong stored CRC is still caught
    blob[offsets[100] + 8] ^= 0x10
    f.write_bytes(bytes(blob))
    problems: list[str] = []
    fd = tensorboard.read_event_file(f, problems)
    assert len(fd.points) == 100
    assert problems == [f"{f}: corrupt at byte {offsets[100]} (record length CRC mismatch)"]
    # a length changed to another one already seen, with the CRC left as it was
    blob = bytearray(f.read_bytes())
    blob[offsets[100] + 8] ^= 0x10
    length = struct.unpack_from("<Q", blob, offsets[40])[0]
    struct.pack_into("<Q", blob, offsets[40], length - 4)
    _tfevents._LENGTH_CRC[length - 4] = masked(struct.pack("<Q", length - 4))
    f.write_bytes(bytes(blob))
    problems = []
    fd = tensorboard.read_event_file(f, problems)
    assert len(fd.points) == 40
    assert problems == [f"{f}: corrupt at byte {offsets[40]} (record length CRC mismatch)"]


def test_a_bad_data_crc_before_a_bad_header_is_the_one_reported(tmp_path: Path) -> None:
    f, offsets = scalar_file(tmp_path)
    blob = bytearray(f.read_bytes())
    blob[offsets[30] + 12 + 3] ^= 0xFF
    blob[offsets[60] + 9] ^= 0xFF
    f.write_bytes(bytes(blob))
    problems: list[str] = []
    fd = tensorboard.read_event_file(f, problems)
    assert len(fd.points) == 30
    assert problems == [f"{f}: corrupt at byte {offsets[30]} (record data CRC mismatch)"]


# -- shortest_float32 ----------------------------------------------------------------


def test_shortest_float32_search_equals_the_linear_scan() -> None:
    rng = random.Random(11)
    values = [struct.unpack("<f", rng.randbytes(4))[0] for _ in range(20_000)]
    values += [
        struct.unpack("<f", f32(round(rng.uniform(-9, 9), rng.randint(0, 8))))[0]
        for _ in range(5_000)
    ]
    values += [struct.unpack("<f", f32(1 / k))[0] for k in range(1, 5_000)]
    values += [2.0**e for e in range(-149, 128)] + [-(2.0**e) for e in range(-149, 128, 7)]
    values += [3.4028234663852886e38, 9.99e37, 1e38, 1.1754942106924411e-38, 0.0, -0.0]
    values += [rng.uniform(-1, 1) for _ in range(1_000)]  # doubles that are no float32
    for v in values:
        got, want = _tfevents.shortest_float32(v), shortest_float32_linear(v)
        assert repr(got) == repr(want), v


def test_shortest_of_raw_bytes_equals_shortest_float32() -> None:
    rng = random.Random(5)
    raws = [rng.randbytes(4) for _ in range(20_000)]
    raws += [struct.pack("<I", b) for b in (0, 1, 0x00800000, 0x7F7FFFFF, 0x7F800000, 0xFFC00001)]
    for raw in raws:
        want = _tfevents.shortest_float32(struct.unpack("<f", raw)[0])
        assert repr(_tfevents._shortest_of_raw(raw)) == repr(want), raw


@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_shortest_float32_search_equals_the_linear_scan_anywhere(x: float) -> None:
    assert repr(_tfevents.shortest_float32(x)) == repr(shortest_float32_linear(x))


# -- metrics.jsonl lines -------------------------------------------------------------


KEYS = ["a", "b", "loss (B)", "\u00e9/\u2603", "_step", "_t", 'q"uote', "tab\t"]
VALUES = [0.5, 1, True, math.nan, math.inf, -math.inf, "3.5", "x", None, 10**400, -0.0, 1e300]
TIMES = [None, 1.0, 2.5, math.nan, math.inf, 1_795_700_000.123, -0.0]


def foreign(points: list[Point]) -> ForeignRun:
    return ForeignRun(
        kind="k", source_path="/p", source_id="i", project="p", name="n", points=points
    )


@given(
    st.lists(
        st.builds(
            Point,
            st.sampled_from(KEYS),
            st.sampled_from([0, 1, 2, 2.0, 10**20]),
            st.sampled_from(VALUES),
            st.sampled_from(TIMES),
        ),
        max_size=40,
    )
)
def test_metric_lines_are_what_json_dumps_writes(points: list[Point]) -> None:
    data, rows = _metric_rows(foreign(points))
    assert data == metric_lines_by_json(points) == _metric_lines(foreign(points))
    lines = data.splitlines(keepends=True)
    assert [start for start, _ in rows] == [sum(map(len, lines[:i])) for i in range(len(lines))]
    assert [n for _, n in rows] == [
        sum(1 for k in json.loads(line) if k not in ("_step", "_t")) for line in lines
    ]


def test_metric_lines_with_keys_that_are_not_strings() -> None:
    points = [Point("a", 1, 0.5), Point(7, 1, 1.5), Point("7", 1, 2.5), Point("b", 2, 2.5)]  # type: ignore[arg-type]
    data, rows = _metric_rows(foreign(points))
    assert data == metric_lines_by_json(points)
    assert data.startswith(b'{"_step": 1, "a": 0.5, "7": 1.5, "7": 2.5}\n')
    assert rows == [(0, 2), (data.index(b"\n") + 1, 1)]  # JSON reads "7" once


def test_new_points_count_appends_and_rewrites(tmp_path: Path) -> None:
    pts = [Point(k, s, s / 10, 100.0 + s) for s in range(50) for k in ("x", "y")]
    run = foreign(pts)
    _, is_new, new = write_run(tmp_path, run, now=1.0)
    assert (is_new, new) == (True, 100)
    _, is_new, new = write_run(tmp_path, run, now=1.0)
    assert (is_new, new) == (False, 0)
    run.points = pts + [Point("x", 50, 5.0, 150.0), Point("z", 50, 1.0, 150.0)]
    run_dir, _, new = write_run(tmp_path, run, now=1.0)
    assert new == 2
    assert (run_dir / "metrics.jsonl").read_bytes() == metric_lines_by_json(run.points)
    run.points = [Point("x", 0, 9.0, 100.0)] + run.points[1:]  # the past changed
    _, _, new = write_run(tmp_path, run, now=1.0)
    assert new == 102
    assert (run_dir / "metrics.jsonl").read_bytes() == metric_lines_by_json(run.points)


# -- MLflow metric files -------------------------------------------------------------


@pytest.mark.parametrize("backwards", [False, True])
def test_mlflow_metric_files_merge_as_heapq_merge(tmp_path: Path, backwards: bool) -> None:
    rng = random.Random(int(backwards))
    d = tmp_path / "metrics"
    (d / "train").mkdir(parents=True)
    for name in ("loss", "train/acc", "lr", "zz"):
        stamps = sorted(rng.choice(range(1000, 1040)) for _ in range(60))  # ties across files
        if backwards and name == "lr":
            stamps[30], stamps[10] = stamps[10], stamps[30] + 7
        lines = [f"{ts} {rng.random()!r} {i}" for i, ts in enumerate(stamps)]
        lines.insert(5, f"{stamps[5]} 0.5")  # old 2-field line
        lines.insert(9, "  ")
        (d / name).write_text("\n".join(lines) + "\n")
    problems: list[str] = []
    got, newest, _ = mlflow._read_metric_dir(d, problems, ended=True)
    series = [
        mlflow._read_metric_file(f, f.relative_to(d).as_posix(), [], ended=True)
        for f in _mlflow_run.files_below(d)
    ]
    want = list(heapq.merge(*series, key=lambda p: p.t or 0.0))
    assert [(p.key, p.step, p.value, p.t) for p in got] == [
        (p.key, p.step, p.value, p.t) for p in want
    ]
    assert newest == max(p.t for p in want) and problems == []
    assert len(got) == 4 * 61


# -- TensorBoard runs decoded one at a time -----------------------------------------

TB_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "tensorboard"
FIN = "yolo26n-lr0.01-b16-sgd"
EXC = "yolo26n-lr0.01-b16-adamw-crash-exc"
KILL9 = "yolo26n-lr0.02-b16-sgd-crash-kill9"


def event_file(run_dir: Path) -> Path:
    return sorted(run_dir.glob("events.out.tfevents.*"))[0]


def test_runs_are_decoded_as_they_are_yielded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "tb"
    shutil.copytree(TB_FIXTURES, root)
    decoded: list[str] = []
    real = tensorboard.read_event_file

    def spy(path: Path, problems: list[str], **kw: object) -> _tfevents._FileData:
        decoded.append(path.parent.relative_to(root).as_posix())
        return real(path, problems, **kw)

    monkeypatch.setattr(tensorboard, "read_event_file", spy)
    # in the caller's thread (the C decoder's read-ahead is bounded: test_tfdecode)
    monkeypatch.setattr(tensorboard, "read_ahead", lambda *a: None)
    runs = tensorboard.read(root, [], now=1795792000.0)
    first = next(runs)
    assert first.source_id == EXC and decoded == [EXC]
    second = next(runs)  # the run and its add_hparams child, folded into it
    assert second.source_id == FIN and decoded == [EXC, FIN, f"{FIN}/1795703520.813343"]
    assert [r.source_id for r in runs] == [KILL9]


def test_problem_lines_keep_their_order_across_nested_damaged_runs(tmp_path: Path) -> None:
    root = tmp_path / "tb"
    shutil.copytree(TB_FIXTURES, root)
    shutil.copytree(root / FIN / "1795703520.813343", root / FIN / "1795703999.5")
    for nested in (root / EXC / "seed2", root / EXC / "seed2" / "deeper"):
        nested.mkdir()
        shutil.copy(event_file(root / KILL9), nested / "events.out.tfevents.1795703600.vm")
    fin = event_file(root / FIN)
    blob = bytearray(fin.read_bytes())
    blob[50000] ^= 0xFF
    fin.write_bytes(bytes(blob))
    exc = event_file(root / EXC)
    size = exc.stat().st_size
    exc.write_bytes(exc.read_bytes() + b"garbage!" * 3)
    (root / "empty").mkdir()
    (root / "empty" / "events.out.tfevents.1.x").write_bytes(b"\x00" * 5)
    problems: list[str] = []
    runs = {r.source_id: r for r in tensorboard.read(root, problems, now=1795792000.0)}
    assert runs[f"{EXC}/seed2/deeper"].parent_id == f"{EXC}/seed2"
    assert runs[f"{FIN}/1795703999.5"].parent_id == FIN
    corrupt = [line for line in problems if "corrupt" in line]
    assert corrupt == [
        f"{exc}: corrupt at byte {size} (record length CRC mismatch)",
        f"{fin}: corrupt at byte 49980 (record data CRC mismatch)",
    ]
    # the lines of damaged files first (in walk order), then what assembling found
    assert problems[:2] == corrupt
    assert [line.split(": ")[0] for line in problems[2:]] == [
        str(root / "empty" / "events.out.tfevents.1.x"),
        str(root / EXC / "seed2" / "events.out.tfevents.1795703600.vm"),
        str(root / EXC / "seed2" / "deeper" / "events.out.tfevents.1795703600.vm"),
        str(event_file(root / KILL9)),
    ]
