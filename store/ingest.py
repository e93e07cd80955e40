"""Metric lines into the catalog: chunks of complete lines, already read
through the bounded opener, become rows of ``metrics`` and merged
``summaries``.

Chunks are parsed by DuckDB's JSON reader (from temp files this module
wrote, never from the run files) and unpivoted in SQL or numpy: the big
chunks of a batch with the keys named up front (``ingest_big``; with numpy
read in parts on a second thread while the parts before are written:
``ingest_parallel``, ``ingest_numpy``), the small ones of many runs in one pass (``ingest_small``),
or chunk by chunk with the columns DuckDB finds (``_ingest_chunk``) where a
group cannot go together.
Small chunks of a lone run (a live refresh), and any chunk DuckDB would read
differently from Python, are parsed in Python (``ingest_python``). All paths
give the same points:

- a line's ``seq`` is its line number (blank and corrupt lines count);
- integers past float64's range become ``±inf`` (the run gets a note);
- a key repeated in one line: the first value wins, on both paths (DuckDB's
  reader keeps the first, and the Python path does the same).
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from . import columns
from .catalog_schema import quote
from .ingest_big import BigIngest
from .ingest_python import OVERFLOW_NOTE, ParsedPoints

#: Metric chunks smaller than this are parsed in Python (see ``MetricIngest``).
SMALL_CHUNK_BYTES = 64 * 1024
_BLANK_LINE = re.compile(rb"(?:^|\n)[ \t\r\f\v]*\n")
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_RENAMED = re.compile(r"^(.*)_\d+$")
_BUILTIN_COLUMNS = {"_step", "_t", "ordinality"}
_INTEGER_TYPES = {"BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UINTEGER"}  # fit a BIGINT

_SUMMARY_STATS = (
    "first",
    "last",
    "min",
    "max",
    "count",
    "step_min",
    "step_max",
    "last_step",
    "first_t",
    "last_t",
    "last_seq",
)  # the columns of ``summaries`` after run_id and key, in order

#: One chunk of complete metric lines: (run key, bytes, line number of its first line).
Chunk = tuple[str, bytes, int]


class MetricIngest:
    """Writes chunks of metric lines into the catalog (see the module docstring).

    ``current`` names the run whose chunk DuckDB was reading when it raised,
    so the caller can retry the batch with that run parsed in Python."""

    def __init__(self, tmpdir: str):
        self.tmpdir = tmpdir
        self.current: str | None = None
        self.notes: dict[str, set[str]] = {}
        #: Small chunks of many runs read by DuckDB in one pass (``ingest_small``),
        #: and big ones (``BigIngest``).
        self.combine = True
        self._big = BigIngest(tmpdir)

    def ingest(
        self,
        cur: Any,
        chunks: list[Chunk],
        *,
        small_bytes: int = SMALL_CHUNK_BYTES,
        python_only: set[str] | frozenset[str] = frozenset(),
    ) -> int:
        """Insert the points of each chunk straight into ``metrics`` and
        collect one summary row per (run, key) of each chunk, then merge those
        into ``summaries``: the points are written once, never staged."""
        if not chunks:
            return 0
        cur.execute("CREATE OR REPLACE TEMP TABLE chunk_summaries AS FROM summaries LIMIT 0")
        from .ingest_small import COMBINED, ingest_small, one_object_per_line

        parsed = ParsedPoints(self.notes)
        points = 0
        small: list[tuple[str, bytes, int, int]] = []
        big_on_own: list[Chunk] = []  # read one by one (``_ingest_chunk``)
        big: list[tuple[str, bytes, int, int]] = []
        in_big: set[str] = set()
        for run_id, chunk, first_line in chunks:
            if run_id not in python_only and self.combine:
                if len(chunk) < small_bytes:
                    lines = chunk.count(b"\n")
                    small.append((run_id, chunk, first_line, lines))
                    continue
                if run_id not in in_big:  # one chunk of a run (``BigIngest``)
                    big.append((run_id, chunk, first_line, None))  # its bytes checked there
                    in_big.add(run_id)
                    continue
            if len(chunk) < small_bytes or run_id in python_only:
                parsed.parse(run_id, chunk, first_line)
                continue
            big_on_own.append((run_id, chunk, first_line))
        if big:
            self.current = COMBINED
            got = self._big.ingest(cur, big)
            self.current = None
            if got is None:
                big_on_own[:0] = [(run_id, chunk, first) for run_id, chunk, first, _ in big]
            else:
                big_on_own[:0] = self._big.left
                points += got
                self._note_overflows(cur, big)
                merge_summaries(cur)
                cur.execute("DELETE FROM chunk_summaries")
        for run_id, chunk, first_line in big_on_own:
            lines = chunk.count(b"\n")
            if not _fast_path_safe(chunk, lines):
                parsed.parse(run_id, chunk, first_line)
            else:
                self.current = run_id
                points += self._ingest_chunk(cur, run_id, chunk, first_line, lines, parsed)
                self.current = None
                # A big file comes in several chunks of one run: each chunk's
                # summaries are merged before the next, or the run would get
                # one summary row per chunk.
                merge_summaries(cur)
                cur.execute("DELETE FROM chunk_summaries")
        # A run goes in with the others only when each of its small chunks
        # can: all of them looked at at once first (chunks end at a newline,
        # so lines, their openings and characters are the chunks' own; each
        # chunk has at least as many braces as lines when each line opens
        # with one, so the sums agree only when each chunk's do).
        joined = b"".join(chunk for _, chunk, _, _ in small)
        lines = sum(n for _, _, _, n in small)
        if (
            all(chunk[-1:] == b"\n" for _, chunk, _, _ in small)
            and one_object_per_line(joined, lines)
            and _fast_path_safe(joined, lines)
        ):
            unsafe: set[str] = set()
        else:
            unsafe = {
                run_id
                for run_id, chunk, _, lines in small
                if not (one_object_per_line(chunk, lines) and _fast_path_safe(chunk, lines))
            }
        group = [c for c in small if c[0] not in unsafe]
        if len(group) > 1:
            self.current = COMBINED
            got = ingest_small(cur, self.tmpdir, group)
            self.current = None
            if got is not None:
                points += got
                self._note_overflows(cur, group)
                group = []
        for run_id, chunk, first_line, _ in group + [c for c in small if c[0] in unsafe]:
            parsed.parse(run_id, chunk, first_line)
        points += self._insert_parsed(cur, parsed)
        merge_summaries(cur)
        cur.execute("DROP TABLE chunk_summaries")
        cur.execute("DROP TABLE IF EXISTS chunk")
        return points

    def _ingest_chunk(
        self, cur: Any, run_id: str, chunk: bytes, first_line: int, lines: int, parsed: ParsedPoints
    ) -> int:
        """Points of one chunk of complete lines, read by DuckDB, or left to
        ``parsed`` when DuckDB's reader would get them wrong."""
        source = os.path.join(self.tmpdir, "chunk.jsonl")
        with open(source, "wb") as fh:
            fh.write(chunk)
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE chunk AS SELECT * FROM read_json(?, "
            "format='newline_delimited', sample_size=-1, ignore_errors=true, "
            "maximum_object_size=67108864) WITH ORDINALITY WHERE ordinality <= ?",
            [source, lines],
        )
        described = cur.execute("DESCRIBE chunk").fetchall()
        columns = [row[0] for row in described]
        types = {row[0]: row[1] for row in described}
        # WITH ORDINALITY adds the last column; a key called "ordinality"
        # would push it to another name, so such keys are parsed in Python.
        keys = [c for c in columns[:-1] if c not in _BUILTIN_COLUMNS]
        if (
            columns[-1] != "ordinality"
            or types.get("_step") not in _INTEGER_TYPES  # a line with a bad step
            or _renamed(keys)
            or _reserved(keys)
        ):
            parsed.parse(run_id, chunk, first_line)
            return 0
        points = 0
        if keys:
            # The inner columns start with "_", which no key on this path
            # does, so a metric called "t" or "step" cannot shadow them.
            t_expr = "TRY_CAST(_t AS DOUBLE)" if "_t" in columns else "CAST(NULL AS DOUBLE)"
            register_keys(cur, "SELECT unnest(?::VARCHAR[]) AS key", [keys])
            ids = dict(
                cur.execute(
                    "SELECT key, key_no FROM metric_keys WHERE key IN (SELECT unnest(?::VARCHAR[]))",
                    [keys],
                ).fetchall()
            )
            (run_no,) = cur.execute(
                "SELECT run_no FROM runs WHERE run_id = ?", [run_id]
            ).fetchall()[0]
            # One insert per key: each series lands contiguous (so a chart's
            # read skips the other row groups), with no sort and no join.
            for key in keys:
                value = (
                    quote(key) if types[key] == "DOUBLE" else f"TRY_CAST({quote(key)} AS DOUBLE)"
                )
                points += cur.execute(
                    f"""INSERT INTO metrics
                        SELECT {int(run_no)}, {int(ids[key])}, ordinality - 1 + {int(first_line)},
                               CAST(_step AS BIGINT), {t_expr}, {value}
                        FROM chunk WHERE _step IS NOT NULL AND {value} IS NOT NULL"""
                ).fetchall()[0][0]
            # The chunk's summaries, read back from the narrow rows just
            # written (contiguous, so cheap) rather than from the wide chunk.
            # Fewer aggregates than one per statistic: the last point's step,
            # time and seq come as one struct.
            cur.execute(
                f"""INSERT INTO chunk_summaries
                    SELECT ?, k.key, a.first, a.last, a.lo, a.hi, a.n, a.step_lo, a.step_hi,
                           a.l.s, a.first_t, a.l.t, a.l.q
                    FROM (
                      SELECT key_no,
                        -- values stay out of structs, which lose the sign of -0.0
                        arg_min(value, seq) AS first, arg_max(value, seq) AS last,
                        arg_min(t, seq) AS first_t,
                        arg_max({{'s': step, 't': t, 'q': seq}}, seq) AS l,
                        min(value) FILTER (WHERE NOT isnan(value)) AS lo,
                        max(value) FILTER (WHERE NOT isnan(value)) AS hi,
                        count(*) AS n,
                        arg_min(step, value) FILTER (WHERE NOT isnan(value)) AS step_lo,
                        arg_max(step, value) FILTER (WHERE NOT isnan(value)) AS step_hi
                      FROM metrics
                      WHERE run_no = {int(run_no)} AND seq >= {int(first_line)}
                        AND key_no IN ({", ".join(str(int(n)) for n in ids.values())})
                      GROUP BY key_no
                    ) a JOIN metric_keys k ON k.key_no = a.key_no""",
                [run_id],
            )
            self._note_overflow(cur, run_id, chunk)
        return points

    def _note_overflows(self, cur: Any, group: list[tuple[str, bytes, int, int]]) -> None:
        """``_note_overflow`` for the runs of a combined read, in one query."""
        inf = {
            run_id
            for (run_id,) in cur.execute(
                "SELECT DISTINCT run_id FROM chunk_summaries WHERE isinf(min) OR isinf(max)"
            ).fetchall()
        }
        for run_id, chunk, _, _ in group:
            if run_id in inf and not any(
                word in chunk for word in (b"Infinity", b"inf", b"Inf", b"INF")
            ):
                self.notes.setdefault(run_id, set()).add(OVERFLOW_NOTE)

    def _note_overflow(self, cur: Any, run_id: str, chunk: bytes) -> None:
        """An infinite value where the chunk spells no ``Infinity`` came from
        an integer past float64's range (DuckDB's reader makes it ±inf too)."""
        (n,) = cur.execute(
            "SELECT count(*) FROM chunk_summaries WHERE run_id = ? AND (isinf(min) OR isinf(max))",
            [run_id],
        ).fetchall()[0]
        if n and not any(word in chunk for word in (b"Infinity", b"inf", b"Inf", b"INF")):
            # (an infinity spelled out, as a number or a string, is no overflow)
            self.notes.setdefault(run_id, set()).add(OVERFLOW_NOTE)

    def _insert_parsed(self, cur: Any, parsed: ParsedPoints) -> int:
        """Points parsed in Python, in three statements however many."""
        if not parsed:
            return 0
        temp_table(cur, self.tmpdir, "parsed_points", ParsedPoints.COLUMNS, parsed.lines)
        register_keys(cur, "SELECT DISTINCT key FROM parsed_points", [])
        cur.execute(
            """INSERT INTO metrics
               SELECT r.run_no, k.key_no, p.seq, p.step, p.t, p.value
               FROM parsed_points p JOIN runs r ON r.run_id = p.run_id
                    JOIN metric_keys k ON k.key = p.key
               ORDER BY r.run_no, k.key_no, p.seq"""
        )
        aggs = ", ".join(
            f"{_summary_aggregate(stat, 'value', 'seq', 'step', 't')} AS {quote(stat)}"
            for stat in _SUMMARY_STATS
        )
        cur.execute(
            f"INSERT INTO chunk_summaries SELECT run_id, key, {aggs} "
            "FROM parsed_points GROUP BY run_id, key"
        )
        cur.execute("DROP TABLE parsed_points")
        return len(parsed)


