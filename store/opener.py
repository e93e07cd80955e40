"""The one bounded way to read a source's files: every byte a reader parses
comes through here.

A source is a root directory whose files are treated as hostile: only regular
files are read (a FIFO would hang the reader, ``/dev/zero`` would never end),
no path may resolve outside the root (a ``console.log`` linked to
``/etc/shadow`` must not be shown), and each read is capped (a whole file at
``max_file`` bytes, a line at ``max_line``). Files are opened with
``O_NONBLOCK | O_NOFOLLOW`` and checked with ``fstat`` before a byte is read.

The operations are the ones a remote helper can answer over a pipe as well:
``list`` a directory, ``stat`` a file, ``read`` a whole file, ``read_range``
a byte range and ``read_lines`` the complete lines from an offset. Paths are
relative to the root (``"proj/run/metrics.jsonl"``); each result carries the
``Stat`` (inode, size, mtime) of the file it was read from, so incremental
readers can tell an append from a rewrite.
"""

from __future__ import annotations

import errno
import os
import re
import stat as stat_mod
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

#: Whole-file reads (meta.json, config.json…) above this are refused.
MAX_FILE = 64 * 1024 * 1024
#: A line longer than this is skipped (read as an empty line).
MAX_LINE = 16 * 1024 * 1024
#: Bytes of lines handed out per ``read_lines`` call.
MAX_CHUNK = 64 * 1024 * 1024

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
_FLAGS |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
_DIR_FLAGS |= getattr(os, "O_CLOEXEC", 0)
_HOLDABLE = (
    hasattr(os, "O_DIRECTORY") and hasattr(os, "O_NOFOLLOW") and os.open in os.supports_dir_fd
)
#: Directory descriptors one thread holds at once while ``holding``.
HELD_DIRS = 8
_KINDS = (
    (stat_mod.S_ISFIFO, "a FIFO"),
    (stat_mod.S_ISCHR, "a character device"),
    (stat_mod.S_ISBLK, "a block device"),
    (stat_mod.S_ISSOCK, "a socket"),
    (stat_mod.S_ISDIR, "a directory"),
)


class UnsafeFile(Exception):
    """A file the opener will not read; ``str()`` is one line naming it and why."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class FileTooLarge(UnsafeFile):
    """A whole-file read over the cap."""


@dataclass(frozen=True)
class Stat:
    """A file's identity and size, as ``os.stat`` gave them."""

    ino: int
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Lines:
    """Complete lines read from ``offset``: ``data`` ends with a newline (or is
    empty), ``end`` is the offset just past it, ``skipped`` counts lines over
    the cap, each left in ``data`` as an empty line so line numbers still count."""

    data: bytes
    end: int
    stat: Stat
    skipped: int = 0


