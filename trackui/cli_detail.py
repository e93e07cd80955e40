"""``show RUN`` and ``diff RUN…``: one run in detail, and runs side by side.

Runs are named as ``cli_resolve.resolve`` reads them (id, id prefix,
``project/name``, or a plain name when unique), in the stores named by
``-d/--store`` (repeatable; default: the default store)."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterable
from typing import Any

from trackui.cli_commands import NUMBER_WIDTH, location, number_text, run_box, value_text
from trackui.cli_output import Table, emit_json, emit_table, is_terminal
from trackui.cli_resolve import (
    Found,
    UsageError,
    open_stores,
    report_unreachable,
    resolve,
    sources,
    unreachable,
)
from trackui.store import fmt, images
from trackui.store.models import MetricSummary


def _text(value: Any) -> str:
    """A meta field as text whatever type a file gave it (a number for a
    commit, a list for a host): never an exception out of ``show``."""
    if value is None:
        return ""
    return value if isinstance(value, str) else fmt.value(value)


# -- show --------------------------------------------------------------------------------


def cmd_show(args: argparse.Namespace) -> int:
    with open_stores(sources(args.store or [])) as stores:
        found = resolve(stores, args.run)
        detail = found.store.get_run(found.run_id)
        now = found.store.clock()
        down = unreachable(stores)
        src = next(s for s, store in stores if store is found.store)
    run = detail.run
    meta = detail.meta if isinstance(detail.meta, dict) else {}
    git = meta.get("git") if isinstance(meta.get("git"), dict) else {}
    argv = meta.get("argv") if isinstance(meta.get("argv"), list) else []
    if args.fmt == "json":
        emit_json(
            {
                "id": run.id,
                "project": run.project,
                "name": run.name,
                "status": run.status,
                "status_reason": run.status_reason,
                "created": run.created,
                "ended": run.ended,
                "duration": run.duration,
                "tags": list(run.tags),
                "group": run.group,
                "notes": detail.notes,
                "dir": detail.dir,
                "host": meta.get("host"),
                "box": run_box(run),
                "location": location(src, run),
                "pid": meta.get("pid"),
                "argv": meta.get("argv"),
                "git": meta.get("git"),
                "exit_code": detail.exit_code,
                "signal": detail.signal,
                "dropped": detail.dropped,
                "exception": (
                    {"type": detail.exception_type, "message": detail.exception_message}
                    if detail.exception_type
                    else None
                ),
                "source": (
                    {"kind": detail.source_kind, "path": detail.source_path, "id": detail.source_id}
                    if detail.source_kind
                    else None
                ),
                "params": dict(detail.params),
                "summary": detail.summary,
                "metrics": _summaries_json(m for m in detail.metrics if not _is_system(m.key)),
                # sampled system series (system.jsonl), the same fields as metrics
                "system": _summaries_json(m for m in detail.metrics if _is_system(m.key)),
                "artifacts": [
                    {
                        "name": a.name,
                        "path": a.path,
                        "size": a.size,
                        "sha256": a.sha256,
                        **images.artifact_fields(a.name),  # kind; key and step of an image
                    }
                    for a in detail.artifacts
                ],
            }
        )
        return report_unreachable(down)
    status = fmt.status(run.status) + (f" ({run.status_reason})" if run.status_reason else "")
    overview = [
        ["id", run.id],
        ["run", f"{run.project}/{run.name}"],
        ["status", status],
        ["created", f"{fmt.timestamp(run.created)} ({fmt.ago(run.created, now)})"],
        ["duration", fmt.duration(run.duration)],
        ["host", f"{_text(meta.get('host'))} pid {_text(meta.get('pid'))}".strip()],
        ["command", " ".join(_text(a) for a in argv)],
    ]
    if run_box(run) != "local":
        overview.append(["box", f"{run_box(run)} ({location(src, run)})"])
    if run.group:
        overview.append(["group", run.group])
    if git:
        dirty = " (dirty)" if git.get("dirty") else ""
        commit = _text(git.get("commit"))[:12]
        overview.append(["git", f"{commit} {_text(git.get('branch'))}{dirty}"])
    if run.tags:
        overview.append(["tags", ", ".join(_text(t) for t in run.tags)])
    if detail.dropped is not None:
        lost = (
            " (not written: the disk was full or the run directory gone)" if detail.dropped else ""
        )
        overview.append(["dropped", f"{detail.dropped} points{lost}"])
    if detail.source_kind:
        overview.append(["source", f"{detail.source_kind}: {detail.source_path}"])
    overview.append(["dir", detail.dir])
    emit_table(Table(["field", "value"], overview, title="run"), args.fmt)
    emit_table(
        Table(
            ["param", "value"],
            [[k, value_text(v)] for k, v in detail.params],
            title="params",
            numeric=frozenset({1}) if _all_numbers(v for _, v in detail.params) else frozenset(),
        ),
        args.fmt,
    )
    system = [m for m in detail.metrics if _is_system(m.key)]
    for title, rows in (
        ("metrics", [m for m in detail.metrics if not _is_system(m.key)]),
        ("system", system),
    ):
        if title == "system" and not rows:
            continue
        emit_table(
            Table(
                [
                    title[:-1] if title == "metrics" else "series",
                    "last",
                    "min",
                    "max",
                    "count",
                    "last step",
                ],
                [
                    [
                        m.key,
                        number_text(m.last),
                        number_text(m.min),
                        number_text(m.max),
                        str(m.count),
                        "" if m.last_step is None else str(m.last_step),
                    ]
                    for m in rows
                ],
                title=title,
                numeric=frozenset({1, 2, 3, 4, 5}),
            ),
            args.fmt,
        )
    if detail.summary:
        emit_table(
            Table(
                ["summary", "value"],
                [[k, value_text(v)] for k, v in detail.summary.items()],
                title="summary",
            ),
            args.fmt,
        )
    if detail.artifacts:
        emit_table(
            Table(
                ["artifact", "size", "sha256", "path"],
                [
                    [a.name, fmt.size(a.size), (a.sha256 or "")[:12], a.path]
                    for a in detail.artifacts
                ],
                title="artifacts",
            ),
            args.fmt,
        )
    return report_unreachable(down)


def _all_numbers(values: Any) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in present
    )


# -- diff --------------------------------------------------------------------------------


def cmd_diff(args: argparse.Namespace) -> int:
    from trackui.store.models import MISSING

    if len(args.runs) < 2:
        raise UsageError("diff needs at least two runs")
    with open_stores(sources(args.store or [])) as stores:
        found = [resolve(stores, ref) for ref in args.runs]
        down = unreachable(stores)
        if len({(id(f.store), f.run_id) for f in found}) != len(found):
            raise UsageError("diff: the same run was named twice")
        # Other views of the same runs branch off here, with the resolved
        # runs (their stores still open) and the parsed options.
        from trackui.cli_groups import diff_groups, wants_groups

        if wants_groups(args):
            return diff_groups(found, args)
        diff, metrics = _compare(found, only_changed=not args.all)
    from trackui.store.primary import direction

    runs = diff.runs
    if args.fmt == "json":
        emit_json(
            {
                "runs": [
                    {
                        "id": r.id,
                        "project": r.project,
                        "name": r.name,
                        "box": run_box(r),
                        "location": getattr(r, "location", None),
                    }
                    for r in runs
                ],
                "params": [
                    {
                        "key": row.key,
                        "differs": row.differs,
                        "values": [None if v is MISSING else v for v in row.values],
                        "missing": [v is MISSING for v in row.values],
                    }
                    for row in diff.rows
                ],
                "params_total": diff.total_keys,
                "metrics": [
                    {
                        "key": row.key,
                        "direction": direction(row.key),
                        "last": list(row.last),
                        "best": list(row.best),
                        "best_run": (
                            None
                            if row.best_run is None or direction(row.key) is None
                            else runs[row.best_run].id
                        ),
                    }
                    for row in metrics.rows
                ],
            }
        )
        return report_unreachable(down)
    names = run_headers(runs, args.fmt)

    def shown(v: Any) -> str:
        return "—" if v is MISSING else value_text(v)

    what = "all" if args.all else "differing"
    param_rows = [[row.key, *[shown(v) for v in row.values]] for row in diff.rows]
    emit_table(
        Table(
            ["param", *names],
            param_rows,
            title=f"params ({what}: {len(diff.rows)} of {diff.total_keys})",
        ),
        args.fmt,
    )
    rows = []
    for row in metrics.rows:
        known = direction(row.key)
        base = row.last[0]
        cells = []
        for i, last in enumerate(row.last):
            text = number_text(last)
            if i and last is not None and base is not None:
                change = fmt.delta(last, base, NUMBER_WIDTH)
                text += f" ({change})" if change else ""
            if known is not None and i == row.best_run:
                text += " ★"
            cells.append(text)
        arrow = {"min": " ↓", "max": " ↑"}.get(known or "", "")
        rows.append([f"{row.key}{arrow}", *cells])
    emit_table(
        Table(
            ["metric (last, Δ vs first run)", *names],
            rows,
            title="metrics (★ best; ↓/↑ which way is better)",
            numeric=frozenset(range(1, len(names) + 1)),
        ),
        args.fmt,
    )
    return report_unreachable(down)


def run_headers(runs: Any, style: str | None) -> list[str]:
    """Column headers for runs: ``project/name``, on a terminal shortened so
    they stay told apart (the shared prefix goes first); ``box:project/name``
    when the runs come from several boxes."""
    names = [f"{r.project}/{r.name}" for r in runs]
    if len({run_box(r) for r in runs}) > 1:
        names = [f"{run_box(r)}:{n}" for r, n in zip(runs, names)]
    if style is None and is_terminal():
        from trackui.tui.names import distinct

        names = distinct(names, 24)
    return names


def _compare(found: list[Found], *, only_changed: bool) -> tuple[Any, Any]:
    """The params diff and metric comparison of runs, in SQL when they share
    a store, else from each run's details."""
    stores = {id(f.store) for f in found}
    if len(stores) == 1:
        store = found[0].store
        ids = [f.run_id for f in found]
        return store.diff_params(ids, only_changed=only_changed), store.compare_metrics(ids)
    return _compare_details([f.store.get_run(f.run_id) for f in found], only_changed)


