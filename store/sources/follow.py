"""Following the files of a source's runs: what each grown file gained,
read from its cursor (``streams.py``), goes into the catalog for all runs
in one transaction (one ingest, one statement for the cursors that moved);
a file that does not continue what was read reads its run again
(``partial.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..importers import _metric_rows
from ..importers._pointcols import PointColumns, concat, numpy_or_none
from ..importers.base import ForeignRun
from ..ingest import SMALL_CHUNK_BYTES
from .cursor import GROWN, SAME, Cursor, as_stored
from .ids import Ids
from .points import FEW, few, num_columns
from .points import ingest as ingest_points
from .rows import put_rows
from .streams import STREAMS, Rewritten, read_appended, read_rows


class Following:
    """The part of ``ForeignSource`` that follows appends."""

    def _beat(self: Any, run_id: str, got: Any, st: tuple[int, int, int]) -> None:
        """News of a run: its heartbeat is the newest time in what came, else the file's mtime."""
        row = self.runs.get(run_id)
        if row is not None and len(got):
            if isinstance(got, PointColumns):
                np = numpy_or_none()  # columns come only with NumPy; not loaded to open a store
                known = got.t[~np.isnan(got.t)]
                times = [float(known.max())] if known.size else []
            else:
                times = [p.t for p in got if p.t is not None]
            hb = max(times) if times else st[2] / 1e9
            row.spec["hb"] = as_stored(max(row.spec.get("hb") or 0.0, hb))

    # -- following appends --------------------------------------------------------------

    def _read_appends(
        self: Any, catalog: Any, files: dict[str, tuple[int, int, int]]
    ) -> tuple[int, int]:
        problems: list[str] = []
        new: dict[str, list[Any]] = {}
        moved: list[Cursor] = []
        dbs: set[str] = set()
        redo: dict[str, None] = {}  # runs whose file does not continue: read them again
        paths: dict[Path, None] = {}
        for rel, c in self.cursors.items():
            if c.how == "sidecar" and c.change(*files.get(rel, (0, 0, 0))) != SAME:
                c.ino, c.size, c.mtime_ns = files.get(rel, (0, 0, 0))
                dbs.add(c.spec["db"])
                moved.append(c)
        for rel, c in self.cursors.items():
            if c.how not in STREAMS:
                continue
            st = files[rel]
            what = c.change(*st)
            if what == SAME and rel not in dbs:
                continue
            c.ino, c.size, c.mtime_ns = st
            try:
                if c.how == "sqlite_rows":
                    by_run, c.offset, rows = read_rows(self.top, c)
                    self.progress.rows_read += rows
                    moved.append(c)
                    for run_id, got in by_run.items():
                        new.setdefault(run_id, []).append(got)
                        self._beat(run_id, got, st)
                    continue
                if what != GROWN:
                    continue
                got, end, read = read_appended(self.opener, self.top, c, problems)
            except (Rewritten, OSError):
                if not self._redo(c, redo, paths):
                    return self._read_all(catalog)
                continue
            c.offset = end
            self.progress.bytes_read += read
            moved.append(c)
            new.setdefault(c.run, []).append(got)
            self._beat(c.run, got, st)
        changed = points = 0
        if moved:
            self.problems = problems
            ids = self.ids.copy()  # kept once committed (``ids.py``)
            try:
                points = catalog._transaction(lambda cur: self._add(cur, catalog, new, moved, ids))
            except BaseException:
                # the cursors moved on in memory, not in the catalog: start
                # again from what it holds, so the next refresh reads those bytes
                self.cursors.clear()
                self.runs.clear()
                self._loaded = False
                raise
            changed, self.ids = len(new), ids
        if redo or paths:
            got = self._read_some(catalog, files, redo, paths)
            if got is None:
                return self._read_all(catalog)
            changed, points = changed + got[0], points + got[1]
        return changed, points

    def _add(
        self: Any,
        cur: Any,
        catalog: Any,
        new: dict[str, list[Any]],
        moved: list[Cursor],
        ids: Ids | None = None,
    ) -> int:
        """Points that files gained, and the cursors that moved, in one transaction."""
        # a run that gained points no longer matches the digest of its first read
        old = [self.runs[r].row() for r in new if r in self.runs and "dig" in self.runs[r].spec]
        for r in new:
            if r in self.runs:
                self.runs[r].spec.pop("dig", None)
                self.runs[r].spec.pop("n", None)
        chunks: list[Any] = []
        added = 0
        gained = [(run_id, self.runs.get(run_id), concat(pieces)) for run_id, pieces in new.items()]
        gained = [(run_id, row, got) for run_id, row, got in gained if row is not None and len(got)]
        if sum(len(got) for _, _, got in gained) < FEW and not any(
            isinstance(got, PointColumns) for _, _, got in gained
        ):
            done = few(
                cur, catalog, [(run_id, got, row.offset) for run_id, row, got in gained], ids
            )
            if done is not None:
                for (_, row, _got), lines in zip(gained, done[0], strict=True):
                    row.offset += lines
                added, gained = done[1], []
        for run_id, row, got in gained:
            prep = _as_columns(run_id, got, row.offset)
            if prep is not None:
                if prep.chunk is not None:
                    chunks.append(prep.chunk)
                row.offset += prep.rows
                continue
            data, rows = _metric_rows(ForeignRun("", "", "", "", "", points=list(got)))
            chunks.append((run_id, data, row.offset))
            row.offset += len(rows)
        points = added + ingest_points(
            cur, catalog, chunks, ids, small_bytes=SMALL_CHUNK_BYTES, python_only=set()
        )
        rows = [c.row() for c in moved]
        renamed = {r[0] for r in old}
        rows += [self.runs[r].row() for r in new if r in self.runs and r not in renamed]
        if old:  # runs' own rows whose name changed: replaced
            cur.execute(f"DELETE FROM files WHERE (run_id, name) IN ({_values(old, 2)})")
            put_rows(cur, [self.runs[r].row() for r in renamed])
        if rows:
            _save_cursors(cur, rows)
        return int(points)


