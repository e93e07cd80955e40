"""Run directory format 1: small helpers to write and read its files.

Writers append whole lines and replace whole JSON files by atomic rename;
readers accept a torn last line (the writer died mid-write) and ignore keys
and files they do not know. Standard library only: the logging shim uses it.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: The most ``read_json`` and ``complete_lines`` read of one file.
MAX_DOCUMENT = 64 * 1024 * 1024


def umask() -> int:
    """The process's umask, read without changing it (``os.umask`` can only
    be read by setting it, which races with other threads creating files)."""
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def file_mode() -> int:
    """The mode a plain ``open()`` would give a new file: ``0o666 & ~umask``."""
    return 0o666 & ~umask()


def atomic_write_json(path: Path, obj: Any) -> None:
    """Replace ``path`` with ``obj`` as JSON, never leaving a half-written file.
    The file gets the umask's mode, like any other file the user writes
    (``mkstemp`` alone would make it 0600 and hide it from a team)."""
    data = json.dumps(obj, indent=1, sort_keys=False, default=str).encode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            os.fchmod(fd, file_mode())
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        os.unlink(tmp)
        raise
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object file, or None when missing or unreadable. Bounded like
    every reader: a regular file only (opened non-blocking, so a FIFO cannot
    hang it), at most ``MAX_DOCUMENT`` bytes, nesting and strings checked by
    ``bounded_json``."""
    data = _read_regular(path, MAX_DOCUMENT)
    if data is None:
        return None
    from .bounded_json import loads  # not at import: the shim never reads

    try:
        obj = loads(data)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def _read_regular(path: Path, cap: int, offset: int = 0) -> bytes | None:
    """Up to ``cap`` bytes of a regular file from ``offset``; None when it is
    missing, not a regular file, or longer than ``cap`` from there."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size - offset > cap:
            return None
        return os.pread(fd, cap, offset)
    except OSError:
        return None
    finally:
        os.close(fd)


def append_line(path: Path, obj: Any) -> None:
    """Append one JSON line; a torn line left by a dead writer is closed first
    so the new record starts on a line of its own."""
    line = json.dumps(obj, default=str) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        if os.fstat(fd).st_size and _last_byte(path) != b"\n":
            line = "\n" + line
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1)


def complete_lines(path: Path, offset: int = 0) -> tuple[bytes, int]:
    """The bytes from ``offset`` up to and including the last newline, and the
    offset just past them. A torn last line stays for the next call; a file
    that is not regular, or more than ``MAX_DOCUMENT`` bytes past ``offset``,
    reads as nothing (the catalog reads big files through ``opener.py``)."""
    data = _read_regular(path, MAX_DOCUMENT, offset)
    if not data:
        return b"", offset
    end = data.rfind(b"\n")
    if end < 0:
        return b"", offset
    return data[: end + 1], offset + end + 1


def parse_lines(chunk: bytes) -> Iterator[dict[str, Any]]:
    """JSON objects of a chunk of complete lines; corrupt, too deep and
    non-object lines are skipped."""
    from .bounded_json import parse_lines as parse  # not at import: the shim never reads

    for obj in parse(chunk):
        if obj is not None:
            yield obj


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """All complete JSON-object lines of a file (empty when missing)."""
    chunk, _ = complete_lines(path)
    return list(parse_lines(chunk))


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts to dotted keys: ``{"opt": {"lr": 1}}`` -> ``{"opt.lr": 1}``."""
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for key, value in obj.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict) and value:
                out.update(flatten(value, name))
            else:
                out[name] = value
    elif prefix:
        out[prefix] = obj
    return out
