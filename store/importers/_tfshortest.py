"""Float32 scalars made into the shortest decimal naming them, a whole
array at a time with NumPy: the same floats as ``_tfscalars.shortest_float32``
(a test holds them together over random bit patterns), without a string
per value.

For d significant digits, ``float("%.<d>g" % v)`` is ``m / 10**k`` (or
``m * 10**-k``), with ``k = d - 1 - e``, ``e`` the decimal exponent of
``v`` and ``m`` the integer ``v * 10**k`` rounded half to even. While
``|k| <= 22`` the power of ten is an exact double, so ``v * 10**k`` and the
last step are each one correctly rounded operation, and the result is the
double nearest the decimal, as Python's ``float()`` gives. ``m`` is right
unless the rounded product is exactly half way between integers (a true
tie or a product rounded onto one): such values take the digit search. So
do values whose ``m`` has not d digits (``e`` was off by one, which can only
show that way), zeros, subnormals, powers of two, non-finite and huge ones.

Of the d that read back as the same float32, the least is kept: d = 7 is
tried first (most computed values need 7 or 8), then fewer while they read
back, or 8 and 9 when 7 does not. For a normal float32 that is not a power
of two, "d digits read back" is monotone in d (``_tfscalars``), so the
first failure going down ends the search.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

_POW10 = np.array([10.0**k for k in range(23)], dtype=np.float64)  # all exact
_CACHE_MAX = 1 << 16


def _attempt(d: int, xs: Any, fs: Any, e: Any) -> tuple[Any, Any, Any]:
    """``(candidate, clean, reads back)`` of rounding ``xs`` to d digits."""
    k = d - 1 - e
    in_range = (k >= -22) & (k <= 22)
    scale = _POW10[np.minimum(np.abs(k), 22)]
    up = k >= 0
    if up.all():  # values under 10**(d-1), the usual case: one branch
        product = xs * scale
        m = np.rint(product)
        cand = m / scale
    else:
        product = np.where(up, xs * scale, xs / scale)
        m = np.rint(product)
        cand = np.where(up, m / scale, m * scale)
    tie = np.abs(product - np.trunc(product)) == 0.5
    am = np.abs(m)
    clean = in_range & ~tie & (am > _POW10[d - 1]) & (am < _POW10[d])
    back = cand.astype(np.float32) == fs
    return cand, clean, back


def shortest_array(f32: Any, one: Callable[[bytes], float], cache: dict[bytes, float]) -> Any:
    """The float64 array of ``one(raw)`` for every float32 of ``f32`` (see the module doc)."""
    f32 = np.ascontiguousarray(f32, dtype="<f4")
    with np.errstate(all="ignore"):
        x = f32.astype(np.float64)
    out = x.copy()
    bits = f32.view(np.uint32)
    exp = bits & 0x7F800000
    odd = ((bits & 0x7FFFFF) == 0) | (exp == 0) | (exp >= 0x7E800000)
    good = np.flatnonzero(~odd)
    slow = [np.flatnonzero(odd)]
    if good.size:
        with np.errstate(all="ignore"):
            xs, fs = x[good], f32[good]
            e = np.floor(np.log10(np.abs(xs))).astype(np.int64)
            res = xs.copy()
            bad = np.zeros(good.size, dtype=bool)
            cand, clean7, back7 = _attempt(7, xs, fs, e)
            bad |= ~clean7
            hit = clean7 & back7
            res[hit] = cand[hit]
            cur = np.flatnonzero(hit)
            more = np.flatnonzero(clean7 & ~back7)
            for d in range(6, 0, -1):  # fewer digits while they read back
                if not cur.size:
                    break
                cand, clean, back = _attempt(d, xs[cur], fs[cur], e[cur])
                bad[cur[~clean]] = True
                ok = clean & back
                res[cur[ok]] = cand[ok]
                cur = cur[ok]
            for d in (8, 9):
                if not more.size:
                    break
                cand, clean, back = _attempt(d, xs[more], fs[more], e[more])
                bad[more[~clean]] = True
                ok = clean & back
                res[more[ok]] = cand[ok]
                more = more[clean & ~back]
            bad[more] = True  # 9 digits always read back: never, but not guessed
        out[good] = res
        slow.append(good[bad])
    todo = np.concatenate(slow)
    if todo.size:
        raw = f32.tobytes()
        for i in todo.tolist():
            r = raw[4 * i : 4 * i + 4]
            v = cache.get(r)
            if v is None:
                if len(cache) >= _CACHE_MAX:
                    cache.clear()
                v = cache[r] = one(r)
            out[i] = v
    return out
