"""Reading one run's files into the catalog, incrementally: per file the
inode, size, mtime and byte offset already read; whole JSON files read again
when they change, line files from where the last read stopped. Every read
goes through the bounded opener; a file it refuses, or a document that does
not parse, becomes one of the run's ``problems`` (which make it
``unreadable``), never an exception out of the refresh.

A finished run found quiet is not read file by file at every refresh: see
``quiet_runs.py``.

A mixin of ``Catalog``: it uses ``opener``, ``_state``, ``_bad``, ``_tmp``
and ``_ingest``.
"""

from __future__ import annotations

import json
import os
import stat as stat_mod
import time
from typing import Any

from . import bounded_json, paths, run_sync, system_lines
from .bulk_rows import stage_columns
from .catalog_schema import FILE_COLUMNS, TABLES, FileState, RunState
from .fmt import repair
from .ingest import Chunk
from .new_runs import NewRuns
from .opener import UnsafeFile
from .quiet_runs import QuietRuns
from .run_dirs import RunDir

_WHOLE_FILES = (paths.META, paths.CONFIG, paths.SUMMARY, paths.SOURCE)
# system.jsonl after metrics.jsonl: a reset of the metrics re-reads it (``_reset_lines``).
_LINE_FILES = (paths.METRICS, paths.EVENTS, paths.ARTIFACTS, paths.SYSTEM)
_SHOWN_FILES = (paths.CONSOLE, paths.CODE_DIFF)
_MISSING_META = "missing: the run died while starting, or this is not a run"
#: A listed regular file not stat-ed yet: the read that opens it stats it.
_READ: Any = object()


class Batch:
    """What one batch of runs read, before it is written out."""

    def __init__(self, python_only: set[str]):
        self.python_only = python_only
        self.chunks: list[Chunk] = []
        self.pending = 0
        self.points = 0
        self.file_rows: list[tuple[str, str, FileState | None]] = []
        #: Runs first seen in this batch: their rows, written with the points.
        self.new = NewRuns()


