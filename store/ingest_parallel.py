"""A group of big chunks read on a second core while the catalog writes:
``ingest_big``'s numpy path as a pipeline of two threads.

The group (one chunk per run, in run_no order) is cut into parts of about
``PART_BYTES``. A reading thread takes part after part: it checks each
chunk's bytes (``chunk_bytes``: a chunk DuckDB would read differently from
the Python path is left to the careful path), samples the part's keys, writes
its chunks into one temp file and reads them into numpy columns
(``ingest_numpy.read``), checked against the separators in the bytes, all on
a private in-memory DuckDB connection of one thread. Meanwhile the calling
thread writes the part before into the catalog (``ingest_numpy.write``: the
keys' ids, the points, the summaries). DuckDB lets go of the GIL while it
works, so on two cores the reading and the writing overlap; the reader is
at most one part ahead (two parts' columns are held at a time).

Every rule of ``ingest_big`` holds part by part: the keys come from the
part's sample and the keys earlier parts found, nothing is taken on trust
(the values read are counted against the separators before anything is
written), a key the sample missed is found by a full pass over the part's
lines, and a part that still disagrees is written by no one here: its chunks
go back to the caller, who reads each the careful way. The reader never
touches the catalog; a failure in it is raised by the caller's thread.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, NamedTuple

from . import chunk_bytes, columns, ingest_numpy

if TYPE_CHECKING:
    from .ingest_big import BigIngest

#: Bytes of chunks read (and then written) at a time: small enough that the
#: reading and the writing overlap over most of a group (the first part's
#: reading and the last part's writing do not), big enough that a part's
#: dozen statements cost little beside its points.
PART_BYTES = 24 << 20

#: A chunk given back: (run key, bytes, line number of its first line).
Back = tuple[str, bytes, int]


class Part(NamedTuple):
    """What the reader made of a part: its runs' spans in the temp file and
    its columns (None: nothing to write), and the chunks it left."""

    spans: list[ingest_numpy.Span]
    got: ingest_numpy.Read | None
    left: list[Back]


class ParallelRead:
    """The pipeline (see the module docstring) of one ``BigIngest``."""

    def __init__(self, big: BigIngest):
        self.big = big
        self._con: Any = None

    def ingest(
        self, cur: Any, group: list[tuple[str, bytes, int, Any]], runs: dict[str, int]
    ) -> tuple[int, list[Back]]:
        """Points of ``group`` written (their summaries go to
        ``chunk_summaries``), and the chunks left to the careful path."""
        from concurrent.futures import ThreadPoolExecutor

        group = sorted(group, key=lambda c: runs[c[0]])  # run_no order: series order
        parts = cut(group, PART_BYTES)
        ids: dict[str, int] = {}
        points = 0
        left: list[Back] = []
        with ThreadPoolExecutor(1, thread_name_prefix="trackui-big-read") as pool:
            pending = pool.submit(self._read, parts[0], runs)
            for i in range(len(parts)):
                part = pending.result()
                if i + 1 < len(parts):
                    pending = pool.submit(self._read, parts[i + 1], runs)
                left += part.left
                if part.got is None:
                    continue
                new = [k for k in part.got.keys if k not in ids]
                if new:
                    ids.update(columns.key_numbers(cur, new))
                points += ingest_numpy.write(cur, self.big.tmpdir, part.got, part.spans, ids)
                del part
        return points, left

    def _connection(self) -> Any:
        """The reader's own DuckDB (in memory, one thread: the other core
        is the writer's)."""
        if self._con is None:
            import duckdb

            con = duckdb.connect(":memory:")
            con.execute("SET threads = 1")
            self._con = con
        return self._con

    def _read(self, part: list[tuple[str, bytes, int, Any]], runs: dict[str, int]) -> Part:
        """One part read into columns, in the reading thread."""
        from .ingest_big import (
            MAX_KNOWN_KEYS,
            SAMPLE_BUDGET,
            SAMPLE_LINES,
            SAMPLE_WINDOWS,
            sample_lines,
        )

        big = self.big
        good = []
        left: list[Back] = []
        for run_id, chunk, first_line, _ in part:
            facts = chunk_bytes.facts(chunk)
            if facts.safe:
                good.append((run_id, chunk, first_line, facts))
            else:
                left.append((run_id, chunk, first_line))
        if not good:
            return Part([], None, left)
        back = left + [(run_id, chunk, first) for run_id, chunk, first, _ in good]
        con = self._connection()
        sample = os.path.join(big.tmpdir, "big_sample.jsonl")
        # Fewer lines a window the more chunks: the keys are those of all of them.
        per_window = max(1, min(SAMPLE_LINES, SAMPLE_BUDGET // (len(good) * (SAMPLE_WINDOWS + 2))))
        with open(sample, "wb") as fh:
            for _, chunk, _, facts in good:
                fh.writelines(sample_lines(chunk, facts.lines, per_window))
        keys = big._keys(con, sample)
        if keys is None:
            return Part([], None, back)
        source = os.path.join(big.tmpdir, "big_chunks.jsonl")
        spans = []
        at = 0
        with open(source, "wb") as fh:
            for run_id, chunk, first_line, facts in good:
                fh.write(chunk)
                spans.append((run_id, runs[run_id], at, facts.lines, first_line))
                at += facts.lines
        expected = sum(facts.separators for _, _, _, facts in good)
        try:
            for attempt in range(2):
                if attempt:
                    sampled = keys
                    keys = big._keys(con, source)
                    if keys is None or set(keys) <= set(sampled):
                        break  # no key the sample missed: something else is amiss
                got = ingest_numpy.read(con, source, at, keys, expected)
                if got is not None:
                    big.known.update(keys[: max(0, MAX_KNOWN_KEYS - len(big.known))])
                    return Part(spans, got, left)
        finally:
            os.remove(source)
        return Part([], None, back)


def cut(group: list[tuple[str, bytes, int, Any]], size: int) -> list[list[Any]]:
    """``group`` cut into runs of chunks of about ``size`` bytes (a bigger
    chunk on its own), in order."""
    parts: list[list[Any]] = [[]]
    held = 0
    for chunk in group:
        if parts[-1] and held + len(chunk[1]) > size:
            parts.append([])
            held = 0
        parts[-1].append(chunk)
        held += len(chunk[1])
    return parts
