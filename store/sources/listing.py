"""The regular files under a source's root, listed again cheaply.

A refresh must see every file that grew, changed, appeared or went away.
A file's own ``lstat`` shows whether it grew or changed (size, mtime,
inode); what proves that a folder holds the same names as before is the
folder's own inode and mtime: creating, removing or renaming an entry in a
folder sets its mtime (POSIX), while writing to a file in it does not. So
a folder whose inode and mtime are those of its last listing is not read
again: its files and sub-folders are the names listed then, each ``lstat``
-ed by path (one system call each, no ``scandir``). A folder that changed
is listed again.

Times are coarse: a file system stamps a change with the time of its clock
tick (a few milliseconds on Linux; whole seconds on some), so an entry made
in the same tick as the listing before it may leave the folder's mtime as
that listing saw it. A folder whose mtime was less than ``RACY_NS`` before
its listing began (or is in the future) is therefore listed again next
time, whatever its mtime says: a folder is trusted only once its last
change is well before the listing that saw it.

Hidden folders (a writer's ``.<id>.tmp``) and links are skipped; hidden
files are listed.
"""

from __future__ import annotations

import os
import stat as stat_mod
import time
from dataclasses import dataclass, field

#: A folder changed this close to its listing (or later) is listed again next time.
RACY_NS = 2_000_000_000


@dataclass
class _Folder:
    """One folder of a listing: its identity and what it holds."""

    ino: int
    mtime_ns: int
    trusted: bool  # changed well before it was listed: its mtime proves its names
    files: list[tuple[str, str]] = field(default_factory=list)  # (relative path, path)
    folders: list[tuple[str, str]] = field(default_factory=list)


class Listing:
    """Every regular file under ``root`` with ``(inode, size, mtime_ns)``;
    each call lists again, reading only the folders that changed."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._folders: dict[str, _Folder] = {}
        #: Folders read (``scandir``) by the last call: for tests and benchmarks.
        self.scanned = 0

    def forget(self) -> None:
        self._folders.clear()

    def files(self) -> dict[str, tuple[int, int, int]]:
        out: dict[str, tuple[int, int, int]] = {}
        kept: dict[str, _Folder] = {}
        lstat = os.lstat
        is_dir, is_reg = stat_mod.S_ISDIR, stat_mod.S_ISREG
        self.scanned = 0
        stack = [("", self.root)]
        while stack:
            rel, path = stack.pop()
            try:  # the root as named (a link to it is followed), the rest not
                st = lstat(path) if rel else os.stat(path)
            except OSError:
                continue
            if not is_dir(st.st_mode):
                continue
            folder = self._folders.get(rel)
            same = folder is not None and folder.trusted
            if not same or (folder.ino, folder.mtime_ns) != (st.st_ino, st.st_mtime_ns):
                folder = self._scan(rel, path, st, out)
                if folder is None:
                    continue
            else:
                for name, file in folder.files:
                    try:
                        fst = lstat(file)
                    except OSError:
                        continue
                    if is_reg(fst.st_mode):
                        out[name] = (fst.st_ino, fst.st_size, fst.st_mtime_ns)
            kept[rel] = folder
            stack.extend(folder.folders)
        self._folders = kept
        return out

    def _scan(
        self, rel: str, path: str, st: os.stat_result, out: dict[str, tuple[int, int, int]]
    ) -> _Folder | None:
        """Read a folder's entries (its files' stats into ``out``)."""
        began = time.time_ns()  # before the read: a change during it is after this
        try:
            entries = list(os.scandir(path))
        except OSError:
            return None
        self.scanned += 1
        trusted = st.st_mtime_ns < began - RACY_NS
        folder = _Folder(st.st_ino, st.st_mtime_ns, trusted)
        for entry in entries:
            name = f"{rel}/{entry.name}" if rel else entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if not entry.name.startswith("."):
                        folder.folders.append((name, entry.path))
                elif entry.is_file(follow_symlinks=False):
                    fst = entry.stat(follow_symlinks=False)
                    out[name] = (fst.st_ino, fst.st_size, fst.st_mtime_ns)
                    folder.files.append((name, entry.path))
            except OSError:
                continue
        return folder
