"""A small protobuf wire-format decoder, shared by the TensorBoard and W&B readers.

Both tools store their records as serialized protobuf messages. Decoding them
needs only the wire format, not the generated classes: every field is a key
(``field_number << 3 | wire_type``, a varint) followed by a varint (type 0),
8 bytes (type 1), a length-prefixed byte string (type 2, also used for
sub-messages, strings and packed repeated numbers) or 4 bytes (type 5).
Groups (types 3 and 4) were deprecated before either tool existed and are
rejected. The readers know which field numbers they want and skip the rest,
so new fields added by newer tool versions are ignored rather than fatal.

Anything malformed raises :class:`DecodeError`; callers turn that into a
``problems`` line and keep what they had.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable, Iterator, Sequence

VARINT = 0
FIXED64 = 1
LENGTH = 2
FIXED32 = 5

_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")

#: A decoded field value: an int for varints, bytes for everything else
#: (fixed-width numbers are returned raw so the caller picks float/double/int).
FieldValue = int | bytes


class DecodeError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode the varint at ``pos``; return ``(value, next_pos)``."""
    result = 0
    shift = 0
    end = len(buf)
    while True:
        if pos >= end:
            raise DecodeError("varint runs past the end")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise DecodeError("varint longer than 10 bytes")


def iter_fields(buf: bytes) -> Iterator[tuple[int, int, FieldValue]]:
    """Yield ``(field_number, wire_type, value)`` for every field of a message."""
    pos = 0
    end = len(buf)
    while pos < end:
        # One-byte varints (field numbers < 16, lengths < 128) are the
        # common case by far: decode them inline.
        key = buf[pos]
        if key < 0x80:
            pos += 1
        else:
            key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise DecodeError("field number 0")
        if wire == VARINT:
            value, pos = read_varint(buf, pos)
            yield number, wire, value
        elif wire == LENGTH:
            if pos < end and buf[pos] < 0x80:
                size = buf[pos]
                pos += 1
            else:
                size, pos = read_varint(buf, pos)
            if pos + size > end:
                raise DecodeError("length-delimited field runs past the end")
            yield number, wire, buf[pos : pos + size]
            pos += size
        elif wire == FIXED64:
            if pos + 8 > end:
                raise DecodeError("64-bit field runs past the end")
            yield number, wire, buf[pos : pos + 8]
            pos += 8
        elif wire == FIXED32:
            if pos + 4 > end:
                raise DecodeError("32-bit field runs past the end")
            yield number, wire, buf[pos : pos + 4]
            pos += 4
        else:
            raise DecodeError(f"unsupported wire type {wire}")


def fields(buf: bytes) -> dict[int, list[FieldValue]]:
    """All fields of a message grouped by number, in the order they appear."""
    out: dict[int, list[FieldValue]] = {}
    for number, _wire, value in iter_fields(buf):
        out.setdefault(number, []).append(value)
    return out


def as_int64(value: FieldValue) -> int:
    """A varint read as a signed 64-bit integer (negative values use 10 bytes)."""
    if not isinstance(value, int):
        raise DecodeError("expected a varint")
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def as_double(value: FieldValue) -> float:
    if not isinstance(value, bytes) or len(value) != 8:
        raise DecodeError("expected a 64-bit field")
    return _DOUBLE.unpack(value)[0]


def as_float(value: FieldValue) -> float:
    if not isinstance(value, bytes) or len(value) != 4:
        raise DecodeError("expected a 32-bit field")
    return _FLOAT.unpack(value)[0]


def as_str(value: FieldValue) -> str:
    if not isinstance(value, bytes):
        raise DecodeError("expected a length-delimited field")
    return value.decode("utf-8", errors="replace")


def as_bytes(value: FieldValue) -> bytes:
    if not isinstance(value, bytes):
        raise DecodeError("expected a length-delimited field")
    return value


def repeated_floats(values: list[FieldValue]) -> list[float]:
    """A ``repeated float``: packed (one byte string) or not (one 4-byte field each)."""
    out: list[float] = []
    for v in values:
        if not isinstance(v, bytes):
            raise DecodeError("expected floats")
        if len(v) % 4:
            raise DecodeError("packed floats of odd length")
        out.extend(x for (x,) in _FLOAT.iter_unpack(v))
    return out