def _kind(mode: int) -> str | None:
    if stat_mod.S_ISREG(mode):
        return None
    for test, word in _KINDS:
        if test(mode):
            return word
    return "not a regular file"


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class Opener:
    """Bounded reads of the files under one root (see the module docstring)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        max_file: int = MAX_FILE,
        max_line: int = MAX_LINE,
        max_chunk: int = MAX_CHUNK,
    ):
        self.root = os.fspath(root)
        self.real_root = os.path.realpath(self.root)
        self.max_file = max_file
        self.max_line = max_line
        self.max_chunk = max(max_chunk, max_line + 1)
        self._direct_dirs: set[str] = set()
        self._held = threading.local()

    # -- paths -------------------------------------------------------------

    def path(self, rel: str | os.PathLike[str]) -> str:
        """The path of ``rel`` (relative to the root, or absolute below it)."""
        rel = os.fspath(rel)
        return rel if os.path.isabs(rel) else os.path.join(self.root, rel)

    def _resolve(self, rel: str | os.PathLike[str]) -> tuple[str, str]:
        """``(shown path, real path)``; UnsafeFile when it resolves outside the root."""
        path = self.path(rel)
        real = os.path.realpath(path)
        if not _within(real, self.real_root):
            raise UnsafeFile(path, "resolves outside the source root")
        return path, real

    def _direct(self, path: str) -> bool:
        """Whether ``path``'s directory is inside the root with no symlink on
        the way (checked once per directory), so only the last component
        needs checking: a file there that is not a symlink is inside too.
        Reads check again after opening (see ``_open``)."""
        parent = os.path.dirname(path)
        if parent in self._direct_dirs:
            return True
        up, name = os.path.split(parent)
        if up in self._direct_dirs and name not in ("", ".", ".."):
            # A run directory of a project already checked: one lstat says
            # it is a directory of its own, not a symlink to elsewhere.
            try:
                if not stat_mod.S_ISDIR(os.lstat(parent).st_mode):
                    return False
            except OSError:
                return False
            self._remember(parent)
            return True
        rel = os.path.relpath(parent, self.root)
        if rel.startswith(".."):
            return False
        expected = os.path.normpath(os.path.join(self.real_root, rel))
        if os.path.realpath(parent) != expected:
            return False
        # No symlink on the way to it, so none on the way to its folders either.
        self._remember(parent)
        for _ in range(rel.count(os.sep) if os.path.normpath(parent) == parent else 0):
            parent = os.path.dirname(parent)
            self._direct_dirs.add(parent)
        return True

    def _remember(self, directory: str) -> None:
        if len(self._direct_dirs) > 100_000:
            self._direct_dirs.clear()
        self._direct_dirs.add(directory)

    # -- held directories --------------------------------------------------

    @contextmanager
    def holding(self) -> Iterator[None]:
        """While inside, this thread opens a directory's files through a
        descriptor of the directory held open (``openat`` of one name with
        ``O_NOFOLLOW``), not by path: a run's four or five files cost one
        directory open, not a path walk and a ``/proc`` check each.

        Safety is the same: a held directory is either checked once (opened,
        then its ``/proc/self/fd`` link found inside the root) or opened with
        ``O_NOFOLLOW | O_DIRECTORY`` as one name under a checked one, so it
        is a directory of the root, not a link; a file opened as one name
        under it cannot be a link (``O_NOFOLLOW``: a link goes the long way,
        like any read) and cannot leave it. A directory swapped for a link
        after it was opened is not followed: the held descriptor is the
        directory that was there. Descriptors are held for the scope only
        (a few at a time), so a later read sees a directory replaced since.
        Nested scopes share the outer one's; other threads are unaffected."""
        held = getattr(self._held, "dirs", None)
        if held is not None or not _HOLDABLE or not _proc_fds():
            yield
            return
        self._held.dirs = held = {}
        self._held.seen = set()
        try:
            yield
        finally:
            self._held.dirs = self._held.seen = None
            for fd in held.values():
                os.close(fd)

    def _held_dir(self, path: str) -> tuple[int, str] | None:
        """``(descriptor of path's directory, path's last name)`` while
        ``holding``; None: not holding, or not a plain path (read the long way)."""
        held: dict[str, int] | None = getattr(self._held, "dirs", None)
        if held is None:
            return None
        parent, name = os.path.split(path)
        if name in ("", ".", "..") or os.path.normpath(path) != path:
            return None
        fd = held.pop(parent, None)
        if fd is None:
            fd = self._open_dir(held, parent)
            if fd is None:
                return None
        held[parent] = fd  # the most recent last
        while len(held) > HELD_DIRS:
            os.close(held.pop(next(iter(held))))
        return fd, name

    def _open_dir(self, held: dict[str, int], path: str) -> int | None:
        """A descriptor of directory ``path`` inside the root: one name under
        a held parent, else the directory itself checked. A parent is
        checked and held the second time a directory under it is opened
        (the next run of a project): a scope of one run checks its directory
        alone, one open and one /proc check."""
        up, name = os.path.split(path)
        upfd = held.pop(up, None)
        if upfd is None and up in self._held.seen and name not in ("", ".", ".."):
            upfd = self._checked_dir(up) if _within(up, self.root) else None
        elif upfd is None:
            self._held.seen.add(up)
        if upfd is not None:
            held[up] = upfd  # the most recent last
            try:
                return os.open(name, _DIR_FLAGS, dir_fd=upfd)
            except OSError:
                return None  # a link, or gone: the long way says which
        return self._checked_dir(path)

    def _checked_dir(self, path: str) -> int | None:
        try:
            fd = os.open(path, _DIR_FLAGS)
        except OSError:
            return None
        try:
            if _within(os.readlink(f"/proc/self/fd/{fd}"), self.real_root):
                return fd
        except OSError:
            pass
        os.close(fd)
        return None

    # -- operations --------------------------------------------------------

    def list(self, rel: str | os.PathLike[str] = "") -> list[tuple[str, bool]]:
        """``(name, is_dir)`` of a directory's entries, hidden ones left out;
        a symlink counts as a directory only when it stays inside the root."""
        path, real = self._resolve(rel) if os.fspath(rel) else (self.root, self.real_root)
        out = []
        try:
            entries = list(os.scandir(real))
        except OSError as exc:
            raise UnsafeFile(path, exc.strerror or str(exc)) from None
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                if not is_dir and entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    is_dir = _within(target, self.real_root) and os.path.isdir(target)
            except OSError:
                continue
            out.append((entry.name, is_dir))
        return out

    def stat(self, rel: str | os.PathLike[str]) -> Stat | None:
        """The file's Stat, None when it does not exist; UnsafeFile when it is
        not a regular file or resolves outside the root."""
        held = self._held_dir(self.path(rel))
        if held is not None or self._direct(self.path(rel)):
            # the name itself, not followed: under a held directory handle, or
            # by a path already known to stay inside the root
            try:
                if held is not None:
                    st = os.stat(held[1], dir_fd=held[0], follow_symlinks=False)
                else:
                    st = os.lstat(self.path(rel))
            except (FileNotFoundError, NotADirectoryError):
                return None
            except OSError as exc:
                raise UnsafeFile(self.path(rel), exc.strerror or str(exc)) from None
            if not stat_mod.S_ISLNK(st.st_mode):
                kind = _kind(st.st_mode)
                if kind is not None:
                    raise UnsafeFile(self.path(rel), f"{kind}, not read")
                return Stat(st.st_ino, st.st_size, st.st_mtime_ns)
        path, real = self._resolve(rel)
        try:
            st = os.stat(real)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ENOTDIR:
                return None
            raise UnsafeFile(path, exc.strerror or str(exc)) from None
        kind = _kind(st.st_mode)
        if kind is not None:
            raise UnsafeFile(path, f"{kind}, not read")
        return Stat(st.st_ino, st.st_size, st.st_mtime_ns)

    def exists(self, rel: str | os.PathLike[str]) -> bool:
        """Whether a readable regular file is there (a special or outside file is not)."""
        try:
            return self.stat(rel) is not None
        except UnsafeFile:
            return False

    def _open(self, rel: str | os.PathLike[str]) -> tuple[int, str, Stat]:
        path = self.path(rel)
        fd = -1
        held = self._held_dir(path)
        if held is not None:
            try:
                fd = os.open(held[1], _FLAGS, dir_fd=held[0])
            except OSError as exc:
                if exc.errno != errno.ELOOP:  # a symlink: resolved below
                    if isinstance(exc, FileNotFoundError):
                        raise FileNotFoundError(exc.errno, exc.strerror, path) from None
                    raise UnsafeFile(path, exc.strerror or str(exc)) from None
            if fd >= 0:
                # One name under a held directory of the root, not a link:
                # inside, with no /proc check (see ``holding``).
                try:
                    st = os.fstat(fd)
                    kind = _kind(st.st_mode)
                    if kind is not None:
                        raise UnsafeFile(path, f"{kind}, not read")
                except BaseException:
                    os.close(fd)
                    raise
                return fd, path, Stat(st.st_ino, st.st_size, st.st_mtime_ns)
        elif self._direct(path):
            try:
                fd = os.open(path, _FLAGS)
            except OSError as exc:
                if exc.errno != errno.ELOOP:  # a symlink: resolved below
                    if isinstance(exc, FileNotFoundError):
                        raise
                    raise UnsafeFile(path, exc.strerror or str(exc)) from None
        if fd < 0:
            fd = self._open_resolved(rel)
        try:
            st = os.fstat(fd)
            kind = _kind(st.st_mode)
            if kind is not None:
                raise UnsafeFile(path, f"{kind}, not read")
            # A directory on the way swapped for a symlink after it was
            # checked: what was opened must still be inside the root.
            if _proc_fds() and not _within(os.readlink(f"/proc/self/fd/{fd}"), self.real_root):
                raise UnsafeFile(path, "resolves outside the source root")
        except BaseException:
            os.close(fd)
            raise
        return fd, path, Stat(st.st_ino, st.st_size, st.st_mtime_ns)

    def _open_resolved(self, rel: str | os.PathLike[str]) -> int:
        path, real = self._resolve(rel)
        try:
            return os.open(real, _FLAGS)
        except FileNotFoundError:
            raise
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafeFile(path, "symlink swapped in while opening") from None
            raise UnsafeFile(path, exc.strerror or str(exc)) from None

    def read(self, rel: str | os.PathLike[str], *, limit: int | None = None) -> tuple[bytes, Stat]:
        """A whole file; FileTooLarge over ``limit`` (default ``max_file``),
        FileNotFoundError when missing."""
        cap = self.max_file if limit is None else limit
        fd, path, st = self._open(rel)
        try:
            if st.size > cap:
                raise FileTooLarge(path, f"{st.size} bytes, over the {cap}-byte cap")
            data = _read_fd(fd, 0, cap + 1, st.size)
        finally:
            os.close(fd)
        if len(data) > cap:  # grew while read
            raise FileTooLarge(path, f"over the {cap}-byte cap")
        return data, st

    def read_range(self, rel: str | os.PathLike[str], offset: int, n: int) -> tuple[bytes, Stat]:
        """Bytes ``[offset, offset + n)`` (fewer at the end of the file), with
        ``n`` capped at ``max_chunk``."""
        fd, _path, st = self._open(rel)
        try:
            data = _read_fd(fd, offset, min(n, self.max_chunk), st.size - offset)
        finally:
            os.close(fd)
        return data, st

    def read_lines(self, rel: str | os.PathLike[str], offset: int = 0) -> Lines:
        """The complete lines from ``offset``, at most about ``max_chunk`` bytes
        (call again from ``end`` for more). A torn last line is left for the
        next call; a line over ``max_line`` is skipped whole once its newline
        is there (or as soon as the cap is passed, up to the next newline)."""
        fd, _path, st = self._open(rel)
        try:
            return self._lines(fd, offset, st)
        finally:
            os.close(fd)

    def _lines(self, fd: int, offset: int, st: Stat) -> Lines:
        data = _read_fd(fd, offset, self.max_chunk, st.size - offset)
        end = data.rfind(b"\n")
        skipped = 0
        if end < 0:
            if len(data) <= self.max_line:
                return Lines(b"", offset, st)
            # One line over the cap: find its end without holding it.
            pos = offset + len(data)
            while True:
                more = _read_fd(fd, pos, 1024 * 1024)
                if not more:
                    return Lines(b"", offset, st)  # wait for its newline
                cut = more.find(b"\n")
                if cut >= 0:
                    return Lines(b"\n", pos + cut + 1, st, 1)
                pos += len(more)
        data = data[: end + 1]
        if len(data) > self.max_line and _has_long_line(data, self.max_line):
            kept = []
            for line in data.split(b"\n")[:-1]:
                if len(line) > self.max_line:
                    skipped += 1
                    line = b""
                kept.append(line + b"\n")
            return Lines(b"".join(kept), offset + end + 1, st, skipped)
        return Lines(data, offset + end + 1, st)


