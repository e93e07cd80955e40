"""Rows of runs new to the catalog, held until their batch is written out.

A run seen for the first time needs a ``runs`` row, its params, summary
overrides, events and artifacts. Written statement by statement that is
about ten DuckDB calls per run, each costing a millisecond or more: a cold
catalog of 10 k small runs spent most of its time there. Held here instead,
a batch of new runs goes in with a few statements per table however many
runs it has (staged column by column by ``bulk_rows``, read by DuckDB's JSON
reader with the tables' column types).
"""

from __future__ import annotations

from typing import Any

from . import paths, run_sync
from .bulk_rows import stage_columns
from .catalog_schema import quote

#: Table -> its columns, in order, for the row tuples run_sync builds.
_COLUMNS = {
    "params": ("run_id", "key", "value_json", "num", "txt"),
    "summary_overrides": ("run_id", "key", "value_json", "num"),
    "events": ("run_id", "seq", "event", "t", "body"),
    "artifacts": ("run_id", "seq", "name", "path", "size", "sha256", "copied", "t"),
}


class NewRuns:
    """What the runs first seen in one batch hold, keyed by run id."""

    def __init__(self) -> None:
        self.runs: dict[str, dict[str, Any]] = {}
        self.rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in _COLUMNS}
        self.next_no: int | None = None

    def __contains__(self, run_id: str) -> bool:
        return run_id in self.runs

    def __len__(self) -> int:
        return len(self.runs)

    def add(self, cur: Any, fields: dict[str, Any]) -> None:
        """A new ``runs`` row (``fields`` holds at least ``run_id``); its
        ``run_no`` follows the largest in the catalog."""
        if self.next_no is None:
            self.next_no = cur.execute("SELECT coalesce(max(run_no), 0) + 1 FROM runs").fetchall()[
                0
            ][0]
        fields["run_no"] = self.next_no
        self.next_no += 1
        self.runs[fields["run_id"]] = fields

    def set(self, run_id: str, fields: dict[str, Any]) -> None:
        self.runs[run_id].update(fields)

    def document(self, run_id: str, run_dir: str, name: str, doc: dict[str, Any]) -> None:
        """One whole JSON file of a new run (what ``run_sync.write_document`` writes)."""
        if name == paths.META:
            self.set(run_id, run_sync.meta_fields(run_id, run_dir, doc))
        elif name == paths.CONFIG:
            self.rows["params"].extend(run_sync.config_rows(run_id, doc))
        elif name == paths.SUMMARY:
            self.rows["summary_overrides"].extend(run_sync.summary_rows(run_id, doc))
        elif name == paths.SOURCE:
            self.set(run_id, run_sync.source_fields(doc))

    def events(self, run_id: str, chunk: bytes, first_line: int) -> bool:
        rows, finish = run_sync.event_rows(run_id, chunk, first_line)
        self.rows["events"].extend(rows)
        if finish is not None:
            self.set(run_id, finish)
        return finish is not None

    def artifacts(self, run_id: str, chunk: bytes, first_line: int) -> None:
        self.rows["artifacts"].extend(run_sync.artifact_rows(run_id, chunk, first_line))

    def write(self, cur: Any, tmpdir: str) -> None:
        """Insert everything held, then forget it (``next_no`` is kept)."""
        if self.runs:
            records = list(self.runs.values())
            names = sorted({name for record in records for name in record})
            self._insert(cur, tmpdir, "runs", names, [tuple(map(r.get, names)) for r in records])
        for table, columns in _COLUMNS.items():
            rows = self.rows[table]
            if rows:
                self._insert(cur, tmpdir, table, list(columns), rows)
        self.runs = {}
        self.rows = {table: [] for table in _COLUMNS}

    def _insert(
        self, cur: Any, tmpdir: str, table: str, names: list[str], rows: list[tuple[Any, ...]]
    ) -> None:
        types = {name: kind for name, kind, *_ in cur.execute(f"DESCRIBE {table}").fetchall()}
        staged = f"new_{table}"
        stage_columns(cur, tmpdir, staged, {name: types[name] for name in names}, rows)
        listed = ", ".join(map(quote, names))
        cur.execute(f"INSERT INTO {table} ({listed}) SELECT {listed} FROM {staged}")
        cur.execute(f"DROP TABLE {staged}")
