"""``trackui diff --group`` / ``--group-by KEYS``: runs compared as seed groups.

One column per group: how many runs it holds, the values of the keys that
tell the groups apart, and per metric the mean ± std of the runs' last and
best values (best only for metrics with a known direction; ★ on the best
group). ``(n=…)`` follows a value when fewer of the group's runs logged that
metric. ``--json`` gives every figure with its n; std is null for one run.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from trackui.cli_output import Table, emit_json, emit_table
from trackui.cli_resolve import UsageError
from trackui.store import fmt
from trackui.store.models import MISSING

ARROWS = {"min": "↓", "max": "↑"}


def add_group_options(parser: argparse.ArgumentParser) -> None:
    """``--group`` and ``--group-by KEYS`` on the ``diff`` parser."""
    how = parser.add_mutually_exclusive_group()
    how.add_argument(
        "--group",
        action="store_true",
        help="compare seed groups: runs grouped by their group field, else by config "
        "without seeds, names and output paths (see docs/groups.md)",
    )
    how.add_argument(
        "--group-by",
        metavar="KEYS",
        help="compare groups of runs that share these params, e.g. --group-by lr0,batch",
    )


def wants_groups(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "group", False)) or getattr(args, "group_by", None) is not None


def diff_groups(found: Sequence[Any], args: argparse.Namespace) -> int:
    """Print the group comparison of the runs ``found`` (``cli_resolve.Found``:
    a store and a run id each) in the format asked for."""
    from trackui.store import groups

    if len({id(f.store) for f in found}) > 1:
        raise UsageError("diff --group: the runs must come from one store")
    store = found[0].store
    run_ids = [f.run_id for f in found]
    by = groups.parse_keys(args.group_by) if getattr(args, "group_by", None) is not None else None
    grouping = groups.group_runs(store, run_ids, by)
    comparison = groups.compare_groups(store, grouping)
    runs = {r.id: r for r in store.run_summaries(run_ids)}
    if args.fmt == "json":
        emit_json(as_json(comparison, runs))
        return 0
    headers, rows = as_table(comparison)
    n = len(grouping.groups)
    title = f"{n} group{'s' if n != 1 else ''} of {len(run_ids)} runs"
    if grouping.mode == "keys":
        title += f", by {', '.join(grouping.keys)}"
    elif grouping.ignored:
        shown = ", ".join(grouping.ignored[:6]) + (" …" if len(grouping.ignored) > 6 else "")
        title += f" (ignoring {shown})"
    numeric = frozenset(range(1, len(headers)))
    emit_table(Table(headers, rows, title=title, numeric=numeric), args.fmt)
    return 0


def as_json(comparison: Any, runs: dict[str, Any]) -> dict[str, Any]:
    grouping = comparison.grouping

    def stat(s: Any) -> dict[str, Any] | None:
        return None if s is None else {"mean": s.mean, "std": s.std, "n": s.n}

    return {
        "mode": grouping.mode,
        "group_by": list(grouping.keys) if grouping.mode == "keys" else None,
        "ignored_keys": list(grouping.ignored),
        "groups": [
            {
                "label": g.label,
                "n": g.n,
                "key_values": {k: None if v is MISSING else v for k, v in g.key_values},
                "missing": [k for k, v in g.key_values if v is MISSING],
                "runs": [
                    {"id": r, "project": runs[r].project, "name": runs[r].name} for r in g.run_ids
                ],
            }
            for g in grouping.groups
        ],
        "metrics": [
            {
                "key": row.key,
                "direction": row.direction,
                "last": [stat(s) for s in row.last],
                "best": None if row.best is None else [stat(s) for s in row.best],
                "best_group": row.best_group,
            }
            for row in comparison.rows
        ],
    }


def _cell(stat: Any, group_n: int, star: bool = False) -> str:
    if stat is None:
        return "—"
    text = stat.text()
    if stat.n != group_n:
        text += f" (n={stat.n})"
    return text + (" ★" if star else "")


def as_table(comparison: Any) -> tuple[list[str], list[list[str]]]:
    """Headers and rows: one column per group (rows: n, the varying keys,
    then last and best of each metric)."""
    grouping = comparison.grouping
    groups = grouping.groups
    headers = ["", *[g.label for g in groups]]
    rows = [["runs (n)", *[str(g.n) for g in groups]]]
    for key in grouping.varying:
        values = []
        for g in groups:
            value = dict(g.key_values).get(key, MISSING)
            values.append("—" if value is MISSING else fmt.value(value))
        rows.append([key, *values])
    for row in comparison.rows:
        arrow = f" {ARROWS[row.direction]}" if row.direction else ""
        rows.append([f"{row.key}{arrow} last", *[_cell(s, g.n) for s, g in zip(row.last, groups)]])
        if row.best is not None:
            rows.append(
                [
                    f"{row.key}{arrow} best",
                    *[
                        _cell(s, g.n, star=i == row.best_group)
                        for i, (s, g) in enumerate(zip(row.best, groups))
                    ],
                ]
            )
    return headers, rows
