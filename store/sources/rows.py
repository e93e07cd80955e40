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
    extra = run.extra or {}
    project = run.project or run.kind
    cur.execute(
        "INSERT INTO runs (run_id, run_no, dir, rel_dir, project, name, has_console, has_diff) "
        "VALUES (?, (SELECT coalesce(max(run_no), 0) + 1 FROM runs), ?, NULL, ?, ?, FALSE, FALSE)",
        [key, run.source_path, project, run.name],
    )
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
    run_sync.write_meta(cur, key, run.source_path, json.loads(json.dumps(meta, default=str)))
    run_sync.write_config(cur, key, run.params)
    run_sync.write_source(
        cur,
        key,
        {
            "kind": run.kind,
            "path": run.source_path,
            "id": run.source_id,
            "parent_id": run.parent_id,
        },
    )
    events: list[dict[str, Any]] = [{"event": "start", "t": run.created}]
    if run.status != "running":
        finish: dict[str, Any] = {"event": "finish", "t": run.ended, "status": run.status}
        if run.status_reason:
            finish["reason"] = run.status_reason
        events.append(finish)
    run_sync.write_events(cur, key, _jsonl(events), 0)
    artifacts = [
        {"name": a.name, "path": a.path, "size": a.size, "sha256": a.sha256, "copied": False}
        for a in run.artifacts
    ]
    if artifacts:
        run_sync.write_artifacts(cur, key, _jsonl(artifacts), 0)


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
