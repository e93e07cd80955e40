"""The batches of a refresh with many runs to read (a cold catalog), the
reading of one overlapped with the writing of the one before.

Reading a batch of new runs is Python (open, parse, coerce each file); writing
it is DuckDB (stage, insert, aggregate, commit), which lets go of the GIL
while it works. So while batch k is written in a second thread, batch k + 1
is read: on two cores the two halves of the cost overlap. From
``PROCESS_MIN_RUNS`` runs on (``PROCESS_MIN_RUNS_SHOWN`` where the batches
are shown as they land), the batches after the first are read by a
child process (``cold_reader``), so the reading and the writing's Python no
longer take turns at one GIL; where it cannot start or fails, the reading is
done here, in this thread.

Only a batch of runs the catalog has never seen is read ahead: reading those
touches nothing in the database (their rows are held in ``Batch.new`` until
written, their ``run_no`` counted on from the batch before). Anything else
(a run already known, one marked unreadable), and any failure, goes back to
the one-batch-at-a-time path (``_sync_isolated``, with its retries run by
run) from the batch that failed on: the state read ahead is dropped and
loaded again from what was committed, so a failure costs time, never rows.

Once a batch is committed its finished runs are kept in memory as a warm
start loads them (``_settle``): partial, their other file states loaded from
the catalog again when read.

A mixin of ``Catalog``: it uses ``_state`` (``_states``), ``_bad``, ``_transaction``,
``_sync_run``, ``_save_file_states``, ``_flush``, ``_sync_isolated``,
``_reload_state`` and ``_derive_statuses``; ``Catalog`` uses its
``_sync_prefix`` (a batch's runs up to ``TXN_BYTES``) and ``_reload_keeping_beats``.
"""

from __future__ import annotations

import gc
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import duckdb

from . import paths
from .catalog_db import is_damage
from .catalog_schema import FOLDER
from .catalog_sync import Batch
from .cold_reader import NO_CURSOR, ReaderProcess, read_batch
from .run_dirs import RunDir

#: Fewer runs than this to read: one batch at a time (no thread).
OVERLAP_MIN_RUNS = 500
#: Runs per batch at most while overlapped: the last batches are written
#: after the reading ends, so big ones leave the reader idle at the end
#: (10 k runs: 250, 1000, 4000, 4000, 750 left ~1.3 s of writing alone).
OVERLAP_RUNS = 2000
#: Runs to read ahead from which a child process reads them (``cold_reader``),
#: else this process's reading thread. The child costs a start and the
#: pickling (more CPU in all), and pays back once the reading thread's
#: turns at the GIL cost more: 10 k small runs, 2 cores: thread 3.8-4.6 s
#: wall, 5.3-6.1 CPU-s; child 4.1-5.5 s, 6.4-7.5 CPU-s. 100 k: thread 53.6 s,
#: child 48.0 s (70 and 77 CPU-s).
PROCESS_MIN_RUNS = 20_000
#: The same where the batches are shown as they land (``progress`` given: the
#: TUI, its event loop painting meanwhile). There the reading thread shares
#: the GIL with the UI thread too, and the child pays back from far fewer
#: runs: 10 k small runs listed in the app, 2 cores, load ~2: thread
#: 3.8-7.2 s wall, child 2.8-3.7 s, at the same CPU (4.8-6.0 CPU-s).
PROCESS_MIN_RUNS_SHOWN = 1_000
#: DuckDB's ``memory_limit`` (MiB) while the batches are written, restored
#: after (``_memory_for_build``). Unlimited, DuckDB keeps every table block
#: it wrote or read in its buffer pool (about 100 MB at 100 k small runs),
#: and each checkpoint rewrites the last row group of each table on top:
#: 100 k small runs shown as they land, peak RSS headless 469-485 MB; 392-394
#: MB at 128 MiB, 363-367 at 96, at the same speed; in the TUI 516-533 -> 441-466
#: MB. 100 M points (1000 runs): 2139-2162 -> 842-854 MB, and faster (4.5 ->
#: 5 M points/s). Only while building: a limit this low could fail a user's
#: big query later (one that cannot spill).
BUILD_MEMORY_MIB = 96
#: ... but at least this much per DuckDB thread: each thread of a JSON read
#: reserves buffers of twice its ``maximum_object_size`` (16 MiB at least,
#: 64 MiB where lines may be long, as the Python-parsed points' read): under
#: too low a limit such a batch fails, and the build lifts the limit and
#: goes on (that batch read again).
BUILD_MEMORY_PER_THREAD_MIB = 64
#: Runs to read from which the limit is set (a few hundred runs build in
#: one go, or so few batches that the buffer pool stays small).
BUILD_MEMORY_MIN_RUNS = 1_000


