"""Run directories written byte by byte (no writer involved), so a test can
put exactly the hostile bytes it means into exactly one file."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trackui.store.queries import Store

T0 = 1_790_000_000.0


def metric_lines(n: int, *, keys: int = 2, start: int = 0) -> bytes:
    rows = []
    for step in range(start, start + n):
        row: dict[str, Any] = {"_step": step, "_t": T0 + step}
        for k in range(keys):
            row[f"m{k}"] = 1.0 / (step + 1 + k)
        rows.append(json.dumps(row))
    return ("\n".join(rows) + "\n").encode() if rows else b""


def write_run(
    root: Path,
    run_id: str,
    *,
    project: str = "p",
    points: int = 5,
    meta: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    files: dict[str, bytes] | None = None,
    finished: bool = True,
) -> Path:
    """A finished native run ``root/project/run_id`` with ``points`` metric
    lines of two keys; ``files`` replaces (or adds) files byte for byte."""
    run_dir = root / project / run_id
    run_dir.mkdir(parents=True)
    doc = {
        "format": 1,
        "id": run_id,
        "project": project,
        "name": f"name-{run_id}",
        "created": T0,
        "host": "elsewhere",
        "pid": 1,
        "heartbeat_interval": 5.0,
    }
    doc.update(meta or {})
    contents: dict[str, bytes] = {
        "meta.json": json.dumps(doc).encode(),
        "config.json": json.dumps(config if config is not None else {"lr": 0.1}).encode(),
        "metrics.jsonl": metric_lines(points),
        "events.jsonl": (
            json.dumps({"event": "start", "t": T0})
            + "\n"
            + (
                json.dumps(
                    {"event": "finish", "t": T0 + points, "status": "finished", "exit_code": 0}
                )
                + "\n"
                if finished
                else ""
            )
        ).encode(),
        "heartbeat": b"",
    }
    contents.update(files or {})
    for name, data in contents.items():
        (run_dir / name).write_bytes(data)
    return run_dir


def good_pair(root: Path) -> list[str]:
    """Two good runs the hostile one sits beside."""
    write_run(root, "20260101-000000000-good1", points=7)
    write_run(root, "20260101-000000000-good2", points=9, project="q")
    return ["20260101-000000000-good1", "20260101-000000000-good2"]


def assert_good_pair(store: Store) -> None:
    """Both good runs listed, finished, with every point."""
    runs = {r.id: r for r in store.list_runs()}
    for run_id, points in (("20260101-000000000-good1", 7), ("20260101-000000000-good2", 9)):
        assert run_id in runs, sorted(runs)
        assert runs[run_id].status == "finished"
        assert len(store.history(run_id, "m0")) == points


def statuses(store: Store) -> dict[str, tuple[str, str | None]]:
    return {r.id: (r.status, r.status_reason) for r in store.list_runs()}


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail (not block) when the body takes longer: a read that hangs on a
    FIFO is interrupted by SIGALRM, whose handler raises."""

    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"still running after {seconds} s: a read blocked")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def age(path: Path, seconds: float = 3600.0) -> None:
    """Make a directory look old (a run that died long ago)."""
    old = os.stat(path).st_mtime - seconds
    os.utime(path, (old, old))
