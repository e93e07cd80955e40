"""Finding the runs of a store and keying them: the catalog's ``run_id`` is
the run directory's name, or ``<project dir>/<name>`` for a second directory
of the same name (a run copied into another project). Of several directories
with one name, the bare name stays with the one already keyed so, else with
the one in the project its meta.json names (the original of a copy), else
with the first by project, so live refreshes and rebuilds agree.

Listing them again is cheap when nothing was added or removed: creating,
removing or renaming an entry sets its folder's mtime, so the store root and
each project folder are ``stat``-ed, and one whose inode and mtime are those
of its last listing is not read again: its run directories are the names
listed then. A folder changed within ``RACY_NS`` of its listing is read again
next time (file times are coarse, see ``sources/listing.py``).

A mixin of ``Catalog``: it uses ``root``, ``clock``, ``opener`` and ``_state``.
"""

from __future__ import annotations

import os
import stat as stat_mod
import time
from collections.abc import Iterable
from typing import Any, NamedTuple

from . import bounded_json, paths
from .catalog_schema import CatalogError
from .fmt import repair
from .opener import UnsafeFile
from .sources.listing import RACY_NS

#: A run directory without meta.json younger than this may be one being made.
INIT_GRACE_S = 60.0


class RunDir(NamedTuple):
    """A run directory found in the store, under the key the catalog gives it
    (a tuple: ten thousand are made per refresh)."""

    key: str
    path: str  # as the file system spells it
    rel: str  # relative to the store root
    shown: str  # the path as valid UTF-8
    has_meta: bool


class _Folder(NamedTuple):
    """A folder's sub-folders as last listed, and what proves them unchanged."""

    ino: int
    mtime_ns: int
    trusted: bool  # changed well before it was listed
    dirs: list[tuple[str, str]]  # (name, path) of its sub-folders, hidden ones left out


