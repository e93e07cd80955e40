"""Which finished runs a refresh need not read file by file.

A finished run is not read file by file at every refresh: what can still
change it is known. The writer's finish appends the finish event last (the
summary is replaced before it, by rename), and nothing writes into the run
after it; ``trackui tag`` / ``rename`` replace ``meta.json`` by rename; an
importer replaces files by rename, or appends to ``metrics.jsonl``,
``events.jsonl`` and ``system.jsonl`` of a run it wrote (one with
``source.json``) when its source grew; a remote box's mirror
(``remote/mirror.py``) copies a whole file by rename and appends what was
appended on the box (where anything may have written into a finished run);
a user may edit ``meta.json`` in place. A rename, a new or a removed file sets the run directory's mtime;
writing into a file does not. So once a look at every file of a finished
run (``_sync_run_files``, the directory ``lstat``-ed before its files) finds
nothing changed, and the directory and its files were last changed at least
``RACY_NS`` before that look began (file times are coarse: a change in the
same clock tick could leave them as seen), the directory's inode and mtime
are kept (the ``FOLDER`` row of ``files``). After that the run is
``_quiet`` while the directory's inode and mtime and the stats of its
``meta.json`` (of an imported or mirrored run: also its appendable files) are those
kept: one ``lstat`` of the directory and one of each of those files, no
listing, no open. Any difference, a problem, or no kept stamp, and the run
is read file by file again; a look that finds a change drops the stamp, so
a run that just changed is read file by file until a look finds it quiet.

A mixin of ``RunSync``: it uses ``_state``, ``_bad`` and ``cursor``.
"""

from __future__ import annotations

import os
from typing import Any

from . import paths
from .catalog_schema import FOLDER, FileState, RunState
from .run_dirs import RunDir
from .sources.listing import RACY_NS

#: What can change in a quiet finished run without its directory changing:
#: meta.json edited in place; an importer's appends to a run it wrote, and a
#: remote box's mirror's appends (what was appended on the box).
_WATCHED = (paths.META,)
_WATCHED_APPENDED = (paths.META, paths.METRICS, paths.EVENTS, paths.SYSTEM)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class Folders:
    """Handles of project folders, opened once per refresh: a run's stats
    are made relative to its project's (only compared, never followed to a
    read: a run found changed is read through the opener)."""

    def __init__(self) -> None:
        self._fds: dict[str, int | None] = {}

    def handle(self, path: str) -> int | None:
        fd = self._fds.get(path, -1)
        if fd == -1:
            try:
                fd = os.open(path, _DIR_FLAGS)
            except OSError:
                fd = None  # the runs under it are stat-ed by path
            self._fds[path] = fd
        return fd

    def close(self) -> None:
        for fd in self._fds.values():
            if fd is not None:
                os.close(fd)
        self._fds.clear()

    def __enter__(self) -> Folders:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class QuietRuns:
    def _quiet(
        self, run: RunDir, state: RunState, folders: Folders, mirrors: tuple[str, ...] = ()
    ) -> bool:
        """Whether a finished run is as its last quiet look found it (see the
        module doc): its directory and watched files ``lstat``-ed, no more
        (relative to its project folder's handle: a shorter path to walk).
        ``mirrors``: folders (ending in a separator) that remote boxes' runs
        are copied into, appending to their files as on the box."""
        stamp = state.files.get(FOLDER)
        if stamp is None or state.problems or run.key in self._bad:
            return False
        files = state.files
        appended = paths.SOURCE in files or (mirrors and run.path.startswith(mirrors))
        if appended and state.partial:
            return False  # its appendable files' states are not loaded: a look loads them
        project, name = run.path.rsplit(os.sep, 1)
        fd = folders.handle(project)
        stat = os.stat
        try:
            st = (
                stat(name, dir_fd=fd, follow_symlinks=False)
                if fd is not None
                else os.lstat(run.path)
            )
        except OSError:
            return False
        if st.st_ino != stamp.ino or st.st_mtime_ns != stamp.mtime_ns:
            return False
        for watched in _WATCHED_APPENDED if appended else _WATCHED:
            old = files.get(watched)
            try:
                if fd is not None:
                    st = stat(f"{name}/{watched}", dir_fd=fd, follow_symlinks=False)
                else:
                    st = os.lstat(f"{run.path}/{watched}")
            except OSError:
                if old is not None:
                    return False
                continue
            if old is None or (st.st_ino, st.st_size, st.st_mtime_ns) != (
                old.ino,
                old.size,
                old.mtime_ns,
            ):
                return False
        return True

    def _complete(self, keys: list[str]) -> None:
        """Load every file state of runs loaded ``partial`` (``_load_state``)."""
        states = self._state
        keys = [k for k in keys if k in states and states[k].partial]
        if not keys:
            return
        rows = (
            self.cursor()
            .execute(
                'SELECT run_id, name, ino, size, mtime_ns, "offset", lines FROM files '
                "WHERE run_id IN (SELECT unnest(?::VARCHAR[]))",
                [keys],
            )
            .fetchall()
        )
        for key in keys:
            states[key].files.clear()
            states[key].partial = False
        for run_id, name, ino, size, mtime_ns, offset, lines in rows:
            states[run_id].files[name] = FileState(ino, size, mtime_ns, offset, lines)

    def _stamp(
        self,
        run: RunDir,
        state: RunState,
        batch: Any,
        folder: os.stat_result | None,
        began: int,
        *,
        quiet: bool,
    ) -> None:
        """Keep the run directory's inode and mtime when this look, of a run
        already finished, found nothing changed, long enough after the last
        change of the directory and its files; else drop what was kept."""
        old = state.files.get(FOLDER)
        settled = began - RACY_NS
        if (
            quiet
            and folder is not None
            and not state.problems
            and folder.st_mtime_ns < settled
            and all(f.mtime_ns < settled for n, f in state.files.items() if n != FOLDER)
        ):
            if old is None or (old.ino, old.mtime_ns) != (folder.st_ino, folder.st_mtime_ns):
                stamp = FileState(folder.st_ino, 0, folder.st_mtime_ns, began, 1)
                state.files[FOLDER] = stamp
                batch.file_rows.append((run.key, FOLDER, stamp))
        elif old is not None:
            del state.files[FOLDER]
            batch.file_rows.append((run.key, FOLDER, None))
