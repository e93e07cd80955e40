"""SQL over the catalog: the stable, read-only views ``trackui sql`` offers.

Users query five views, ``runs``, ``params``, ``metrics``, ``summaries`` and
``artifacts`` (documented in docs/sql.md), never the catalog's tables: those
change with the catalog's schema, the views do not. The views live in an
in-memory database of their own (``trackui_sql``, the current database
while a query runs), so the names users see cannot collide with the
internal tables, which a query does not see unqualified.

A query runs only when DuckDB's parser says it is one ``SELECT`` (which
covers ``WITH``, ``FROM``-first, ``VALUES``, ``DESCRIBE``, ``SHOW``,
``SUMMARIZE``), and then inside a read-only transaction.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from .catalog import Catalog
from .catalog_schema import CatalogError
from .fmt import repair

__all__ = ["VIEWS", "QueryError", "Result", "Workspace", "check_query", "view_sql"]


class QueryError(CatalogError):
    """A query that cannot run (not read-only, or DuckDB refused it); one line."""


#: What each view shows: (column, SQL over the source's internal tables).
#: ``{src}`` is the attached catalog, ``{store}`` the source's name as a literal.
VIEWS: dict[str, tuple[tuple[str, str], ...]] = {
    "runs": (
        ("id", "r.run_id"),
        ("project", "r.project"),
        ("name", "r.name"),
        ("status", "r.status"),
        ("status_reason", "r.status_reason"),
        ("created", "CAST(r.created AS DOUBLE)"),
        ("ended", "CAST(r.ended AS DOUBLE)"),
        (
            "duration",
            "CAST(coalesce(r.ended, r.last_t, r.heartbeat_mtime) - r.created AS DOUBLE)",
        ),
        ("group_name", "r.grp"),
        ("tags", "CAST(coalesce(r.tags, []) AS VARCHAR[])"),
        ("notes", "r.notes"),
        ("source", "coalesce(r.source_kind, 'trackui')"),
        (
            "box",
            "coalesce(r.box, CASE WHEN r.rel_dir IS NULL THEN json_extract_string("
            "TRY_CAST(r.meta_json AS JSON), '$.box') END, 'local')",
        ),
        ("host", "r.host"),
        ("username", "r.username"),
        ("pid", "CAST(r.pid AS BIGINT)"),
        ("argv", "CAST(r.argv AS VARCHAR[])"),
        ("cwd", "r.cwd"),
        ("python", "r.python"),
        ("git_commit", "r.git_commit"),
        ("git_branch", "r.git_branch"),
        ("git_dirty", "CAST(r.git_dirty AS BOOLEAN)"),
        ("git_remote", "r.git_remote"),
        ("exit_code", "CAST(r.exit_code AS BIGINT)"),
        ("signal", "r.signal"),
        ("exception_type", "r.exc_type"),
        ("exception_message", "r.exc_message"),
        ("dropped", "CAST(r.dropped AS BIGINT)"),
        ("source_path", "r.source_path"),
        ("source_id", "r.source_id"),
        ("location", "r.dir"),
        ("store", "{store}"),
    ),
    "params": (
        ("run", "p.run_id"),
        ("key", "p.key"),
        ("value", "TRY_CAST(p.value_json AS JSON)"),
        (
            "type",
            "CASE json_type(TRY_CAST(p.value_json AS JSON)) "
            "WHEN 'BIGINT' THEN 'integer' WHEN 'UBIGINT' THEN 'integer' "
            "WHEN 'DOUBLE' THEN 'number' WHEN 'VARCHAR' THEN 'string' "
            "WHEN 'BOOLEAN' THEN 'boolean' WHEN 'ARRAY' THEN 'list' "
            "WHEN 'OBJECT' THEN 'object' WHEN 'NULL' THEN 'null' END",
        ),
        ("num", "CAST(p.num AS DOUBLE)"),
        ("text", "p.txt"),
    ),
    "metrics": (
        ("run", "r.run_id"),
        ("key", "k.key"),
        ("step", "CAST(m.step AS BIGINT)"),
        ("t", "CAST(m.t AS DOUBLE)"),
        ("value", "CAST(m.value AS DOUBLE)"),
        ("seq", "CAST(m.seq AS BIGINT)"),
    ),
    "summaries": (
        ("run", "s.run_id"),
        ("key", "s.key"),
        ("first", "CAST(s.first AS DOUBLE)"),
        ("last", "CAST(s.last AS DOUBLE)"),
        ("min", "CAST(s.min AS DOUBLE)"),
        ("max", "CAST(s.max AS DOUBLE)"),
        ("count", "CAST(s.count AS BIGINT)"),
        ("step_min", "CAST(s.step_min AS BIGINT)"),
        ("step_max", "CAST(s.step_max AS BIGINT)"),
        ("last_step", "CAST(s.last_step AS BIGINT)"),
        ("first_t", "CAST(s.first_t AS DOUBLE)"),
        ("last_t", "CAST(s.last_t AS DOUBLE)"),
    ),
    "artifacts": (
        ("run", "a.run_id"),
        ("seq", "CAST(a.seq AS BIGINT)"),
        ("name", "a.name"),
        ("path", "a.path"),
        ("size", "CAST(a.size AS BIGINT)"),
        ("sha256", "a.sha256"),
        ("copied", "CAST(a.copied AS BOOLEAN)"),
        ("t", "CAST(a.t AS DOUBLE)"),
    ),
}

_FROM = {
    "runs": "{src}.main.runs r",
    "params": "{src}.main.params p",
    "metrics": "{src}.main.metrics m JOIN {src}.main.runs r ON r.run_no = m.run_no "
    "JOIN {src}.main.metric_keys k ON k.key_no = m.key_no",
    "summaries": "{src}.main.summaries s",
    "artifacts": "{src}.main.artifacts a",
}

#: Statement kinds a user may run: DuckDB parses WITH, FROM-first, VALUES,
#: DESCRIBE, SHOW and SUMMARIZE as SELECT.
_ALLOWED = {"SELECT"}


@dataclass(frozen=True)
class Result:
    """A query's answer: column names, DuckDB type names, rows."""

    columns: tuple[str, ...]
    types: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def view_sql(view: str, sources: Sequence[tuple[str, str]]) -> str:
    """The SELECT behind ``view`` over sources given as (alias, name)."""
    parts = []
    for alias, name in sources:
        cols = ", ".join(
            f"{expr.format(store=literal(name))} AS {col}" for col, expr in VIEWS[view]
        )
        parts.append(f"SELECT {cols} FROM {_FROM[view].format(src=alias)}")
    return "\nUNION ALL\n".join(parts)


