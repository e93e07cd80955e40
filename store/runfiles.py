"""Run directory format 1: small helpers to write and read its files.

Writers append whole lines and replace whole JSON files by atomic rename;
readers accept a torn last line (the writer died mid-write) and ignore keys
and files they do not know. Standard library only: the logging shim uses it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


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
    """A JSON object file, or None when missing or unreadable."""
    try:
        with open(path, "rb") as fh:
            obj = json.loads(fh.read())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


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
    offset just past them. A torn last line stays for the next call."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except OSError:
        return b"", offset
    end = data.rfind(b"\n")
    if end < 0:
        return b"", offset
    return data[: end + 1], offset + end + 1


def parse_lines(chunk: bytes) -> Iterator[dict[str, Any]]:
    """JSON objects of a chunk of complete lines; corrupt lines are skipped."""
    for raw in chunk.splitlines():
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError:
            continue
        if isinstance(obj, dict):
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