def repeated_doubles(values: list[FieldValue]) -> list[float]:
    """A ``repeated double``: packed or not, as for :func:`repeated_floats`."""
    out: list[float] = []
    for v in values:
        if not isinstance(v, bytes):
            raise DecodeError("expected doubles")
        if len(v) % 8:
            raise DecodeError("packed doubles of odd length")
        out.extend(x for (x,) in _DOUBLE.iter_unpack(v))
    return out


def first(msg: dict[int, list[FieldValue]], number: int) -> FieldValue | None:
    """The value of a singular field (the last one wins, as in protobuf), or None."""
    values = msg.get(number)
    return values[-1] if values else None


# -- CRC32C ------------------------------------------------------------------
# Both framings that carry these messages (TFRecord for TensorBoard, the
# LevelDB log for W&B) protect them with a *masked* CRC32C (Castagnoli).
# zlib only has the other CRC-32 polynomial. A C implementation is used when
# one is installed (``pip install trackui[fast]``); otherwise the classic
# table version, about 8 MB/s in CPython, and two ways around its per-byte
# interpreter cost for the shapes event logs have:
#
# * many short records (scalar events, ~60 bytes each): records of equal
#   length are checked side by side, one "lane" per record. The state of all
#   lanes is kept as 4 byte planes, and one step of the table algorithm for
#   every lane at once is a ``bytes.translate`` per plane plus XORs of whole
#   planes as big ints: the loop runs once per byte *position*, not per byte;
# * one long record (histograms, images): the same lanes over equal segments
#   of it, joined by CRC linearity (the state after a segment is the state
#   before it shifted through that many zero bytes, XOR the segment's CRC
#   from a zero state).

_CRC32C_POLY = 0x82F63B78  # reversed Castagnoli polynomial


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _CRC32C_POLY if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C_TABLE = _crc32c_table()
#: The table split into its 4 bytes, as ``bytes.translate`` tables.
_PLANE_TABLES = tuple(bytes((t >> (8 * k)) & 0xFF for t in _CRC32C_TABLE) for k in range(4))
#: Fewer equal-length records than this are cheaper one by one.
_MIN_LANES = 8
#: More lanes than this per pass run slower (the planes leave the CPU cache).
_MAX_LANES = 1024
#: Records at least this long are split into lanes of segments.
_SEGMENTED_FROM = 2048


def _load_c_crc32c() -> Callable[[bytes, int], int] | None:
    try:
        import google_crc32c  # type: ignore[import-not-found]

        if getattr(google_crc32c, "implementation", "c") == "c":
            extend = google_crc32c.extend
            return lambda data, crc: extend(crc, bytes(data))
    except ImportError:
        pass
    try:
        import crc32c as crc32c_module  # type: ignore[import-not-found]

        fn = crc32c_module.crc32c
        return lambda data, crc: fn(data, crc)
    except (ImportError, AttributeError):
        return None


#: ``(data, crc) -> crc`` from a C extension, or None when none is installed.
_C_CRC32C = _load_c_crc32c()


def _load_c_extend() -> Callable[[int, bytes], int] | None:
    """google-crc32c's own ``extend(crc, data)``, mapped over many records with no Python frame."""
    if _C_CRC32C is None:
        return None
    try:
        import google_crc32c  # type: ignore[import-not-found]
    except ImportError:
        return None
    return google_crc32c.extend if getattr(google_crc32c, "implementation", "c") == "c" else None


_C_EXTEND = _load_c_extend()


def _crc32c_loop(data: bytes, state: int) -> int:
    """Run the table algorithm over ``data`` from a raw (unmasked, uninverted) state."""
    table = _CRC32C_TABLE
    for byte in data:
        state = table[(state ^ byte) & 0xFF] ^ (state >> 8)
    return state