def check_query(sql: str) -> None:
    """A ``QueryError`` unless ``sql`` is one read-only statement."""
    if not sql.strip():
        raise QueryError("empty query")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(f"bad query: {_why(exc)}") from None
    if len(statements) != 1:
        raise QueryError(
            f"one statement at a time, not {len(statements)}" if statements else "empty query"
        )
    kind = getattr(statements[0].type, "name", str(statements[0].type))
    if kind not in _ALLOWED:
        raise QueryError(
            f"read-only: only queries (SELECT, WITH, FROM, DESCRIBE, SHOW) run here, not {kind}"
        )


class Workspace:
    """The views over one or more catalogs, in the first catalog's own
    connection: a second DuckDB instance on a file this process holds open
    is not safe, so the views go into an in-memory database attached there
    (``trackui_sql``), and every further source is a read-only snapshot of
    its catalog attached beside it. Queries run with ``trackui_sql`` as the
    current database, in a read-only transaction."""

    def __init__(self, catalog: Catalog, name: str) -> None:
        self.catalog = catalog
        self._tmp = tempfile.TemporaryDirectory(prefix="trackui-sql-")
        cur = catalog.cursor()
        (db,) = cur.execute("SELECT current_database()").fetchone()
        cur.execute(f"ATTACH ':memory:' AS {_VIEWS_DB}")
        self._sources: list[tuple[str, str]] = [(_ident(db), name)]
        self._ready = False

    def add(self, other: Catalog, name: str) -> None:
        """A further source: its catalog (up to date, and closed here)
        snapshotted to a temporary file and attached read-only."""
        alias = f"s{len(self._sources)}"
        path = os.path.join(self._tmp.name, f"{alias}.duckdb")
        cur = other.cursor()
        (db,) = cur.execute("SELECT current_database()").fetchone()
        cur.execute(f"ATTACH {literal(path)} AS trackui_snapshot")
        try:
            for table in _INTERNAL:
                cur.execute(
                    f"CREATE TABLE trackui_snapshot.main.{table} AS "
                    f"SELECT * FROM {_ident(db)}.main.{table}"
                )
        finally:
            cur.execute("DETACH trackui_snapshot")
            other.close()
        self.catalog.cursor().execute(f"ATTACH {literal(path)} AS {alias} (READ_ONLY)")
        self._sources.append((alias, name))

    def _cursor(self) -> Any:
        cur = self.catalog.cursor()
        if not self._ready:
            for view in VIEWS:
                cur.execute(
                    f"CREATE VIEW {_VIEWS_DB}.main.{view} AS {view_sql(view, self._sources)}"
                )
            self._ready = True
        cur.execute(f"USE {_VIEWS_DB}")
        cur.execute("BEGIN TRANSACTION READ ONLY")
        return cur

    def query(self, sql: str) -> Result:
        """Rows of one read-only query; a ``QueryError`` (one line) otherwise."""
        check_query(sql)
        cur = self._cursor()
        try:
            rel = _fetchable(cur.sql(sql))
            result = Result(tuple(rel.columns), tuple(str(t) for t in rel.types), rel.fetchall())
        except duckdb.Error as exc:
            raise QueryError(_message(exc)) from None
        finally:
            _rollback(cur)
        return result

    def to_parquet(self, sql: str, path: str) -> int:
        """Write a query's rows to a Parquet file; the number of rows."""
        check_query(sql)
        cur = self._cursor()
        try:
            rel = cur.sql(sql)
            if rel is None:
                raise QueryError("the statement returned no rows")
            rel.write_parquet(path)
            (count,) = cur.execute(f"SELECT count(*) FROM read_parquet({literal(path)})").fetchone()
        except duckdb.Error as exc:
            raise QueryError(_message(exc)) from None
        finally:
            _rollback(cur)
        return int(count)

    def close(self) -> None:
        """Detach what was attached; the catalog itself stays open."""
        cur = self.catalog.cursor()
        for alias, _ in [*self._sources[1:], (_VIEWS_DB, "")]:
            try:
                cur.execute(f"DETACH DATABASE IF EXISTS {alias}")
            except duckdb.Error:
                pass
        self._tmp.cleanup()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _fetchable(rel: Any) -> Any:
    """The relation with values Python can receive: a time with a time zone
    becomes its text (DuckDB hands those over only through pytz)."""
    if rel is None:
        raise QueryError("the statement returned no rows")
    types = [str(t) for t in rel.types]
    if not any("TIME ZONE" in t for t in types):
        return rel
    cols = [
        f"CAST(#{i} AS VARCHAR) AS {_ident(name)}" if "TIME ZONE" in t else f"#{i}"
        for i, (name, t) in enumerate(zip(rel.columns, types), start=1)
    ]
    return rel.project(", ".join(cols))


_VIEWS_DB = "trackui_sql"
#: The internal tables the views read (a snapshot copies only these).
_INTERNAL = ("runs", "params", "metrics", "metric_keys", "summaries", "artifacts")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_INTERNAL_HINT = re.compile(r'"([^"]*\.|pg_|duckdb_|information_schema)')


def _why(exc: BaseException) -> str:
    text = repair(str(exc)).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def _message(exc: BaseException) -> str:
    """DuckDB's error as one line, with its kind ("Binder Error: …")."""
    text = repair(str(exc)).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    # DuckDB's "Did you mean" helps unless it names an internal table.
    hint = next((t.strip() for t in text[1:] if t.strip().startswith("Did you mean")), "")
    if _INTERNAL_HINT.search(hint):
        hint = ""
    return f"bad query: {first[:300]}{' ' + hint if hint else ''}"


def _rollback(cur: Any) -> None:
    try:
        cur.execute("ROLLBACK")
    except duckdb.Error:
        pass
