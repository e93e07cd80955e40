"""A trackui store read beside the catalog's own (``trackui ./a ./b``, or a
remote box's mirror), and the opener that reads under several roots.

A native source adds no rows of its own: its run directories are found by
the catalog's scan (``run_dirs.py`` walks ``native_root`` beside the store
root) and read by the same native sync; this class gives them a box and a
location, and answers the catalog's source protocol with nothing to do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..opener import Opener


class NativeStore:
    """A local trackui store named among a session's sources."""

    kind = "trackui"

    def __init__(self, root: str | os.PathLike[str], *, location: str | None = None) -> None:
        self.root = Path(os.path.abspath(root))
        self.box = "local"
        self.location = location or str(self.root)
        self.runs: dict[str, Any] = {}
        self.on_progress: Any = None
        self.problems: list[str] = []

    @property
    def native_root(self) -> Path | None:
        return self.root if self.root.is_dir() else None

    def heartbeat(self, run_id: str) -> float | None:
        return None

    def forget(self) -> None:
        pass

    def refresh(self, catalog: Any) -> tuple[int, int]:
        return 0, 0


class RootsOpener:
    """The catalog's opener over its store root plus other native roots: a
    path under one of them is read by that root's own bounded opener (so
    nothing resolves out of the root it was found in)."""

    def __init__(self, main: Opener) -> None:
        self.main = main
        self._others: list[tuple[str, Opener]] = []

    def add(self, root: str | os.PathLike[str]) -> None:
        top = os.path.abspath(root)
        if os.path.realpath(top).startswith(self.main.real_root + os.sep):
            return  # inside the store root (a mirror): the main opener reads it
        if all(prefix != top + os.sep for prefix, _ in self._others):
            self._others.append((top + os.sep, Opener(top)))

    def _pick(self, rel: Any) -> Opener:
        path = os.fspath(rel)
        if self._others and os.path.isabs(path):
            for prefix, opener in self._others:
                if path.startswith(prefix):
                    return opener
        return self.main

    def __getattr__(self, name: str) -> Any:
        return getattr(self.main, name)

    def list(self, rel: Any = "") -> Any:
        return self._pick(rel).list(rel)

    def stat(self, rel: Any) -> Any:
        return self._pick(rel).stat(rel)

    def exists(self, rel: Any) -> bool:
        return self._pick(rel).exists(rel)

    def read(self, rel: Any, *, limit: int | None = None) -> Any:
        return self._pick(rel).read(rel, limit=limit)

    def read_range(self, rel: Any, offset: int, n: int) -> Any:
        return self._pick(rel).read_range(rel, offset, n)

    def read_lines(self, rel: Any, offset: int = 0) -> Any:
        return self._pick(rel).read_lines(rel, offset)
