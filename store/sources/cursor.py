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

    # stored in the catalog's ``files`` table: name holds the rest as JSON
    def row(self) -> list[Any]:
        name = json.dumps({"f": self.rel, "h": self.how, **self.spec}, sort_keys=True)
        return [self.run, name, self.ino, self.size, self.mtime_ns, self.offset, 0]

    @classmethod
    def from_row(cls, run: str, name: str, ino: int, size: int, mtime: int, offset: int) -> Cursor:
        doc = json.loads(name)
        rel, how = doc.pop("f"), doc.pop("h")
        return cls(rel, how, run, ino, size, mtime, offset, doc)


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
