"""Sources: what a catalog indexes besides its own store's run directories
(DESIGN §9). A source is a root, a kind, the box it is on and its location;
``foreign.ForeignSource`` reads a folder of another tool's runs through,
following its files with per-file cursors (``cursor.py``, ``streams.py``).

``trackui PATH`` on such a folder opens a catalog over an empty store of
its own under the cache directory, whose ``.sources.json`` names PATH:
``sources_of`` reads it when the catalog opens. Nothing is written into PATH.
Several sources, or a ``host:path`` one, go the same way (``session.py``):
each entry then says its kind (``trackui`` for another native store, read
by ``native.NativeStore``), its box and its location; a remote one is read
through a mirror (``store/remote/source.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import paths
from .native import NativeStore

# The foreign readers (``foreign.py`` and every tool's reader behind it) are
# loaded only when a store names a foreign source: a native store's catalog,
# what the ``trackui`` command opens first, starts without them.
_LAZY = {
    "Cursor": ".cursor",
    "Progress": ".cursor",
    "ForeignSource": ".foreign",
    "run_key": ".foreign",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SOURCES_FILE",
    "bind",
    "bind_all",
    "Cursor",
    "ForeignSource",
    "NativeStore",
    "Progress",
    "read_through_store",
    "run_key",
    "sources_of",
]

#: In a catalog's store root: the sources it reads besides its run directories.
SOURCES_FILE = ".sources.json"


def sources_of(root: Path, clock: Callable[[], float] = time.time) -> list[Any]:
    """The sources a store root names in its ``.sources.json`` (none when absent):
    ``ForeignSource``, ``NativeStore`` or ``RemoteSource`` objects."""
    try:
        with open(os.path.join(root, SOURCES_FILE), encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError):
        return []
    out: list[Any] = []
    connections: dict[str, Any] = {}  # several roots on one box share one ssh
    for item in doc.get("sources", []) if isinstance(doc, dict) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("kind") if isinstance(item.get("kind"), str) else None
        box = item.get("box") if isinstance(item.get("box"), str) else "local"
        location = item.get("location") if isinstance(item.get("location"), str) else None
        if isinstance(item.get("remote"), str):
            from ..remote.source import RemoteSource

            try:
                out.append(
                    RemoteSource.named(
                        item["remote"], Path(root), kind=kind, clock=clock, connections=connections
                    )
                )
            except ValueError:  # not a host:path (a hand-edited file): nothing to read
                continue
        elif isinstance(item.get("path"), str):
            if kind == "trackui":
                out.append(NativeStore(item["path"], location=location))
            else:
                from .foreign import ForeignSource

                out.append(
                    ForeignSource(item["path"], kind=kind, box=box, location=location, clock=clock)
                )
    return out


def read_through_store(path: Path, kind: str | None = None) -> Path:
    """The store root under the cache directory whose catalog reads ``path``
    through (made on first use; never inside ``path``)."""
    real = os.path.realpath(path)
    digest = hashlib.sha256(f"{real}\0{kind or ''}".encode()).hexdigest()[:16]
    root = paths.cache_dir() / "sources" / f"{paths.safe_segment(os.path.basename(real))}-{digest}"
    bind(root, Path(real), kind)
    return root


def bind(root: Path, path: Path, kind: str | None = None) -> None:
    """Make the store ``root`` read ``path`` through (written only when it changes)."""
    bind_all(root, [{"path": os.path.abspath(path), "kind": kind, "box": "local"}])


def bind_all(root: Path, entries: list[dict[str, Any]]) -> None:
    """Make the store ``root`` read every source of ``entries`` (written only
    when it changes)."""
    root.mkdir(parents=True, exist_ok=True)
    doc = {"sources": entries}
    target = root / SOURCES_FILE
    try:
        same = json.loads(target.read_text(encoding="utf-8")) == doc
    except (OSError, ValueError):
        same = False
    if not same:
        tmp = root / f".{SOURCES_FILE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(tmp, target)
