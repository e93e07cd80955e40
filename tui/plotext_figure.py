"""plotext's figure class, loaded without the rest of plotext.

``import plotext`` runs the package's ``__init__``, which imports its whole
module-level API (``plotext._core``) and, for it, the documentation of every
method (``plotext._doc``): about half of plotext's import time, on the way
to the first chart. trackui draws on figure objects only (``figure_class``:
``plotext._figure._figure_class``, with ``plotext._utility``), so here the
package is entered without running its ``__init__``, and the figure's module
is imported alone, with plotext's hook that attaches documentation to the
figure's methods turned off while it loads.

Nothing else in the process loses anything: the package completes itself
(runs the ``__init__`` it skipped) the first time a name it lacks is asked
for (``plotext.plot``, ``from plotext import __version__``). Where plotext
is already imported, or this way fails, it is imported the usual way.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import sys
import threading
import types
from typing import Any

_LOCK = threading.Lock()
#: names the package's ``__init__`` defines that complete it when asked for
_PUBLIC_DUNDERS = ("__version__", "__all__")


class _Package(types.ModuleType):
    """The ``plotext`` package before its ``__init__`` has run."""

    _completing = False

    def __getattr__(self, name: str) -> Any:
        if type(self)._completing or (name.startswith("_") and name not in _PUBLIC_DUNDERS):
            # a submodule (``from plotext import _utility`` imports it) or an
            # attribute Python probes for
            raise AttributeError(name)
        type(self)._completing = True
        try:
            spec = self.__spec__
            assert spec is not None and spec.loader is not None
            spec.loader.exec_module(self)  # plotext's own __init__: the whole API
        finally:
            type(self)._completing = False
        self.__class__ = types.ModuleType  # complete: plain lookups from now on
        return getattr(self, name)


def figure_class() -> type:
    """plotext's figure class (``plotext._figure._figure_class``)."""
    with _LOCK:
        if "plotext._figure" not in sys.modules and "plotext" not in sys.modules:
            try:
                _load_figure_alone()
            except Exception:  # another plotext than the one this was written for
                for name in [m for m in sys.modules if m == "plotext" or m.startswith("plotext.")]:
                    del sys.modules[name]
        from plotext import _utility
        from plotext._figure import _figure_class

        for name, faster in (("hd_group", _hd_group), ("get_lines", _get_lines)):
            if getattr(_utility, name) is not faster:
                faster.__wrapped__ = getattr(_utility, name)  # type: ignore[attr-defined]
                setattr(_utility, name, faster)
        return _figure_class


def _load_figure_alone() -> None:
    spec = importlib.util.find_spec("plotext")
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        raise ImportError("plotext is not a package here")
    package = importlib.util.module_from_spec(spec)
    package.__class__ = _Package
    sys.modules["plotext"] = package
    doc_utils = importlib.import_module("plotext._doc_utils")
    add = doc_utils.add
    doc_utils.add = lambda *args, **kwargs: None  # the figure's methods keep no plotext docs
    try:
        importlib.import_module("plotext._figure")
    finally:
        doc_utils.add = add


def _hd_group(x: list[Any], y: list[Any], xf: list[int], yf: list[int]) -> Any:
    """plotext's ``_utility.hd_group`` (the canvas points of a line grouped
    into cells: each cell's coordinates and the dots of its marker), for
    the case the chart draws (one marker, so one size of cell for every
    point), without making a new matrix for every point of a cell. Anything
    else goes to plotext's own. Same result, same order: a cell's first
    point places it; a dot is set by every numerical point in it."""
    original = _hd_group.__wrapped__  # type: ignore[attr-defined]
    if not x or len(x) != len(y) or len(xf) != len(x) or len(yf) != len(x):
        return original(x, y, xf, yf)
    xfm, yfm = max(xf), max(yf)
    if min(xf) != xfm or min(yf) != yfm:
        return original(x, y, xf, yf)
    isnan, floor = math.isnan, math.floor
    size = xfm * yfm
    cells: dict[tuple[Any, Any], list[int]] = {}
    for xi, yi in zip(x, y):
        if type(xi) is int and type(yi) is int:  # nearly every point: canvas cells
            key = (xi // xfm, yi // yfm)
            dots = cells.get(key)
            if dots is None:
                dots = cells[key] = [0] * size
            dots[(yfm - 1 - yi % yfm) * xfm + xi % xfm] = 1
            continue
        if type(xi) is str or type(yi) is str:  # dates as text: plotext's own rules
            return original(x, y, xf, yf)
        x_num = not (xi is None or isnan(xi))
        y_num = not (yi is None or isnan(yi))
        key = (xi // xfm if x_num else xi, yi // yfm if y_num else yi)
        dots = cells.get(key)
        if dots is None:
            dots = cells[key] = [0] * size
        kx, ky = key
        if not (kx is None or isnan(kx) or ky is None or isnan(ky)):
            kx, ky = floor(xi % xfm), floor(yi % yfm)
            if kx >= xfm or ky >= yfm:  # a float's remainder rounded up: plotext's own fails
                return original(x, y, xf, yf)
            # plotext's matrix rows, last row first, flattened
            dots[(yfm - 1 - ky) * xfm + kx] = 1
    xs, ys = (list(axis) for axis in zip(*cells))
    return xs, ys, [tuple(dots) for dots in cells.values()]


def _get_lines(x: list[Any], y: list[Any], *other: list[Any]) -> Any:
    """plotext's ``_utility.get_lines`` (the canvas points of the lines
    between each point and the next, and the marker, colour and style of
    each, ``other``, repeated along them), for the case the chart draws
    (canvas cells, all whole numbers), with plotext's arithmetic and none of
    its per-segment lists. Anything else goes to plotext's own."""
    original = _get_lines.__wrapped__  # type: ignore[attr-defined]
    count = len(x)
    if (
        not count
        or len(y) != count
        or any(len(column) != count for column in other)
        or not all(type(v) is int for v in x)
        or not all(type(v) is int for v in y)
    ):
        return original(x, y, *other)
    from plotext._utility import transpose

    per_point = transpose(other, len(other))
    xl: list[int] = []
    yl: list[int] = []
    ol: list[Any] = []
    for n in range(count - 1):
        x0, x1, y0, y1 = x[n], x[n + 1], y[n], y[n + 1]
        steps = max(abs(x1 - x0), abs(y1 - y0))  # plotext's points along it, less the last
        if steps:
            sx, sy = (x1 - x0) / steps, (y1 - y0) / steps  # plotext's linspace
            xl += [int(x0 + k * sx) for k in range(steps)]
            yl += [int(y0 + k * sy) for k in range(steps)]
            ol += [per_point[n]] * steps
    xl.append(x[-1])
    yl.append(y[-1])
    ol.append(per_point[-1])
    return [xl, yl, *transpose(ol, len(other))]
