"""A local mirror of the files readers read under a remote root.

``Mirror.sync()`` asks the box what changed (``RemoteBox.changes()``, one
round trip), then fetches only what is new: the appended bytes of a file
that grew (its last ``OVERLAP`` bytes fetched again and compared, so a file
rewritten in place to a larger size is caught and fetched whole), the whole
file when it was replaced, truncated or is not one that grows by appends
(``meta.json``, ``*.yaml``, SQLite files). Images up to ``MAX_IMAGE``
(plots a tool wrote, logged images) are fetched too, so they open in the
image viewer. The content of any other file no reader reads (checkpoints,
anything ``wanted`` turns down) never crosses the wire: the mirror holds a
*stub* in its place, a sparse file of the box's size and mtime with no
content (no disk blocks), so a reader that asks whether ``weights/best.pt``
exists, or how big it is, gets the box's answer; a reader must not hash a
stub (``is_stub``).

Each mirrored file's mtime is the box's mtime shifted by the box's clock
offset (the helper's clock minus ours, measured at connect), so a heartbeat
is judged fresh or stale on the box's clock. A table of what was fetched
(per file: the box's inode, size, mtime and the bytes held) is kept beside
the mirror, so a new process reads nothing it already has. Nothing is
removed while the box cannot be reached: its runs stay readable offline.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..opener import FileTooLarge, UnsafeFile
from .box import Entry, RemoteBox
from .errors import FileChanged, RemoteError
from .sqlite_mirror import SIDECARS, DatabaseMirror, database_of, is_database

#: Bytes before a file's known end fetched again to check it was only appended to.
OVERLAP = 64
#: Bytes fetched per file per sync; a bigger backlog is caught up over refreshes.
MAX_FETCH = 64 * 1024 * 1024
#: Bytes asked for (and held in memory) at a time.
BATCH_BYTES = 32 * 1024 * 1024
#: Images (by suffix) up to this size are fetched whole, not stubbed.
MAX_IMAGE = 8 * 1024 * 1024
IMAGES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".svg")
#: A file bigger than this is not mirrored (noted as a problem).
MAX_MIRRORED = 1024 * 1024 * 1024
#: Files that only grow by appends (else a change refetches the whole file).
APPENDED = (".jsonl", ".csv", ".tsv", ".log", ".txt")
_STATE = "state.json"


def safe(rel: str) -> bool:
    """Whether a path the box sent stays inside the mirror: relative, no
    ``..``, ``.`` or empty part, no NUL (the box is not trusted)."""
    if not rel or rel.startswith("/") or "\0" in rel:
        return False
    return all(part not in ("", ".", "..") for part in rel.split("/"))


def appended(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return name.endswith(APPENDED) or ".tfevents." in name or name == paths.HEARTBEAT


@dataclass
class Held:
    """What the mirror holds of one file: the box's stat when fetched, and
    how many bytes of it are here (fewer while a backlog is caught up)."""

    ino: int
    size: int
    mtime_ns: int
    have: int
    #: 1: a stub (the box's size and mtime, no content); 2: a SQLite
    #: database built from the box's rows (``have`` is the copy's size)
    stub: int = 0


class Mirror:
    """The mirror of ``box``'s root under ``top`` (files in ``top/files``)."""

    def __init__(
        self,
        box: RemoteBox,
        top: Path,
        wanted: Callable[[str], bool],
        *,
        only: str | None = None,
    ) -> None:
        self.box = box
        self.top = top
        self.files = top / "files"
        self.wanted = wanted
        #: A single file's name: nothing else under the root is mirrored.
        self.only = only
        #: Rows of SQLite tables fetched, all syncs.
        self.rows = 0
        #: Databases whose last update failed (a lock on the box): tried again.
        self._retry: set[str] = set()
        self.held: dict[str, Held] = {}
        self.kind: str | None = None
        self.problems: list[str] = []
        #: Bytes of file content fetched (overlap checks included), all syncs.
        self.fetched = 0
        self._loaded = False
        self._dirty = False
        self._seen: int | None = None  # state.json's mtime when last read or written
        self._root = str(self.files)
        self._dirs: set[str] = set()  # directories made in this process

    # -- the table of what is held -----------------------------------------------

    def _load(self) -> None:
        self._loaded = True
        self.held.clear()
        self._seen = _mtime(self.top / _STATE)
        try:
            doc = json.loads((self.top / _STATE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if not isinstance(doc, dict):
            return
        self.kind = doc.get("kind") if isinstance(doc.get("kind"), str) else None
        for rel, row in (doc.get("files") or {}).items():
            if not safe(rel):
                continue
            try:
                held = Held(*(int(x) for x in row))
            except (TypeError, ValueError):
                continue
            if _size(self.files / rel) == held.have:
                self.held[rel] = held

    def save(self) -> None:
        if not self._dirty:
            return
        self.top.mkdir(parents=True, exist_ok=True)
        doc = {
            "kind": self.kind,
            "files": {
                rel: [h.ino, h.size, h.mtime_ns, h.have, h.stub]
                for rel, h in sorted(self.held.items())
            },
        }
        tmp = self.top / f".{_STATE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, self.top / _STATE)
        self._seen = _mtime(self.top / _STATE)
        self._dirty = False

    def set_kind(self, kind: str | None) -> None:
        if kind != self.kind:
            self.kind = kind
            self._dirty = True

    # -- one sync ------------------------------------------------------------------

    def sync(self) -> int:
        """Bring the mirror up to date; the files fetched or changed. Raises
        RemoteError (Unreachable) when the box cannot be asked; what was
        fetched before that is kept. Another trackui on the same session
        shares the mirror: one syncs at a time (a lock file), and the table
        is read again when the other one wrote it."""
        self.top.mkdir(parents=True, exist_ok=True)
        with open(self.top / ".lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not self._loaded or _mtime(self.top / _STATE) != self._seen:
                self._load()
            return self._sync()

    def written(self) -> float | None:
        """When the table of what is held was last written (epoch seconds)."""
        stamp = _mtime(self.top / _STATE)
        return None if stamp is None else stamp / 1e9

    def load(self) -> None:
        """Read the table of what is held (what a reader needs before a sync)."""
        if not self._loaded:
            self._load()

    def _sync(self) -> int:
        self.files.mkdir(parents=True, exist_ok=True)
        changes = self.box.changes()
        offset_ns = round((self.box.hello.clock_offset if self.box.hello else 0.0) * 1e9)
        touched = 0
        if changes.full and not changes.truncated:
            listed = {e.path for e in changes.added}
            for rel in [r for r in self.held if r not in listed]:
                touched += self._remove(rel)
        for rel in changes.removed:
            if rel in self.held:  # (held paths were checked when fetched)
                touched += self._remove(rel)
        grown: list[tuple[Entry, Held]] = []
        whole: list[Entry] = []
        databases: set[str] = set(self._retry)
        for rel in changes.removed:
            if database_of(rel) in self.held and not rel.endswith("-shm"):
                databases.add(database_of(rel))  # a -wal checkpointed away
        for entry in (*changes.added, *changes.changed):
            if entry.is_dir or not safe(entry.path):
                continue
            if self.only is not None and self.only not in (entry.path, database_of(entry.path)):
                continue
            base = database_of(entry.path) or entry.path
            if is_database(base) and self.wanted(base):
                if not entry.path.endswith("-shm"):  # (-shm moves when the box reads it)
                    databases.add(base)  # read by rows, not bytes
                continue
            held = self.held.get(entry.path)
            if not self.wanted(entry.path) and not (
                entry.path.lower().endswith(IMAGES) and entry.size <= MAX_IMAGE
            ):
                if held is None or (held.ino, held.size, held.mtime_ns, held.stub) != (
                    entry.ino,
                    entry.size,
                    entry.mtime_ns,
                    1,
                ):
                    touched += self._stub(entry, offset_ns)
                continue
            if held is not None and (held.ino, held.size, held.mtime_ns) == (
                entry.ino,
                entry.size,
                entry.mtime_ns,
            ):
                if held.have < held.size:
                    grown.append((entry, held))  # a backlog still being caught up
                continue
            if entry.size > MAX_MIRRORED:
                self._note(f"{entry.path}: {entry.size:,} bytes, over the mirror's cap")
                continue
            if (
                held is not None
                and held.ino == entry.ino
                and entry.size >= held.have
                and appended(entry.path)
            ):
                grown.append((entry, held))
                continue
            whole.append(entry)
        listed = {e.path for e in (*changes.added, *changes.changed)}
        for rel, held in self.held.items():  # a backlog the box does not list again
            if held.have < held.size and rel not in listed and held.stub != 2:
                grown.append((Entry(rel, "f", held.ino, held.size, held.mtime_ns), held))
        try:
            touched += self._fetch_grown(grown, offset_ns, whole)
            touched += self._fetch_whole(whole, offset_ns)
            for rel in sorted(databases):
                touched += self._fetch_database(rel, offset_ns)
        finally:
            self.save()
        return touched

    def _fetch_database(self, rel: str, offset_ns: int) -> int:
        """A SQLite database: its copy brought up to date by rows (``sqlite_mirror.py``)."""
        entry = self.box.entry(rel)
        if entry is None:  # gone (its sidecars may linger a moment)
            self._retry.discard(rel)
            return self._remove(rel) if rel in self.held else 0
        for tail in SIDECARS:  # a whole-file copy's, from an older mirror
            if rel + tail in self.held:
                self._remove(rel + tail)
        copy = DatabaseMirror(self.box, rel, self.files / rel)
        try:
            wrote = copy.sync()
        except FileNotFoundError:
            self._retry.discard(rel)
            return self._remove(rel) if rel in self.held else 0
        except (OSError, UnsafeFile, FileTooLarge, RemoteError, sqlite3.Error) as exc:
            self._retry.add(rel)
            if isinstance(exc, RemoteError) and not self.box.state.status == "connected":
                raise
            self._note(f"{rel}: {exc}")
            return 0
        finally:
            self.rows += copy.rows
        self._retry.discard(rel)
        # the copy's mtime: the newest of the database and its sidecars on the box
        mtime = max(
            e.mtime_ns
            for e in (entry, *(self.box.entry(rel + t) for t in ("-wal", "-journal")))
            if e is not None
        )
        self.held[rel] = Held(entry.ino, entry.size, mtime, _size(self.files / rel) or 0, 2)
        self._dirty = True
        stamp = mtime - offset_ns
        try:
            os.utime(self.files / rel, ns=(stamp, stamp))
        except OSError:
            pass
        return 1 if wrote else 0

    def _note(self, line: str) -> None:
        if line not in self.problems:
            self.problems.append(line)

    def _remove(self, rel: str) -> int:
        self.held.pop(rel, None)
        self._dirty = True
        path = self.files / rel
        try:
            path.unlink()
        except OSError:
            return 0
        parent = path.parent
        while parent != self.files:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent
        return 1

    def _fetch_grown(
        self, grown: list[tuple[Entry, Held]], offset_ns: int, whole: list[Entry]
    ) -> int:
        """Appended bytes, with ``OVERLAP`` bytes before them checked against
        what is held; a mismatch moves the file to ``whole``."""
        ranges = []
        todo = []
        for entry, held in grown:
            if entry.size == held.have and (held.have == 0 or entry.path.endswith(paths.HEARTBEAT)):
                self._stamp(entry, held.have, offset_ns)  # only its mtime moved
                continue
            start = max(0, held.have - OVERLAP)
            ranges.append((entry.path, start, min(entry.size - start, MAX_FETCH)))
            todo.append((entry, held, start))
        touched = 0
        for (entry, held, start), result in self._batched(todo, ranges):
            if isinstance(result, Exception):
                whole.append(entry)
                continue
            data, st = result
            path = self.files / entry.path
            check = held.have - start
            try:
                with open(path, "r+b") as fh:
                    fh.seek(start)
                    if st.ino != entry.ino or fh.read(check) != data[:check]:
                        whole.append(entry)  # rewritten, not appended to
                        continue
                    fh.seek(held.have)
                    fh.truncate()
                    fh.write(data[check:])
            except OSError:
                whole.append(entry)
                continue
            self._stamp(entry, held.have + len(data) - check, offset_ns)
            touched += 1
        return touched

    def _fetch_whole(self, entries: list[Entry], offset_ns: int) -> int:
        ranges = [(e.path, 0, min(e.size, MAX_FETCH)) for e in entries]
        touched = 0
        for entry, result in self._batched(entries, ranges):
            if isinstance(result, Exception):
                if isinstance(result, FileNotFoundError):
                    touched += self._remove(entry.path)  # gone since it was listed
                else:
                    self._note(f"{entry.path}: {result}")
                continue
            data, st = result
            fetched = Entry(entry.path, "f", st.ino, st.size, st.mtime_ns)
            try:
                self._write(entry.path, data, fetched.mtime_ns - offset_ns)
            except OSError as exc:
                self._note(f"{entry.path}: cannot write the mirror: {exc.strerror or exc}")
                continue
            self.held[entry.path] = Held(st.ino, st.size, st.mtime_ns, len(data))
            self._dirty = True
            touched += 1
        return touched

    def _stub(self, entry: Entry, offset_ns: int) -> int:
        """A file whose content is not fetched: a sparse file of its size and mtime."""
        path = os.path.join(self._root, entry.path)
        parent = os.path.dirname(path)
        try:
            if parent not in self._dirs:
                os.makedirs(parent, exist_ok=True)
                self._dirs.add(parent)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            try:
                os.ftruncate(fd, 0)
                os.ftruncate(fd, entry.size)
                mtime = entry.mtime_ns - offset_ns
                os.utime(fd, ns=(mtime, mtime))
            finally:
                os.close(fd)
        except OSError as exc:
            self._note(f"{entry.path}: cannot write the mirror: {exc.strerror or exc}")
            return 0
        self.held[entry.path] = Held(entry.ino, entry.size, entry.mtime_ns, entry.size, 1)
        self._dirty = True
        return 1

    def _write(self, rel: str, data: bytes, mtime_ns: int) -> None:
        """A whole file into the mirror: straight into a new one, by rename
        over one that is there (a reader never sees it half written)."""
        path = os.path.join(self._root, rel)
        parent = os.path.dirname(path)
        if parent not in self._dirs:
            os.makedirs(parent, exist_ok=True)
            self._dirs.add(parent)
        exists = rel in self.held or os.path.lexists(path)
        target = os.path.join(parent, f".{os.path.basename(path)}.mirror.tmp") if exists else path
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        finally:
            os.close(fd)
        if exists:
            os.replace(target, path)

    def _batched(self, items: list, ranges: list[tuple[str, int, int]]):  # noqa: ANN202
        """``(item, result)`` for each range, read ``BATCH_BYTES`` at a time
        (a first read of a big box is never all in memory)."""
        start = 0
        while start < len(ranges):
            end, total = start, 0
            while end < len(ranges) and (end == start or total + ranges[end][2] <= BATCH_BYTES):
                total += ranges[end][2]
                end += 1
            yield from zip(items[start:end], self._read(ranges[start:end]))
            start = end

    def _read(self, ranges: list[tuple[str, int, int]]) -> list[tuple[bytes, object] | Exception]:
        """Each range's bytes (batched; a range past the box's per-read cap
        is finished with ``read_range``)."""
        if not ranges:
            return []
        out = self.box.read_many(ranges)
        self.fetched += sum(len(r[0]) for r in out if not isinstance(r, Exception))
        for i, ((rel, offset, n), result) in enumerate(zip(ranges, out)):
            if isinstance(result, Exception):
                continue
            data, st = result
            if len(data) < n and offset + len(data) < st.size:
                parts = [data]
                pos = offset + len(data)
                try:
                    while pos < offset + n:
                        more, again = self.box.read_range(rel, pos, offset + n - pos)
                        if again.ino != st.ino:
                            raise FileChanged(f"{rel}: replaced while read")
                        if not more:
                            break
                        parts.append(more)
                        pos += len(more)
                        self.fetched += len(more)
                except (OSError, UnsafeFile, FileTooLarge, FileChanged) as exc:
                    out[i] = exc
                    continue
                out[i] = (b"".join(parts), st)
        return out

    def _stamp(self, entry: Entry, have: int, offset_ns: int) -> None:
        """Note what is held, and give the mirrored file the box's mtime on our clock."""
        self.held[entry.path] = Held(entry.ino, entry.size, entry.mtime_ns, have)
        self._dirty = True
        mtime = entry.mtime_ns - offset_ns
        try:
            os.utime(self.files / entry.path, ns=(mtime, mtime))
        except OSError:
            pass


def is_stub(st: os.stat_result) -> bool:
    """Whether a file's stat is a mirror's stub (or any file with a size and
    no content on disk): its bytes are not the box's, so not to be hashed."""
    return st.st_size > 0 and getattr(st, "st_blocks", 1) == 0


def _mtime(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _size(path: Path) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


__all__ = ["Held", "Mirror", "RemoteError", "appended", "is_stub"]
