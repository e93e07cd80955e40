"""Event file directories of a first read decoded by a thread ahead of the
caller, when files are read into columns (NumPy): the C decoder
(``_tfdecode``) lets go of the GIL while it frames and decodes, and NumPy
for much of its work, so one core decodes the next runs while the other
inserts the last ones into the catalog (DuckDB lets go of it too). Read
record by record (no NumPy), every directory is read when asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Points the directories read ahead of the caller may hold (some 30 bytes each).
AHEAD_POINTS = 2_000_000


def read_ahead(plans: dict[Path, Any], read_dir: Callable[[Path], Any]) -> ReadAhead | None:
    """A ``ReadAhead`` over ``plans``' directories, None without columns."""
    from . import _tfevents

    if not _tfevents.columns_on():
        return None
    return ReadAhead(load_order(plans), read_dir)


def load_order(plans: dict[Path, Any]) -> list[Path]:
    """The directories in the order ``read_runs`` loads them (a run's parts,
    then its children that may fold into it), each once."""
    order: dict[Path, None] = {}
    for run_dir in sorted(plans):
        for part in plans[run_dir].parts:
            order.setdefault(part.dir)
        for child in sorted(plans):
            if child.parent == run_dir and [p.how for p in plans[child].parts] == ["own"]:
                order.setdefault(child)
    return list(order)


class ReadAhead:
    """``read_dir`` of each directory of ``order``, by a thread that runs
    ahead of the caller (``_mlflow_columns.ahead``); ``take`` hands them on.
    A directory asked for out of that order is read there and then."""

    def __init__(self, order: list[Path], read_dir: Callable[[Path], Any]) -> None:
        self._left = set(order)
        self._got: dict[Path, Any] = {}
        from ._mlflow_columns import ahead

        self._it = ahead(order, read_dir, held=_held, budget=AHEAD_POINTS)
        self._order = iter(order)
        self._read_dir = read_dir

    def take(self, d: Path) -> Any:
        if d in self._got:
            return self._got.pop(d)
        if d not in self._left:
            return self._read_dir(d)
        for got in self._order:
            self._left.discard(got)
            result = next(self._it)
            if got == d:
                return result
            self._got[got] = result
        return self._read_dir(d)  # not reached: d was still to come

    def close(self) -> None:
        self._it.close()
        self._got.clear()


def _held(result: Any) -> int:
    """What a directory read ahead holds, in points (one at least)."""
    return 1 + len(result[0].points)
