"""The run list's queries: a page of runs filtered (``store.filters``),
sorted on a built-in column, a param or a metric summary, with the columns
asked for; ``Store`` (``queries.py``) mixes them in."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .catalog_schema import CatalogError
from .models import RunSummary

BUILTIN_COLUMNS = {
    "id": "r.run_id",
    "project": "r.project",
    "name": "r.name",
    "status": "r.status",
    "created": "r.created",
    "ended": "r.ended",
    "duration": "(coalesce(r.ended, r.last_t, r.heartbeat_mtime) - r.created)",
    "group": "r.grp",
    "host": "r.host",
    "source": "r.source_kind",
    "box": "coalesce(r.box, 'local')",
    "location": "r.location",
}
STATS = ("last", "min", "max", "first", "count")
_STAT_SPEC = re.compile(r"^(last|min|max|first|count)\((.+)\)$", re.S)


class RunNotFound(CatalogError):
    pass


@dataclass(frozen=True)
class Column:
    """A column spec of the run list: a built-in, a param, or a metric summary."""

    spec: str
    kind: str  # "builtin" | "param" | "stat"
    key: str
    stat: str | None = None

    @staticmethod
    def parse(spec: str) -> Column:
        spec = spec.strip()
        if spec in BUILTIN_COLUMNS:
            return Column(spec, "builtin", spec)
        match = _STAT_SPEC.match(spec)
        if match:
            return Column(spec, "stat", match.group(2), match.group(1))
        if spec.startswith("param:"):
            return Column(spec, "param", spec[len("param:") :])
        return Column(spec, "param", spec)


class RunList:
    """The run-list half of ``Store``: it needs ``_rows`` and ``root``."""

    root: Any

    def _rows(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _run_select(
        self, columns: Sequence[Column], within: Sequence[str] | None = None
    ) -> tuple[str, list[Any], list[str]]:
        """SELECT list and joins for the run list; returns (sql, params,
        expressions). ``within``: only these runs' params and summaries are
        joined (a page's: not a hash table of every run's per column)."""
        joins: list[str] = []
        params: list[Any] = []
        exprs: list[str] = []
        scope = " AND run_id IN (SELECT unnest(?::VARCHAR[]))" if within is not None else ""
        for i, col in enumerate(columns):
            if col.kind == "builtin":
                exprs.append(BUILTIN_COLUMNS[col.key])
                continue
            table = "params" if col.kind == "param" else "summaries"
            if within is None:
                joins.append(f"LEFT JOIN {table} c{i} ON c{i}.run_id = r.run_id AND c{i}.key = ?")
                params.append(col.key)
            else:
                joins.append(
                    f"LEFT JOIN (SELECT * FROM {table} WHERE key = ?{scope}) c{i} "
                    f"ON c{i}.run_id = r.run_id"
                )
                params.extend([col.key, list(within)])
            exprs.append(f"c{i}.value_json" if col.kind == "param" else f'c{i}."{col.stat}"')
        return " ".join(joins), params, exprs

    def list_runs(
        self,
        *,
        project: str | None = None,
        status: str | Sequence[str] | None = None,
        where: str | None = None,
        sort: str = "created",
        descending: bool | None = None,
        limit: int | None = None,
        offset: int = 0,
        columns: Sequence[str] = (),
    ) -> list[RunSummary]:
        """Runs, filtered (``where`` is the filter language of ``store.filters``),
        sorted on any built-in column, param or metric summary."""
        return self._list(
            project, status, where, sort, descending, limit, offset, columns, counted=False
        )[0]

    def page_runs(
        self,
        *,
        limit: int,
        offset: int = 0,
        project: str | None = None,
        where: str | None = None,
        sort: str = "created",
        descending: bool | None = None,
        columns: Sequence[str] = (),
    ) -> tuple[list[RunSummary], int]:
        """A page of ``list_runs`` and how many runs match in all: a filter
        is evaluated once for both (at 100 k runs it is most of the cost)."""
        runs, total = self._list(
            project, None, where, sort, descending, limit, offset, columns, counted=True
        )
        if total is None:
            total = self.count_runs(project=project, where=where)
        return runs, total

    def _list(
        self,
        project: str | None,
        status: str | Sequence[str] | None,
        where: str | None,
        sort: str,
        descending: bool | None,
        limit: int | None,
        offset: int,
        columns: Sequence[str],
        *,
        counted: bool,
    ) -> tuple[list[RunSummary], int | None]:
        """``list_runs``, and with ``counted`` the number of runs matching
        when a filter is counted along (None: not counted)."""
        cols = [Column.parse(c) for c in columns]
        if sort.startswith("-"):
            sort, descending = sort[1:], True if descending is None else descending
        sort_col = Column.parse(sort)
        if descending is None:
            descending = sort_col.spec in ("created", "ended", "duration")
        conds, cond_params = self._conditions(project, status, where)
        where_sql = "WHERE " + " AND ".join(conds) if conds else ""
        if limit is None:
            all_cols = [*cols, sort_col]
            join_sql, params, exprs = self._run_select(all_cols)
            order = _order(sort_col, exprs[-1], len(all_cols) - 1, descending)
            sql = f"""{self._list_select(exprs[:-1])} FROM runs r {join_sql} {where_sql}
                ORDER BY {order}, r.run_id DESC {"OFFSET ?" if offset else ""}"""
            args = [*params, *cond_params, *([offset] if offset else [])]
            return [self._summary(row, cols) for row in self._rows(sql, args)], None
        # A page (what the run list shows): its run ids first, sorted with
        # nothing joined but the sort column, then the shown columns of those
        # runs alone. Sorting 100 k full rows to keep 200 cost seconds.
        # A filter's count rides along (a window over the narrow rows) rather
        # than being evaluated again; with no filter a count is free anyway.
        counted = counted and bool(conds)
        sort_join, sort_params, sort_exprs = self._run_select([sort_col])
        order = _order(sort_col, sort_exprs[0], 0, descending)
        found = self._rows(
            f"SELECT r.run_id, r.rowid{', count(*) OVER ()' if counted else ''} "
            f"FROM runs r {sort_join} {where_sql} "
            f"ORDER BY {order}, r.run_id DESC LIMIT ? OFFSET ?",
            [*sort_params, *cond_params, limit, offset],
        )
        ids = [row[0] for row in found]
        total = found[0][2] if counted and found else None
        if not ids:
            return [], total
        join_sql, params, exprs = self._run_select(cols, within=ids)
        rows = self._page_rows(join_sql, params, exprs, {row[1]: row[0] for row in found})
        place = {run_id: i for i, run_id in enumerate(ids)}
        rows.sort(key=lambda row: place[row[0]])
        return [self._summary(row, cols) for row in rows], total

    def _page_rows(
        self, join_sql: str, params: list[Any], exprs: list[str], ids: dict[int, str]
    ) -> list[tuple[Any, ...]]:
        """The shown columns of a page's runs (``ids``: rowid -> run id).
        Fetched by rowid: DuckDB then reads the other columns of those rows
        alone, where a run-id semi-join decodes every row of ``runs`` (0.2 s
        at 100 k runs). A rowid can name another row once a refresh has
        deleted runs since the page's ids were found, so each row's run id
        is checked, and any mismatch asks again by run id."""
        select = f"{self._list_select(exprs)}, r.rowid FROM runs r {join_sql} "
        rowids = ", ".join(str(int(rowid)) for rowid in ids)
        rows = self._rows(f"{select} WHERE r.rowid IN ({rowids})", params)
        if len(rows) == len(ids) and all(ids.get(row[-1]) == row[0] for row in rows):
            return [row[:-1] for row in rows]
        rows = self._rows(
            f"{select} WHERE r.run_id IN (SELECT unnest(?::VARCHAR[]))",
            [*params, list(ids.values())],
        )
        return [row[:-1] for row in rows]

    @staticmethod
    def _list_select(exprs: Sequence[str]) -> str:
        """The SELECT list of the run list (``_summary`` reads it), up to FROM."""
        return f"""
            SELECT r.run_id, r.project, r.name, r.status, r.status_reason, r.created, r.ended,
                   {BUILTIN_COLUMNS["duration"]}, r.grp, r.tags, r.host, r.source_kind,
                   coalesce(r.box, 'local'), r.location
                   {"".join(", " + e for e in exprs)}"""

    def count_runs(
        self,
        *,
        project: str | None = None,
        status: str | Sequence[str] | None = None,
        where: str | None = None,
    ) -> int:
        conds, params = self._conditions(project, status, where)
        sql = f"SELECT count(*) FROM runs r {'WHERE ' + ' AND '.join(conds) if conds else ''}"
        return self._rows(sql, params)[0][0]

    def _conditions(
        self, project: str | None, status: str | Sequence[str] | None, where: str | None
    ) -> tuple[list[str], list[Any]]:
        conds: list[str] = []
        params: list[Any] = []
        if project is not None:
            conds.append("r.project = ?")
            params.append(project)
        if status:
            statuses = [status] if isinstance(status, str) else list(status)
            conds.append(f"r.status IN ({', '.join('?' for _ in statuses)})")
            params.extend(statuses)
        if where and where.strip():
            from .filters import compile_filter

            sql, fparams = compile_filter(where)
            conds.append(f"({sql})")
            params.extend(fparams)
        return conds, params

    def _summary(self, row: tuple[Any, ...], cols: Sequence[Column]) -> RunSummary:
        values: dict[str, Any] = {}
        for col, value in zip(cols, row[14:]):
            if col.kind == "param" and value is not None:
                value = json.loads(value)
            values[col.spec] = value
        return RunSummary(
            id=row[0],
            project=row[1] or "",
            name=row[2] or row[0],
            status=row[3] or "crashed",
            status_reason=row[4],
            created=row[5],
            ended=row[6],
            duration=row[7],
            group=row[8],
            tags=tuple(row[9] or ()),
            host=row[10],
            source_kind=row[11],
            box=row[12],
            location=row[13],
            columns=values,
        )

    def run_summaries(
        self, run_ids: Sequence[str], columns: Sequence[str] = ()
    ) -> list[RunSummary]:
        """The rows of these runs, in the order given."""
        if not run_ids:
            return []
        cols = [Column.parse(c) for c in columns]
        join_sql, params, exprs = self._run_select(cols)
        marks = ", ".join("?" for _ in run_ids)
        sql = f"""
            SELECT r.run_id, r.project, r.name, r.status, r.status_reason, r.created, r.ended,
                   {BUILTIN_COLUMNS["duration"]}, r.grp, r.tags, r.host, r.source_kind,
                   coalesce(r.box, 'local'), r.location
                   {"".join(", " + e for e in exprs)}
            FROM runs r {join_sql} WHERE r.run_id IN ({marks})"""
        by_id = {row[0]: self._summary(row, cols) for row in self._rows(sql, [*params, *run_ids])}
        missing = [r for r in run_ids if r not in by_id]
        if missing:
            raise RunNotFound(f"no run {missing[0]!r} in {self.root}")
        return [by_id[r] for r in run_ids]


def _order(col: Column, expr: str, i: int, descending: bool) -> str:
    """The ORDER BY terms of the run list's sort column (joined as ``c{i}``):
    a param sorts by its number, then its text."""
    way = "DESC" if descending else "ASC"
    parts = [f"c{i}.num", f"c{i}.txt"] if col.kind == "param" else [expr]
    return ", ".join(f"{part} {way} NULLS LAST" for part in parts)