def problems_of(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    try:
        doc = json.loads(text)
    except ValueError:
        return {"run": text}
    return {str(k): str(v) for k, v in doc.items()} if isinstance(doc, dict) else {}


_SAME: Any = object()
_MISSING: Any = object()


def _quick_stat(path: str, old: FileState | None) -> Any:
    """``_SAME``: ``path`` is still the regular file ``old`` describes;
    ``_MISSING``: there is no such file; else None: ask the opener (whose
    checked stat costs four times this ``lstat``, and says why a link or a
    FIFO is not read)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return _MISSING
    except OSError:
        return None
    if (
        old is not None
        and stat_mod.S_ISREG(st.st_mode)
        and (st.st_ino, st.st_size, st.st_mtime_ns) == (old.ino, old.size, old.mtime_ns)
    ):
        return _SAME
    return None


class RunSync(QuietRuns):
    def _signature(self, run: RunDir) -> tuple[Any, ...]:
        out = []
        for name in (*_LINE_FILES, *_WHOLE_FILES):
            try:
                out.append(self.opener.stat(os.path.join(run.path, name)))
            except (UnsafeFile, OSError) as exc:
                out.append(str(exc))
        return tuple(out)

    def _sync_run(self, cur: Any, run: RunDir, batch: Batch) -> bool:
        # Its files opened as names under one held descriptor of its directory.
        with self.opener.holding():
            return self._sync_run_files(cur, run, batch)

    def _sync_run_files(self, cur: Any, run: RunDir, batch: Batch) -> bool:
        key = run.key
        if key in self._bad:
            if self._signature(run) == self._bad[key]:
                return False
            del self._bad[key]
            self._delete_run(cur, key)
            self._state.pop(key, None)
        state = self._state.get(key)
        if state is not None and state.partial:
            self._complete([key])
        # The directory before its files: a name added after this sets its mtime.
        began = time.time_ns()
        try:
            folder: os.stat_result | None = os.lstat(run.path)
        except OSError:
            folder = None
        was_finished = state is not None and state.finished
        is_new = state is None
        if state is None:
            state = self._state[key] = RunState(dir=run.shown)
            batch.new.add(cur, self._run_fields(run, probe=False))
        problems_before = dict(state.problems)
        if not run.has_meta:
            state.problems[paths.META] = _MISSING_META
        changed = is_new
        names = _LINE_FILES + _WHOLE_FILES
        if state.finished and not is_new:
            names = (paths.METRICS, paths.EVENTS, paths.SOURCE, paths.META, paths.SYSTEM)
        # A new run's directory is listed once: a file it lacks costs no
        # stat, and a regular file is stat-ed by the read that opens it.
        listing = self._listing(run) if is_new else None
        for name in names:
            rel = os.path.join(run.path, name)
            old = state.files.get(name)
            if listing is not None and listing.get(name, True) is not None:
                st = _READ if name in listing else None
            else:
                quick = _quick_stat(rel, old)
                if quick is _SAME:
                    continue  # as the opener would stat it: nothing to read
                try:
                    st = None if quick is _MISSING else self.opener.stat(rel)
                except UnsafeFile as exc:
                    state.problems[name] = exc.reason
                    continue
            if st is None:
                state.problems.pop(name, None)
                if name == paths.META and run.has_meta is False:
                    state.problems[name] = _MISSING_META
                if old is not None and name in (paths.METRICS, paths.SYSTEM):
                    self._reset_lines(cur, key, name)
                    del state.files[name]
                    batch.file_rows.append((key, name, None))
                    changed = True
                continue
            if old is not None and (old.ino, old.size, old.mtime_ns) == (
                st.ino,
                st.size,
                st.mtime_ns,
            ):
                continue
            changed = True
            if st is _READ:
                read = (
                    self._read_whole(cur, run, name, state, batch)
                    if name in _WHOLE_FILES
                    else self._read_lines(
                        cur, run, name, FileState(0, 0, 0), state, batch, stated=False
                    )
                )
                if read is None:
                    continue  # gone since listed, or refused (a problem now)
                state.files[name] = read
                batch.file_rows.append((key, name, read))
                continue
            fresh = FileState(st.ino, st.size, st.mtime_ns)
            if name in _WHOLE_FILES:
                fresh.offset = st.size
                self._read_whole(cur, run, name, state, batch)
            else:
                if old is not None and (old.ino != st.ino or st.size < old.offset):
                    # Replaced by atomic rename (importers do): read it again.
                    self._reset_lines(cur, key, name)
                    old = None
                fresh.offset = old.offset if old else 0
                fresh.lines = old.lines if old else 0
                self._read_lines(cur, run, name, fresh, state, batch)
            state.files[name] = fresh
            batch.file_rows.append((key, name, fresh))
        if is_new or not state.finished:
            shown = []
            for name in _SHOWN_FILES:
                if listing is not None and listing.get(name, True) is not None:
                    shown.append(name in listing)
                    continue
                try:
                    shown.append(self.opener.stat(os.path.join(run.path, name)) is not None)
                    state.problems.pop(name, None)
                except UnsafeFile as exc:
                    shown.append(False)
                    state.problems[name] = exc.reason
            if shown != state.shown and key in batch.new:
                batch.new.set(key, {"has_console": shown[0], "has_diff": shown[1]})
                state.shown = shown
            elif shown != state.shown:
                cur.execute(
                    "UPDATE runs SET has_console = ?, has_diff = ? WHERE run_id = ?",
                    [*shown, key],
                )
                state.shown = shown
            if listing is not None and paths.HEARTBEAT not in listing:
                state.heartbeat_mtime = None
            else:
                state.heartbeat_mtime = self._heartbeat(run)
        if state.problems != problems_before:
            problems = json.dumps(state.problems) if state.problems else None
            if key in batch.new:
                batch.new.set(key, {"problems": problems})
            else:
                cur.execute("UPDATE runs SET problems = ? WHERE run_id = ?", [problems, key])
            changed = True
        self._stamp(run, state, batch, folder, began, quiet=was_finished and not changed)
        return changed

    def _listing(self, run: RunDir) -> dict[str, bool | None] | None:
        """The run directory's entries: name -> True (a regular file, read
        without a stat first), None (anything else: a link, a FIFO… go through
        ``opener.stat``, which says why). A name not there is a missing file.
        None: the directory could not be listed; then every file is stat-ed
        as usual. Safety stays with the opener: every file is read through it."""
        try:
            with os.scandir(run.path) as entries:
                return {e.name: True if e.is_file(follow_symlinks=False) else None for e in entries}
        except OSError:
            return None

    def _heartbeat(self, run: RunDir) -> float | None:
        # Only its mtime is used, so a lstat is enough (it is never read).
        try:
            return os.lstat(os.path.join(run.path, paths.HEARTBEAT)).st_mtime_ns / 1e9
        except OSError:
            return None

    def _read_whole(
        self, cur: Any, run: RunDir, name: str, state: RunState, batch: Batch
    ) -> FileState | None:
        """Read one whole JSON file; what was read of it (None: missing or refused)."""
        read = None
        try:
            data, st = self.opener.read(os.path.join(run.path, name))
            read = FileState(st.ino, st.size, st.mtime_ns, st.size)
            doc = bounded_json.loads_object(data)
        except FileNotFoundError:
            return None
        except UnsafeFile as exc:
            state.problems[name] = exc.reason
            return None
        except (OSError, ValueError) as exc:
            state.problems[name] = f"not readable as JSON ({repair(str(exc))[:200]})"
            return read
        state.problems.pop(name, None)
        if run.key in batch.new:
            batch.new.document(run.key, run.shown, name, doc)
        else:
            run_sync.write_document(cur, run.key, run.shown, name, doc)
        return read

    def _read_lines(
        self,
        cur: Any,
        run: RunDir,
        name: str,
        st: FileState,
        state: RunState,
        batch: Batch,
        *,
        stated: bool = True,
    ) -> FileState | None:
        """Read the complete lines from ``st.offset`` on, advancing ``st``
        (``stated=False``: the file was not stat-ed, ``st`` takes the first
        read's stat); None: missing or refused before anything was read."""
        rel = os.path.join(run.path, name)
        while True:
            try:
                got = self.opener.read_lines(rel, st.offset)
            except FileNotFoundError:
                return st if stated else None
            except UnsafeFile as exc:
                state.problems[name] = exc.reason
                return st if stated else None
            if not stated:
                st.ino, st.size, st.mtime_ns = got.stat.ino, got.stat.size, got.stat.mtime_ns
                stated = True
            if not got.data:
                return st
            state.problems.pop(name, None)
            first, st.offset = st.lines, got.end
            st.lines += got.data.count(b"\n")
            if name == paths.METRICS:
                batch.chunks.append((run.key, got.data, first))
                batch.pending += len(got.data)
            elif name == paths.SYSTEM:
                # Sampled series go in as metrics (keys ``system/...``, step = line number).
                batch.chunks.append((run.key, system_lines.as_metric_lines(got.data, first), first))
                batch.pending += len(got.data)
            elif name == paths.EVENTS:
                if run.key in batch.new:
                    finished = batch.new.events(run.key, got.data, first)
                else:
                    finished = run_sync.write_events(cur, run.key, got.data, first)
                if finished:
                    state.finished = True
            elif run.key in batch.new:
                batch.new.artifacts(run.key, got.data, first)
            else:
                run_sync.write_artifacts(cur, run.key, got.data, first)
            if got.end >= got.stat.size:
                return st  # all of it: no second open to find nothing more

    def _save_file_states(self, cur: Any, rows: list[tuple[str, str, FileState | None]]) -> None:
        """What was read of each file, in a few statements however many files
        changed (None: the file is gone)."""
        if not rows:
            return
        gone = FileState(ino=-1)
        records = [
            (run_id, name, st.ino, st.size, st.mtime_ns, st.offset, st.lines)
            for run_id, name, st in ((r, n, s or gone) for r, n, s in rows)
        ]
        stage_columns(cur, self._tmp.name, "file_rows", FILE_COLUMNS, records)
        cur.execute(
            "DELETE FROM files WHERE (run_id, name) IN (SELECT run_id, name FROM file_rows)"
        )
        cur.execute("INSERT INTO files SELECT * FROM file_rows WHERE ino >= 0")
        cur.execute("DROP TABLE file_rows")

    def _run_fields(self, run: RunDir, *, probe: bool = True) -> dict[str, Any]:
        """A new run's ``runs`` columns before any of its files is read
        (``probe=False``: console and diff are looked at later, by ``_sync_run``)."""
        fields = {
            "run_id": run.key,
            "dir": run.shown,
            "rel_dir": run.rel,
            "project": run.rel.rsplit("/", 1)[0],
            "name": run.rel.rsplit("/", 1)[-1],
        }
        if probe:
            fields["has_console"] = self.opener.exists(os.path.join(run.path, paths.CONSOLE))
            fields["has_diff"] = self.opener.exists(os.path.join(run.path, paths.CODE_DIFF))
        return fields

    def _insert_run(self, cur: Any, run: RunDir) -> None:
        cur.execute("DELETE FROM runs WHERE run_id = ?", [run.key])
        fields = self._run_fields(run)
        cur.execute(
            f"INSERT INTO runs ({', '.join(fields)}, run_no) "
            f"VALUES ({', '.join('?' for _ in fields)}, "
            "(SELECT coalesce(max(run_no), 0) + 1 FROM runs))",
            list(fields.values()),
        )

    def _reset_lines(self, cur: Any, run_id: str, name: str) -> None:
        if name == paths.METRICS:
            self._reset_metrics(cur, run_id)
            # That removed the system series too: read system.jsonl again.
            if self._state[run_id].files.pop(paths.SYSTEM, None) is not None:
                cur.execute(
                    "DELETE FROM files WHERE run_id = ? AND name = ?", [run_id, paths.SYSTEM]
                )
        elif name == paths.SYSTEM:
            self._reset_metrics(cur, run_id, system_only=True)
        elif name == paths.EVENTS:
            cur.execute("DELETE FROM events WHERE run_id = ?", [run_id])
            cur.execute(
                "UPDATE runs SET finish_status = NULL, finish_reason = NULL, ended = NULL "
                "WHERE run_id = ?",
                [run_id],
            )
            self._state[run_id].finished = False
        else:
            cur.execute("DELETE FROM artifacts WHERE run_id = ?", [run_id])

    def _reset_metrics(self, cur: Any, run_id: str, *, system_only: bool = False) -> None:
        keys, only = "", ""
        if system_only:
            keys = (
                " AND key_no IN (SELECT key_no FROM metric_keys WHERE starts_with(key, 'system/'))"
            )
            only = " AND starts_with(key, 'system/')"
        cur.execute(
            "DELETE FROM metrics WHERE run_no = (SELECT run_no FROM runs WHERE run_id = ?)" + keys,
            [run_id],
        )
        cur.execute("DELETE FROM summaries WHERE run_id = ?" + only, [run_id])

    def _delete_run(self, cur: Any, run_id: str) -> None:
        self._reset_metrics(cur, run_id)
        for table in TABLES:
            if table not in ("metrics", "metric_keys"):
                cur.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