def temp_table(
    cur: Any, tmpdir: str, table: str, columns: dict[str, str], lines: list[str]
) -> None:
    """A temp table from JSON lines with these columns: far faster than
    list parameters, which DuckDB converts from Python one element at a time."""
    path = os.path.join(tmpdir, f"{table}.jsonl")
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(lines)
    spec = ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items())
    cur.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {', '.join(map(quote, columns))} "
        f"FROM read_json(?, format='newline_delimited', columns={{{spec}}}, "
        "maximum_object_size=67108864)",
        [path],
    )


def register_keys(cur: Any, keys_sql: str, params: list[Any]) -> None:
    """Give every metric key of ``keys_sql`` (one column, ``key``) an id."""
    cur.execute(
        f"""INSERT INTO metric_keys
            SELECT (SELECT coalesce(max(key_no), 0) FROM metric_keys)
                   + row_number() OVER (ORDER BY key), key
            FROM ({keys_sql}) n
            WHERE key NOT IN (SELECT key FROM metric_keys)""",
        params,
    )


def merge_summaries(cur: Any, source: str = "chunk_summaries") -> None:
    """Merge the summaries of new points (the temp table ``source``, or a
    parenthesised query with ``summaries``' columns in order) into
    ``summaries``, the new points following those already there. A step or
    time the new points lack keeps the one known (as a first read of all the
    points gives: its last time is that of the last point that had one).
    One MERGE (every SET sees the row as it was), the sign of a zero last
    value set again, then the runs' last time from the merged rows."""
    newer_min = "s.min IS NULL OR (a.min IS NOT NULL AND a.min < s.min)"
    newer_max = "s.max IS NULL OR (a.max IS NOT NULL AND a.max > s.max)"
    cur.execute(
        f"""MERGE INTO summaries s USING {source} a ON s.run_id = a.run_id AND s.key = a.key
        WHEN MATCHED THEN UPDATE SET
          last = a.last,
          min = CASE WHEN {newer_min} THEN a.min ELSE s.min END,
          max = CASE WHEN {newer_max} THEN a.max ELSE s.max END,
          count = a.count + coalesce(s.count, 0),
          step_min = CASE WHEN {newer_min} THEN a.step_min ELSE s.step_min END,
          step_max = CASE WHEN {newer_max} THEN a.step_max ELSE s.step_max END,
          last_step = coalesce(a.last_step, s.last_step),
          first_t = coalesce(s.first_t, a.first_t),
          last_t = coalesce(a.last_t, s.last_t),
          last_seq = a.last_seq
        WHEN NOT MATCHED THEN INSERT VALUES (a.run_id, a.key, a.first, a.last, a.min, a.max,
          a.count, a.step_min, a.step_max, a.last_step, a.first_t, a.last_t, a.last_seq)"""
    )
    # DuckDB 1.5's UPDATE does not keep the sign of a zero: 0.0 to -0.0 is no
    # change to it, and even NULL to -0.0 can store 0.0. A last value that is
    # a zero of the other sign (rare: one query finds none) is written again
    # by delete and insert, which keep it.
    flipped = f"""FROM summaries s JOIN {source} a ON s.run_id = a.run_id AND s.key = a.key
                  WHERE signbit(s.last) <> signbit(a.last)"""
    if cur.execute(f"SELECT count(*) {flipped}").fetchall()[0][0]:
        cur.execute(
            f"CREATE OR REPLACE TEMP TABLE signed_last AS SELECT s.* REPLACE (a.last AS last) {flipped}"
        )
        cur.execute(
            """DELETE FROM summaries s USING signed_last f
               WHERE s.run_id = f.run_id AND s.key = f.key"""
        )
        cur.execute("INSERT INTO summaries SELECT * FROM signed_last")
        cur.execute("DROP TABLE signed_last")
    cur.execute(
        f"""UPDATE runs SET last_t = m.t FROM (
             SELECT s.run_id, max(s.last_t) AS t FROM summaries s
             SEMI JOIN {source} a ON s.run_id = a.run_id AND s.key = a.key GROUP BY s.run_id
           ) m WHERE runs.run_id = m.run_id"""
    )


