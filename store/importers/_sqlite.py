"""Opening another tool's SQLite database without writing anything next to it.

``mode=ro`` is not enough on its own: even a read-only connection to a WAL
database creates or updates the ``-shm`` file beside it, and a database with
a hot journal, or in a read-only directory, does not open read-only at all.
Those are copied with their ``-wal``/``-journal`` into a temporary directory
and the copy is read. ``-shm`` is never copied: it only indexes the WAL, and
SQLite rebuilds it.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from . import _read

#: The first 16 bytes of every SQLite database file.
MAGIC = b"SQLite format 3\x00"
#: Directories never searched for databases: package and cache trees.
_SKIP_DIRS = frozenset({"node_modules", "__pycache__", "site-packages"})


def scan_dir(d: Path) -> tuple[list[Path], list[Path]]:
    """The ``*.db`` files directly in D, and the sub-directories worth searching
    for more (not hidden, not a package or cache tree), each sorted by name;
    nothing when D cannot be listed."""
    try:
        entries = sorted(os.scandir(d), key=lambda e: e.name)
    except OSError:
        return [], []
    dbs: list[Path] = []
    subdirs: list[Path] = []
    for entry in entries:
        try:
            if entry.is_file() and entry.name.endswith(".db"):
                dbs.append(Path(entry.path))
            elif entry.is_dir(follow_symlinks=False):
                if not entry.name.startswith(".") and entry.name not in _SKIP_DIRS:
                    subdirs.append(Path(entry.path))
        except OSError:
            continue
    return dbs, subdirs


def ro_uri(path: Path, *, immutable: bool = False) -> str:
    """A ``mode=ro`` URI for PATH; ``immutable`` also skips locks and ``-shm``
    (nothing written, but a WAL is not read: fit for a schema check)."""
    uri = "file:" + quote(str(path.resolve())) + "?mode=ro"
    return uri + "&immutable=1" if immutable else uri


def sidecar(db: Path, suffix: str) -> Path:
    """``<db>-wal``, ``<db>-journal``, ``<db>-shm``."""
    return db.with_name(db.name + suffix)


def is_wal(path: Path) -> bool:
    """The header says WAL mode (file format read and write versions both 2)."""
    try:
        with _read.open_regular(path) as fh:  # never a FIFO or a device
            head = fh.read(20)
    except OSError:
        return False
    return len(head) == 20 and head[18] == 2 and head[19] == 2


@contextmanager
def connect(
    db: Path, *, copy_beside: tuple[str, ...] = ("-wal", "-journal")
) -> Iterator[sqlite3.Connection]:
    """A read-only connection to DB, or to a private copy when reading in place could write.

    DB is copied when it is in WAL mode, when one of the ``copy_beside``
    files exists beside it, or when it does not open read-only. The
    connection may be used by another thread than the one that opened it
    (one at a time: a reader reading runs ahead of its caller).
    """
    tmp: str | None = None
    conn: sqlite3.Connection | None = None
    try:
        in_place = not is_wal(db) and not any(sidecar(db, s).exists() for s in copy_beside)
        if in_place:
            try:
                conn = sqlite3.connect(ro_uri(db), uri=True, check_same_thread=False)
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.Error:
                if conn is not None:
                    conn.close()
                conn = None
        if conn is None:
            tmp = tempfile.mkdtemp(prefix="trackui-import-")
            copy = Path(tmp) / db.name
            # the WAL first: a checkpoint between the two copies then only repeats pages
            for suffix in ("-wal", "-journal"):
                if sidecar(db, suffix).is_file():
                    shutil.copyfile(sidecar(db, suffix), sidecar(copy, suffix))
            shutil.copyfile(db, copy)
            conn = sqlite3.connect(str(copy), check_same_thread=False)
        yield conn
    finally:
        if conn is not None:
            conn.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
