"""A foreign run's rows in the catalog's tables (``runs``, ``params``,
``events``, ``artifacts`` through ``run_sync``, as a native run's files
would give them), and the sources' cursors in ``files``."""

from __future__ import annotations

import json
from typing import Any

from .. import run_sync
from ..importers.base import ForeignRun


def insert_run(
    cur: Any, key: str, run: ForeignRun, interval: float, box: str, location: str
) -> None:
    """A foreign run's row, params, source, events and artifacts, beside native runs."""
    project = run.project or run.kind
    cur.execute(
        "INSERT INTO runs (run_id, run_no, dir, rel_dir, project, name, has_console, has_diff) "
        "VALUES (?, (SELECT coalesce(max(run_no), 0) + 1 FROM runs), ?, NULL, ?, ?, FALSE, FALSE)",
        [key, run.source_path, project, run.name],
    )
    meta, config, source, events, artifacts = _documents(key, run, interval, box, location)
    run_sync.write_meta(cur, key, run.source_path, meta)
    run_sync.write_config(cur, key, config)
    run_sync.write_source(cur, key, source)
    run_sync.write_events(cur, key, events, 0)
    if artifacts:
        run_sync.write_artifacts(cur, key, artifacts, 0)


def insert_runs(
    cur: Any,
    runs: list[tuple[str, ForeignRun, float]],
    box: str,
    location: str,
    tmpdir: str,
) -> None:
    """The rows ``insert_run`` writes for each ``(key, run, interval)``, in a
    few statements per table however many runs (``NewRuns``, staged column by
    column): run by run that was about six statements, ~18 ms, per run. The
    runs get their ``run_no`` in the order given, as one by one."""
    from ..new_runs import NewRuns

    if not runs:
        return
    new = NewRuns()
    for key, run, interval in runs:
        project = run.project or run.kind
        new.add(
            cur,
            {
                "run_id": key,
                "dir": run.source_path,
                "rel_dir": None,
                "project": project,
                "name": run.name,
                "has_console": False,
                "has_diff": False,
            },
        )
        meta, config, source, events, artifacts = _documents(key, run, interval, box, location)
        new.set(key, run_sync.meta_fields(key, run.source_path, meta))
        new.rows["params"].extend(run_sync.config_rows(key, config))
        new.set(key, run_sync.source_fields(source))
        new.events(key, events, 0)
        if artifacts:
            new.artifacts(key, artifacts, 0)
    # What ``write_config`` deletes first (a run's params left by an earlier read).
    cur.execute(
        "DELETE FROM params WHERE run_id IN (SELECT unnest(?::VARCHAR[]))",
        [[key for key, _, _ in runs]],
    )
    new.write(cur, tmpdir)


def _documents(
    key: str, run: ForeignRun, interval: float, box: str, location: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], bytes, bytes]:
    """A foreign run as the files a native run would hold: meta, config and
    source documents, and its events and artifacts lines."""
    extra = run.extra or {}
    project = run.project or run.kind
    meta = {
        "id": key,
        "project": project,
        "name": run.name,
        "group": run.group,
        "tags": list(run.tags),
        "notes": run.notes,
        "created": run.created,
        "host": extra.get("host"),
        "user": extra.get("user"),
        "argv": extra.get("argv") or [],
        "cwd": extra.get("cwd"),
        "python": extra.get("python"),
        "git": extra.get("git"),
        "heartbeat_interval": interval,
        "box": box,
        "location": location,
    }
    source = {
        "kind": run.kind,
        "path": run.source_path,
        "id": run.source_id,
        "parent_id": run.parent_id,
    }
    events: list[dict[str, Any]] = [{"event": "start", "t": run.created}]
    if run.status != "running":
        finish: dict[str, Any] = {"event": "finish", "t": run.ended, "status": run.status}
        if run.status_reason:
            finish["reason"] = run.status_reason
        events.append(finish)
    artifacts = [
        {"name": a.name, "path": a.path, "size": a.size, "sha256": a.sha256, "copied": False}
        for a in run.artifacts
    ]
    return (
        json.loads(json.dumps(meta, default=str)),
        run.params,
        source,
        _jsonl(events),
        _jsonl(artifacts) if artifacts else b"",
    )


def put_rows(cur: Any, rows: list[list[Any]]) -> None:
    """Rows into ``files`` in one statement (``executemany`` runs one per row)."""
    if not rows:
        return
    cols = [list(c) for c in zip(*rows, strict=True)]
    cur.execute(
        "INSERT INTO files SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
        "unnest(?::BIGINT[]), unnest(?::BIGINT[]), unnest(?::BIGINT[]), unnest(?::BIGINT[]), "
        "unnest(?::BIGINT[])",
        cols,
    )


def _jsonl(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, default=str) + "\n" for r in records).encode()
