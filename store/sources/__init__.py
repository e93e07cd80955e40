"""Sources: what a catalog indexes besides its own store's run directories
(DESIGN §9). A source is a root, a kind, the box it is on and its location;
``foreign.ForeignSource`` reads a folder of another tool's runs through,
following its files with per-file cursors (``cursor.py``, ``streams.py``).

``trackui PATH`` on such a folder opens a catalog over an empty store of
its own under the cache directory, whose ``.sources.json`` names PATH:
``sources_of`` reads it when the catalog opens. Nothing is written into PATH.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from .. import paths
from .cursor import Cursor, Progress
from .foreign import ForeignSource, run_key

__all__ = [
    "SOURCES_FILE",
    "bind",
    "Cursor",
    "ForeignSource",
    "Progress",
    "read_through_store",
    "run_key",
    "sources_of",
]

#: In a catalog's store root: the sources it reads besides its run directories.
SOURCES_FILE = ".sources.json"


def sources_of(root: Path, clock: Callable[[], float] = time.time) -> list[ForeignSource]:
    """The sources a store root names in its ``.sources.json`` (none when absent)."""
    try:
        with open(os.path.join(root, SOURCES_FILE), encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError):
        return []
    out = []
    for item in doc.get("sources", []) if isinstance(doc, dict) else []:
        if isinstance(item, dict) and isinstance(item.get("path"), str):
            kind = item.get("kind") if isinstance(item.get("kind"), str) else None
            out.append(ForeignSource(item["path"], kind=kind, clock=clock))
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
    root.mkdir(parents=True, exist_ok=True)
    doc = {"sources": [{"path": os.path.abspath(path), "kind": kind, "box": "local"}]}
    target = root / SOURCES_FILE
    try:
        same = json.loads(target.read_text(encoding="utf-8")) == doc
    except (OSError, ValueError):
        same = False
    if not same:
        tmp = root / f".{SOURCES_FILE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(tmp, target)
