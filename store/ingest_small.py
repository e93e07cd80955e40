"""Many small metric chunks (a cold catalog of many short runs) read by
DuckDB in one pass instead of one Python parse each.

The chunks are written one after another into one temp file; DuckDB reads it
once, and each line finds its run by its line number (every chunk here has
one JSON object per line: ``_fast_path_safe`` and a ``{`` opening each line).
A line's ``seq`` is its line number in its run's file, as on the other paths.
Only when every key reads as a number: anything else (a string, a bool, a
renamed or reserved key, a step that is not an integer) leaves the whole
group to the Python path, which is exact.
"""

from __future__ import annotations

import os
from typing import Any

from .bulk_rows import object_size, stage_columns
from .catalog_schema import quote

#: A key read as one of these goes in as a number, as the Python path reads it.
_NUMBER_TYPES = {"DOUBLE", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UINTEGER", "UBIGINT"}
#: ``MetricIngest.current`` while the combined read runs (no single run to blame).
COMBINED = "\0combined"


def one_object_per_line(chunk: bytes, lines: int) -> bool:
    return (chunk[:1] == b"{") + chunk.count(b"\n{") == lines


def ingest_small(cur: Any, tmpdir: str, group: list[tuple[str, bytes, int, int]]) -> int | None:
    """Points of ``group`` ((run, chunk, first line, lines) each); their
    summaries go to ``chunk_summaries``. None: DuckDB would read the group
    differently from Python, nothing was written (the caller parses it)."""
    from .ingest import (
        _BUILTIN_COLUMNS,
        _INTEGER_TYPES,
        _SUMMARY_STATS,
        _renamed,
        _reserved,
        _summary_aggregate,
        register_keys,
    )

    source = os.path.join(tmpdir, "small_chunks.jsonl")
    spans = []
    at = 1
    longest = 0  # no line is longer than its chunk
    with open(source, "wb") as fh:
        for run_id, chunk, first_line, lines in group:
            fh.write(chunk)
            spans.append((run_id, at, lines, first_line))
            at += lines
            longest = max(longest, len(chunk))
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE small_chunk AS SELECT * FROM read_json(?, "
        "format='newline_delimited', sample_size=-1, ignore_errors=true, "
        f"maximum_object_size={object_size(longest)}) WITH ORDINALITY WHERE ordinality <= ?",
        [source, at - 1],
    )
    described = cur.execute("DESCRIBE small_chunk").fetchall()
    columns = [row[0] for row in described]
    types = {row[0]: row[1] for row in described}
    keys = [c for c in columns[:-1] if c not in _BUILTIN_COLUMNS]
    (rows,) = cur.execute("SELECT count(*) FROM small_chunk").fetchall()[0]
    if (
        rows != at - 1
        or columns[-1] != "ordinality"
        or types.get("_step") not in _INTEGER_TYPES
        or ("_t" in types and types["_t"] not in _NUMBER_TYPES)
        or any(types[k] not in _NUMBER_TYPES for k in keys)
        or _renamed(keys)
        or _reserved(keys)
    ):
        cur.execute("DROP TABLE small_chunk")
        return None
    stage_columns(
        cur,
        tmpdir,
        "small_span_ids",
        {"run_id": "VARCHAR", "lo": "BIGINT", "n": "BIGINT", "first_line": "BIGINT"},
        spans,
    )
    # One row per line (its run and seq), for an equi-join: an ASOF join on
    # the line number planned badly (0.9 s for 750 runs' lines).
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE small_spans AS "
        "SELECT r.run_no, s.lo + i AS line, s.first_line + i AS seq "
        "FROM (SELECT *, unnest(range(n)) AS i FROM small_span_ids) s "
        "JOIN runs r ON r.run_id = s.run_id"
    )
    points = 0
    if keys:
        register_keys(cur, "SELECT unnest(?::VARCHAR[]) AS key", [keys])
        ids = dict(
            cur.execute(
                "SELECT key, key_no FROM metric_keys WHERE key IN (SELECT unnest(?::VARCHAR[]))",
                [keys],
            ).fetchall()
        )
        t_expr = "CAST(c._t AS DOUBLE)" if "_t" in columns else "CAST(NULL AS DOUBLE)"
        located = (
            f"SELECT s.run_no, s.seq, "
            f"CAST(c._step AS BIGINT) AS step, {t_expr} AS t, "
            + ", ".join(f"CAST(c.{quote(k)} AS DOUBLE) AS {quote(k)}" for k in keys)
            + " FROM small_chunk c JOIN small_spans s ON c.ordinality = s.line "
            "WHERE c._step IS NOT NULL"
        )
        cur.execute(f"CREATE OR REPLACE TEMP TABLE small_located AS {located}")
        union = " UNION ALL ".join(
            f"SELECT run_no, {int(ids[k])} AS key_no, seq, step, t, {quote(k)} AS value "
            f"FROM small_located WHERE {quote(k)} IS NOT NULL"
            for k in keys
        )
        cur.execute(f"CREATE OR REPLACE TEMP TABLE small_points AS {union}")
        points = cur.execute(
            "INSERT INTO metrics SELECT * FROM small_points ORDER BY run_no, key_no, seq"
        ).fetchall()[0][0]
        # The Python path's aggregates (a missing _t on the last line keeps
        # the last time logged), so both paths agree.
        aggs = ", ".join(
            f"{_summary_aggregate(stat, 'p.value', 'p.seq', 'p.step', 'p.t')} AS {quote(stat)}"
            for stat in _SUMMARY_STATS
        )
        # Grouped by the integer ids, named after: hashing two strings per
        # point cost more than the aggregates.
        cur.execute(
            "INSERT INTO chunk_summaries SELECT r.run_id, k.key, a.* EXCLUDE (run_no, key_no) "
            f"FROM (SELECT p.run_no, p.key_no, {aggs} FROM small_points p "
            "GROUP BY p.run_no, p.key_no) a "
            "JOIN runs r ON r.run_no = a.run_no JOIN metric_keys k ON k.key_no = a.key_no"
        )
        for table in ("small_points", "small_located"):
            cur.execute(f"DROP TABLE {table}")
    for table in ("small_chunk", "small_spans", "small_span_ids"):
        cur.execute(f"DROP TABLE {table}")
    return points
