"""Seed groups: runs that are the same experiment, told apart only by their seed.

Runs are grouped

* by their ``group`` field (``trackui.init(group=...)``, W&B's and Trackio's
  group) where it is set;
* else by their config, leaving out the seed and the keys that never describe
  an experiment (where a run writes, its name, the device, the number of
  loader workers, ...: ``store.group_keys`` lists them per tool), plus the
  run's project;
* or, when the user names keys (``--group-by lr0,batch``), by those keys alone.

``group_series`` (store/group_series.py) aggregates one metric per group and
step over the *union* of the steps the group's runs logged: ``n`` is the
number of runs with a finite value at that step, then mean, min, max and the
sample standard deviation (n-1 in the denominator; ``None`` where n = 1,
since one run says nothing about spread). ``compare_groups`` summarises each metric per group as mean ± std
over the runs' last and best values (best only for metrics with a known
direction, ``store.primary.direction``). All of it is computed in DuckDB.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import fmt
from .catalog import CatalogError
from .group_keys import describes_experiment
from .group_series import GroupSeries, group_series
from .models import MISSING
from .primary import direction

if TYPE_CHECKING:
    from .queries import Store

#: Shown where a run lacks a grouping key.
MISSING_TEXT = "—"


class GroupError(CatalogError):
    """Bad grouping input (an unknown key): one line for the user."""


@dataclass(frozen=True)
class RunGroup:
    """Runs that are one experiment. ``key_values`` are the keys that tell
    this group apart from the others, with this group's values (``MISSING``
    where its runs lack the key); a group from the ``group`` field has
    ``(("group", name),)``."""

    label: str
    key_values: tuple[tuple[str, Any], ...]
    run_ids: tuple[str, ...]

    @property
    def n(self) -> int:
        return len(self.run_ids)


@dataclass(frozen=True)
class Grouping:
    """The runs in groups, and the keys that made them."""

    groups: tuple[RunGroup, ...]
    mode: str  # "auto" (group field, else config) or "keys" (the user's keys)
    keys: tuple[str, ...]  # the keys grouped on: the user's, or the config keys kept
    ignored: tuple[str, ...]  # config keys left out (auto): seeds, and group_keys.NEVER_DESCRIBE

    @property
    def varying(self) -> tuple[str, ...]:
        """The keys that tell groups apart, in order of first appearance."""
        out: dict[str, None] = {}
        for group in self.groups:
            for key, _ in group.key_values:
                out.setdefault(key)
        return tuple(out)


@dataclass(frozen=True)
class Stat:
    """mean ± std over ``n`` runs (std None when n = 1)."""

    mean: float
    std: float | None
    n: int

    def text(self, digits: int = 4) -> str:
        if self.std is None:
            return fmt.number(self.mean, digits)
        return f"{fmt.number(self.mean, digits)} ± {fmt.number(self.std, 2)}"


@dataclass(frozen=True)
class GroupMetricRow:
    """One metric of a group comparison: each group's last and best (mean and spread)."""

    key: str
    direction: str | None  # "min", "max", or None (no best)
    last: tuple[Stat | None, ...]  # per group; None when no run of it logged the key
    best: tuple[Stat | None, ...] | None  # None when the metric has no direction
    best_group: int | None  # index of the group with the best mean best


@dataclass(frozen=True)
class GroupComparison:
    """The metrics of the groups side by side."""

    grouping: Grouping
    rows: tuple[GroupMetricRow, ...]


# -- which keys --------------------------------------------------------------


