"""The importers' way to the one bounded opener (``trackui.store.opener``).

Every file is read the same careful way: not through a symlink that leaves
the import root, regular files only (a FIFO never blocks a reader, a device
never floods it), at most ``cap`` bytes for a whole-file read, big files in
ranges. A file that fails any of these raises ``Refused``, an ``OSError``,
so the readers' existing ``except OSError`` turns it into one ``problems``
line that costs only its own run.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ..opener import Opener, UnsafeFile

#: The most bytes read from one small text file (a CSV, a JSON state, a YAML).
TEXT_CAP = 256 * 1024 * 1024
#: Bytes asked of the opener per range read when streaming.
CHUNK = 1 << 20


class Seen:
    """What a reader read of one file, while ``recording``: the file's stat
    when opened, the bytes read from its start, and the end of its last
    complete line among them (where reading more should resume)."""

    __slots__ = ("ino", "size", "mtime_ns", "read", "line_end", "end")

    def __init__(self, ino: int, size: int, mtime_ns: int) -> None:
        self.ino, self.size, self.mtime_ns = ino, size, mtime_ns
        self.read = 0
        self.line_end = 0
        self.end: int | None = None  # set by a record reader: after the last whole record


_LOCAL = threading.local()


@contextmanager
def recording() -> Iterator[dict[str, Seen]]:
    """While inside, every file read through this module in this thread is
    noted (absolute path -> ``Seen``): the sources layer learns from it which
    files a reader used and where to resume. Nesting is not supported."""
    seen: dict[str, Seen] = {}
    _LOCAL.seen = seen
    try:
        yield seen
    finally:
        _LOCAL.seen = None


def _note(name: str, st: object, start: int, data: bytes) -> None:
    seen = getattr(_LOCAL, "seen", None)
    if seen is None:
        return
    entry = seen.get(name)
    if entry is None or start == 0:
        entry = seen[name] = Seen(st.ino, st.size, st.mtime_ns)  # type: ignore[attr-defined]
    if start == entry.read:  # contiguous reads from the start
        entry.read = start + len(data)
        cut = data.rfind(b"\n")
        if cut >= 0:
            entry.line_end = start + cut + 1


def note_end(path: Path, end: int) -> None:
    """A record reader says where its last whole record of ``path`` ended."""
    seen = getattr(_LOCAL, "seen", None)
    if seen is not None:
        entry = seen.get(os.path.abspath(path))
        if entry is not None:
            entry.end = end


class Refused(OSError):
    """The file is not one a reader may open (not regular, outside the root, too big)."""


def _opener(path: Path, root: Path | None) -> tuple[Opener, str]:
    top = Path(root) if root is not None else Path(path).parent
    return Opener(os.path.abspath(top)), os.path.abspath(path)


def stat_regular(path: Path, *, root: Path | None = None) -> int:
    """The size of a regular file under ``root`` (OSError for anything else:
    missing, a FIFO, a device, a link out of the root)."""
    opener, rel = _opener(path, root)
    try:
        st = opener.stat(rel)
    except UnsafeFile as exc:
        raise OSError(str(exc)) from None
    if st is None:
        raise FileNotFoundError(str(path))
    return st.size


def read_bytes(path: Path, *, root: Path | None = None, cap: int = TEXT_CAP) -> bytes:
    """The bytes of a regular file below ``root`` (default: the file's own
    directory); ``Refused`` (an ``OSError``) otherwise."""
    opener, name = _opener(path, root)
    try:
        data, st = opener.read(name, limit=cap)
    except UnsafeFile as exc:
        raise Refused(exc.reason) from None
    _note(name, st, 0, data)
    return data


class _RangeFile:
    """A read-only, forward-reading file object over ``Opener.read_range``."""

    def __init__(self, opener: Opener, name: str, start: int = 0) -> None:
        self._opener = opener
        self._name = name
        self._pos = start

    def read(self, n: int = -1) -> bytes:
        want = CHUNK if n is None or n < 0 else n
        out = []
        while want > 0:
            try:
                data, st = self._opener.read_range(self._name, self._pos, min(want, CHUNK))
            except UnsafeFile as exc:
                raise Refused(exc.reason) from None
            _note(self._name, st, self._pos, data)
            if not data:
                break
            self._pos += len(data)
            want -= len(data)
            out.append(data)
            if n is None or n < 0:
                want = CHUNK
        return b"".join(out)

    def __enter__(self) -> _RangeFile:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def open_regular(path: Path, *, root: Path | None = None, start: int = 0) -> BinaryIO:
    """A binary file object on a regular file below ``root`` (for readers that
    stream a big file in chunks); ``Refused`` (an ``OSError``) when the file
    is special, missing or leaves the root. Every read goes through the
    bounded opener."""
    opener, name = _opener(path, root)
    try:
        if opener.stat(name) is None:
            raise FileNotFoundError(2, "No such file or directory", name)
    except UnsafeFile as exc:
        raise Refused(exc.reason) from None
    return _RangeFile(opener, name, start)  # type: ignore[return-value]


def read_text(path: Path, *, root: Path | None = None, cap: int = TEXT_CAP) -> str:
    """``read_bytes`` decoded as UTF-8, undecodable bytes replaced."""
    return read_bytes(path, root=root, cap=cap).decode("utf-8", "replace")


def why(exc: OSError) -> str:
    """The short reason of a failed read, for a problems line."""
    return exc.strerror or str(exc)
