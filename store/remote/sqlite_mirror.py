"""A local copy of a SQLite database on a remote box, kept up to date by rows.

SQLite rewrites pages in place, so a database (a Trackio project, MLflow's
``mlflow.db``) cannot be mirrored by appended bytes. Instead the helper
queries it on the box (read-only, the standard library's ``sqlite3``) and
the mirror holds a database built from what it answers:

- first contact, or a schema that changed on the box: the schema
  (``sqlite_master``'s SQL, triggers left out) and every row are written
  into a new file beside the copy, which is then renamed over it;
- afterwards, per table: the rows past the copy's largest rowid for a big
  table (more than ``SMALL`` rows: the metric tables, which only grow), and
  the whole table for a small one or one without rowid (tools update rows
  in place: MLflow's ``runs.status``/``end_time``, ``latest_metrics``);
  a big table that lost rows, or whose count does not match after the new
  rows, is fetched whole again. Everything fetched goes in one transaction,
  so a reader of the copy sees the tables as before or as after, never half.

Rows of a big table updated in place (not appended) are not noticed until
the table is fetched whole again; no tool trackui reads does that.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .box import RemoteBox

#: Tables of at most this many rows (on the box) are fetched whole at each change.
SMALL = 5000
#: Below every rowid (rowids may be 0 or negative: MLflow's experiment 0).
LOWEST = -(2**63)
#: Rows asked for at a time.
PAGE = 50_000
#: Rows of one table fetched per sync at most (a bigger backlog: next sync).
MAX_ROWS = 1_000_000
DATABASES = (".db", ".sqlite", ".sqlite3")
SIDECARS = ("-wal", "-shm", "-journal")


def is_database(rel: str) -> bool:
    return rel.endswith(DATABASES)


def database_of(rel: str) -> str | None:
    """The database a ``-wal``/``-shm``/``-journal`` file belongs to."""
    for tail in SIDECARS:
        if rel.endswith(tail) and is_database(rel[: -len(tail)]):
            return rel[: -len(tail)]
    return None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _wanted_schema(schema: list[list[Any]]) -> list[tuple[str, str, str]]:
    """``(type, name, sql)`` the copy is built with: tables, indexes and views
    with SQL (internal ``sqlite_`` objects and triggers left out)."""
    out = []
    for kind, name, _table, sql in schema:
        if not isinstance(sql, str) or not isinstance(name, str) or name.startswith("sqlite_"):
            continue
        if kind in ("table", "index", "view"):
            out.append((kind, name, sql))
    return out


class DatabaseMirror:
    """Keeps ``path`` a copy of the database ``rel`` of ``box`` (see the module
    docstring). ``rows`` counts the rows fetched, all syncs."""

    def __init__(self, box: RemoteBox, rel: str, path: Path) -> None:
        self.box = box
        self.rel = rel
        self.path = path
        self.rows = 0

    def sync(self) -> bool:
        """Bring the copy up to date; whether it was written."""
        schema, tables = self.box.sqlite_schema(self.rel)
        wanted = _wanted_schema(schema)
        if self._local_schema() != wanted:
            self._rebuild(wanted, tables)
            return True
        return self._update(tables)

    # -- the copy as it is -------------------------------------------------------------

    def _connect(self, path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(str(path), timeout=10.0, isolation_level=None)
        return conn

    def _local_schema(self) -> list[tuple[str, str, str]] | None:
        if not self.path.is_file():
            return None
        try:
            conn = self._connect(self.path)
            try:
                rows = conn.execute(
                    "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid"
                ).fetchall()
            finally:
                conn.close()
        except sqlite3.Error:
            return None
        return _wanted_schema([list(r) for r in rows])

    # -- fetching --------------------------------------------------------------------

    def _all(self, table: str, info: list[Any], columns: list[str]) -> Iterator[tuple]:
        """Every row of ``table``: ``(rowid, *columns)`` for a rowid table,
        else every column."""
        if info[2]:
            yield from self._after(table, columns, LOWEST, None)
            return
        offset = 0
        while True:
            rows = self.box.sqlite_all(self.rel, table, offset=offset, limit=PAGE)
            self.rows += len(rows)
            yield from rows
            if len(rows) < PAGE:
                return
            offset += len(rows)

    def _after(
        self, table: str, columns: list[str], after: int, cap: int | None
    ) -> Iterator[tuple]:
        fetched = 0
        while cap is None or fetched < cap:
            rows = self.box.sqlite_rows(self.rel, table, columns, after=after, limit=PAGE)
            self.rows += len(rows)
            fetched += len(rows)
            yield from rows
            if len(rows) < PAGE:
                return
            after = rows[-1][0]

    @staticmethod
    def _insert(conn: sqlite3.Connection, table: str, columns: list[str], rowid: bool) -> str:
        names = (["rowid"] if rowid else []) + [_quote(c) for c in columns]
        marks = ", ".join("?" * len(names))
        return f"INSERT INTO {_quote(table)} ({', '.join(names)}) VALUES ({marks})"

    @staticmethod
    def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
        return [r[1] for r in conn.execute(f"PRAGMA table_info({_quote(table)})")]

    # -- writing ---------------------------------------------------------------------

    def _rebuild(self, wanted: list[tuple[str, str, str]], tables: dict[str, list[Any]]) -> None:
        """Schema and every row into a new file, renamed over the copy."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.mirror.tmp")
        for stale in (tmp, Path(f"{tmp}-journal")):
            stale.unlink(missing_ok=True)
        conn = self._connect(tmp)
        try:
            conn.execute("BEGIN")
            for kind, _name, sql in wanted:
                if kind == "table":
                    conn.execute(sql)
            for kind, name, _sql in wanted:
                if kind != "table" or name not in tables:
                    continue
                columns = self._columns(conn, name)
                info = tables[name]
                insert = self._insert(conn, name, columns, bool(info[2]))
                conn.executemany(insert, self._all(name, info, columns))
            for kind, _name, sql in wanted:
                if kind != "table":
                    conn.execute(sql)
            conn.execute("COMMIT")
        finally:
            conn.close()
        for tail in SIDECARS:  # a whole-file copy's sidecars, from an older mirror
            Path(f"{self.path}{tail}").unlink(missing_ok=True)
        os.replace(tmp, self.path)

    def _update(self, tables: dict[str, list[Any]]) -> bool:
        """New rows of big tables, small tables whole: fetched first, then
        written in one transaction."""
        conn = self._connect(self.path)
        try:
            plans: list[tuple[str, str, list[tuple], bool]] = []  # table, insert, rows, clear
            for table, info in tables.items():
                count, top, has_rowid = info
                columns = self._columns(conn, table)
                if not columns:
                    continue
                have = conn.execute(f"SELECT count(*) FROM {_quote(table)}").fetchone()[0]
                insert = self._insert(conn, table, columns, bool(has_rowid))
                if has_rowid and count > SMALL:
                    mine = conn.execute(f"SELECT max(rowid) FROM {_quote(table)}").fetchone()[0]
                    mine = LOWEST if mine is None else mine
                    top = LOWEST if top is None else top
                    if count >= have and top >= mine:
                        if top == mine and count == have:
                            continue  # nothing new
                        rows = list(self._after(table, columns, mine, MAX_ROWS))
                        if have + len(rows) == count or len(rows) >= MAX_ROWS:
                            plans.append((table, insert, rows, False))
                            continue
                rows = list(self._all(table, info, columns))
                plans.append((table, insert, rows, True))
            if not plans:
                return False
            conn.execute("BEGIN IMMEDIATE")
            try:
                for table, insert, rows, clear in plans:
                    if clear:
                        conn.execute(f"DELETE FROM {_quote(table)}")
                    conn.executemany(insert, rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return True
        finally:
            conn.close()


__all__ = ["SIDECARS", "SMALL", "DatabaseMirror", "database_of", "is_database"]