def _summary_aggregate(stat: str, value: str, seq: str, step: str, t: str) -> str:
    """SQL for one statistic of one key's points, NaN-aware: first/last and
    count include NaN, min/max and their steps ignore it."""
    present = f"FILTER (WHERE {value} IS NOT NULL)"
    number = f"FILTER (WHERE NOT isnan({value}))"
    return {
        "first": f"arg_min({value}, {seq}) {present}",
        "last": f"arg_max({value}, {seq}) {present}",
        "min": f"min({value}) {number}",
        "max": f"max({value}) {number}",
        "count": f"count({value})",
        "step_min": f"arg_min({step}, {value}) {number}",
        "step_max": f"arg_max({step}, {value}) {number}",
        "last_step": f"arg_max({step}, {seq}) {present}",
        "first_t": f"arg_min({t}, {seq}) {present}",
        "last_t": f"arg_max({t}, {seq}) {present}",
        "last_seq": f"max({seq}) {present}",
    }[stat]


def _fast_path_safe(chunk: bytes, lines: int) -> bool:
    """Whether DuckDB's reader reads this chunk as the Python path would: no
    blank lines (it skips them without counting), nothing nested (a metric
    line is flat), only ASCII or valid UTF-8, no escaped surrogates and no
    integer past float64 (``_note_overflow`` notes those after the read).
    numpy counts the bytes only once something else imported it (a cold
    catalog of small runs need not import it, 0.5 s, for this alone)."""
    np = columns.numpy_module() if len(chunk) > 65536 and "numpy" in sys.modules else None
    a = np.frombuffer(chunk, dtype=np.uint8) if np is not None else None
    if a is None:  # (numpy counts a byte several times faster than bytes.count)
        if chunk.count(b"{") + chunk.count(b"[") > lines:
            return False
    elif int(np.count_nonzero(a == 123)) + int(np.count_nonzero(a == 91)) > lines:
        return False
    if _has_blank_line(chunk, lines, a):
        return False
    if not chunk.isascii():
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError:
            return False
    if a is not None and not np.count_nonzero(a == 92):
        return True  # no backslash, so no escape
    return not (b"\\u" in chunk and _SURROGATE.search(chunk))