def _has_long_line(data: bytes, cap: int) -> bool:
    # Anchored at line starts, so the scan is linear in the chunk.
    return re.search(rb"(?:\A|\n)[^\n]{%d}" % (cap + 1), data) is not None


def _read_fd(fd: int, offset: int, n: int, expect: int | None = None) -> bytes:
    """Up to ``n`` bytes at ``offset`` (short only at the end of the file).

    ``expect``: the bytes the file's stat says are there. The first read asks
    for one more than that, so a file that did not grow is read in one call
    that comes back short (the end), and no buffer of ``n`` is allocated for a
    file of a few hundred bytes (a 16 MiB read costs ~15x a small one)."""
    parts = []
    if expect is not None:
        want = min(n, max(expect, 0) + 1)
        try:
            part = os.pread(fd, want, offset)
        except BlockingIOError:
            return b""
        if len(part) < want:
            return part
        parts.append(part)
        offset += len(part)
        n -= len(part)
    while n > 0:
        try:
            part = os.pread(fd, min(n, 16 * 1024 * 1024), offset)
        except BlockingIOError:
            break
        if not part:
            break
        parts.append(part)
        offset += len(part)
        n -= len(part)
    return b"".join(parts)


_PROC: list[bool] = []


def _proc_fds() -> bool:
    """Whether ``/proc/self/fd`` can say where an open file is (looked at once)."""
    if not _PROC:
        _PROC.append(os.path.isdir("/proc/self/fd"))
    return _PROC[0]