def _crc32c_lanes(blob: bytes, size: int, count: int, state: int) -> tuple[int, ...]:
    """Raw end states of ``count`` records of ``size`` bytes laid end to end in
    ``blob``, every one started from ``state``."""
    t0, t1, t2, t3 = _PLANE_TABLES
    from_bytes = int.from_bytes
    b0, b1, b2, b3 = (
        from_bytes(bytes([(state >> (8 * k)) & 0xFF]) * count, "little") for k in range(4)
    )
    for i in range(size):
        # the i-th byte of every record is one strided slice
        idx = (b0 ^ from_bytes(blob[i::size], "little")).to_bytes(count, "little")
        b0 = from_bytes(idx.translate(t0), "little") ^ b1
        b1 = from_bytes(idx.translate(t1), "little") ^ b2
        b2 = from_bytes(idx.translate(t2), "little") ^ b3
        b3 = from_bytes(idx.translate(t3), "little")
    out = bytearray(4 * count)
    for k, plane in enumerate((b0, b1, b2, b3)):
        out[k::4] = plane.to_bytes(count, "little")
    return struct.unpack(f"<{count}I", out)


_SHIFT_TABLES: dict[int, tuple[list[int], list[int], list[int], list[int]]] = {}


def _shift_tables(size: int) -> tuple[list[int], list[int], list[int], list[int]]:
    """Tables of the (linear) map "state -> state after ``size`` zero bytes",
    one per state byte."""
    tables = _SHIFT_TABLES.get(size)
    if tables is None:
        zeros = bytes(size)
        basis = [_crc32c_loop(zeros, 1 << bit) for bit in range(32)]
        built = []
        for k in range(4):
            table = [0] * 256
            for v in range(1, 256):
                low = (v & -v).bit_length() - 1
                table[v] = table[v & (v - 1)] ^ basis[8 * k + low]
            built.append(table)
        tables = _SHIFT_TABLES[size] = (built[0], built[1], built[2], built[3])
    return tables


def _crc32c_segmented(data: bytes, state: int) -> int:
    """The raw state after a long ``data``: its segments as lanes, then joined."""
    size = 1 << max(6, min(11, (3 * len(data)).bit_length() // 2))  # ~sqrt(3n)
    head = len(data) % size
    state = _crc32c_loop(data[:head], state)
    count = (len(data) - head) // size
    a0, a1, a2, a3 = _shift_tables(size)
    for start in range(0, count, _MAX_LANES):
        n = min(_MAX_LANES, count - start)
        begin = head + start * size
        for seg in _crc32c_lanes(data[begin : begin + n * size], size, n, 0):
            state = (
                a0[state & 0xFF]
                ^ a1[(state >> 8) & 0xFF]
                ^ a2[(state >> 16) & 0xFF]
                ^ a3[state >> 24]
                ^ seg
            )
    return state


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC32C of ``data``; pass a previous result as ``crc`` to continue it."""
    if _C_CRC32C is not None:
        return _C_CRC32C(data, crc)
    if len(data) >= _SEGMENTED_FROM:
        return _crc32c_segmented(data, crc ^ 0xFFFFFFFF) ^ 0xFFFFFFFF
    return _crc32c_loop(data, crc ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


def crc32c_each(records: Sequence[bytes]) -> list[int]:
    """CRC32C of every one of ``records``, as ``[crc32c(r) for r in records]``
    but much faster for many short records of equal length."""
    if _C_EXTEND is not None and _C_CRC32C is not None and set(map(type, records)) <= {bytes}:
        return list(map(_C_EXTEND, itertools.repeat(0), records))
    if _C_CRC32C is not None:
        c_crc = _C_CRC32C
        return [c_crc(r, 0) for r in records]
    out = [0] * len(records)
    by_size: dict[int, list[int]] = {}
    for i, r in enumerate(records):
        by_size.setdefault(len(r), []).append(i)
    for size, where in by_size.items():
        if len(where) < _MIN_LANES or not 0 < size < _SEGMENTED_FROM:
            for i in where:
                out[i] = crc32c(records[i])
            continue
        for start in range(0, len(where), _MAX_LANES):
            part = where[start : start + _MAX_LANES]
            blob = b"".join([records[i] for i in part])
            for i, state in zip(
                part, _crc32c_lanes(blob, size, len(part), 0xFFFFFFFF), strict=True
            ):
                out[i] = state ^ 0xFFFFFFFF
    return out


def mask_crc(crc: int) -> int:
    """The masked form both formats store: rotate right by 15, add a constant."""
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    return mask_crc(crc32c(data))
