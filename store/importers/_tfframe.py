"""Framing and CRC-checking a buffer of TFRecords with NumPy, for the
columns reader (``_tfcolumns``, whose module doc says how: header
candidates checked from three tables and chained from the first byte; data
CRCs through XOR folds of the records of each length)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import _protobuf as pb

#: Records longer than this are never a common scalar: checked one by one.
MATRIX_MAX = 192
_MASK_ADD = 0xA282EAD8
_U32 = 0xFFFFFFFF


def _header_tables() -> tuple[Any, Any, Any, int]:
    zero = pb.crc32c(bytes(8))
    tables = []
    for k in range(3):
        tables.append(
            np.array(
                [pb.crc32c(bytes(k) + bytes([b]) + bytes(7 - k)) ^ zero for b in range(256)],
                dtype=np.uint32,
            )
        )
    return tables[0], tables[1], tables[2], zero


_TABLES: tuple[Any, Any, Any, int] | None = None


def _mask(crc: Any) -> Any:
    return (((crc >> 15) | (crc << 17)) + _MASK_ADD) & _U32


def _u32_at(a: Any, at: Any) -> Any:
    """The little-endian uint32 at each offset ``at`` of ``a`` (as int64)."""
    if not len(at):
        return np.zeros(0, np.int64)
    rows = sliding_window_view(a, 4)[at]
    return rows.view("<u4").ravel().astype(np.int64)


def frame(a: Any) -> tuple[Any, Any, int, bool]:
    """``(starts, lengths, end, damaged)`` of the chain of records from
    ``a[0]``: ``end`` is where the last whole record ends; ``damaged`` when
    what follows is not the start of a record (rather than too short)."""
    global _TABLES
    n = len(a)
    empty = np.zeros(0, np.int64)
    if n < 12:
        return empty, empty, 0, False
    if _TABLES is None:
        _TABLES = _header_tables()
    t0, t1, t2, zero = _TABLES
    m = n - 11
    z = a == 0
    cand = z[3 : 3 + m].copy()
    for k in (4, 5, 6, 7):
        cand &= z[k : k + m]
    # Records under 256 bytes (every scalar) first: bytes 1-7 of their
    # length are zero, which leaves out the two candidates just before each
    # start. Should their chain not reach the end, all candidates are taken.
    short = cand & z[1 : 1 + m] & z[2 : 2 + m]
    got = _chain(a, np.flatnonzero(short), t0, t1, t2, zero, n)
    if got is not None:
        return got
    every = _chain(a, np.flatnonzero(cand), t0, t1, t2, zero, n, every=True)
    assert every is not None
    return every


def _chain(
    a: Any, p: Any, t0: Any, t1: Any, t2: Any, zero: int, n: int, *, every: bool = False
) -> tuple[Any, Any, int, bool] | None:
    """``frame`` over the candidates ``p``; unless ``every``, None when they
    do not make one chain from the start to the end of the buffer (or to a
    record that is not whole yet)."""
    empty = np.zeros(0, np.int64)
    head = sliding_window_view(a, 12)[p]
    b0, b1, b2 = head[:, 0], head[:, 1], head[:, 2]
    crc = t0[b0] ^ t1[b1] ^ t2[b2] ^ np.uint32(zero)
    masked = ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(_MASK_ADD)
    ok = masked == np.ascontiguousarray(head[:, 8:]).view("<u4").ravel()
    s = p[ok].astype(np.int64)
    length = b0[ok].astype(np.int64) | b1[ok].astype(np.int64) << 8 | b2[ok].astype(np.int64) << 16
    nxt = s + 16 + length
    if len(s) and s[0] == 0 and (nxt[:-1] == s[1:]).all():  # the usual file: one chain
        whole = len(s) if nxt[-1] <= n else len(s) - 1
        end = int(nxt[whole - 1]) if whole else 0
        partial = n - end < 12 or whole < len(s)
        if every or partial:
            return s[:whole], length[:whole], end, not partial
    if not every:
        return None
    taken: list[Any] = []
    pos = 0
    while True:
        j = int(np.searchsorted(s, pos))
        if j >= len(s) or s[j] != pos:
            break
        breaks = np.flatnonzero(nxt[j:-1] != s[j + 1 :])
        k = int(breaks[0]) if breaks.size else len(s) - 1 - j
        taken.append(np.arange(j, j + k + 1))
        pos = int(nxt[j + k])
        if j + k == len(s) - 1:
            break
    idx = np.concatenate(taken) if taken else empty
    whole = idx[nxt[idx] <= n]
    end = int(nxt[whole[-1]]) if whole.size else 0
    partial = n - end < 12 or (whole.size < idx.size)
    if not partial:
        j = int(np.searchsorted(s, end))
        partial = j < len(s) and s[j] == end  # a header that checks, data still to come
    return s[whole], length[whole], end, not partial


def groups(a: Any, starts: Any, lengths: Any) -> list[tuple[int, Any, Any]]:
    """``(length, record indices, their data as rows)`` per record length;
    rows only for lengths up to ``MATRIX_MAX`` (None beyond)."""
    small = lengths.astype(np.uint16) if lengths.max() < 1 << 16 else lengths
    order = np.argsort(small, kind="stable")  # a radix sort for uint16
    sorted_lengths = lengths[order]
    cuts = np.flatnonzero(np.diff(sorted_lengths)) + 1
    out = []
    for rows in np.split(order, cuts):
        if not rows.size:
            continue
        size = int(lengths[rows[0]])
        data = None
        if size <= MATRIX_MAX and size:
            data = sliding_window_view(a, size)[starts[rows] + 12]
        elif not size:
            data = np.zeros((len(rows), 0), np.uint8)
        out.append((size, rows, data))
    return out


def first_bad_crc(
    a: Any, starts: Any, lengths: Any, grouped: list[tuple[int, Any, Any]]
) -> int | None:
    """Index (into ``starts``) of the first record whose data CRC does not
    match, None when all do (see the module doc)."""
    stored = _u32_at(a, starts + 12 + lengths)
    x = (stored - _MASK_ADD) & _U32
    crcs = ((x << 15) | (x >> 17)) & _U32  # unmasked
    bad: list[int] = []
    for size, rows, data in grouped:
        if data is None:
            for r in rows.tolist():
                at = int(starts[r]) + 12
                if pb.crc32c(a[at : at + size].tobytes()) != int(crcs[r]):
                    bad.append(r)
                    break
            continue
        if _folds_match(data, crcs[rows], size):
            continue
        each = pb.crc32c_each([bytes(r) for r in data])
        wrong = np.flatnonzero(np.array(each, dtype=np.int64) != crcs[rows])
        if wrong.size:
            bad.append(int(rows[wrong].min()))
    return min(bad) if bad else None


def _folds_match(data: Any, crcs: Any, size: int) -> bool:
    """Whether the records ``data`` (rows of ``size`` bytes) match their
    unmasked CRCs, checked through XORs of subsets of them (see the module
    doc): all the records, and for each bit b of a record's index the
    records whose index has it. Two damaged records always differ in some
    such bit, so up to two per length are never missed."""
    zero = pb.crc32c(bytes(size))
    n = len(data)
    rows = 1 << max(0, (n - 1).bit_length())
    width = -(-size // 8) * 8
    y8 = np.zeros((rows, width), np.uint8)  # zero rows and columns XOR to nothing
    y8[:n, :size] = data
    y = y8.view(np.uint64)
    index = np.arange(n)
    bit = 0
    while len(y) > 1:
        odd = y[1::2]
        fold = np.bitwise_xor.reduce(odd, axis=0)
        if not _fold_matches(fold, crcs[((index >> bit) & 1) == 1], size, zero):
            return False
        y = y[0::2] ^ odd
        bit += 1
    return _fold_matches(y[0], crcs, size, zero)


def _fold_matches(fold: Any, crcs: Any, size: int, zero: int) -> bool:
    want = pb.crc32c(fold.view(np.uint8)[:size].tobytes()) ^ (zero if len(crcs) % 2 == 0 else 0)
    return int(np.bitwise_xor.reduce(crcs)) == want if len(crcs) else want == 0
