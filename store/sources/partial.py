"""Reading again only the runs of a source whose files changed.

``ForeignSource.refresh`` asks ``_changes`` what its cursors cannot
follow: a followed file rewritten or truncated, another file a run's reader
used that changed or went away, a new file in a run's folder, a run that
went quiet; or a new file that no run owns (a new run directory, perhaps).
``_read_some`` reads just those runs and paths with their tool's reader
(``scoped.py``), replaces those runs in the catalog and their cursors, and
leaves every other run and cursor as it was. A run read again whose points
continue the ones it had (``PREFIX_KINDS``) keeps them: only the new lines
go into the catalog.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..importers import detect_kinds
from ..importers._read import recording
from ..importers._tfevents import is_event_file
from ..importers.base import ForeignRun
from ..ingest import Chunk
from ..status import STALE_INTERVALS
from .cursor import REWRITTEN, Cursor
from .ids import Ids
from .points import ingest as ingest_points
from .rows import insert_run, put_rows
from .scoped import scoped
from .streams import classify, max_row_id

_TEXT = (".wandb", ".tsv", ".csv", ".json", ".yaml", ".yml", ".db", ".sqlite", ".sqlite3")
_SQLITE = (".db", ".sqlite", ".sqlite3", ".db-wal", ".sqlite-wal", ".sqlite3-wal")
#: What a run read again clears when it keeps its points.
_NOT_POINTS = ("runs", "params", "events", "artifacts", "files")


def interesting(rel: str) -> bool:
    """Whether a new file named so may be one a reader reads (then the
    source is read again); checkpoints, images and the like are not."""
    name = rel.rsplit("/", 1)[-1]
    if is_event_file(name) or name.endswith(_TEXT + _SQLITE) or name == "meta.yaml":
        return True
    return any(f"/{d}/" in f"/{rel}" for d in ("metrics", "params", "tags"))


class PartialReads:
    """The part of ``ForeignSource`` that reads some runs again."""

    def _changes(
        self: Any, files: dict[str, tuple[int, int, int]]
    ) -> tuple[dict[str, None], dict[Path, None]] | None:
        """What must be read again: ``(run ids, new paths that no run owns)``;
        None when the whole source must (a file no run owns changed)."""
        runs: dict[str, None] = {}
        paths: dict[Path, None] = {}
        for rel, c in self.cursors.items():
            st = files.get(rel)
            if st is not None and st == (c.ino, c.size, c.mtime_ns):
                continue  # unchanged: most files of a refresh (one tuple compare)
            if c.how in ("ignore", "seen", "sidecar"):
                continue
            if st is None or c.change(*st) == REWRITTEN:
                if not self._redo(c, runs, paths):
                    return None
        for rel, st in files.items():
            if rel not in self.cursors and interesting(rel) and not self._adopt(rel, st):
                owner = self._owner(rel)
                if owner is not None:
                    runs[owner] = None
                else:
                    paths[self.top / rel] = None
        now = self.clock()
        for run_id, row in self.runs.items():
            hb, iv = row.spec.get("hb"), row.spec.get("iv")
            if (
                not row.spec.get("fin")
                and hb is not None
                and iv
                and now - hb > iv * STALE_INTERVALS
                # not read again for the same silence (``hb`` went through
                # nanoseconds in the catalog: a float apart)
                and abs((row.spec.get("quiet") or 0.0) - hb) > 1e-3
            ):
                runs[run_id] = None  # went quiet: let its reader say how it ended
        return runs, paths

    def _redo(self: Any, c: Cursor, runs: dict[str, None], paths: dict[Path, None]) -> bool:
        """Note what reads ``c``'s file again: its run, or the runs of a
        database; False when only a read of the whole source can."""
        if c.run in self.runs:
            runs[c.run] = None
            return True
        if not c.rel.endswith(_SQLITE):
            return False
        path = os.path.realpath(os.path.join(str(self.top), c.rel))
        runs.update((r, None) for r, row in self.runs.items() if row.spec.get("src") == path)
        paths[self.top / c.rel] = None
        return True

    def _owner(self: Any, rel: str) -> str | None:
        """The run whose folder holds ``rel`` (the innermost), if any."""
        path = os.path.realpath(os.path.join(str(self.top), rel))
        owners = [
            (len(row.spec["src"]), run_id)
            for run_id, row in self.runs.items()
            if row.spec.get("src") and (path + os.sep).startswith(row.spec["src"] + os.sep)
        ]
        return max(owners)[1] if owners else None

    def _place(self: Any, run_id: str) -> Path:
        """A run's folder (or database) as a path under the root, as its reader names it."""
        src = self.runs[run_id].spec.get("src", "")
        rel = os.path.relpath(src, os.path.realpath(self.top))
        return self.top if rel == "." else self.top / rel

    def _adopt(self: Any, rel: str, st: tuple[int, int, int]) -> bool:
        """Follow a new file of a run already read from its start, when it is
        one that run's writer appends to in its own folder (a new MLflow
        metric, a new dvclive TSV with its header, a new event file beside
        the run's others); False when the source must be read again."""
        path = os.path.realpath(os.path.join(str(self.top), rel))
        owners = [
            (run_id, row.spec["src"], row.spec.get("kind", ""))
            for run_id, row in self.runs.items()
            if row.spec.get("src") and path.startswith(row.spec["src"] + os.sep)
        ]
        if not owners:
            return False
        run_id, src, kind = max(owners, key=lambda o: len(o[1]))
        in_run = os.path.relpath(path, src).replace(os.sep, "/")
        if kind == "tensorboard" and "/" in in_run:
            return False  # a writer in a sub-folder: how it folds in is the reader's to say
        stub = ForeignRun(kind, src, "", "", "")
        how, spec = classify(stub, set(), -1, in_run, Path(path), self.opener)
        offset = 0
        if how == "tsv":
            if not spec["hdr"] or st[1] <= len(spec["hdr"].encode()):
                return False
            offset = len(spec["hdr"].encode()) + 1
        elif how not in ("tfevents", "mlflow") or (how == "tfevents" and kind != "tensorboard"):
            return False  # (a Trainer's new writer may repeat what log_history holds)
        self.cursors[rel] = Cursor(rel, how, run_id, st[0], 0, 0, offset, spec)
        return True

    def _read_some(
        self: Any,
        catalog: Any,
        files: dict[str, tuple[int, int, int]],
        wanted: dict[str, None],
        paths: dict[Path, None],
    ) -> tuple[int, int] | None:
        """Read the runs ``wanted`` and whatever runs hold ``paths`` again:
        ``(runs changed, points added)``; None when that cannot be told
        apart from the rest of the source (then it is read whole)."""
        from .foreign import run_key

        self.inserted = True
        self.ids = Ids()  # a run read again may have another run_no
        problems: list[str] = []
        by_kind: dict[str, list[Path]] = {}
        for run_id in wanted:
            kind = self.runs[run_id].spec.get("kind")
            if not kind:
                return None
            by_kind.setdefault(kind, []).append(self._place(run_id))
        if paths:
            for kind in [self.kind] if self.kind else detect_kinds(self.root):
                by_kind.setdefault(kind, []).extend(paths)
        defer = self.kind != "tensorboard"
        sources = []
        for kind, targets in by_kind.items():
            runs = scoped(kind, self.root, targets, problems, defer=defer)
            if runs is None:
                return None
            sources.append(runs)
        before = {
            os.path.join(str(self.top), rel): max_row_id(self.top / rel)
            for rel in files
            if rel.endswith(_SQLITE)
            and not rel.endswith("-wal")
            and (rel not in self.cursors or self.cursors[rel].run in wanted)
        }
        fresh: dict[str, tuple[ForeignRun, list[Chunk], Cursor]] = {}
        found: list[tuple[str, ForeignRun, set[str], int]] = []
        with recording() as seen:
            for runs in sources:
                for run in runs:
                    key = run_key(run)
                    if key in fresh:
                        continue
                    chunks, found_one, row = self._prepare(key, run, self.runs.get(key))
                    fresh[key] = (run, chunks, row)
                    found.append(found_one)
        gone = [*wanted, *(k for k in fresh if k in self.runs and k not in wanted)]
        for key in gone:
            self.runs.pop(key, None)
        for rel in [rel for rel, c in self.cursors.items() if c.run in gone]:
            del self.cursors[rel]
        self.runs.update({key: row for key, (_, _, row) in fresh.items()})
        self._cursors_from(seen, found, before, files)
        owned = set(gone) | set(fresh)
        keep = {key for key, (_, _, row) in fresh.items() if row.spec.pop("keep", False)}
        rows = [c.row() for c in self.cursors.values() if c.run in owned]
        rows += [self.runs[key].row() for key in fresh]
        source_rows = [c.row() for c in self.cursors.values() if c.run == self.key]

        def work(cur: Any) -> int:
            for key in gone:
                if key in keep:
                    (run_no,) = cur.execute(
                        "SELECT run_no FROM runs WHERE run_id = ?", [key]
                    ).fetchone() or (None,)
                    for table in _NOT_POINTS:
                        cur.execute(f"DELETE FROM {table} WHERE run_id = ?", [key])
                    run, _, row = fresh[key]
                    insert_run(cur, key, run, row.spec["iv"], self.box, self.location)
                    if run_no is not None:
                        cur.execute("UPDATE runs SET run_no = ? WHERE run_id = ?", [run_no, key])
                else:
                    catalog._delete_run(cur, key)
            for key, (run, _, row) in fresh.items():
                if key not in keep:
                    insert_run(cur, key, run, row.spec["iv"], self.box, self.location)
            chunks = [chunk for _, some, _ in fresh.values() for chunk in some]
            points = ingest_points(cur, catalog, chunks)
            cur.execute("DELETE FROM files WHERE run_id = ?", [self.key])
            put_rows(cur, rows + source_rows)
            return int(points)

        points = catalog._transaction(work)
        self.problems = problems
        self.progress.bytes_read += sum(s.read for s in seen.values())
        return len(owned), points
