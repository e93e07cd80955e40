"""Bounded reading of foreign files, for the readers that do not stream.

Every file is opened the same careful way: not through a symlink that leaves
the import root, regular files only (``O_NONBLOCK`` and ``fstat`` first, so a
FIFO or a device never blocks or floods a reader), at most ``cap`` bytes.
A file that fails any of these is reported as a ``problems`` line by the
caller and costs only its own run.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

#: The most bytes read from one small text file (a CSV, a JSON state, a YAML).
TEXT_CAP = 256 * 1024 * 1024


class Refused(OSError):
    """The file is not one a reader may open (not regular, outside the root, too big)."""


def inside(path: Path, root: Path | None) -> bool:
    """Whether ``path``, with every symlink resolved, stays below ``root``."""
    if root is None:
        return True
    real = os.path.realpath(path)
    top = os.path.realpath(root)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def read_bytes(path: Path, *, root: Path | None = None, cap: int = TEXT_CAP) -> bytes:
    """The bytes of a regular file below ``root``; ``Refused`` (an ``OSError``) otherwise."""
    if not inside(path, root):
        raise Refused(f"symlink leaves {root}")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Refused("not a regular file")
        if st.st_size > cap:
            raise Refused(f"{st.st_size} bytes, more than the {cap} read at most")
        chunks = []
        left = cap + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > cap:
            raise Refused(f"grew past the {cap} bytes read at most")
        return data
    finally:
        os.close(fd)


def open_regular(path: Path, *, root: Path | None = None) -> BinaryIO:
    """A binary file object on a regular file below ``root`` (for readers that
    stream a big file in chunks); ``Refused`` (an ``OSError``) otherwise."""
    if not inside(path, root):
        raise Refused(f"symlink leaves {root}")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Refused("not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_text(path: Path, *, root: Path | None = None, cap: int = TEXT_CAP) -> str:
    """``read_bytes`` decoded as UTF-8, undecodable bytes replaced."""
    return read_bytes(path, root=root, cap=cap).decode("utf-8", "replace")


def why(exc: OSError) -> str:
    """The short reason of a failed read, for a problems line."""
    return exc.strerror or str(exc)
