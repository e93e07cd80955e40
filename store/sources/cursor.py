"""Per-file cursors: what a source's reader has read of each file, and what
changed since.

A cursor keeps the file's inode, size and mtime when last read, and where
reading resumes: a byte offset (after the last complete line or record) or,
for SQLite, the last row id read. A file is ``same`` (nothing to read),
``grown`` (read from the cursor on) or ``rewritten`` (another inode, or
shorter than what was read: read it again from the start).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

SAME, GROWN, REWRITTEN = "same", "grown", "rewritten"


@dataclass
class Cursor:
    """One file of a source, as far as it was read."""

    rel: str  # path relative to the source root
    how: str  # how it is read again: a stream kind ("tfevents", "mlflow", ...) or "whole"
    run: str  # the catalog run it feeds ("" for a file of the whole source)
    ino: int = 0
    size: int = 0
    mtime_ns: int = 0
    offset: int = 0  # bytes read (or the last row id, for SQLite)
    spec: dict[str, Any] = field(default_factory=dict)  # key, header, prefix... per kind

    def change(self, ino: int, size: int, mtime_ns: int) -> str:
        if (ino, size, mtime_ns) == (self.ino, self.size, self.mtime_ns):
            return SAME
        if self.how == "sqlite_rows":  # offset is a row id: any change may be new rows
            return GROWN if ino == self.ino and self.offset >= 0 else REWRITTEN
        if self.how == "sidecar":
            return GROWN
        if ino != self.ino or size < self.offset:
            return REWRITTEN
        if self.how == "whole":
            return REWRITTEN
        return GROWN if size > self.offset else SAME

    # Stored in the catalog's ``files`` table: ``name`` holds the path, how
    # and the spec that never changes (JSON), so a row is replaced by its
    # (run, name); what changes as it is read goes in the number columns: a
    # run row's heartbeat in ``mtime_ns``, the last epoch of a results.csv in
    # ``lines``.
    def row(self) -> list[Any]:
        static = {k: v for k, v in self.spec.items() if k not in _MUTABLE}
        name = json.dumps({"f": self.rel, "h": self.how, **static}, sort_keys=True)
        mtime, lines = self.mtime_ns, int(self.spec.get("last", 0))
        if self.how == "run":
            hb = self.spec.get("hb")
            mtime = int(hb * 1e9) if hb else 0
        return [self.run, name, self.ino, self.size, mtime, self.offset, lines]

    @classmethod
    def from_row(
        cls, run: str, name: str, ino: int, size: int, mtime: int, offset: int, lines: int
    ) -> Cursor:
        doc = json.loads(name)
        rel, how = doc.pop("f"), doc.pop("h")
        if how == "run":
            doc["hb"] = mtime / 1e9 if mtime else None  # as_stored's values
        elif how == "results_csv":
            doc["last"] = lines
        return cls(rel, how, run, ino, size, mtime, offset, doc)


_MUTABLE = ("hb", "last", "keep")


def as_stored(hb: float | None) -> float | None:
    """A run's heartbeat as its row keeps it (whole nanoseconds): the value
    every process sees, the one that read it first and those that load it
    from the catalog later (a float's trip through nanoseconds may move it by
    one unit in the last place, and a status then looks changed)."""
    return int(hb * 1e9) / 1e9 if hb else hb


@dataclass
class Progress:
    """What a source read: bytes and rows, and how far the first read got."""

    bytes_read: int = 0
    rows_read: int = 0
    runs_done: int = 0
    runs_total: int = 0
    phase: str = ""

    def line(self) -> str:
        done = f"{self.runs_done}/{self.runs_total} runs" if self.runs_total else ""
        return " ".join(x for x in (self.phase, done, f"{self.bytes_read:,} bytes") if x)
