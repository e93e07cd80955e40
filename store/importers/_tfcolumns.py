"""Event files decoded with NumPy: all records of a file at once, into
columns (``PointColumns``), not one ``Point`` per scalar.

Used by ``_tfevents.read_event_file`` when NumPy is installed; the record
at a time reader there stays the way without it, and the way for whatever
this one does not take on (a test holds the two to the same points,
problems and offsets). Three steps, each over the whole buffer:

1. Framing. A record starts with its length (8 bytes, little-endian) and
   the masked CRC32C of those 8 bytes. Every position whose bytes 3-7 are
   zero (a length under 16 MiB) is a candidate; its header CRC is checked
   from three 256-entry tables (the CRC is affine in its input, and only the
   low 3 bytes vary). The records are then the chain from the first byte:
   each candidate must be where the one before ends. A candidate inside a
   record's data (its 12 bytes looking like a header: about 1 in 2**32) is
   stepped over; a chain that cannot go on (a damaged header, a record cut
   short) ends here, and the record reader takes the rest of the file from
   there, saying what is wrong as it always did.
2. Data CRCs, by record length. The CRC is affine, so the XOR of the
   CRCs of n records of one length is the CRC of the XOR of their bytes,
   with ``crc(0 * length)`` XORed in when n is even. That is checked for
   all the records of a length, and for the records whose index has bit b
   set, for every b (about 2 log2(n) rows' worth of XORs and log2(n) CRCs
   per length, not n CRCs): one or two damaged records of a length are
   always found (two differ in some bit of their index). Should a group
   not add up, each of its records is checked alone, and the file is read
   up to the first bad one, with the same problem line as before. (Three or
   more damaged records whose damage cancels out in every XOR would pass:
   CRCs guard against accidents, never against a file made to fool them,
   and the decoding after is bounded either way.)
3. The common scalar record, ``Event{wall_time, [step,] summary{value{tag,
   simple_value}}}`` with one-byte lengths (``_tfevents._common_scalar``),
   is recognised and cut into columns per (length, step width); the tags of
   a group are told apart as byte rows, decoded once each. Every other
   record (the file version, hparams, TF2 tensor summaries, text, images)
   goes through the general decoder, in file order, and its points take
   their place among the others.

Where the C module ``_tfdecode`` is built (a compiler at install), it does
steps 1-3 for a window in one pass (``_scan``: each data CRC checked, TF2's
0-d float32 tensors taken too) and hands on the same columns and the
indices of the other records; the rest of this module is the same for both.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

from ._pointcols import PointColumns
from ._read import note_end, open_regular
from ._tfframe import first_bad_crc, frame, groups
from ._tfshortest import shortest_array

try:
    from . import _tfdecode  # type: ignore[attr-defined]
except ImportError:  # built at install where a C compiler is present
    _tfdecode = None

#: Bytes of a file decoded at a time (a record longer than this, more).
WINDOW = 64 << 20
#: Set to False to frame and decode with NumPy even where the C module is
#: built (tests compare the two; bench_import --no-c).
USE_C = True


def c_on() -> bool:
    """Whether windows are framed and decoded by the C module ``_tfdecode``."""
    return USE_C and _tfdecode is not None


def _distinct_rows(t: Any) -> tuple[Any, list[bytes]]:
    """``(inverse, distinct rows as bytes)`` of a 2-d uint8 array."""
    n, w = t.shape
    if w == 0:
        return np.zeros(n, np.int64), [b""]
    width = -(-w // 8) * 8
    packed = np.zeros((n, width), np.uint8)
    packed[:, :w] = t
    words = packed.view(np.uint64)
    inverse = np.full(n, -1, np.int64)
    found: list[bytes] = []
    left = np.ones(n, dtype=bool)
    start = 0
    while len(found) < 16:
        if start >= n:
            return inverse, found
        at = int(np.argmax(left[start:])) + start
        if not left[at]:
            return inverse, found
        row = words[at]
        same = words[:, 0] == row[0]
        for k in range(1, words.shape[1]):
            same &= words[:, k] == row[k]
        inverse[same] = len(found)
        found.append(packed[at, :w].tobytes())
        left &= ~same
        start = at + 1
    rest = np.flatnonzero(left)
    if rest.size:  # many tags of one length: sort them
        view = np.ascontiguousarray(t[rest]).view(np.dtype((np.void, w))).ravel()
        uniq, inv = np.unique(view, return_inverse=True)
        inverse[rest] = inv.ravel() + len(found)
        found.extend(u.tobytes() for u in uniq)
    return inverse, found


class _Common:
    """The common scalar records of a window, column by column."""

    def __init__(self) -> None:
        self.rec: list[Any] = []  # record index in the window
        self.step: list[Any] = []
        self.wall: list[Any] = []
        self.raw: list[Any] = []  # float32 values
        self.key: list[Any] = []  # index into the file's keys
        self.value: list[Any] = []  # shortest decimals, when the C module made them


def _common(
    grouped: list[tuple[int, Any, Any]], n: int, keys: dict[str, int]
) -> tuple[_Common, Any]:
    """The common scalar records among ``n`` records grouped by length (see
    the module doc) and a mask of the records that are not."""
    out = _Common()
    other = np.ones(n, dtype=bool)
    for size, rows, d in grouped:
        if d is None or size < 17:
            continue
        ok = d[:, 0] == 0x09
        stepped = d[:, 9] == 0x10
        width = np.zeros(len(rows), np.int64)  # bytes of the step varint
        more = stepped.copy()
        for j in range(9):
            if 10 + j >= size:
                more[:] = False
                break
            width[more] += 1
            more &= d[:, 10 + j] >= 0x80
            if not more.any():
                break
        ok &= ~more  # a step varint of 10 bytes (negative) or running off
        pos = np.where(stepped, 10 + width, 9)
        for p in np.unique(pos[ok]).tolist():
            m = size - p
            if not 11 <= m <= 0x81:
                continue
            here = ok & (pos == p)
            sub = np.flatnonzero(here)
            g = d if len(sub) == len(d) else d[sub]  # (a group of one layout: no copy)
            head = (
                (g[:, p] == 0x2A)
                & (g[:, p + 1] == m - 2)
                & (g[:, p + 2] == 0x0A)
                & (g[:, p + 3] == m - 4)
                & (g[:, p + 4] == 0x0A)
                & (g[:, p + 5] == m - 11)
                & (g[:, size - 5] == 0x15)
            )
            if not head.all():
                sub, g = sub[head], g[head]
            if not sub.size:
                continue
            steps = np.zeros(len(sub), np.int64)
            for j in range(p - 10):
                steps |= (g[:, 10 + j].astype(np.int64) & 0x7F) << (7 * j)
            inverse, tags = _distinct_rows(g[:, p + 6 : size - 5])
            ids = np.array(
                [keys.setdefault(t.decode("utf-8", errors="replace"), len(keys)) for t in tags],
                dtype=np.int32,
            )
            other[rows[sub]] = False
            out.rec.append(rows[sub])
            out.step.append(steps)
            out.wall.append(np.ascontiguousarray(g[:, 1:9]).view("<f8").ravel())
            out.raw.append(np.ascontiguousarray(g[:, size - 4 :]).view("<f4").ravel())
            out.key.append(ids[inverse])
    return out, other


def _scan(buf: bytes, keys: dict[str, int]) -> tuple[Any, Any, int, bool, int | None, _Common, Any]:
    """``frame``, ``first_bad_crc`` and ``_common`` of a window in one pass
    of the C module: ``(starts, lengths, end, damaged, cut, common, other)``,
    ``starts`` with the record whose CRC is bad (``cut``) still in it."""
    assert _tfdecode is not None
    starts, lengths, end, damaged, cut, rec, step, wall, value, ids, tags, other = _tfdecode.scan(
        buf
    )
    starts = np.frombuffer(starts, np.int64)
    n = len(starts) if cut < 0 else cut
    out = _Common()
    if rec:
        names = np.array(
            [keys.setdefault(t.decode("utf-8", errors="replace"), len(keys)) for t in tags],
            dtype=np.int32,
        )
        out.rec.append(np.frombuffer(rec, np.int64))
        out.step.append(np.frombuffer(step, np.int64))
        out.wall.append(np.frombuffer(wall, np.float64))
        out.value.append(np.frombuffer(value, np.float64))
        out.key.append(names[np.frombuffer(ids, np.int32)])
    mask = np.zeros(n, dtype=bool)
    mask[np.frombuffer(other, np.int64)] = True
    return (
        starts,
        np.frombuffer(lengths, np.int64),
        end,
        damaged,
        None if cut < 0 else cut,
        out,
        mask,
    )


def _window(
    a: Any, buf: bytes, keys: dict[str, int]
) -> tuple[Any, Any, int, bool, int | None, _Common, Any]:
    """``(starts, lengths, end, damaged, cut, common, other)`` of a window:
    its records up to the first whose data CRC does not match (``cut``: that
    one's offset, None when all match), by the C module or NumPy."""
    if c_on():
        starts, lengths, end, damaged, cut, common, other = _scan(buf, keys)
        if cut is None:
            return starts, lengths, end, damaged, None, common, other
        return starts[:cut], lengths[:cut], end, damaged, int(starts[cut]), common, other
    starts, lengths, end, damaged = frame(a)
    grouped = groups(a, starts, lengths) if starts.size else []
    cut = first_bad_crc(a, starts, lengths, grouped) if starts.size else None
    at = None
    if cut is not None:
        at = int(starts[cut])
        starts, lengths = starts[:cut], lengths[:cut]
        grouped = groups(a, starts, lengths) if starts.size else []
    common, other = _common(grouped, len(starts), keys)
    return starts, lengths, end, damaged, at, common, other


class _Times:
    """First and last event times as the record reader folds them, with
    ``min``/``max`` in file order: a NaN met first stays, one met later is passed."""

    def __init__(self) -> None:
        self.first: tuple[tuple[int, int], float] | None = None
        self.lo: float | None = None
        self.hi: float | None = None

    def at(
        self, order: tuple[int, int], t: float, lo: float | None = None, hi: float | None = None
    ) -> None:
        if self.first is None or order < self.first[0]:
            self.first = (order, t)
        lo, hi = (t, t) if lo is None else (lo, hi)
        if lo == lo:
            self.lo = lo if self.lo is None else min(self.lo, lo)
        if hi == hi:
            self.hi = hi if self.hi is None else max(self.hi, hi)  # type: ignore[type-var]

    def put(self, out: Any) -> None:
        if self.first is None:
            return
        t = self.first[1]
        out.first_t, out.last_t = (t, t) if t != t else (self.lo, self.hi)


def read_event_file(path: Path, problems: list[str], *, root: Path | None, start: int) -> Any:
    """``_tfevents.read_event_file`` with NumPy (see the module doc)."""
    from . import _tfevents as tfe

    out = tfe._FileData(end=start)
    bad: list[int] = []
    keys: dict[str, int] = {}
    values: dict[bytes, float] = {}
    parts: list[PointColumns] = []
    times = _Times()
    base = 0  # offset from ``start`` of the window's first byte
    rest_at: int | None = None  # hand the rest to the record reader from here
    window = 0
    try:
        with open_regular(path, root=root, start=start) as f:
            carry = b""
            while True:
                more = f.read(WINDOW)
                buf = carry + more if carry else more
                if not buf:
                    break
                a = np.frombuffer(buf, dtype=np.uint8)
                starts, lengths, end, damaged, cut, common, other = _window(a, buf, keys)
                if cut is not None:
                    problems.append(
                        f"{path}: corrupt at byte {base + cut} (record data CRC mismatch)"
                    )
                if starts.size:
                    parts.append(
                        _decode(
                            a,
                            starts,
                            lengths,
                            common,
                            other,
                            base,
                            window,
                            out,
                            keys,
                            values,
                            bad,
                            times,
                        )
                    )
                    out.end = start + base + int(starts[-1] + 16 + lengths[-1])
                if cut is not None:
                    break
                if damaged or (len(more) < WINDOW and end < len(buf)):
                    rest_at = base + end
                    break
                if len(more) < WINDOW:
                    break
                carry = buf[end:]
                base += end
                window += 1
    except OSError as exc:
        problems.append(f"{path}: unreadable ({exc.strerror or exc})")
    if rest_at is not None:
        rest = tfe._FileData(end=out.end)
        tfe._read_records(
            path, problems, root=root, start=start, origin=rest_at, out=rest, bad=bad, finish=False
        )
        out.end, out.torn_at, out.not_events = rest.end, rest.torn_at, rest.not_events
        if rest.points:
            parts.append(_of_points(rest.points, keys))
        if rest.hparams is not None:
            out.hparams = {**(out.hparams or {}), **rest.hparams}
        out.session_status = rest.session_status or out.session_status
        out.text.update(rest.text)
        if rest.first_t is not None:
            times.at((window + 1, 0), rest.first_t, rest.first_t, rest.last_t)
    times.put(out)
    out.points = _concat(parts, keys)
    note_end(path, out.end)
    if bad:
        problems.append(
            f"{path}: {len(bad)} event(s) not decodable, skipped, first at byte {bad[0]}"
        )
    return out


def _of_points(points: list[Any], keys: dict[str, int]) -> PointColumns:
    return PointColumns(
        [],
        np.array([keys.setdefault(p.key, len(keys)) for p in points], dtype=np.int32),
        np.array([p.step for p in points], dtype=np.int64),
        np.array([p.value for p in points], dtype=np.float64),
        np.array([np.nan if p.t is None else p.t for p in points], dtype=np.float64),
    )


def _decode(
    a: Any,
    starts: Any,
    lengths: Any,
    common: _Common,
    other: Any,
    base: int,
    window: int,
    out: Any,
    keys: dict[str, int],
    values: dict[bytes, float],
    bad: list[int],
    times: _Times,
) -> PointColumns:
    """The points of the records ``starts`` of one window, in file order:
    ``common`` the common scalar ones, ``other`` a mask of the rest."""
    from . import _tfevents as tfe

    n = len(starts)
    counts = np.zeros(n, np.int64)
    general: list[Any] = []  # points of the other records, in order
    if common.rec:
        rec = np.concatenate(common.rec)
        counts[rec] = 1
        wall = np.concatenate(common.wall)
        first = int(np.argmin(rec))
        nan = np.isnan(wall)
        ok = wall[~nan] if nan.any() else wall
        lo = float(ok.min()) if ok.size else None
        hi = float(ok.max()) if ok.size else None
        times.at((window, int(rec[first])), float(wall[first]), lo, hi)
    for r in np.flatnonzero(other).tolist():
        at = int(starts[r]) + 12
        data = a[at : at + int(lengths[r])].tobytes()
        before = len(out.points)
        out.first_t = out.last_t = None
        try:
            tfe._decode_event(data, out)
        except (ValueError, TypeError, struct.error):
            bad.append(base + int(starts[r]))
        if out.first_t is not None:
            times.at((window, r), out.first_t)
        got = out.points[before:]
        del out.points[before:]
        counts[r] = len(got)
        general.extend(got)
    out.first_t = out.last_t = None
    total = int(counts.sum())
    ki = np.zeros(total, np.int32)
    step = np.zeros(total, np.int64)
    value = np.zeros(total, np.float64)
    t = np.zeros(total, np.float64)
    offsets = np.cumsum(counts) - counts
    if common.rec:
        at = offsets[rec]
        ki[at] = np.concatenate(common.key)
        step[at] = np.concatenate(common.step)
        t[at] = wall
        if common.value:
            value[at] = np.concatenate(common.value)
        else:
            value[at] = shortest_array(np.concatenate(common.raw), tfe._shortest_of_raw, values)
    if general:
        recs = np.flatnonzero(other & (counts > 0))
        c = counts[recs]
        within = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
        at = np.repeat(offsets[recs], c) + within
        g = _of_points(general, keys)
        ki[at], step[at], value[at], t[at] = g.ki, g.step, g.value, g.t
    return PointColumns([], ki, step, value, t)


def _concat(parts: list[PointColumns], keys: dict[str, int]) -> PointColumns:
    names = list(keys)
    if not parts:
        e = PointColumns.empty()
        return PointColumns(names, e.ki, e.step, e.value, e.t)
    if len(parts) == 1:
        p = parts[0]
        return PointColumns(names, p.ki, p.step, p.value, p.t)
    return PointColumns(
        names,
        np.concatenate([p.ki for p in parts]),
        np.concatenate([p.step for p in parts]),
        np.concatenate([p.value for p in parts]),
        np.concatenate([p.t for p in parts]),
    )
