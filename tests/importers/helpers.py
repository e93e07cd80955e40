"""What the reader tests share: reading every run with the contract checked,
comparing values, proving nothing was written into a source, and the naive,
independent protobuf/TFRecord/CRC32C code the expected values come from."""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import struct
import time
from pathlib import Path
from types import ModuleType

from trackui.store.importers.base import STATUSES, ForeignRun

# -- reading runs ------------------------------------------------------------------


def read_runs(
    reader: ModuleType, path: Path, **kwargs: object
) -> tuple[dict[str, ForeignRun], list[str]]:
    """Every run ``reader.read`` yields under PATH by ``source_id``, and the
    problems; each run is yielded once and has a status of the contract."""
    problems: list[str] = []
    runs: dict[str, ForeignRun] = {}
    for run in reader.read(path, problems, **kwargs):
        assert run.source_id not in runs, f"run {run.source_id} yielded twice"
        assert run.status in STATUSES
        runs[run.source_id] = run
    return runs, problems


def same(a: float, b: float) -> bool:
    """Equal, NaN equal to NaN."""
    return a == b or (math.isnan(a) and math.isnan(b))


def series(run: ForeignRun) -> dict[str, list[tuple[int, float, float | None]]]:
    """(step, value, t) of every point, by key, in the order yielded."""
    out: dict[str, list[tuple[int, float, float | None]]] = {}
    for p in run.points:
        out.setdefault(p.key, []).append((p.step, p.value, p.t))
    return out


def by_key_step(run: ForeignRun) -> dict[tuple[str, int], float]:
    """Every point's value by (key, step); no two points share them."""
    out: dict[tuple[str, int], float] = {}
    for p in run.points:
        assert (p.key, p.step) not in out, f"duplicate point {p.key}@{p.step}"
        out[(p.key, p.step)] = p.value
    return out


# -- the source on disk ------------------------------------------------------------


def age(directory: Path, seconds: float) -> None:
    """Every file below DIRECTORY last touched SECONDS ago."""
    stamp = time.time() - seconds
    for p in directory.rglob("*"):
        if p.is_file():
            os.utime(p, (stamp, stamp))


def aged_copy(source: Path, dest: Path, seconds: float) -> Path:
    """SOURCE copied to DEST, every file last touched SECONDS ago (a checkout
    leaves fresh mtimes, which would make every run look alive)."""
    shutil.copytree(source, dest)
    age(dest, seconds)
    return dest


def listing(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under root with its size and mtime: proof nothing was written."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        out[path.relative_to(root).as_posix()] = (st.st_size, st.st_mtime_ns)
    return out


def hashes(root: Path) -> dict[str, str]:
    """The sha256 of every file under root: proof no byte was changed."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# -- naive protobuf, TFRecord and CRC32C -------------------------------------------


def read_varint(buf: bytes, i: int) -> tuple[int, int]:
    """The varint at ``buf[i]`` and the offset after it."""
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, i


def naive_fields(buf: bytes) -> list[tuple[int, bytes | int]]:
    """(field number, value) of a protobuf message: varints as ints, the rest as bytes."""
    out: list[tuple[int, bytes | int]] = []
    i = 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        wire = key & 7
        if wire == 0:
            v, i = read_varint(buf, i)
        elif wire == 1:
            v, i = buf[i : i + 8], i + 8
        elif wire == 5:
            v, i = buf[i : i + 4], i + 4
        else:
            n, i = read_varint(buf, i)
            v, i = buf[i : i + n], i + n
        out.append((key >> 3, v))
    return out


def varint(n: int) -> bytes:
    """N as a protobuf varint (negative numbers as their 64-bit two's complement)."""
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def crc32c_bitwise(data: bytes, crc: int = 0) -> int:
    """CRC32C one bit at a time, from its definition."""
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(data: bytes) -> int:
    """The masked CRC32C that TFRecords store."""
    c = crc32c_bitwise(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(data: bytes) -> bytes:
    """DATA framed as one TFRecord."""
    head = struct.pack("<Q", len(data))
    return head + struct.pack("<I", masked(head)) + data + struct.pack("<I", masked(data))


def f32(x: float) -> bytes:
    return struct.pack("<f", x)


# -- SQLite fixtures ------------------------------------------------------------
# The MLflow and Trackio databases are kept as SQL text (``sqlite3`` dumps of the
# real files, first line ``-- journal_mode=...``) and built into databases here.

_BUILT: dict[str, Path] = {}
_BUILT_ROOT: list[Path] = []


def materialized(fixture_dir: Path) -> Path:
    """A copy of ``fixture_dir`` (under one temporary root per test process,
    next to the other copies, named as the original) in which every ``*.sql``
    dump became the ``*.db`` database it was made from."""
    import atexit
    import sqlite3
    import tempfile

    key = str(fixture_dir.resolve())
    if key in _BUILT:
        return _BUILT[key]
    if not _BUILT_ROOT:
        root = Path(tempfile.mkdtemp(prefix="trackui-fixtures-"))
        atexit.register(shutil.rmtree, root, True)
        _BUILT_ROOT.append(root)
    dest = _BUILT_ROOT[0] / fixture_dir.name
    shutil.copytree(fixture_dir, dest, ignore=shutil.ignore_patterns("*.sql"))
    for dump in fixture_dir.rglob("*.sql"):
        db = dest / dump.relative_to(fixture_dir).with_suffix(".db")
        text = dump.read_text()
        mode = text.splitlines()[0].removeprefix("-- journal_mode=").strip()
        con = sqlite3.connect(db)
        try:
            if mode == "wal":
                con.execute("PRAGMA journal_mode=WAL")
            con.executescript(text)
            con.commit()
        finally:
            con.close()
        stamp = dump.stat().st_mtime
        os.utime(db, (stamp, stamp))
    _BUILT[key] = dest
    return dest