class RunDirs:
    #: Folders (the store roots, their projects) as last listed, by path.
    _folders: dict[str, _Folder]
    #: Folders read (``scandir``) by the last scan: for tests and benchmarks.
    scanned = 0

    def run_dirs(self) -> Iterable[tuple[str, str]]:
        """``(key, directory path)`` of every run in the store."""
        return [(r.key, r.path) for r in self._scan()]

    def _scan(self) -> list[RunDir]:
        """Every run directory, keyed (see ``catalog_schema``). A directory
        not seen before counts once it has its ``meta.json``, or once it is
        ``INIT_GRACE_S`` old without one (then it is listed ``unreadable``)."""
        known = self._state
        folders = getattr(self, "_folders", None)
        if folders is None:
            folders = self._folders = {}
        kept: dict[str, _Folder] = {}
        self.scanned = 0
        try:
            projects = self._subdirs(str(self.root), folders, kept, top=True)
        except OSError as exc:
            raise CatalogError(
                f"cannot read store {repair(str(self.root), path=True)}: {exc.strerror}"
            ) from None
        # Other trackui stores among the catalog's sources (a remote box's
        # mirror, a second local store): their run directories too.
        for extra in self._native_roots():
            try:
                projects = projects + self._subdirs(str(extra), folders, kept, top=True)
            except OSError:
                continue  # gone for now: its runs leave the list
        listed = []
        for project_name, project_path in projects:
            try:
                listed.append((project_name, self._subdirs(project_path, folders, kept)))
            except OSError:
                continue
        self._folders = kept
        last = getattr(self, "_last_scan", None)
        if (
            self.scanned == 0
            and last is not None
            and last[0] is known
            and last[1] == len(known)
            and last[2] == list(kept)
        ):
            # No folder changed, and every run directory was keyed as the
            # catalog keeps it last time: the same runs (a known run's
            # meta.json is checked when it is read).
            return last[3]
        self._last_scan = None
        by_dir = {state.dir: key for key, state in known.items()}
        found: list[tuple[str, str, str, str, bool]] = []
        names: dict[str, int] = {}
        old = self.clock() - INIT_GRACE_S
        settled = True  # every directory a run the catalog keeps, under its key
        for project_name, entries in listed:
            for name, path in entries:
                shown = path if path.isascii() else repair(path, path=True)
                has_meta = True  # a known run's meta.json is checked when it is read
                if shown not in by_dir and not os.path.lexists(os.path.join(path, paths.META)):
                    settled = False
                    try:
                        if os.lstat(path).st_mtime > old:
                            continue  # maybe being made right now
                    except OSError:
                        continue
                    has_meta = False
                found.append((project_name, name, path, shown, has_meta))
                names[name] = names.get(name, 0) + 1
        runs = []
        keys: set[str] = set()
        for project_name, name, path, shown, has_meta in found:
            rel = _valid(f"{project_name}/{name}")
            key = name if name.isascii() else repair(name, path=True)
            if names[name] > 1 and not self._owns_name(key, shown, project_name, name, found):
                key = rel
                if key in keys:  # the same project/run in two stores of the session
                    key = _valid(shown)
            keys.add(key)
            runs.append(RunDir(key, path, rel, shown, has_meta))
            if settled and by_dir.get(shown) != key:
                settled = False
        if settled:
            self._last_scan = (known, len(known), list(kept), runs)
        return runs

    def _subdirs(
        self,
        path: str,
        folders: dict[str, _Folder],
        kept: dict[str, _Folder],
        *,
        top: bool = False,
    ) -> list[tuple[str, str]]:
        """``(name, path)`` of the folder's sub-folders (not hidden, not
        links), listed again only when its inode or mtime moved since the
        listing before, or that listing was too close to its last change.
        OSError: it cannot be read (for a project: gone, or not a folder)."""
        # A store root as named (a link to it is followed); a project not.
        st = os.stat(path) if top else os.lstat(path)
        folder = folders.get(path)
        if (
            folder is None
            or not folder.trusted
            or (folder.ino, folder.mtime_ns) != (st.st_ino, st.st_mtime_ns)
        ):
            if not stat_mod.S_ISDIR(st.st_mode):
                raise NotADirectoryError(path)
            began = time.time_ns()  # before the read: a change during it is after this
            with os.scandir(path) as entries:
                dirs = [(e.name, e.path) for e in entries if e.name[0] != "." and _is_dir(e)]
            self.scanned += 1
            folder = _Folder(st.st_ino, st.st_mtime_ns, st.st_mtime_ns < began - RACY_NS, dirs)
        kept[path] = folder
        return folder.dirs

    def _native_roots(self) -> list[Any]:
        return []  # overridden by the catalog when it reads other stores

    def _owns_name(
        self,
        key: str,
        shown: str,
        project_name: str,
        name: str,
        found: list[tuple[str, str, str, str, bool]],
    ) -> bool:
        """Of several directories called ``name``, the one keyed by the bare
        name: the one already keyed so, else the one in the project its
        meta.json names (the original of a copy), else the first by project."""
        state = self._state.get(key)
        twins = sorted(f for f in found if f[1] == name)
        paths_ = {f[3] for f in twins}
        if state is not None and state.dir in paths_:
            return state.dir == shown
        homes = [f for f in twins if self._home(f[0], f[2])]
        pick = homes[0] if homes else twins[0]
        return pick[3] == shown  # by path: two stores may both hold project/name

    def _home(self, project_name: str, path: str) -> bool:
        try:
            data, _ = self.opener.read(os.path.join(path, paths.META), limit=1 << 20)
            meta = bounded_json.loads_object(data)
        except (OSError, UnsafeFile, ValueError):
            return False
        project = meta.get("project")
        return isinstance(project, str) and paths.safe_segment(project) == project_name


def _valid(text: str) -> str:
    """A path as valid UTF-8 (undecodable bytes as \\xNN), cheaply when ASCII."""
    return text if text.isascii() else repair(text, path=True)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    # A symlinked directory is not followed: it could lead out of the store.
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False
