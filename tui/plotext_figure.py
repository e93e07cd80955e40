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
        from plotext._figure import _figure_class

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
