"""A run's points held as columns (NumPy arrays), not one ``Point`` each.

A reader that decodes many points at once (the TensorBoard reader with
NumPy, ``_tfcolumns``) hands them on as ``PointColumns``: the distinct key
names, and per point the index of its key, its step, value and time (NaN
when unknown). The sources layer (``sources/points.py``) inserts those
arrays into the catalog without making a Python object per point.

``PointColumns`` is also a read-only sequence of ``Point``: whoever iterates
it (the import into run files, tests, a reader's status rule) gets the same
points a list would give, made one at a time. An unknown time comes back as
``None``. Without NumPy nothing here is used: the readers keep their lists.

The helpers below (``concat``, ``renamed``, ``key_set``, ``sorted_by_t``)
take either a ``PointColumns`` or a list of points, so a reader's assembly
code is one path for both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

from .base import Point


def numpy_or_none() -> Any:
    try:
        import numpy
    except ImportError:
        return None
    return numpy


class PointColumns(Sequence[Point]):
    """Points as columns: ``names[ki[i]]``, ``step[i]``, ``value[i]``, ``t[i]``."""

    __slots__ = ("names", "ki", "step", "value", "t")

    def __init__(self, names: list[str], ki: Any, step: Any, value: Any, t: Any) -> None:
        self.names = names  # distinct keys (each at most once)
        self.ki = ki  # int32: index into names
        self.step = step  # int64
        self.value = value  # float64
        self.t = t  # float64, NaN when unknown

    @classmethod
    def empty(cls) -> PointColumns:
        np = numpy_or_none()
        return cls(
            [],
            np.zeros(0, np.int32),
            np.zeros(0, np.int64),
            np.zeros(0, np.float64),
            np.zeros(0, np.float64),
        )

    @classmethod
    def of(cls, points: Sequence[Point]) -> PointColumns:
        """Columns of a list of points (a value or step that is not a number
        raises ``TypeError``/``ValueError``/``OverflowError``: keep the list)."""
        if isinstance(points, PointColumns):
            return points
        np = numpy_or_none()
        index: dict[str, int] = {}
        ki = [index.setdefault(p.key, len(index)) for p in points]
        steps = [p.step for p in points]
        values = [p.value for p in points]
        if not all(type(s) is int for s in steps) or not all(type(v) is float for v in values):
            raise TypeError("points that are not (int step, float value)")
        ts = [math.nan if p.t is None else p.t for p in points]
        return cls(
            list(index),
            np.array(ki, dtype=np.int32),
            np.array(steps, dtype=np.int64),
            np.array(values, dtype=np.float64),
            np.array(ts, dtype=np.float64),
        )

    def __len__(self) -> int:
        return len(self.ki)

    def _point(self, i: int) -> Point:
        t = float(self.t[i])
        return Point(
            self.names[int(self.ki[i])],
            int(self.step[i]),
            float(self.value[i]),
            None if t != t else t,
        )

    @overload
    def __getitem__(self, i: int) -> Point: ...
    @overload
    def __getitem__(self, i: slice) -> list[Point]: ...
    def __getitem__(self, i: int | slice) -> Point | list[Point]:
        if isinstance(i, slice):
            return [self._point(j) for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        return self._point(i)

    def __iter__(self) -> Iterator[Point]:
        names = self.names
        for k, s, v, t in zip(
            self.ki.tolist(), self.step.tolist(), self.value.tolist(), self.t.tolist(), strict=True
        ):
            yield Point(names[k], s, v, None if t != t else t)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, tuple, PointColumns)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PointColumns({len(self)} points, keys={self.names!r})"

    def used_names(self) -> list[str]:
        """The keys that at least one point has."""
        np = numpy_or_none()
        if not len(self):
            return []
        return [self.names[i] for i in np.unique(self.ki).tolist()]


Points = list[Point] | PointColumns


def key_set(points: Points) -> set[str]:
    if isinstance(points, PointColumns):
        return set(points.used_names())
    return {p.key for p in points}


def renamed(points: Points, rename: Callable[[str], str]) -> Points:
    """The points with every key passed through ``rename`` (keys that become
    equal are one key)."""
    if not isinstance(points, PointColumns):
        return [Point(rename(p.key), p.step, p.value, p.t) for p in points]
    np = numpy_or_none()
    index: dict[str, int] = {}
    remap = [index.setdefault(rename(k), len(index)) for k in points.names]
    ki = np.array(remap, dtype=np.int32)[points.ki] if remap else points.ki
    return PointColumns(list(index), ki, points.step, points.value, points.t)


def concat(parts: list[Points]) -> Points:
    """The points of ``parts`` one after the other (columns when any part is)."""
    if not any(isinstance(p, PointColumns) for p in parts):
        out: list[Point] = []
        for p in parts:
            out.extend(p)
        return out
    cols = [PointColumns.of(p) if not isinstance(p, PointColumns) else p for p in parts]
    cols = [c for c in cols if len(c)] or cols[:1]
    if len(cols) == 1:
        return cols[0]
    np = numpy_or_none()
    index: dict[str, int] = {}
    kis = []
    for c in cols:
        remap = np.array([index.setdefault(k, len(index)) for k in c.names] or [0], np.int32)
        kis.append(remap[c.ki])
    return PointColumns(
        list(index),
        np.concatenate(kis),
        np.concatenate([c.step for c in cols]),
        np.concatenate([c.value for c in cols]),
        np.concatenate([c.t for c in cols]),
    )


def sorted_by_t(points: Points) -> Points:
    """Stably sorted by time, an unknown time as 0.0 (each writer's order kept)."""
    if not isinstance(points, PointColumns):
        return sorted(points, key=lambda p: p.t if p.t is not None else 0.0)
    np = numpy_or_none()
    t = points.t
    order = np.argsort(np.where(np.isnan(t), 0.0, t), kind="stable")
    return PointColumns(
        points.names, points.ki[order], points.step[order], points.value[order], t[order]
    )
