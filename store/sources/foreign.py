"""A folder of another tool's runs, read through: its files stay the truth,
the catalog holds the only other copy of its points.

The first read runs the tool's reader (``store/importers``) while noting,
per file, what it read (``_read.recording``); each run goes into the
catalog's tables beside native runs (``rel_dir`` NULL, ``source_kind``,
``source_path``, and ``box``/``location`` in its meta), its points through
the same metric ingest as native runs. Then every file the reader used has
a cursor (``cursor.py``, kept in the catalog's ``files`` table, so a reopen
reads only what changed): the files that runs append to (event files,
metric files, TSVs, ``results.csv``) are followed from their cursor
(``streams.py``); any other file the readers use, a new file a reader would
read, or a followed file rewritten or truncated, makes the source be read
again. A run still ``running`` that went quiet is read again once, so it
settles to the status its tool's reader gives it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..importers import _metric_rows, _system_lines, detect_kinds, reader
from ..importers._read import recording
from ..importers.base import ForeignRun
from ..ingest import Chunk
from ..opener import Opener
from ..status import STALE_INTERVALS
from ..system_lines import as_metric_lines
from .cursor import Cursor, Progress, as_stored
from .follow import Following
from .ids import Ids
from .listing import Listing
from .partial import _SQLITE, PartialReads, interesting
from .points import ingest as ingest_points
from .points import prepare as prepare_points
from .rows import insert_runs, put_rows
from .scoped import count_runs
from .streams import (
    STREAMS,
    classify,
    max_row_id,
    mlflow_db_spec,
    trackio_spec,
)

#: Metric bytes held before they are written out during a first read.
FLUSH_BYTES = 64 * 1024 * 1024
#: Runs of a first read committed together, batch after batch (the last
#: size repeats): the run list fills in while the rest is read.
BATCH_RUNS = (10, 50, 200)
#: A reader's run that looks alive turns stale after this long without news.
STALE_AFTER = 900.0
_RUN = "run"  # the ``how`` of a run's own row in ``files``
#: Kinds whose runs, read again, keep the points they had when the new ones
#: continue them (a ``trainer_state.json`` rewritten with more history).
PREFIX_KINDS = ("hf", "lightning")


class ForeignSource(Following, PartialReads):
    """One folder (or file) of foreign runs, on this box."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        kind: str | None = None,
        box: str = "local",
        location: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = Path(os.path.abspath(root))
        self.top = self.root if self.root.is_dir() else self.root.parent
        self.kind = kind
        self.box = box
        #: how the user named it (``gpu1:~/runs`` for a remote box's mirror)
        self.location = location or str(self.root)
        self.clock = clock
        self.key = "source:" + self.location  # its rows in ``files`` that no run owns
        self.opener = Opener(str(self.top))
        self.listing = Listing(str(self.root))
        #: Catalog ids of its runs and keys (``ids.py``), none asked for again.
        self.ids = Ids()
        self.cursors: dict[str, Cursor] = {}  # relative path -> cursor
        self.runs: dict[str, Cursor] = {}  # run id -> its own row (lines, heartbeat)
        self.progress = Progress()
        #: Called after each run of a first read (a spinner's line, say).
        self.on_progress: Callable[[Progress], None] | None = None
        #: Called after each batch of a first read is committed, with (runs
        #: committed, runs to read): the catalog's ``progress``.
        self.on_batch: Callable[[int, int], None] | None = None
        self.problems: list[str] = []
        #: Whether the last refresh inserted runs (the catalog labels new runs).
        self.inserted = True
        self._loaded = False

    # -- what the catalog asks ------------------------------------------------

    def heartbeat(self, run_id: str) -> float | None:
        row = self.runs.get(run_id)
        return row.spec.get("hb") if row is not None else None

    def forget(self) -> None:
        """The catalog was emptied: read everything again."""
        self.cursors.clear()
        self.runs.clear()
        self.ids = Ids()
        self._loaded = True

    def refresh(self, catalog: Any) -> tuple[int, int]:
        """Read what changed: ``(runs changed, points added)``."""
        self.inserted = False
        if not self._loaded:
            self._load(catalog)
        files = self._list()
        if not self.cursors and not self.runs:
            return self._read_all(catalog)
        plan = self._changes(files)
        if plan is None:
            return self._read_all(catalog)
        changed = points = 0
        if plan[0] or plan[1]:
            got = self._read_some(catalog, files, *plan)
            if got is None:
                return self._read_all(catalog)
            changed, points = got
        more, added = self._read_appends(catalog, files)
        return changed + more, points + added

    # -- state ------------------------------------------------------------------

    def _load(self, catalog: Any) -> None:
        self._loaded = True
        cur = catalog.cursor()
        mine = {self.key}
        for run_id, meta in cur.execute(
            "SELECT run_id, meta_json FROM runs WHERE rel_dir IS NULL"
        ).fetchall():
            try:
                doc = json.loads(meta or "{}")
            except ValueError:
                continue
            if isinstance(doc, dict) and doc.get("location") == self.location:
                mine.add(run_id)
        rows = cur.execute(
            'SELECT run_id, name, ino, size, mtime_ns, "offset", lines FROM files '
            "WHERE starts_with(name, '{')"
        ).fetchall()
        for run_id, name, ino, size, mtime_ns, offset, lines in rows:
            if run_id not in mine:
                continue
            try:
                c = Cursor.from_row(run_id, name, ino, size, mtime_ns, offset, lines)
            except (ValueError, KeyError):
                continue
            if c.how == _RUN:
                self.runs[run_id] = c
            else:
                self.cursors[c.rel] = c

    def _list(self) -> dict[str, tuple[int, int, int]]:
        """Every regular file under the source (hidden folders and links
        skipped), folders unchanged since the last call not read again
        (``listing.py``)."""
        if not self.root.is_dir():
            try:
                st = os.stat(self.root, follow_symlinks=False)
            except OSError:
                return {}
            return {self.root.name: (st.st_ino, st.st_size, st.st_mtime_ns)}
        return self.listing.files()

    # -- the first read (and any read again) -----------------------------------------

    def _read_all(self, catalog: Any) -> tuple[int, int]:
        self.inserted = True
        self.ids = Ids()
        problems: list[str] = []
        kinds = [self.kind] if self.kind else detect_kinds(self.root)
        old = list(self.runs)
        self.progress.phase = "reading"
        self.progress.runs_done = 0
        self.progress.runs_total = 0
        if self.on_batch is not None or self.on_progress is not None:
            counts = [count_runs(k, self.root, defer=self.kind != "tensorboard") for k in kinds]
            self.progress.runs_total = sum(c or 0 for c in counts)
        committed = 0
        runs: dict[str, Cursor] = {}
        found: list[tuple[str, ForeignRun, set[str], int]] = []
        pending: list[tuple[str, ForeignRun, list[Chunk]]] = []
        size = 0
        points = 0

        def clear(cur: Any) -> None:
            for key in old:
                catalog._delete_run(cur, key)
            cur.execute("DELETE FROM files WHERE run_id = ?", [self.key])

        catalog._transaction(clear)
        self.runs.clear()
        self.cursors.clear()
        before = {
            os.path.join(str(self.top), rel): max_row_id(self.top / rel)
            for rel in self._list()
            if rel.endswith(_SQLITE) and not rel.endswith("-wal")
        }
        with recording() as seen:
            for kind in kinds:
                module = reader(kind)
                options: dict[str, Any] = {"defer": False} if self.kind == "tensorboard" else {}
                for run in module.read(self.root, problems, **options):
                    key = run_key(run)
                    if key in runs:
                        continue
                    chunks, found_one, runs[key] = self._prepare(key, run, None)
                    found.append(found_one)
                    pending.append((key, run, chunks))
                    size += sum(len(c[1]) for c in chunks)
                    self.progress.runs_done += 1
                    if self.on_progress is not None:
                        self.on_progress(self.progress)
                    batch = BATCH_RUNS[_nth(committed)]
                    if size > FLUSH_BYTES or (self.on_batch and len(pending) >= batch):
                        points += self._flush(catalog, pending)
                        committed += len(pending)
                        pending, size = [], 0
                        self._committed(catalog, committed)
            if pending:
                points += self._flush(catalog, pending)
        self.runs = runs
        self._cursors_from(seen, found, before)
        catalog._transaction(self._save_all)
        self.problems = problems
        self.progress.phase = ""
        self.progress.bytes_read += sum(s.read for s in seen.values())
        return len(runs) + len(old), points

    def _committed(self, catalog: Any, done: int) -> None:
        """A batch of a first read is in the catalog: its runs get their
        statuses and whoever waits for them (the run list) hears of it."""
        if self.on_batch is None:
            return
        now = catalog.clock()
        catalog._transaction(lambda cur: catalog._derive_statuses(cur, now))
        self.on_batch(done, max(self.progress.runs_total, done))

    def _prepare(
        self, key: str, run: ForeignRun, old: Cursor | None
    ) -> tuple[list[Chunk], tuple[str, ForeignRun, set[str], int], Cursor]:
        """A run just read: its chunks of metric lines, what its files'
        cursors need, and its own row. With ``old`` (the row of the same run
        read before) whose points the new ones continue, only the lines
        after those are in the chunks (``keep`` in the row's spec)."""
        if run.kind not in PREFIX_KINDS:  # as columns, no metrics.jsonl text (points.py)
            prep = prepare_points(key, run)
            found = (key, run, prep.keys, prep.last_step)
            run.points = []
            chunks: list[Any] = [prep.chunk] if prep.chunk is not None else []
            if run.system:
                chunks.append((key, as_metric_lines(_system_lines(run.system), 0), 0))
                run.system = []
            return chunks, found, Cursor("", _RUN, key, offset=prep.rows, spec=self._run_spec(run))
        data, rows = _metric_rows(run)
        steps = [p.step for p in run.points]
        found = (key, run, {p.key for p in run.points}, max(steps, default=-1))
        run.points = []  # written by the caller; not held for the whole read
        spec = self._run_spec(run)
        start, skip = 0, 0
        if run.kind in PREFIX_KINDS and not run.system:
            spec["dig"] = _digest(data)
            spec["n"] = len(data)
            if old is not None and old.spec.get("dig") and not run.system:
                n = int(old.spec.get("n", 0))
                if len(data) >= n and _digest(data[:n]) == old.spec["dig"]:
                    skip, start = n, old.offset
                    spec["keep"] = True
        tail = data[skip:]
        lines = start + sum(1 for off, _ in rows if off >= skip)
        chunks = [(key, tail, start)] if tail else []
        if run.system:  # sampled series, as the catalog reads system.jsonl
            chunks.append((key, as_metric_lines(_system_lines(run.system), 0), 0))
            run.system = []
        return chunks, found, Cursor("", _RUN, key, offset=lines, spec=spec)

    def _run_spec(self, run: ForeignRun) -> dict[str, Any]:
        stale = float((run.extra or {}).get("stale_after", STALE_AFTER))
        hb = as_stored(run.last_activity or run.ended or run.created)
        spec = {
            "hb": hb,
            "iv": stale / STALE_INTERVALS,
            "fin": run.status != "running",
            "src": os.path.realpath(run.source_path),
            "kind": run.kind,
        }
        if hb is not None and run.status == "running" and self.clock() - hb > stale:
            spec["quiet"] = hb  # its reader still says running: wait for news
        return spec

    def _flush(self, catalog: Any, pending: list[tuple[str, ForeignRun, Any]]) -> int:
        return int(catalog._transaction(lambda cur: self._write(cur, catalog, pending)))

    def _write(self, cur: Any, catalog: Any, pending: list[tuple[str, ForeignRun, Any]]) -> int:
        runs = [(key, run, self._run_spec(run)["iv"]) for key, run, _ in pending]
        insert_runs(cur, runs, self.box, self.location, catalog._tmp.name)
        chunks = [chunk for _, _, some in pending for chunk in some]
        return ingest_points(cur, catalog, chunks)

    def _cursors_from(
        self,
        seen: dict[str, Any],
        found: list[tuple[str, ForeignRun, set[str], int]],
        before: dict[str, int | None],
        files: dict[str, tuple[int, int, int]] | None = None,
    ) -> None:
        """A cursor for every file the readers used, and for the files a
        reader might use that none did (so they do not count as new)."""
        by_dir = sorted(
            ((run.source_path, key, run, keys, last) for key, run, keys, last in found),
            key=lambda r: -len(r[0]),
        )
        top = str(self.top)
        for path, s in seen.items():
            rel = os.path.relpath(path, top).replace(os.sep, "/")
            if rel.startswith("../") or rel.endswith(_SQLITE):
                continue  # databases: below
            owner = next(
                (r for r in by_dir if path == r[0] or path.startswith(r[0] + os.sep)), None
            )
            how, spec, run_id = "whole", {}, self.key
            if owner is not None:
                src, run_id, run, keys, last = owner
                in_run = os.path.relpath(path, src).replace(os.sep, "/")
                how, spec = classify(run, keys, last, in_run, Path(path), self.opener)
            offset = s.size
            if how in ("tfevents", "wandb"):
                offset = s.end if s.end is not None else s.read
            elif how in STREAMS:
                offset = s.line_end
            self.cursors[rel] = Cursor(rel, how, run_id, s.ino, s.size, s.mtime_ns, offset, spec)
        # a database's runs by the name its rows give them (Trackio: the
        # run's name; MLflow: its uuid) -> catalog id
        trackio: dict[str, dict[str, str]] = {}
        mlflow: dict[str, dict[str, str]] = {}
        for key, run, _, _ in found:
            if run.kind == "trackio":
                trackio.setdefault(os.path.realpath(run.source_path), {})[run.name] = key
            elif run.kind == "mlflow" and run.extra.get("store") == "sqlite":
                mlflow.setdefault(os.path.realpath(run.source_path), {})[run.source_id] = key
        dbs: dict[str, str] = {}
        for rel, st in (self._list() if files is None else files).items():
            if rel in self.cursors or not interesting(rel):
                continue
            # SQLite is read through its own library, not noted: a Trackio
            # database is followed by row id, any other read again on change
            how, spec, offset, run_id = "seen", {}, st[1], self.key
            if rel.endswith(_SQLITE):
                how = "whole"
                path = os.path.join(top, rel)
                real = os.path.realpath(path)
                names = trackio.get(real) or mlflow.get(real)
                if names is not None and len(names) == sum(
                    1 for _, run, _, _ in found if os.path.realpath(run.source_path) == real
                ):
                    spec_of = trackio_spec if real in trackio else mlflow_db_spec
                    how, spec, offset = spec_of(Path(path), names)
                    if before.get(path) != offset:
                        offset = -1  # rows came while it was read: read it again
                    dbs[rel] = rel
            self.cursors[rel] = Cursor(rel, how, run_id, *st, offset=offset, spec=spec)
        for rel, c in self.cursors.items():
            base = rel[: -len("-wal")] if rel.endswith("-wal") else None
            if base in dbs and self.cursors[base].how == "sqlite_rows":
                c.how, c.spec = "sidecar", {"db": base}

    def _save_all(self, cur: Any) -> None:
        put_rows(cur, [c.row() for c in (*self.cursors.values(), *self.runs.values())])


def _nth(committed: int) -> int:
    """Which of ``BATCH_RUNS`` the next batch takes, after ``committed`` runs."""
    n, total = 0, 0
    while n < len(BATCH_RUNS) - 1 and total + BATCH_RUNS[n] <= committed:
        total += BATCH_RUNS[n]
        n += 1
    return n


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def run_key(run: ForeignRun) -> str:
    """The catalog id of a foreign run: its tool and a digest of where it is."""
    raw = f"{run.kind}\0{os.path.realpath(run.source_path)}\0{run.source_id}"
    return f"{run.kind}-{hashlib.sha256(raw.encode()).hexdigest()[:10]}"
