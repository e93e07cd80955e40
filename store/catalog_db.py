"""What the catalog needs to know about DuckDB's errors and files: which
errors mean a damaged (or full, or unwritable) catalog rather than a bad
query, and which catalog files this process already has open."""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

import duckdb

from .fmt import repair


def _absent_stays_absent(names: tuple[str, ...] = ("pandas",)) -> None:
    """DuckDB's Python client looks for pandas again for every item of a
    list it binds (``?::VARCHAR[]``) while pandas is not installed: about
    0.2 ms an item, 50 ms for one page of the run list. Where a module is
    not installed, mark it absent once, so each of those lookups fails at
    once (what it would do anyway, only slower)."""
    import importlib.util
    import sys

    for name in names:
        if name not in sys.modules and importlib.util.find_spec(name) is None:
            sys.modules[name] = None  # type: ignore[assignment]


_absent_stays_absent()

_DAMAGE_WORDS = (
    "checksum",
    "corrupt",
    "invalidated",
    "not a valid duckdb",
    "serializ",
    "failed to read",
    "no space",
    "could not write",
    "read-only",
    "permission denied",
    "fatal",
)


def is_damage(exc: BaseException) -> bool:
    """Whether a DuckDB error means the catalog file (or its disk) is bad,
    rather than the query or the data it was given."""
    if not isinstance(exc, duckdb.Error):
        return False
    text = str(exc).lower()
    if lock_held(exc):
        return False
    if isinstance(
        exc,
        (
            duckdb.InternalException,
            duckdb.FatalException,
            duckdb.SerializationException,
            duckdb.IOException,
        ),
    ):
        return True
    return any(word in text for word in _DAMAGE_WORDS)


def lock_held(exc: BaseException) -> bool:
    """Another process holds the catalog file (not damage: a "block" error is not a lock)."""
    text = str(exc).lower()
    return isinstance(exc, duckdb.IOException) and (
        "set lock" in text or "conflicting lock" in text
    )


def unwritable(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(w in text for w in ("permission denied", "read-only", "no space", "not a directory"))


def why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = repair(str(exc)).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def close_quietly(con: Any) -> None:
    if con is None:
        return
    try:
        con.close()
    except Exception:
        pass


#: Catalog files this process has open (by real path).
_open_here: set[str] = set()
_open_lock = threading.Lock()


def claim(catalog: Any) -> weakref.finalize | None:
    """Mark ``catalog.path`` as open in this process and return what releases
    it (once: on close, or when the catalog is dropped without close); None
    when this process already has it open."""
    key = os.path.realpath(catalog.path)
    with _open_lock:
        if key in _open_here:
            return None
        _open_here.add(key)
    return weakref.finalize(catalog, _release, key)


def _release(key: str) -> None:
    with _open_lock:
        _open_here.discard(key)
