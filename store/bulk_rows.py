"""Many rows into a DuckDB temp table with one statement, cheaply in Python.

``ingest.temp_table`` takes one JSON line per row: a ``json.dumps`` call per
row, which at tens of thousands of rows (a cold catalog of many small runs)
costs more than DuckDB's read. Here the rows go in column by column: one
``json.dumps`` call encodes a block of rows as one object of lists
(``{"col": [v0, v1, …], …}``, one line per block of ``BLOCK_ROWS``), and
DuckDB reads it back with ``unnest``. Values and types come out as with
``temp_table`` (the same JSON reader, the same column types), so callers may
use either.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from .catalog_schema import quote

#: Rows per JSON line: keeps each line (a DuckDB "object") moderate in size.
BLOCK_ROWS = 2000
#: DuckDB's cap on one line; a block of rows with big documents stays under it.
_MAX_OBJECT = 2**32 - 1
#: DuckDB's own default for ``maximum_object_size`` (16 MiB).
_MIN_OBJECT = 1 << 24


def stage_columns(
    cur: Any,
    tmpdir: str,
    table: str,
    columns: dict[str, str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """``CREATE OR REPLACE TEMP TABLE table`` holding ``rows`` (tuples in the
    order of ``columns``: name -> DuckDB type)."""
    names = list(columns)
    path = os.path.join(tmpdir, f"{table}.cols.jsonl")
    longest = 0
    with open(path, "w", encoding="utf-8") as fh:
        for start in range(0, max(len(rows), 1), BLOCK_ROWS):
            block = rows[start : start + BLOCK_ROWS]
            cols = list(zip(*block)) if block else [()] * len(names)
            line = json.dumps(dict(zip(names, map(list, cols))))  # ASCII: a byte a character
            longest = max(longest, len(line))
            fh.write(line)
            fh.write("\n")
    spec = ", ".join(f"{_literal(name)}: '{kind}[]'" for name, kind in columns.items())
    listed = ", ".join(f"unnest({quote(name)}) AS {quote(name)}" for name in names)
    cur.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {listed} "
        f"FROM read_json(?, format='newline_delimited', columns={{{spec}}}, "
        f"maximum_object_size={object_size(longest)})",
        [path],
    )
    os.unlink(path)


def stage_records(
    cur: Any, tmpdir: str, table: str, columns: dict[str, str], records: list[dict[str, Any]]
) -> None:
    """Like ``stage_columns`` for dicts; a key a record lacks is NULL."""
    names = list(columns)
    rows = [tuple(record.get(name) for name in names) for record in records]
    stage_columns(cur, tmpdir, table, columns, rows)


def object_size(longest: int) -> int:
    """``maximum_object_size`` for a file whose longest line has ``longest``
    bytes: DuckDB's JSON reader reserves buffers of about twice it, so the
    cap (4 GiB) asked for 7.9 GiB at every read, which any ``memory_limit``
    on the catalog refused."""
    return min(max(longest + 1, _MIN_OBJECT), _MAX_OBJECT)


def _literal(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"