def parse_keys(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"lr0,batch"`` (or a list of such strings) -> ``("lr0", "batch")``."""
    items = [text] if isinstance(text, str) else list(text)
    keys = [k.strip() for item in items for k in item.split(",")]
    keys = [k for k in keys if k]
    if not keys:
        raise GroupError("--group-by needs at least one param key, e.g. --group-by lr0,batch")
    return tuple(dict.fromkeys(keys))


# -- grouping ----------------------------------------------------------------


def _marks(n: int) -> str:
    return ", ".join("?" for _ in range(n))


def _canonical(value_json: str, num: float | None) -> str:
    """One text per value: 1, 1.0 and 1e0 are one value; "1" (a string) is another."""
    if num is not None and not value_json.startswith('"'):
        return repr(float(num))
    return value_json


def differing_keys(store: Store, run_ids: Sequence[str]) -> list[str]:
    """Param keys whose value is not the same in all these runs (a run
    without the key differs): what a user would group by. Sorted."""
    run_ids = list(dict.fromkeys(run_ids))
    if not run_ids:
        return []
    return [
        r[0]
        for r in store._rows(
            f"""SELECT key FROM params WHERE run_id IN ({_marks(len(run_ids))})
                GROUP BY key HAVING count(DISTINCT value_json) > 1 OR count(*) < ?
                ORDER BY key""",
            [*run_ids, len(run_ids)],
        )
    ]


def group_runs(store: Store, run_ids: Sequence[str], by: Sequence[str] | None = None) -> Grouping:
    """Group ``run_ids`` (order kept: groups in order of their first run).
    ``by`` names param keys to group on; without it, runs are grouped
    automatically (module doc)."""
    run_ids = list(dict.fromkeys(run_ids))
    if not run_ids:
        return Grouping((), "auto" if by is None else "keys", tuple(by or ()), ())
    runs = store.run_summaries(run_ids)  # raises RunNotFound for an unknown id
    marks = _marks(len(run_ids))
    all_keys = [
        r[0]
        for r in store._rows(
            f"SELECT DISTINCT key FROM params WHERE run_id IN ({marks}) ORDER BY key", run_ids
        )
    ]
    if by is not None:
        keys = tuple(by)
        unknown = [k for k in keys if k not in all_keys]
        if unknown:
            raise GroupError(f"no run here has a param {unknown[0]!r} to group by")
        ignored: tuple[str, ...] = ()
    else:
        keys = tuple(k for k in all_keys if describes_experiment(k))
        ignored = tuple(k for k in all_keys if k not in keys)
    # Each run's values of the keys, as one list: grouping is then a GROUP BY on it.
    rows = store._rows(
        f"""SELECT p.run_id, list(struct_pack(k := p.key, v := p.value_json, n := p.num)
                                  ORDER BY p.key)
            FROM params p
            WHERE p.run_id IN ({marks}) AND list_contains(?, p.key)
            GROUP BY p.run_id""",
        [*run_ids, list(keys)],
    )
    values: dict[str, dict[str, str]] = {r: {} for r in run_ids}
    raw: dict[tuple[str, str], Any] = {}
    for run_id, items in rows:
        for item in items or ():
            text = _canonical(item["v"], item["n"])
            values[run_id][item["k"]] = text
            raw[(item["k"], text)] = json.loads(item["v"])
    auto = by is None
    by_name: dict[str, list[str]] = {}
    by_config: dict[tuple[Any, ...], list[str]] = {}
    projects = {r.id: r.project for r in runs}
    order: list[tuple[str, Any]] = []
    for run in runs:
        if auto and run.group not in (None, ""):
            name = str(run.group)
            if name not in by_name:
                by_name[name] = []
                order.append(("group", name))
            by_name[name].append(run.id)
            continue
        sig = tuple(values[run.id].get(k) for k in keys)
        if auto:
            sig = (projects[run.id], *sig)
        if sig not in by_config:
            by_config[sig] = []
            order.append(("config", sig))
        by_config[sig].append(run.id)
    # Keys that tell the config groups apart (the project only when it does).
    sigs = list(by_config)
    names = (("project",) if auto else ()) + keys
    if auto:
        varying = [i for i in range(len(names)) if len({s[i] for s in sigs}) > 1]
    else:  # the keys the user asked for are shown, even one all groups share
        varying = list(range(len(names)))
    labels = _labels(sigs, names, varying, auto, raw, bool(by_name))
    groups = []
    for kind, ident in order:
        if kind == "group":
            groups.append(RunGroup(ident, (("group", ident),), tuple(by_name[ident])))
            continue
        kv = tuple((names[i], _value(ident[i], names[i], auto and i == 0, raw)) for i in varying)
        groups.append(RunGroup(labels[ident], kv, tuple(by_config[ident])))
    return Grouping(tuple(groups), "auto" if auto else "keys", keys, ignored)


def _labels(
    sigs: list[tuple[Any, ...]],
    names: tuple[str, ...],
    varying: list[int],
    auto: bool,
    raw: dict[tuple[str, str], Any],
    named_groups: bool,
) -> dict[tuple[Any, ...], str]:
    """Short labels for config groups: the project when projects differ, then
    the keys that differ between the groups *of that project*, those a group
    lacks left out while the labels stay distinct."""
    if not auto:  # the user's keys, all of them
        return {s: _label([(names[i], s[i]) for i in varying], raw, named_groups) for s in sigs}
    out = {}
    for sig in sigs:
        peers = [t for t in sigs if t[0] == sig[0]]
        within = [i for i in varying if i == 0 or len({t[i] for t in peers}) > 1]
        out[sig] = [i for i in within if sig[i] is not None] or within
    texts = {s: _label([(names[i], s[i]) for i in out[s]], raw, named_groups) for s in sigs}
    if len(set(texts.values())) < len(texts):  # lacking a key is what tells some apart
        texts = {s: _label([(names[i], s[i]) for i in varying], raw, named_groups) for s in sigs}
    return texts


def _value(text: str | None, key: str, is_project: bool, raw: dict[tuple[str, str], Any]) -> Any:
    if is_project:
        return text
    return MISSING if text is None else raw[(key, text)]


def _label(
    items: list[tuple[str, str | None]], raw: dict[tuple[str, str], Any], named_groups: bool
) -> str:
    """``lr=0.01 batch=16`` from (key, canonical value text) pairs."""
    if not items:
        return "ungrouped" if named_groups else "all runs"
    return " ".join(
        f"{k}={MISSING_TEXT if t is None else fmt.value(raw.get((k, t), t))}" for k, t in items
    )


# -- summary -----------------------------------------------------------------


def compare_groups(
    store: Store,
    grouping: Grouping,
    *,
    keys: Sequence[str] | None = None,
    overrides: dict[str, str] | None = None,
) -> GroupComparison:
    """Per metric and group: mean ± std and n of the runs' last values, and of
    their best values where the metric has a direction; the group with the
    best mean best is marked."""
    groups = grouping.groups
    pairs = [(r, gi) for gi, g in enumerate(groups) for r in g.run_ids]
    if not pairs:
        return GroupComparison(grouping, ())
    mapping = ", ".join("(?, ?)" for _ in pairs)
    args: list[Any] = [v for pair in pairs for v in pair]

    def stats(col: str) -> str:
        keep = f"FILTER (WHERE isfinite({col}))"
        return f"count({col}) {keep}, avg({col}) {keep}, stddev_samp({col}) {keep}"

    rows = store._rows(
        f"""WITH g(run_id, gi) AS (VALUES {mapping})
            SELECT s.key, g.gi, {stats("s.last")}, {stats("s.min")}, {stats("s.max")}
            FROM summaries s JOIN g ON g.run_id = s.run_id
            GROUP BY s.key, g.gi""",
        args,
    )
    found: dict[str, dict[int, tuple[Any, ...]]] = {}
    for row in rows:
        found.setdefault(row[0], {})[row[1]] = row[2:]
    wanted = list(keys) if keys is not None else sorted(found)
    out = []
    for key in wanted:
        per = found.get(key, {})
        way = direction(key, overrides)
        last = tuple(_stat(per.get(gi), 0) for gi in range(len(groups)))
        best = None
        best_group = None
        if way is not None:
            offset = 3 if way == "min" else 6
            best = tuple(_stat(per.get(gi), offset) for gi in range(len(groups)))
            scored = [(s.mean, gi) for gi, s in enumerate(best) if s is not None]
            if scored:
                pick = min if way == "min" else max
                best_group = pick(scored, key=lambda c: c[0])[1]
        out.append(GroupMetricRow(key, way, last, best, best_group))
    return GroupComparison(grouping, tuple(out))


def _stat(row: tuple[Any, ...] | None, offset: int) -> Stat | None:
    if row is None:
        return None
    n, mean, sd = row[offset : offset + 3]
    if not n:
        return None
    return Stat(float(mean), None if n < 2 or sd is None else float(sd), int(n))


@dataclass(frozen=True)
class GroupedComparison:
    """What group mode shows at once: the summary and one metric per group."""

    comparison: GroupComparison
    series: tuple[GroupSeries, ...]


def compare_in_groups(
    store: Store,
    run_ids: Sequence[str],
    key: str | None,
    *,
    by: Sequence[str] | None = None,
    buckets: int | None = 200,
) -> GroupedComparison:
    """``group_runs``, ``compare_groups`` and, for ``key``, ``group_series``."""
    grouping = group_runs(store, run_ids, by)
    comparison = compare_groups(store, grouping)
    series = (
        () if key is None else tuple(group_series(store, grouping.groups, key, buckets=buckets))
    )
    return GroupedComparison(comparison, series)