def _save_cursors(cur: Any, rows: list[list[Any]]) -> None:
    """The ``files`` rows of cursors that moved, in one UPDATE from NumPy
    columns DuckDB scans in place (fixed-width strings where they can hold
    the text: an object array costs it some 30 times more), else from
    ``VALUES`` written out (a NUL, which SQL text cannot hold: row by row)."""
    update = (
        'UPDATE files SET ino = v.ino, size = v.size, mtime_ns = v.m, "offset" = v.o, '
        "lines = v.l FROM {} WHERE files.run_id = v.r AND files.name = v.n"
    )
    numpy = numpy_or_none()
    texts = [str(r[0]) for r in rows] + [str(r[1]) for r in rows]
    nul = any("\0" in t for t in texts)
    if numpy is None:
        if nul:
            cur.executemany(
                update.format("(SELECT ?, ?, ?, ?, ?, ?, ?) v(r, n, ino, size, m, o, l)"),
                [list(r[:7]) for r in rows],
            )
        else:
            cur.execute(update.format(f"({_values(rows, 7)}) v(r, n, ino, size, m, o, l)"))
        return
    odd = nul or not all(map(_utf8, texts))
    cols = {
        "r": _text_column(numpy, texts[: len(rows)], odd),
        "n": _text_column(numpy, texts[len(rows) :], odd),
    }
    for i, name in enumerate(("ino", "size", "m", "o", "l"), start=2):
        cols[name] = numpy.array([int(r[i]) for r in rows], dtype=numpy.int64)
    cur.register("moved_cursors", cols)
    try:
        cur.execute(update.format("moved_cursors v"))
    finally:
        cur.unregister("moved_cursors")


def _text_column(numpy: Any, texts: list[str], odd: bool) -> Any:
    """Fixed-width NumPy strings, unless a string is odd (``_save_cursors``)
    or one is so much longer than the rest that the padding would cost more
    than an object array (a database's cursor names all its runs)."""
    longest = max(map(len, texts), default=0)
    if odd or longest * len(texts) > 4 * sum(map(len, texts)) + 65536:
        return numpy.array(texts, dtype=object)
    return numpy.array(texts, dtype=str)


def _utf8(text: str) -> bool:
    """Whether ``text`` encodes (no lone surrogate)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _as_columns(run_id: str, got: Any, first_line: int) -> Any:
    """New points of a run as NumPy columns from line ``first_line`` on
    (``points.num_columns``); None without NumPy or when they cannot be."""
    if numpy_or_none() is None:
        return None
    if not isinstance(got, PointColumns):
        try:
            got = PointColumns.of(got)
        except (TypeError, ValueError, OverflowError):
            return None
    return num_columns(run_id, got, first_line)


def _values(rows: list[list[Any]], width: int) -> str:
    """``VALUES`` of ``files`` rows (two strings, then numbers) written out:
    binding lists of parameters costs DuckDB's Python client about a
    millisecond an item, which a live refresh of many runs cannot pay."""

    def text(s: str) -> str:
        return "'" + str(s).replace("'", "''").replace("\0", "") + "'"

    return "VALUES " + ", ".join(
        "(" + ", ".join([text(r[0]), text(r[1]), *(str(int(x)) for x in r[2:width])]) + ")"
        for r in rows
    )
