"""Float32 scalars of event files made into the shortest decimal naming
them (``_tfevents.shortest_float32``), many at a time.

With NumPy installed (an optional extra; never needed), the values of a file
are converted in one vectorised pass: NumPy writes each float32 as the
shortest string that reads back as it (Dragon4's "unique" mode), which is
the decimal the digit search here finds for every normal float32 that is
not a power of two; zeros, subnormals, powers of two, non-finite and huge
values still go through the search, so both ways give the same floats (a
test holds them together). Without NumPy, each distinct bit pattern is
searched once per file.
"""

from __future__ import annotations

import functools
import gc
import struct
from collections.abc import Callable
from typing import Any, TypeVar

_U32 = struct.Struct("<I")
_F32 = struct.Struct("<f")
#: "%.<d>g" by d: rounding to d significant digits, as fast as CPython formats.
_G = tuple(f"%.{d}g" for d in range(10))
_INF = float("inf")
_NEG_INF = float("-inf")


def shortest_float32(value: float) -> float:
    """The shortest decimal that reads back as the same float32.

    Scalars are stored as float32: ``add_scalar(0.44395)`` comes back as
    0.44394999742507935 when widened to a double. Both name the same float32;
    the short one is what the user logged and what TensorBoard displays, and
    it compares equal to the same value imported from other tools.
    """
    if value != value or value in (_INF, _NEG_INF):
        return value
    packed = _F32.pack(value)
    bits = _U32.unpack(packed)[0]
    if bits & 0x7FFFFF and bits & 0x7F800000 and abs(value) < 1e38 and _is_float32(value, packed):
        # A normal float32 that is not a power of two has as much room below
        # as above it, so a decimal that is closer reads back as it too: "d
        # digits read back" is monotone in d, and a search finds the least d.
        return _shortest_by_search(value, packed)
    for digits in range(1, 10):
        candidate = float(_G[digits] % value)
        try:
            if _F32.pack(candidate) == packed:
                return candidate
        except OverflowError:
            break
    return value


def _is_float32(value: float, packed: bytes) -> bool:
    return _F32.unpack(packed)[0] == value


def _shortest_of_raw(raw: bytes) -> float:
    """``shortest_float32`` of the float32 whose 4 little-endian bytes are ``raw``."""
    value = _F32.unpack(raw)[0]
    bits = _U32.unpack(raw)[0]
    if bits & 0x7FFFFF and 0 < bits & 0x7F800000 < 0x7F800000 and abs(value) < 1e38:
        return _shortest_by_search(value, raw)  # raw is what packing value gives
    return shortest_float32(value)


def _shortest_by_search(value: float, packed: bytes) -> float:
    # Computed values need 8 digits (about 2 in 3) or 7 (about 1 in 3), rarely
    # 9; logged constants fewer. Probe 7: if it reads back, try 6 and bisect
    # below only when that reads back too; if not, 8, then 9.
    pack = _F32.pack
    candidate = float(_G[7] % value)
    if pack(candidate) != packed:
        for digits in (8, 9):
            candidate = float(_G[digits] % value)
            if pack(candidate) == packed:
                return candidate
        return value
    best = candidate
    candidate = float(_G[6] % value)
    if pack(candidate) != packed:
        return best
    best, low, high = candidate, 1, 6  # the least d reading back lies in [low, high]
    while low < high:
        mid = (low + high) // 2
        candidate = float(_G[mid] % value)
        if pack(candidate) == packed:
            best, high = candidate, mid
        else:
            low = mid + 1
    return best


#: Below this many values the vectorised pass is not worth starting.
_NUMPY_FROM = 256


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:
        return None
    return numpy


#: Set to False to take the pure path (tests compare the two).
USE_NUMPY = True


def shortest_many(raws: list[bytes], one: Any, cache: dict[bytes, float]) -> list[float]:
    """``one(raw)`` of every 4-byte little-endian float32 in ``raws``, in order."""
    np = _numpy() if USE_NUMPY and len(raws) >= _NUMPY_FROM else None
    if np is None:
        get = cache.get
        out = list(map(get, raws))
        if None in out:
            for i, v in enumerate(out):
                if v is None:
                    raw = raws[i]
                    v = cache.get(raw)
                    if v is None:
                        if len(cache) >= 1 << 16:
                            cache.clear()
                        v = cache[raw] = one(raw)
                    out[i] = v
        return out
    blob = b"".join(raws)
    bits = np.frombuffer(blob, dtype="<u4")
    values = np.frombuffer(blob, dtype="<f4").astype(str).astype(np.float64).tolist()
    exp = bits & 0x7F800000
    odd = ((bits & 0x7FFFFF) == 0) | (exp == 0) | (exp == 0x7F800000) | (exp >= 0x7E800000)
    for i in np.flatnonzero(odd).tolist():
        values[i] = one(raws[i])
    return values


_F = TypeVar("_F", bound=Callable[..., Any])


def gc_paused(fn: _F) -> _F:
    """Run ``fn`` with the cyclic garbage collector off: a reader making a
    point object per value (millions, none in a cycle) otherwise triggers
    collections that walk every object made so far, over and over, and
    took about half of a first read. Turned back on after, if it was on."""

    @functools.wraps(fn)
    def paused(*args: Any, **kwargs: Any) -> Any:
        was = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if was:
                gc.enable()

    return paused  # type: ignore[return-value]
