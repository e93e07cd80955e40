"""Big metric chunks (a cold catalog of long runs) read by DuckDB in one
statement for all of a batch's chunks, with the columns named up front.

DuckDB's reader, left to find the columns itself over a whole file, parses
every line twice (once for the keys and types, once to read). Here the keys
come from a sample of each chunk (its first and last lines and windows
between) and from the keys earlier groups found; every key is read as DOUBLE
(as the Python path reads it), so each line is parsed once, and the points go
straight into ``metrics``, sorted by run, key and seq (each series
contiguous, so a chart's read skips the other row groups). A ``_step`` counts
only when it reads back as the same integer (``2.0``, ``"1"``, ``true`` are
no step on the Python path either).

Nothing is taken on trust from the sample: the values DuckDB read are counted
against the ``:`` separators in the bytes. A key the sample missed, a value
that is not a number, a ``null``, a line without a step, a corrupt line, a
colon inside a string: each leaves a separator without a value. Then the
points just written are deleted and, when a full pass over the lines finds
keys the sample missed, the group is read again with those; otherwise, or
when that too disagrees, ``None``: the caller reads each chunk the careful way.

Each chunk's bytes are checked first (``chunk_bytes``: one flat object a
line, nothing nested, valid UTF-8...); a chunk that fails is left to the
careful path (``left``), the others go on. With numpy (the ``fast`` extra),
``ingest_parallel`` reads the group in parts on a second thread, each part
sampled, written into a temp file in run_no order and read by
``ingest_numpy`` into numpy columns, checked before anything is written
(about 2.5x less CPU a point than the SQL below), while this thread writes
the part before. Without numpy, the chunks are written one after another
into one temp file and one SQL statement unpivots and sorts them: each line finds its
run and seq (its line number in its run's file) by an equi-join on a
per-line table, as in ``ingest_small``. A group holds one chunk per run, so a
run's new points are those of its keys from its chunk's first line on (as in
``MetricIngest._ingest_chunk``).
"""

from __future__ import annotations

import json
import os
from typing import Any

from . import columns, ingest_numpy
from .catalog_schema import quote

#: Lines of each chunk the sample takes from its start, its end and each window.
SAMPLE_LINES = 16
SAMPLE_WINDOWS = 16
#: Lines the sample of a group takes at most, all chunks together (at least
#: one a window).
SAMPLE_BUDGET = 8192
#: Keys earlier groups found that later groups read without sampling them.
MAX_KNOWN_KEYS = 512
#: Types a sampled key may have: each is read as DOUBLE, as the Python path reads it.
_NUMERIC = {"DOUBLE", "BIGINT", "UBIGINT", "INTEGER", "SMALLINT", "TINYINT", "UINTEGER", "BOOLEAN"}

Group = list[tuple[str, bytes, int, Any]]  # (run key, chunk, first line, lines or None)