def _compare_details(details: list[Any], only_changed: bool) -> tuple[Any, Any]:
    from trackui.store.directions import direction_of
    from trackui.store.models import (
        MISSING,
        MetricComparison,
        MetricComparisonRow,
        ParamDiff,
        ParamDiffRow,
    )

    runs = tuple(d.run for d in details)
    params = [dict(d.params) for d in details]
    keys = sorted({k for p in params for k in p})
    rows = []
    for key in keys:
        values = tuple(p.get(key, MISSING) for p in params)
        texts = {json.dumps(v, sort_keys=True, default=str) for v in values if v is not MISSING}
        differs = len(texts) > 1 or any(v is MISSING for v in values)
        if differs or not only_changed:
            rows.append(ParamDiffRow(key, values, differs))
    summaries = [{m.key: m for m in d.metrics} for d in details]
    out = []
    for key in sorted({k for s in summaries for k in s}):
        way = direction_of(key)
        lasts = tuple(s[key].last if key in s else None for s in summaries)
        bests = tuple(
            (s[key].min if way == "min" else s[key].max) if key in s else None for s in summaries
        )
        candidates = [(b, i) for i, b in enumerate(bests) if b is not None and not math.isnan(b)]
        best = None
        if candidates:
            best = (min if way == "min" else max)(candidates, key=lambda c: c[0])[1]
        out.append(MetricComparisonRow(key, way, lasts, bests, best))
    return ParamDiff(runs, tuple(rows), len(keys)), MetricComparison(runs, tuple(out))


def _is_system(key: str) -> bool:
    """A sampled system series (``system/gpu0.util``...), shown apart from metrics."""
    return key.startswith("system/")


def _summaries_json(summaries: Iterable[MetricSummary]) -> dict[str, dict[str, Any]]:
    return {
        m.key: {
            "first": m.first,
            "last": m.last,
            "min": m.min,
            "max": m.max,
            "count": m.count,
            "step_min": m.step_min,
            "step_max": m.step_max,
            "last_step": m.last_step,
        }
        for m in summaries
    }
