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

import struct
from collections.abc import Iterator

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
# zlib only has the other CRC-32 polynomial, so this is the classic table
# version: about 8 MB/s in CPython, plenty for event logs that are read once.

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


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC32C of ``data``; pass a previous result as ``crc`` to continue it."""
    table = _CRC32C_TABLE
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def mask_crc(crc: int) -> int:
    """The masked form both formats store: rotate right by 15, add a constant."""
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    return mask_crc(crc32c(data))