def sample_lines(chunk: bytes, lines: int, per_window: int = SAMPLE_LINES) -> list[bytes]:
    """Whole lines (``per_window`` each) from the start, the end and
    ``SAMPLE_WINDOWS`` places between of a chunk of complete lines (each ends
    with a newline)."""
    if lines <= per_window * (SAMPLE_WINDOWS + 2):
        return [chunk]
    out = []
    size = len(chunk)
    for i in range(SAMPLE_WINDOWS + 1):
        at = 0 if i == 0 else chunk.find(b"\n", size * i // (SAMPLE_WINDOWS + 1)) + 1
        end = at
        for _ in range(per_window):
            end = chunk.find(b"\n", end) + 1
            if end == 0:
                end = size
                break
        out.append(chunk[at:end])
    at = size - 1  # the last lines
    for _ in range(per_window):
        at = chunk.rfind(b"\n", 0, at)
        if at < 0:
            break
    out.append(chunk[at + 1 :])
    return out


class BigIngest:
    """Reads groups of big chunks (see the module docstring); ``known``
    carries the keys found so far from one group to the next."""

    def __init__(self, tmpdir: str):
        self.tmpdir = tmpdir
        self.known: set[str] = set()
        #: Chunks of the last group not read here: the caller reads each the careful way.
        self.left: list[tuple[str, bytes, int]] = []
        self._ids: dict[str, int] = {}  # the key ids of the last insert
        self._parallel: Any = None  # ``ingest_parallel.ParallelRead``, made on first use

    def ingest(self, cur: Any, group: Group) -> int | None:
        """Points of ``group`` (one chunk per run; its lines may be None:
        each chunk's bytes are checked here); their summaries go to
        ``chunk_summaries``. None: nothing was written, every chunk is the
        caller's; else the points, and ``left`` the chunks not read."""
        self.left = []
        runs = columns.run_numbers(cur, [run_id for run_id, _, _, _ in group])
        # (imported here: opening a catalog need not load them)
        from . import chunk_bytes
        from .ingest_parallel import ParallelRead

        if ingest_numpy.available() and len(runs) == len(group):
            if self._parallel is None:
                self._parallel = ParallelRead(self)
            points, left = self._parallel.ingest(cur, group, runs)
            if len(left) == len(group):
                return None
            self.left = left
            return points
        vetted: Group = []
        separators = 0
        for run_id, chunk, first_line, _ in group:
            facts = chunk_bytes.facts(chunk)
            if facts.safe:
                vetted.append((run_id, chunk, first_line, facts.lines))
                separators += facts.separators
            else:
                self.left.append((run_id, chunk, first_line))
        if not vetted:
            self.left = []
            return None
        group = vetted
        sample = os.path.join(self.tmpdir, "big_sample.jsonl")
        # Fewer lines a window the more chunks: the keys are those of all of them.
        per_window = max(1, min(SAMPLE_LINES, SAMPLE_BUDGET // (len(group) * (SAMPLE_WINDOWS + 2))))
        with open(sample, "wb") as fh:
            for _, chunk, _, lines in group:
                fh.writelines(sample_lines(chunk, lines, per_window))
        keys = self._keys(cur, sample)
        if keys is None:
            self.left = []
            return None
        source = os.path.join(self.tmpdir, "big_chunks.jsonl")
        spans = []
        at = 1
        with open(source, "wb") as fh:
            for run_id, chunk, first_line, lines in group:
                fh.write(chunk)
                spans.append(
                    json.dumps({"run_id": run_id, "lo": at, "n": lines, "first_line": first_line})
                    + "\n"
                )
                at += lines
        self._spans(cur, spans)
        expected = separators
        for attempt in range(2):
            if attempt:
                sampled = keys
                keys = self._keys(cur, source)
                if keys is None or set(keys) <= set(sampled):
                    break  # no key the sample missed: something else is amiss
            points = self._insert(cur, source, keys)
            # A key's own colons are in the bytes once per value of it.
            counted = cur.execute(
                "SELECT coalesce(sum(count), 0), "
                "coalesce(sum(count * (length(key) - length(replace(key, ':', '')))), 0) "
                "FROM chunk_summaries"
            ).fetchall()[0]
            if points == counted[0] == expected - counted[1]:
                self.known.update(keys[: max(0, MAX_KNOWN_KEYS - len(self.known))])
                _drop(cur)
                os.remove(source)
                return points
            self._undo(cur)
        _drop(cur)
        os.remove(source)
        self.left = []
        return None

    def _keys(self, cur: Any, path: str) -> list[str] | None:
        """The keys of the lines of ``path`` (all, by DuckDB's reader) and
        those known, or None when one is not a number or not read as written."""
        from .ingest import _BUILTIN_COLUMNS, _renamed, _reserved

        described = cur.execute(
            "DESCRIBE SELECT * FROM read_json(?, format='newline_delimited', sample_size=-1, "
            "ignore_errors=true, maximum_object_size=67108864)",
            [path],
        ).fetchall()
        types = {row[0]: row[1] for row in described}
        found = [c for c in types if c not in _BUILTIN_COLUMNS]
        if (
            any(types[k] not in _NUMERIC for k in found)
            or ("_t" in types and types["_t"] not in _NUMERIC)
            or _renamed(found)
            or _reserved(found)
        ):
            return None
        keys = sorted(set(found) | self.known)
        # twins by case across groups ("Loss", "loss"): this group's own keys
        return keys if not _renamed(keys) else sorted(found)

    def _spans(self, cur: Any, spans: list[str]) -> None:
        from .ingest import temp_table

        temp_table(
            cur,
            self.tmpdir,
            "big_span_ids",
            {"run_id": "VARCHAR", "lo": "BIGINT", "n": "BIGINT", "first_line": "BIGINT"},
            spans,
        )
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE big_runs AS SELECT r.run_no, s.lo, s.n, s.first_line "
            "FROM big_span_ids s JOIN runs r ON r.run_id = s.run_id"
        )
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE big_lines AS "
            "SELECT run_no, lo + i AS line, first_line + i AS seq "
            "FROM (SELECT *, unnest(range(n)) AS i FROM big_runs)"
        )

    def _insert(self, cur: Any, source: str, keys: list[str]) -> int:
        """Insert the points of ``source``'s lines, then their summaries."""
        from .ingest import _SUMMARY_STATS, _summary_aggregate, register_keys

        register_keys(cur, "SELECT unnest(?::VARCHAR[]) AS key", [keys])
        ids = dict(
            cur.execute(
                "SELECT key, key_no FROM metric_keys WHERE key IN (SELECT unnest(?::VARCHAR[]))",
                [keys],
            ).fetchall()
        )
        read = {"_step": "JSON", "_t": "DOUBLE", **{k: "DOUBLE" for k in keys}}
        spec = ", ".join(f"{_sql_text(k)}: '{kind}'" for k, kind in read.items())
        columns = ", ".join(f"c.{quote(k)} AS {quote(str(ids[k]))}" for k in keys)
        # Once per line, before the unpivot: a step reads back as the same
        # integer (``2.0``, ``"1"``, ``true`` are no step: the line is left out).
        step = (
            "CASE WHEN CAST(TRY_CAST(c._step AS BIGINT) AS VARCHAR) = CAST(c._step AS VARCHAR) "
            "THEN TRY_CAST(c._step AS BIGINT) END"
        )
        (points,) = cur.execute(
            f"""INSERT INTO metrics
                SELECT run_no, CAST(key_no AS INTEGER) AS k, seq, step, t, value
                FROM (UNPIVOT (
                    SELECT s.run_no, s.seq, {step} AS step, c._t AS t, {columns}
                    FROM read_json(?, format='newline_delimited', columns={{{spec}}},
                                   ignore_errors=true, maximum_object_size=67108864)
                         WITH ORDINALITY c
                    JOIN big_lines s ON c.ordinality = s.line
                  ) ON COLUMNS(* EXCLUDE (run_no, seq, step, t))
                  INTO NAME key_no VALUE value)
                WHERE step IS NOT NULL
                ORDER BY run_no, k, seq""",
            [source],
        ).fetchall()[0]
        aggs = ", ".join(
            f"{_summary_aggregate(stat, 'm.value', 'm.seq', 'm.step', 'm.t')} AS {quote(stat)}"
            for stat in _SUMMARY_STATS
        )
        cur.execute(
            f"""INSERT INTO chunk_summaries
                SELECT r.run_id, k.key, a.* EXCLUDE (run_no, key_no) FROM (
                  SELECT m.run_no, m.key_no, {aggs}
                  FROM metrics m
                  WHERE ({self._new_rows(cur)}) AND m.key_no IN ({self._key_list(ids)})
                  GROUP BY m.run_no, m.key_no
                ) a JOIN runs r ON r.run_no = a.run_no JOIN metric_keys k ON k.key_no = a.key_no"""
        )
        self._ids = ids
        return int(points)

    @staticmethod
    def _new_rows(cur: Any) -> str:
        """SQL true for the rows of metrics from each run's chunk's first line
        on, as literals: a join on ``big_runs`` there costs an aggregate over
        the new rows ten times as much (measured: 0.27 s against 0.02 s a 1 M
        points). Runs go by first line: one term for a cold build."""
        by_first: dict[int, list[int]] = {}
        for run_no, first_line in cur.execute("SELECT run_no, first_line FROM big_runs").fetchall():
            by_first.setdefault(int(first_line), []).append(int(run_no))
        if len(by_first) > 64:
            return "(m.run_no, m.seq) IN (SELECT run_no, seq FROM big_lines)"
        return " OR ".join(
            f"(m.run_no BETWEEN {min(runs)} AND {max(runs)} "
            f"AND m.run_no IN ({', '.join(map(str, runs))}) AND m.seq >= {first})"
            for first, runs in sorted(by_first.items())
        )

    def _undo(self, cur: Any) -> None:
        """Delete what ``_insert`` wrote."""
        cur.execute(
            f"""DELETE FROM metrics m USING big_runs b
                WHERE m.run_no = b.run_no AND m.seq >= b.first_line
                  AND m.key_no IN ({self._key_list(self._ids)})"""
        )
        cur.execute("DELETE FROM chunk_summaries")

    @staticmethod
    def _key_list(ids: dict[str, int]) -> str:
        return ", ".join(str(int(n)) for n in ids.values()) or "NULL"


def _drop(cur: Any) -> None:
    for table in ("big_lines", "big_runs", "big_span_ids"):
        cur.execute(f"DROP TABLE IF EXISTS {table}")


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
