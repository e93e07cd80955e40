"""The cache directory's catalogs, for ``trackui cache ls|prune``.

Each catalog is listed with the store it indexes (read from the catalog
itself, read-only: a catalog another trackui holds is "in use" and never
touched), the stores made to read a folder of other tools' runs through
with that folder, the sessions of several sources (or of a remote one) with
the sources they read, each remote source's mirror with its ``host:path``,
and imported copies with the folder they came from; what stands for
something gone, or was not used for a while, can be removed. Everything
here is derived from run files, foreign folders or a box's files, so what is
removed is rebuilt (or fetched again) when needed.

Last use: opening a store in the TUI stamps its catalog (``note_use``; a
``.used`` file beside it); a catalog's last use is the newest of that stamp
and its own writes, a session's that of its catalog, a mirror's its last
sync that fetched something.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import paths
from .runfiles import read_json
from .tidy import READ_THROUGH


@dataclass(frozen=True)
class CacheEntry:
    """A catalog, or a private store of imported runs, in the cache directory."""

    kind: str  # "catalog", "source" (a read-through store) or "imported"
    path: Path
    size: int  # bytes on disk
    modified: float  # newest mtime of its files
    store: str | None  # what it stands for: a store root, or an imported folder
    present: bool | None  # whether that still exists (None: not known)
    runs: int | None = None
    in_use: bool = False
    #: last use (epoch seconds): see the module docstring
    used: float = 0.0
    #: a mirror's session root, a session's or a read-through store's catalog
    parent: Path | None = None

    @property
    def last_use(self) -> float:
        return max(self.used, self.modified)


#: Beside a catalog: touched each time the TUI opens its store.
USED_SUFFIX = ".used"
#: In a session root: the mirrors of its remote sources (remote/source.py's MIRRORS).
MIRRORS = ".mirror"


def note_use(catalog: Path) -> None:
    """Stamp ``catalog`` as used now (best effort; never in the way)."""
    try:
        Path(str(catalog) + USED_SUFFIX).touch()
    except OSError:
        pass


def _used(catalog: Path) -> float:
    try:
        return os.stat(str(catalog) + USED_SUFFIX).st_mtime
    except OSError:
        return 0.0


def cache_entries(cache: Path | None = None) -> list[CacheEntry]:
    """The catalogs, read-through stores and imported stores under the cache
    directory. The catalog of a read-through store stands for the folder it
    reads; that store (a folder holding only which folder it reads) goes
    with its catalog."""
    from .sources.session import SESSIONS

    base = cache if cache is not None else paths.cache_dir()
    #: catalog path -> the entry of the store it indexes (a read-through store, a session)
    through: dict[str, CacheEntry] = {}
    out = []
    for root in sorted((base / READ_THROUGH).glob("*")):
        if root.is_dir() and not root.is_symlink():
            folder = _read_through_folder(root)
            catalog = paths.catalog_path(root)
            size, modified = _files_stat([p for p in root.rglob("*") if p.is_file()])
            present = None if folder is None else os.path.exists(folder)
            entry = CacheEntry(
                "source", root, size, modified, folder, present, used=_used(catalog), parent=catalog
            )
            through[str(catalog)] = entry
            out.append(entry)
    for root in sorted((base / SESSIONS).glob("*")):
        if root.is_dir() and not root.is_symlink():
            session, mirrors = _session_entries(root)
            through[str(session.parent)] = session
            out.append(session)
            out.extend(mirrors)
    for path in sorted((base / "catalogs").glob("*.duckdb")):
        if path.is_file() and not path.is_symlink():
            entry = _catalog_entry(path)
            owner = through.get(str(path))
            if owner is not None and not entry.in_use:
                entry = replace(entry, store=owner.store, present=owner.present)
            out.append(entry)
    busy = {str(e.path) for e in out if e.kind == "catalog" and e.in_use}
    # A store whose catalog a trackui holds is in use too.
    out = [replace(e, in_use=True) if str(e.parent) in busy else e for e in out]
    for path in sorted((base / "imported").glob("*")):
        if path.is_dir() and not path.is_symlink():
            out.append(_imported_entry(path))
    return out


def _session_entries(root: Path) -> tuple[CacheEntry, list[CacheEntry]]:
    """A session root (its sources, as typed, in ``store``) and the mirrors
    of its remote sources. A session is gone when it reads no remote source
    and every local one is gone; a mirror when its session no longer reads it."""
    import hashlib

    items = _sources_of(root)
    shown = [i["location"] for i in items if isinstance(i.get("location"), str)]
    local = [i["path"] for i in items if isinstance(i.get("path"), str)]
    remote = [i["remote"] for i in items if isinstance(i.get("remote"), str)]
    if remote or not local:
        present = None if remote else False
    else:
        present = any(os.path.exists(p) for p in local)
    catalog = paths.catalog_path(root)
    used = max(_used(catalog), _mtime(catalog))
    mine = [p for p in root.rglob("*") if p.is_file() and MIRRORS not in p.relative_to(root).parts]
    size, modified = _files_stat(mine)
    session = CacheEntry(
        "session",
        root,
        size,
        modified,
        ", ".join(shown) or None,
        present,
        used=used,
        parent=catalog,
    )
    by_digest = {hashlib.sha256(text.encode()).hexdigest()[:16]: text for text in remote}
    mirrors = []
    for top in sorted((root / MIRRORS).glob("*")):
        if not top.is_dir() or top.is_symlink():
            continue
        text = by_digest.get(top.name.rsplit("-", 1)[-1])
        files = [p for p in top.rglob("*") if p.is_file() and not p.is_symlink()]
        disk, newest = _files_stat(files, on_disk=True)
        synced = _mtime(top / "state.json") or newest
        mirrors.append(
            CacheEntry(
                "mirror", top, disk, synced, text, text is not None, used=synced, parent=root
            )
        )
    return session, mirrors


def _sources_of(root: Path) -> list[dict[str, Any]]:
    doc = read_json(root / ".sources.json") or {}
    items = doc.get("sources") if isinstance(doc.get("sources"), list) else []
    return [i for i in items if isinstance(i, dict)]


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _read_through_folder(root: Path) -> str | None:
    doc = read_json(root / ".sources.json") or {}
    items = doc.get("sources") if isinstance(doc.get("sources"), list) else []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("path"), str):
            return item["path"]
    return None


def prunable(entry: CacheEntry, *, imported: bool = False, older_than: float | None = None) -> bool:
    """Whether ``prune`` removes it: a catalog of a store that is gone (or of
    no runs at all), a session whose sources are gone, a mirror its session
    no longer reads, a catalog or session not used for ``older_than``
    seconds, an imported store whose folder is gone (only when
    ``imported``). Never one in use."""
    if entry.in_use or (entry.kind == "catalog" and entry.runs is None):
        return False  # held by a trackui, or not read (damaged, or being written)
    if entry.kind == "imported":
        return imported and entry.present is False
    if entry.kind in ("source", "mirror"):
        return entry.present is False
    if entry.present is False or (entry.kind == "catalog" and entry.runs == 0):
        return True
    return older_than is not None and time.time() - entry.last_use > older_than


def prune_plan(
    entries: Sequence[CacheEntry], *, imported: bool = False, older_than: float | None = None
) -> list[CacheEntry]:
    """What ``prune`` removes (see ``prunable``): imported stores first, then
    catalogs, with the catalog of each imported store that goes."""
    busy = {str(e.path) for e in entries if e.kind == "catalog" and e.in_use}
    going = [
        e
        for e in entries
        if prunable(e, imported=imported, older_than=older_than)
        and not (e.kind in ("session", "source") and str(e.parent) in busy)
    ]
    stores = {str(e.path) for e in going if e.kind == "imported"}
    # A read-through store goes with its catalog (it holds nothing else).
    folders = {e.store for e in going if e.kind == "catalog" and e.store}
    going += [e for e in entries if e.kind == "source" and e not in going and e.store in folders]
    going += [
        e
        for e in entries
        if e.kind == "catalog" and e not in going and not e.in_use and e.store in stores
    ]
    # A session goes with its mirrors and its catalog; a catalog of a session
    # that stays (its sources are not all gone, or it was used lately) stays.
    sessions = {str(e.path) for e in going if e.kind == "session"}
    catalogs = {str(e.parent) for e in going if e.kind == "session"}
    kept = {str(e.parent) for e in entries if e.kind == "session" and str(e.path) not in sessions}
    going = [e for e in going if not (e.kind == "catalog" and str(e.path) in kept)]
    going += [
        e for e in entries if e.kind == "mirror" and e not in going and str(e.parent) in sessions
    ]
    going += [
        e
        for e in entries
        if e.kind == "catalog" and e not in going and not e.in_use and str(e.path) in catalogs
    ]
    order = {"mirror": 0, "imported": 1, "source": 1, "session": 1, "catalog": 2}
    return sorted(going, key=lambda e: order.get(e.kind, 1))


def remove(entry: CacheEntry) -> None:
    if entry.kind in ("imported", "source", "session", "mirror"):
        shutil.rmtree(entry.path, ignore_errors=entry.kind == "mirror")
        return
    for suffix in ("", ".wal", USED_SUFFIX):
        Path(str(entry.path) + suffix).unlink(missing_ok=True)


def _files_stat(paths_: Iterable[Path], *, on_disk: bool = False) -> tuple[int, float]:
    """Their bytes (``on_disk``: blocks taken, so a mirror's sparse stubs count
    none) and the newest mtime."""
    size, newest = 0, 0.0
    for p in paths_:
        try:
            st = p.lstat()
        except OSError:
            continue
        size += st.st_blocks * 512 if on_disk and hasattr(st, "st_blocks") else st.st_size
        newest = max(newest, st.st_mtime)
    return size, newest


def _catalog_entry(path: Path) -> CacheEntry:
    entry = _read_catalog(path)
    return replace(entry, used=_used(path))


def _read_catalog(path: Path) -> CacheEntry:
    import duckdb

    size, modified = _files_stat([path, Path(str(path) + ".wal")])
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        in_use = "lock" in str(exc).lower()
        return CacheEntry("catalog", path, size, modified, None, None, None, in_use)
    try:
        runs = con.execute("SELECT count(*) FROM runs").fetchone()[0]
        row = con.execute(
            "SELECT dir, rel_dir FROM runs WHERE dir IS NOT NULL AND rel_dir IS NOT NULL "
            "AND ends_with(dir, '/' || rel_dir) LIMIT 1"
        ).fetchone()
    except duckdb.Error:  # damaged, or an older schema: rebuilt when opened
        runs = _count(con)
        return CacheEntry("catalog", path, size, modified, None, None, runs or None)
    finally:
        con.close()
    if row is None:
        return CacheEntry("catalog", path, size, modified, None, None, runs)
    store = row[0][: -len(row[1]) - 1]
    return CacheEntry("catalog", path, size, modified, store, os.path.isdir(store), runs)


def _count(con: Any) -> int | None:
    try:
        return int(con.execute("SELECT count(*) FROM runs").fetchone()[0])
    except Exception:
        return None


def _imported_entry(path: Path) -> CacheEntry:
    files = [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    size, modified = _files_stat(files)
    origins = []
    runs = 0
    for source in sorted(path.glob(f"*/*/{paths.SOURCE}")):
        runs += 1
        doc = read_json(source) or {}
        if isinstance(doc.get("path"), str) and os.path.isabs(doc["path"]):
            origins.append(doc["path"])
    if not origins:
        return CacheEntry("imported", path, size, modified, None, None, runs)
    try:
        origin = os.path.commonpath(origins)
    except ValueError:
        origin = origins[0]
    present = any(os.path.exists(o) for o in origins)
    return CacheEntry("imported", path, size, modified, origin, present, runs)
