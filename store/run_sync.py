"""A run's small files into catalog rows: meta.json, config.json,
summary.json, source.json, and the lines of events.jsonl and artifacts.jsonl.

Documents arrive parsed by ``bounded_json`` from bytes the opener read; here
every field is coerced to its column's type whatever the file holds (a list
as a name, a number as a git commit, an int past BIGINT as an exit code), so a
wrong type costs that field, never the run or the refresh.
"""

from __future__ import annotations

import json
import os
from typing import Any

from . import bounded_json, paths
from .fmt import repair
from .runfiles import flatten
from .status import finish_reason


def text(value: Any) -> str | None:
    """A VARCHAR value: strings repaired, other values as compact JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return repair(value)
    try:
        return repair(json.dumps(value, default=str))
    except (ValueError, RecursionError):
        return repair(repr(value))


def number(value: Any) -> float | None:
    """A DOUBLE value: numbers (ints past float64 as ±inf) and numeric strings."""
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return bounded_json.to_float(value)


def boolean(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def value_json(value: Any) -> str:
    """A param's value as exact JSON text (big ints keep every digit)."""
    try:
        return repair(json.dumps(value, default=str))
    except (ValueError, RecursionError):
        return json.dumps(repr(value))


def write_meta(cur: Any, run_id: str, run_dir: str, meta: dict[str, Any]) -> None:
    git = meta.get("git") if isinstance(meta.get("git"), dict) else {}
    tags = meta.get("tags") if isinstance(meta.get("tags"), list) else []
    argv = meta.get("argv") if isinstance(meta.get("argv"), list) else []
    folder = repair(os.path.basename(os.path.dirname(run_dir)), path=True)
    cur.execute(
        """UPDATE runs SET project = ?, name = ?, grp = ?, tags = ?, notes = ?,
           created = ?, host = ?, username = ?, pid = ?, argv = ?, cwd = ?, python = ?,
           git_commit = ?, git_branch = ?, git_dirty = ?, git_remote = ?,
           heartbeat_interval = ?, meta_json = ?
           WHERE run_id = ?""",
        [
            text(meta.get("project") or None) or folder,
            text(meta.get("name") or None) or run_id,
            text(meta.get("group")),
            [text(t) or "" for t in tags],
            text(meta.get("notes")),
            number(meta.get("created")),
            text(meta.get("host")),
            text(meta.get("user")),
            bounded_json.int64(meta.get("pid")),
            [text(a) or "" for a in argv],
            text(meta.get("cwd")),
            text(meta.get("python")),
            text(git.get("commit")),
            text(git.get("branch")),
            boolean(git.get("dirty")),
            text(git.get("remote")),
            number(meta.get("heartbeat_interval")),
            value_json(meta),
            run_id,
        ],
    )


def write_config(cur: Any, run_id: str, doc: dict[str, Any]) -> None:
    cur.execute("DELETE FROM params WHERE run_id = ?", [run_id])
    rows = [
        (run_id, repair(key), value_json(value), number(value), text(value))
        for key, value in flatten(doc).items()
    ]
    if rows:
        cur.executemany("INSERT INTO params VALUES (?, ?, ?, ?, ?)", rows)


def write_summary(cur: Any, run_id: str, doc: dict[str, Any]) -> None:
    cur.execute("DELETE FROM summary_overrides WHERE run_id = ?", [run_id])
    rows = [
        (run_id, repair(key), value_json(value), number(value))
        for key, value in flatten(doc).items()
    ]
    if rows:
        cur.executemany("INSERT INTO summary_overrides VALUES (?, ?, ?, ?)", rows)


def write_source(cur: Any, run_id: str, src: dict[str, Any]) -> None:
    cur.execute(
        "UPDATE runs SET source_kind = ?, source_path = ?, source_id = ?, parent_id = ? "
        "WHERE run_id = ?",
        [
            text(src.get("kind")),
            text(src.get("path")),
            text(src.get("id")),
            text(src.get("parent_id")),
            run_id,
        ],
    )


def write_document(cur: Any, run_id: str, run_dir: str, name: str, doc: dict[str, Any]) -> None:
    """One whole JSON file of a run, by its file name."""
    if name == paths.META:
        write_meta(cur, run_id, run_dir, doc)
    elif name == paths.CONFIG:
        write_config(cur, run_id, doc)
    elif name == paths.SUMMARY:
        write_summary(cur, run_id, doc)
    elif name == paths.SOURCE:
        write_source(cur, run_id, doc)


def write_events(cur: Any, run_id: str, chunk: bytes, first_line: int) -> bool:
    """The events of a chunk of complete lines; True when one is a finish."""
    rows = []
    finished = False
    for i, event in enumerate(bounded_json.parse_lines(chunk)):
        if event is None:
            continue
        rows.append(
            (
                run_id,
                first_line + i,
                text(event.get("event")) or "None",
                number(event.get("t")),
                value_json(event),
            )
        )
        if event.get("event") == "finish":
            exc = event.get("exception") if isinstance(event.get("exception"), dict) else {}
            try:
                reason = finish_reason(event)
            except Exception:  # a hostile event: the reason is only a nicety
                reason = None
            cur.execute(
                """UPDATE runs SET finish_status = ?, finish_reason = ?, ended = ?,
                   exit_code = ?, signal = ?, exc_type = ?, exc_message = ?,
                   exc_traceback = ?, dropped = ? WHERE run_id = ?""",
                [
                    text(event.get("status") or "finished"),
                    text(reason),
                    number(event.get("t")),
                    bounded_json.int64(event.get("exit_code")),
                    text(event.get("signal")),
                    text(exc.get("type")),
                    text(exc.get("message")),
                    text(exc.get("traceback")),
                    bounded_json.int64(event.get("dropped")),
                    run_id,
                ],
            )
            finished = True
    if rows:
        cur.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", rows)
    return finished


def write_artifacts(cur: Any, run_id: str, chunk: bytes, first_line: int) -> None:
    rows = [
        (
            run_id,
            first_line + i,
            text(a.get("name")) or "None",
            text(a.get("path")) or "None",
            bounded_json.int64(a.get("size")),
            text(a.get("sha256")),
            bool(a.get("copied")),
            number(a.get("t")),
        )
        for i, a in enumerate(bounded_json.parse_lines(chunk))
        if a is not None
    ]
    if rows:
        cur.executemany("INSERT INTO artifacts VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
