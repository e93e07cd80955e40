"""The cache directory's catalogs, for ``trackui cache ls|prune``.

Each catalog is listed with the store it indexes (read from the catalog
itself, read-only: a catalog another trackui holds is "in use" and never
touched), the stores made to read a folder of other tools' runs through
with that folder, and imported copies with the folder they came from; what
stands for something gone can be removed. Everything here is derived from
run files or foreign folders, so a removed catalog is rebuilt when needed.
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


def cache_entries(cache: Path | None = None) -> list[CacheEntry]:
    """The catalogs, read-through stores and imported stores under the cache
    directory. The catalog of a read-through store stands for the folder it
    reads; that store (a folder holding only which folder it reads) goes
    with its catalog."""
    base = cache if cache is not None else paths.cache_dir()
    through = {}
    out = []
    for root in sorted((base / READ_THROUGH).glob("*")):
        if root.is_dir() and not root.is_symlink():
            folder = _read_through_folder(root)
            through[str(paths.catalog_path(root))] = folder
            size, modified = _files_stat([p for p in root.rglob("*") if p.is_file()])
            present = None if folder is None else os.path.exists(folder)
            out.append(CacheEntry("source", root, size, modified, folder, present))
    for path in sorted((base / "catalogs").glob("*.duckdb")):
        if path.is_file() and not path.is_symlink():
            entry = _catalog_entry(path)
            if str(path) in through and not entry.in_use:
                folder = through[str(path)]
                present = None if folder is None else os.path.exists(folder)
                entry = replace(entry, store=folder, present=present)
            out.append(entry)
    for path in sorted((base / "imported").glob("*")):
        if path.is_dir() and not path.is_symlink():
            out.append(_imported_entry(path))
    return out


def _read_through_folder(root: Path) -> str | None:
    doc = read_json(root / ".sources.json") or {}
    items = doc.get("sources") if isinstance(doc.get("sources"), list) else []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("path"), str):
            return item["path"]
    return None


def prunable(entry: CacheEntry, *, imported: bool = False, older_than: float | None = None) -> bool:
    """Whether ``prune`` removes it: a catalog of a store that is gone (or of
    no runs at all), one not written for ``older_than`` seconds, an imported
    store whose folder is gone (only when ``imported``). Never one in use."""
    if entry.in_use or (entry.kind == "catalog" and entry.runs is None):
        return False  # held by a trackui, or not read (damaged, or being written)
    if entry.kind == "imported":
        return imported and entry.present is False
    if entry.kind == "source":
        return entry.present is False
    if entry.present is False or entry.runs == 0:
        return True
    return older_than is not None and time.time() - entry.modified > older_than


def prune_plan(
    entries: Sequence[CacheEntry], *, imported: bool = False, older_than: float | None = None
) -> list[CacheEntry]:
    """What ``prune`` removes (see ``prunable``): imported stores first, then
    catalogs, with the catalog of each imported store that goes."""
    going = [e for e in entries if prunable(e, imported=imported, older_than=older_than)]
    stores = {str(e.path) for e in going if e.kind == "imported"}
    # A read-through store goes with its catalog (it holds nothing else).
    folders = {e.store for e in going if e.kind == "catalog" and e.store}
    going += [e for e in entries if e.kind == "source" and e not in going and e.store in folders]
    going += [
        e
        for e in entries
        if e.kind == "catalog" and e not in going and not e.in_use and e.store in stores
    ]
    return sorted(going, key=lambda e: e.kind == "catalog")


def remove(entry: CacheEntry) -> None:
    if entry.kind in ("imported", "source"):
        shutil.rmtree(entry.path)
        return
    for suffix in ("", ".wal"):
        Path(str(entry.path) + suffix).unlink(missing_ok=True)


def _files_stat(paths_: Iterable[Path]) -> tuple[int, float]:
    size, newest = 0, 0.0
    for p in paths_:
        try:
            st = p.lstat()
        except OSError:
            continue
        size += st.st_size
        newest = max(newest, st.st_mtime)
    return size, newest


def _catalog_entry(path: Path) -> CacheEntry:
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