def _big_chunk_facts(chunk: bytes) -> tuple[int, bool]:
    """A chunk's lines and whether each opens an object (``one_object_per_line``),
    the bytes counted by numpy where it is there (several times faster than
    ``bytes.count`` on big chunks)."""
    from .ingest_small import one_object_per_line

    np = columns.numpy_module()
    if np is None:
        lines = chunk.count(b"\n")
        return lines, one_object_per_line(chunk, lines)
    a = np.frombuffer(chunk, dtype=np.uint8)
    newline = a == 10
    lines = int(np.count_nonzero(newline))
    opened = (chunk[:1] == b"{") + int(np.count_nonzero(a[1:][newline[:-1]] == 123))
    return lines, opened == lines


def _has_blank_line(chunk: bytes, lines: int, a: Any = None) -> bool:
    """Whether a chunk of complete lines has a whitespace-only line (``a``:
    its bytes as a numpy array, or None)."""
    # Lines the shim writes start with "{"; counting those runs at memory
    # speed, so the slower regex only looks at chunks with other lines.
    if a is not None:
        opened = int(columns.numpy_module().count_nonzero(a[1:][a[:-1] == 10] == 123))
    else:
        opened = chunk.count(b"\n{")
    if (chunk[:1] == b"{") + opened == lines:
        return False
    return _BLANK_LINE.search(chunk) is not None


def _reserved(keys: list[str]) -> bool:
    """True when a key could be taken for a column of the fast path's own
    query (foreign files may have keys starting with "_")."""
    return any(k.startswith("_") or k.casefold() == "ordinality" for k in keys)


def _renamed(keys: list[str]) -> bool:
    """True when DuckDB's JSON reader renamed a key (case-insensitive twins,
    empty names): then the chunk is parsed in Python, exactly."""
    folded = {k.casefold() for k in keys}
    for key in keys:
        match = _RENAMED.match(key)
        if match and match.group(1).casefold() in folded:
            return True
        if re.fullmatch(r"C\d+", key):
            return True
    return len(folded) != len(keys)
