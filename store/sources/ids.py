"""The catalog's small integer ids of the runs and keys that a refresh's
new points belong to (``runs.run_no``, ``metric_keys.key_no``).

A live refresh of many runs asks for the same ids every time: ``Ids``
keeps those a source was given, so a refresh whose runs and keys are all
known asks the catalog nothing. An id only changes when its row goes:
a run read again whole (the source starts a new ``Ids``), or the catalog
emptied (``forget``); metric keys are never removed but with everything.
The ids looked up in a transaction are kept only once it committed (the
caller works on a ``copy`` and keeps it after the commit), so a rolled
back key id is never used again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import columns as _columns_mod


@dataclass
class Ids:
    """Run and key ids known to be in the catalog."""

    runs: dict[str, int] = field(default_factory=dict)
    keys: dict[str, int] = field(default_factory=dict)

    def copy(self) -> Ids:
        return Ids(dict(self.runs), dict(self.keys))


def in_list(names: list[str]) -> str | None:
    """``names`` as the SQL text of an ``IN (...)`` list, or None when one
    holds a NUL. Written out: DuckDB's Python client converts a list
    parameter element by element (about 25 ms for 100 run ids against
    about 2 for the text), which a live refresh of many runs cannot pay."""
    if any("\0" in n for n in names):
        return None
    return "(" + ", ".join("'" + n.replace("'", "''") + "'" for n in names) + ")"


def run_numbers(cur: Any, run_ids: Any, known: Ids | None = None) -> dict[str, int]:
    """``columns.run_numbers``, the ids written into the statement
    (``in_list``); none asked for the runs ``known`` has."""
    ids = sorted(set(run_ids))
    if known is not None and all(r in known.runs for r in ids):
        return {r: known.runs[r] for r in ids}
    listed = in_list(ids) if ids else None
    if listed is None:
        got = _columns_mod.run_numbers(cur, ids)
    else:
        rows = cur.execute(f"SELECT run_id, run_no FROM runs WHERE run_id IN {listed}").fetchall()
        got = {run_id: int(no) for run_id, no in rows}
    if known is not None:
        known.runs.update(got)
    return got


def key_numbers(cur: Any, keys: Any, known: Ids | None = None) -> dict[str, int]:
    """``columns.key_numbers``, one statement when every key has its id
    already (a refresh's new points mostly continue known series), none
    when ``known`` has them all."""
    names = sorted(set(keys))
    if not names:
        return {}
    if known is not None and all(k in known.keys for k in names):
        return {k: known.keys[k] for k in names}
    listed = in_list(names)
    got: dict[str, int] | None = None
    if listed is not None:
        rows = cur.execute(f"SELECT key, key_no FROM metric_keys WHERE key IN {listed}").fetchall()
        if len(rows) == len(names):
            got = {key: int(no) for key, no in rows}
    if got is None:
        got = _columns_mod.key_numbers(cur, names)
    if known is not None:
        known.keys.update(got)
    return got
