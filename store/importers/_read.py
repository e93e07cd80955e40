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
from pathlib import Path
from typing import BinaryIO

from ..opener import Opener, UnsafeFile

#: The most bytes read from one small text file (a CSV, a JSON state, a YAML).
TEXT_CAP = 256 * 1024 * 1024
#: Bytes asked of the opener per range read when streaming.
CHUNK = 1 << 20


class Refused(OSError):
    """The file is not one a reader may open (not regular, outside the root, too big)."""


def _opener(path: Path, root: Path | None) -> tuple[Opener, str]:
    top = Path(root) if root is not None else Path(path).parent
    return Opener(os.path.abspath(top)), os.path.abspath(path)


def read_bytes(path: Path, *, root: Path | None = None, cap: int = TEXT_CAP) -> bytes:
    """The bytes of a regular file below ``root`` (default: the file's own
    directory); ``Refused`` (an ``OSError``) otherwise."""
    opener, name = _opener(path, root)
    try:
        data, _ = opener.read(name, limit=cap)
    except UnsafeFile as exc:
        raise Refused(exc.reason) from None
    return data


class _RangeFile:
    """A read-only, forward-reading file object over ``Opener.read_range``."""

    def __init__(self, opener: Opener, name: str) -> None:
        self._opener = opener
        self._name = name
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        want = CHUNK if n is None or n < 0 else n
        out = []
        while want > 0:
            try:
                data, _ = self._opener.read_range(self._name, self._pos, min(want, CHUNK))
            except UnsafeFile as exc:
                raise Refused(exc.reason) from None
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


def open_regular(path: Path, *, root: Path | None = None) -> BinaryIO:
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
    return _RangeFile(opener, name)  # type: ignore[return-value]


def read_text(path: Path, *, root: Path | None = None, cap: int = TEXT_CAP) -> str:
    """``read_bytes`` decoded as UTF-8, undecodable bytes replaced."""
    return read_bytes(path, root=root, cap=cap).decode("utf-8", "replace")


def why(exc: OSError) -> str:
    """The short reason of a failed read, for a problems line."""
    return exc.strerror or str(exc)
