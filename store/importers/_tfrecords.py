"""TFRecords framed and CRC-checked a chunk at a time: the record reader's
framing (``_tfevents._read_records``; the columns reader frames whole
windows in ``_tfframe`` or the C module ``_tfdecode``). A record is::

    uint64 LE length | uint32 masked-CRC32C(length) | data | uint32 masked-CRC32C(data)
"""

from __future__ import annotations

import itertools
import operator
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trackui.store.importers import _protobuf as pb

_RECORD_HEADER = struct.Struct("<QI")
_U32 = struct.Struct("<I")
_MASK32 = 0xFFFFFFFF

#: How much of an event file is read at once (more when one record is bigger).
_CHUNK = 1 << 20

#: Masked CRC of a record's 8-byte length header, by length: event files
#: repeat a handful of lengths, and the header CRC is a pure function of it.
_LENGTH_CRC: dict[int, int] = {}
#: Record headers (length and its CRC, 12 bytes) already checked -> length.
_GOOD_HEADERS: dict[bytes, int] = {}
_LENGTH_CRC_MAX = 1 << 16


def iter_records(f: Any, path: Path, problems: list[str]) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, data)`` of every intact TFRecord; stop at the first bad one.

    A short read at the end is reported as truncation and raised to the
    caller through :class:`_Torn` so it can count it as crash evidence.
    """
    for batch in iter_record_batches(f, path, problems):
        yield from batch


def iter_record_batches(
    f: Any, path: Path, problems: list[str], origin: int = 0
) -> Iterator[list[tuple[int, bytes]]]:
    """``iter_records`` a chunk of the file at a time: the lists of
    ``(offset, data)`` of the intact records whole in each chunk.

    The file is read in big chunks; the records whole in a chunk are framed
    first (their length CRCs checked on the way), then the data CRCs of all
    of them are checked together (``crc32c_each``), then they are handed on
    in order up to the first bad one: the same records and the same problem
    line as checking one record at a time. ``origin`` is where ``f`` starts,
    counted from where the caller's offsets count (a file read on from the
    middle, by ``_tfcolumns``): only a bad header at 0 says "not an event file".
    """
    unpack_header = _RECORD_HEADER.unpack_from
    length_crcs = _LENGTH_CRC
    known = _GOOD_HEADERS
    base = origin  # file offset of buf[0]
    buf = f.read(_CHUNK)
    while True:
        end = len(buf)
        pos = 0
        need = 12
        header_bad = False
        starts: list[int] = []
        nexts: list[int] = []
        while pos + 12 <= end:
            length = known.get(buf[pos : pos + 12])
            if length is None:  # a header not met yet: check its CRC
                length, length_crc = unpack_header(buf, pos)
                expected = length_crcs.get(length)
                if expected is None:
                    expected = pb.masked_crc32c(buf[pos : pos + 8])
                    if len(length_crcs) >= _LENGTH_CRC_MAX:
                        length_crcs.clear()
                    length_crcs[length] = expected
                if expected != length_crc:
                    header_bad = True
                    break
                if len(known) >= _LENGTH_CRC_MAX:
                    known.clear()
                known[buf[pos : pos + 12]] = length
            nxt = pos + 16 + length
            if nxt > end:
                need = nxt - pos
                break
            starts.append(pos)
            nexts.append(nxt)
            pos = nxt
        # each record's data and stored CRC, with the loops in C
        offsets = list(map(operator.add, starts, itertools.repeat(base)))
        crc_at = list(map(operator.sub, nexts, itertools.repeat(4)))
        datas = list(
            map(
                buf.__getitem__, map(slice, map(operator.add, starts, itertools.repeat(12)), crc_at)
            )
        )
        stored = list(
            map(operator.itemgetter(0), map(_U32.unpack_from, itertools.repeat(buf), crc_at))
        )
        # pb.mask_crc of each, with the loop in C: ((crc >> 15) | (crc << 17)) + K
        crcs = pb.crc32c_each(datas)
        masked = list(
            map(
                _MASK32.__and__,
                map(
                    operator.add,
                    map(
                        operator.or_,
                        map(operator.rshift, crcs, itertools.repeat(15)),
                        map(operator.lshift, crcs, itertools.repeat(17)),
                    ),
                    itertools.repeat(0xA282EAD8),
                ),
            )
        )
        if masked != stored:
            good = next(i for i, (a, b) in enumerate(zip(masked, stored)) if a != b)
            if good:
                yield list(zip(offsets[:good], datas[:good]))
            problems.append(f"{path}: corrupt at byte {offsets[good]} (record data CRC mismatch)")
            return
        if offsets:
            yield list(zip(offsets, datas))
        if header_bad:
            if base + pos == 0:
                raise _NotEvents()
            problems.append(f"{path}: corrupt at byte {base + pos} (record length CRC mismatch)")
            return
        rest = buf[pos:]
        base += pos
        more = f.read(max(_CHUNK, need - len(rest)))
        if not more:
            if rest:
                raise _Torn(base)
            return
        buf = rest + more


class _NotEvents(Exception):
    """The first record does not frame: the file is something else."""


class _Torn(Exception):
    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset
