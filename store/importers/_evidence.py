"""What the readers infer a run's status from, when the tool records none or
one that a killed process leaves behind: times, file mtimes, epochs logged."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._config import planned_epochs
from .base import Point


def latest(a: float | None, b: float | None) -> float | None:
    """The later of two times, either of which may be unknown."""
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def newest_mtime(root: Path, *, prune: Callable[[Path], bool] | None = None) -> float | None:
    """The newest mtime of any file below ROOT, None when there is none.

    Directories for which ``prune`` is true are not entered.
    """
    newest: float | None = None
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if prune is not None:
            dirnames[:] = [d for d in dirnames if not prune(here / d)]
        for name in filenames:
            m = mtime(here / name)
            if m is not None and (newest is None or m > newest):
                newest = m
    return newest


def ago(seconds: float) -> str:
    """A duration as a status reason says it: "90 s", "12 min", "5 h", "3 d" (rounded down)."""
    s = max(0, int(seconds))
    if s < 120:
        return f"{s} s"
    if s < 2 * 3600:
        return f"{s // 60} min"
    if s < 2 * 86400:
        return f"{s // 3600} h"
    return f"{s // 86400} d"


def epochs_short(
    params: dict[str, Any], points: list[Point], *, done: int | None = None
) -> str | None:
    """Evidence of an early stop: a planned epoch count found in the params
    (``epochs``, ``schedule.epochs``, ``trainer.max_epochs``, ... see
    ``_config.EPOCH_KEYS``) and fewer epochs logged: ``"n of N epochs"``.

    ``done`` is the number of epochs the run finished when the reader knows
    it; otherwise it is read from an ``epoch`` curve (counting from 0 or 1,
    a full run has N distinct values or reaches N).
    """
    plan = planned_epochs(params)
    if plan is None:
        return None
    target = plan[0]
    if done is None:
        seen = [p.value for p in points if p.key == "epoch" and p.value == p.value]
        if not seen:
            return None
        done = max(len(set(seen)), int(max(seen)))
    if done < target:
        return f"{done} of {target} epochs"
    return None