class _Writer:
    """One batch written (and committed, statuses derived) in a thread."""

    def __init__(self, work: Callable[[], int]):
        self.points = 0
        self.error: BaseException | None = None
        self._work = work
        self._thread = threading.Thread(target=self._run, name="trackui-batch-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.points = self._work()
        except BaseException as exc:  # handed to the reading thread
            self.error = exc

    def join(self) -> int:
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.points


@contextmanager
def collections_paused() -> Iterator[None]:
    """The cyclic GC paused meanwhile: a cold build makes objects that all
    stay alive until their batch is written (rows, states), so collections
    find nothing to free, yet each one walks them all (1.3 of 4.8 CPU-s of
    reading 10 k runs). What cycles are made meanwhile are collected after."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class ColdBatches:
    def _sync_parts(
        self,
        parts: list[list[RunDir]],
        now: float,
        progress: Callable[[int, int], None] | None,
    ) -> tuple[int, int]:
        """Sync every batch of ``parts``; after each but the last, statuses
        are derived and ``progress(done, total)`` called. Returns (changed, points)."""
        total = sum(len(part) for part in parts)
        changed = points = done = 0
        if total >= OVERLAP_MIN_RUNS and len(parts) > 1:
            parts = [p[i : i + OVERLAP_RUNS] for p in parts for i in range(0, len(p), OVERLAP_RUNS)]
            with self._core_for_reading(), collections_paused():
                with self._memory_for_build(total) as lift:
                    self._write_error: BaseException | None = None
                    parts, changed, points, done = self._overlapped(parts, now, progress, total)
                    if parts and isinstance(self._write_error, duckdb.OutOfMemoryException):
                        # The limit was too low for a batch (a JSON read's
                        # buffers): the rest overlapped as before, without it.
                        if lift():
                            parts, more, added, done = self._overlapped(
                                parts, now, progress, total, done
                            )
                            changed, points = changed + more, points + added
        for part in parts:
            c, p = self._sync_isolated(part)
            if total >= OVERLAP_MIN_RUNS:
                self._settle(part)
            changed, points, done = changed + c, points + p, done + len(part)
            if done < total:
                self._transaction(lambda cur: self._derive_statuses(cur, now))
                if progress is not None:
                    progress(done, total)
        return changed, points

    def _overlapped(
        self,
        parts: list[list[RunDir]],
        now: float,
        progress: Callable[[int, int], None] | None,
        total: int,
        done: int = 0,
    ) -> tuple[list[list[RunDir]], int, int, int]:
        """Read batch k + 1 while batch k is written. Returns the batches not
        written (the caller syncs them one by one), and (changed, points,
        runs done, counted on from ``done``) of those written. A batch whose
        metric bytes pass ``TXN_BYTES`` is cut after the run that passes it:
        the rest is the next batch (what is read ahead and what one commit
        holds stay capped)."""
        parts = list(parts)
        changes: list[int] = []
        points = 0
        writer: _Writer | None = None
        read = written = 0  # batches read (or begun), batches committed
        next_no: int | None = None
        # The child reads the batches after the first while this thread
        # reads the first (and the child starts up).
        self._cold_reader = None
        least = PROCESS_MIN_RUNS
        if progress is not None:
            least = min(least, PROCESS_MIN_RUNS_SHOWN)
        starting = self._start_reader(parts, least)
        try:
            for i, part in enumerate(parts):  # (parts grows as batches are cut)
                if not self._all_new(part):
                    break
                read = i + 1
                try:
                    batch, c, taken = self._read_ahead(part, next_no)
                except Exception:
                    break
                if taken < len(part):
                    parts[i : i + 1] = [part[:taken], part[taken:]]
                if starting is not None and taken == len(part):
                    self._cold_reader, starting = starting, None
                next_no = batch.new.next_no
                changes.append(c)
                if writer is not None:
                    writer, in_flight = None, writer
                    if not self._joined(in_flight):
                        break
                    points, written = points + in_flight.points, written + 1
                    self._settle(parts[written - 1])
                    done += len(parts[written - 1])
                    if progress is not None:
                        progress(done, total)
                last = i == len(parts) - 1
                writer = _Writer(lambda b=batch, s=last: self._write_ahead(b, now, statuses=not s))
        finally:
            if starting is not None:  # the first batch was cut: not the batches it was given
                starting.close()
            self._stop_reader()
        if writer is not None and self._joined(writer):
            points, written = points + writer.points, written + 1
            self._settle(parts[written - 1])
            done += len(parts[written - 1])
            if done < total and progress is not None:
                progress(done, total)
        if read > written:
            # What was read ahead of the first batch not written is dropped:
            # the one-by-one path reads it again from what was committed.
            self._reload_state()
        return parts[written:], sum(changes[:written]), points, done

    def _settle(self, part: list[RunDir]) -> None:
        """The committed runs of ``part`` kept in memory as a warm start loads
        a quiet one (``Catalog._load_state``): of a finished run not imported only
        the file states a refresh checks it by (``FOLDER``, meta.json), marked
        ``partial`` (the rest are loaded again from the catalog before it is
        read: ``_complete``). A cold build otherwise kept every file state of
        every run it read, for as long as the catalog stays open: at 100 k
        small runs, 65-85 MB of RSS (peak 550 -> 487 MB headless) that a
        warm start never holds."""
        states = self._states
        if states is None:
            return  # loaded again from the catalog, as a warm start: partial
        kept = (FOLDER, paths.META)
        for run in part:
            state = states.get(run.key)
            if state is None or not state.finished or state.partial:
                continue
            files = state.files
            if paths.SOURCE in files:
                continue  # imported: a refresh checks its appendable files too
            state.files = {name: files[name] for name in kept if name in files}
            state.partial = True

    def _joined(self, writer: _Writer) -> bool:
        """Whether the batch ``writer`` wrote is committed (damage raises)."""
        try:
            writer.join()
        except Exception as exc:
            self._ingest.current = None
            self._ingest.combine = True
            self._write_error = exc
            if is_damage(exc):
                raise
            return False
        return True

    @contextmanager
    def _core_for_reading(self) -> Iterator[None]:
        """DuckDB on one thread fewer meanwhile, leaving a core to the
        reading thread: on 2 cores, DuckDB on both cost 15-20 % more CPU
        (its small statements' threads wait on each other) and slowed the
        reader that the writer waits for. ``threads`` is the database's
        setting, restored after."""
        cur = self.cursor()
        (threads,) = cur.execute("SELECT current_setting('threads')").fetchall()[0]
        if int(threads) <= 1:
            yield
            return
        cur.execute(f"SET threads = {int(threads) - 1}")
        try:
            yield
        finally:
            cur.execute(f"SET threads = {int(threads)}")

    @contextmanager
    def _memory_for_build(self, runs: int) -> Iterator[Callable[[], bool]]:
        """DuckDB's ``memory_limit`` at ``BUILD_MEMORY_MIB`` meanwhile (or
        ``BUILD_MEMORY_PER_THREAD_MIB`` a thread; never raised), restored
        after: what its buffer pool keeps is evicted (the blocks are in the
        catalog file) or spilled to its temp directory. Not for a catalog
        whose temp directory is relative (an in-memory one: it would spill
        into the working directory), nor for fewer than ``BUILD_MEMORY_MIN_RUNS``
        runs to read. Yields what lifts it early (True: it was lowered)."""
        lowered = [False]

        def lift() -> bool:
            if not lowered[0]:
                return False
            lowered[0] = False
            restore_memory_limit(self.cursor(), limit)
            return True

        if runs < BUILD_MEMORY_MIN_RUNS:
            yield lift
            return
        cur = self.cursor()
        limit, temp, threads = cur.execute(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory'), "
            "current_setting('threads')"
        ).fetchall()[0]
        mib = max(BUILD_MEMORY_MIB, BUILD_MEMORY_PER_THREAD_MIB * int(threads))
        build = mib << 20
        if not os.path.isabs(temp or "") or not build < size_bytes(limit):
            yield lift
            return
        cur.execute(f"SET memory_limit = '{mib}MiB'")
        lowered[0] = True
        try:
            yield lift
        finally:
            lift()

    def _reload_keeping_beats(self, done: list[str]) -> None:
        """State again from the catalog, but for the heartbeats of the runs
        ``done`` (committed; a heartbeat is written with its status, later)."""
        beats = {key: self._state[key].heartbeat_mtime for key in done if key in self._state}
        self._reload_state()
        for key, beat in beats.items():
            if key in self._state:
                self._state[key].heartbeat_mtime = beat

    def _sync_prefix(
        self, cur: Any, runs: list[RunDir], python_only: set[str], cap: int | None
    ) -> tuple[int, int, int]:
        """Sync ``runs`` in order, stopping after the run that takes the
        metric bytes read past ``cap``. Returns (changed, points, runs synced)."""
        from .catalog import FLUSH_BYTES  # (``catalog`` imports this module)

        batch = Batch(python_only)
        changed = read = taken = 0
        with self.opener.holding():  # a run's files opened under its held directory
            for run in runs:
                before = batch.pending
                if self._sync_run(cur, run, batch):
                    changed += 1
                taken += 1
                read += batch.pending - before
                if batch.pending > FLUSH_BYTES:
                    self._flush(cur, batch)
                if cap is not None and read > cap:
                    break
        self._save_file_states(cur, batch.file_rows)
        self._flush(cur, batch)
        return changed, batch.points, taken

    def _all_new(self, part: list[RunDir]) -> bool:
        state, bad = self._state, self._bad
        return all(run.key not in state and run.key not in bad for run in part)

    def _read_ahead(self, part: list[RunDir], next_no: int | None) -> tuple[Batch, int, int]:
        """Read a batch of new runs without writing (see the module
        docstring), up to the run whose metric bytes pass ``TXN_BYTES``.
        Returns (batch, runs changed, runs read)."""
        from . import catalog  # (``catalog`` imports this module)

        if next_no is None:
            next_no = self._next_run_no()
        reader = getattr(self, "_cold_reader", None)
        if reader is not None:
            try:
                batch, changed, taken, states = reader.take(part, next_no)
            except Exception:
                # Nothing of what it sent was used: read this batch here.
                self._stop_reader()
            else:
                self._state.update(states)
                return batch, changed, taken
        return read_batch(self, part, next_no, catalog.TXN_BYTES)

    def _next_run_no(self) -> int:
        cur = self.cursor()
        return cur.execute("SELECT coalesce(max(run_no), 0) + 1 FROM runs").fetchall()[0][0]

    def _start_reader(self, parts: list[list[RunDir]], least: int) -> ReaderProcess | None:
        """A child process reading the batches of new runs after the first
        (``cold_reader``), their ``run_no`` counted on from the first's; None
        where it cannot start, or there are fewer than ``least`` to read so."""
        from . import catalog  # (``catalog`` imports this module)

        ahead = []
        for part in parts:
            if not self._all_new(part):
                break
            ahead.append(part)
        if len(ahead) < 2 or sum(map(len, ahead[1:])) < least:
            return None
        try:
            return ReaderProcess(
                self.opener, ahead[1:], self._next_run_no() + len(ahead[0]), catalog.TXN_BYTES
            )
        except Exception:
            return None

    def _stop_reader(self) -> None:
        reader, self._cold_reader = getattr(self, "_cold_reader", None), None
        if reader is not None:
            reader.close()

    def _write_ahead(self, batch: Batch, now: float, *, statuses: bool) -> int:
        def work(cur: Any) -> int:
            self._save_file_states(cur, batch.file_rows)
            self._flush(cur, batch)
            return batch.points

        points = self._transaction(work)
        if statuses:
            self._transaction(lambda cur: self._derive_statuses(cur, now))
        return points


_UNITS = {"": 1, "BYTES": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_UNITS.update({"KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40})


def size_bytes(text: str) -> float:
    """Bytes of a DuckDB size setting as it prints it ("18.8 GiB", "0 bytes");
    infinity for what does not read as one (no limit to lower)."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", str(text))
    if match is None or match.group(2).upper() not in _UNITS:
        return float("inf")
    try:
        return float(match.group(1)) * _UNITS[match.group(2).upper()]
    except ValueError:
        return float("inf")


def restore_memory_limit(cur: Any, limit: str) -> None:
    """``memory_limit`` back to ``limit`` as ``current_setting`` printed it
    ("18.8 GiB": the limit truncated to a tenth of a GiB): the middle of what
    that print stands for, which prints the same. Not ``RESET``: DuckDB 1.5
    then prints its default but keeps enforcing the lowered limit. A catalog
    gone bad meanwhile keeps its own error (a new connection has the default)."""
    size = size_bytes(limit)
    match = re.fullmatch(r"\s*[0-9]*\.?([0-9]*)\s*([A-Za-z]*)\s*", str(limit))
    if size == float("inf") or match is None:
        return
    size += 0.5 * 10 ** -len(match.group(1)) * _UNITS[match.group(2).upper()]
    try:
        cur.execute(f"SET memory_limit = '{int(size)}B'")
    except Exception:
        pass


_NO_CURSOR = NO_CURSOR  # (tests reach it here)
