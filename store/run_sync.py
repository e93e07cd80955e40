"""A run's small files into catalog rows: meta.json, config.json,
summary.json, source.json, and the lines of events.jsonl and artifacts.jsonl.

Documents arrive parsed by ``bounded_json`` from bytes the opener read; here
every field is coerced to its column's type whatever the file holds (a list
as a name, a number as a git commit, an int past BIGINT as an exit code), so a
wrong type costs that field, never the run or the refresh.
"""

from __future__ import annotations

import json
import math
import os
from json.encoder import encode_basestring_ascii as _ascii_string
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
        return value if value.isascii() else repair(value)
    if type(value) in _SCALARS:
        return _scalar_json(value)
    try:
        return repair(_ENCODE(value))
    except (ValueError, RecursionError):
        return repair(repr(value))


#: ``json.dumps(value, default=str)``: one encoder made once, not one per call
#: (``dumps`` builds a new encoder whenever ``default`` is given).
_ENCODE = json.JSONEncoder(default=str).encode
#: The special floats as ``json.dumps`` writes them.
_SPECIAL = {math.inf: "Infinity", -math.inf: "-Infinity"}


def _scalar_json(value: Any) -> str:
    """``json.dumps`` of a str, int, float, bool or None, without its per-call
    cost (a few µs each, paid for every param of every run of a cold catalog)."""
    kind = type(value)
    if kind is str:
        return repair(_ascii_string(value))
    if kind is float:
        if value != value:
            return "NaN"
        return _SPECIAL.get(value) or float.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    return "null"


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
    if type(value) in _SCALARS:
        return _scalar_json(value)
    try:
        return repair(_ENCODE(value))
    except (ValueError, RecursionError):
        return json.dumps(repr(value))


_SCALARS = frozenset({str, int, float, bool, type(None)})


def meta_fields(run_id: str, run_dir: str, meta: dict[str, Any]) -> dict[str, Any]:
    """The ``runs`` columns meta.json fills."""
    git = meta.get("git") if isinstance(meta.get("git"), dict) else {}
    tags = meta.get("tags") if isinstance(meta.get("tags"), list) else []
    argv = meta.get("argv") if isinstance(meta.get("argv"), list) else []
    folder = repair(os.path.basename(os.path.dirname(run_dir)), path=True)
    return {
        "project": text(meta.get("project") or None) or folder,
        "name": text(meta.get("name") or None) or run_id,
        "grp": text(meta.get("group")),
        "tags": [text(t) or "" for t in tags],
        "notes": text(meta.get("notes")),
        "created": number(meta.get("created")),
        "host": text(meta.get("host")),
        "username": text(meta.get("user")),
        "pid": bounded_json.int64(meta.get("pid")),
        "argv": [text(a) or "" for a in argv],
        "cwd": text(meta.get("cwd")),
        "python": text(meta.get("python")),
        "git_commit": text(git.get("commit")),
        "git_branch": text(git.get("branch")),
        "git_dirty": boolean(git.get("dirty")),
        "git_remote": text(git.get("remote")),
        "heartbeat_interval": number(meta.get("heartbeat_interval")),
        "meta_json": value_json(meta),
    }


def update_run(cur: Any, run_id: str, fields: dict[str, Any]) -> None:
    cur.execute(
        f"UPDATE runs SET {', '.join(f'{c} = ?' for c in fields)} WHERE run_id = ?",
        [*fields.values(), run_id],
    )


def write_meta(cur: Any, run_id: str, run_dir: str, meta: dict[str, Any]) -> None:
    update_run(cur, run_id, meta_fields(run_id, run_dir, meta))


def config_rows(run_id: str, doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows = []
    for key, value in flatten(doc).items():
        exact = value_json(value)
        if isinstance(value, str):
            shown = value if value.isascii() else repair(value)
        else:
            shown = None if value is None else exact  # what ``text`` gives
        rows.append((run_id, key if key.isascii() else repair(key), exact, number(value), shown))
    return rows


def summary_rows(run_id: str, doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (run_id, repair(key), value_json(value), number(value))
        for key, value in flatten(doc).items()
    ]


def source_fields(src: dict[str, Any]) -> dict[str, Any]:
    return {
        "source_kind": text(src.get("kind")),
        "source_path": text(src.get("path")),
        "source_id": text(src.get("id")),
        "parent_id": text(src.get("parent_id")),
    }


def write_config(cur: Any, run_id: str, doc: dict[str, Any]) -> None:
    cur.execute("DELETE FROM params WHERE run_id = ?", [run_id])
    rows = config_rows(run_id, doc)
    if rows:
        cur.executemany("INSERT INTO params VALUES (?, ?, ?, ?, ?)", rows)


def write_summary(cur: Any, run_id: str, doc: dict[str, Any]) -> None:
    cur.execute("DELETE FROM summary_overrides WHERE run_id = ?", [run_id])
    rows = summary_rows(run_id, doc)
    if rows:
        cur.executemany("INSERT INTO summary_overrides VALUES (?, ?, ?, ?)", rows)


def write_source(cur: Any, run_id: str, src: dict[str, Any]) -> None:
    update_run(cur, run_id, source_fields(src))


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


def event_rows(
    run_id: str, chunk: bytes, first_line: int
) -> tuple[list[tuple[Any, ...]], dict[str, Any] | None]:
    """The events of a chunk of complete lines, and the ``runs`` columns its
    last finish event fills (None: no finish)."""
    rows = []
    finish = None
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
            finish = {
                "finish_status": text(event.get("status") or "finished"),
                "finish_reason": text(reason),
                "ended": number(event.get("t")),
                "exit_code": bounded_json.int64(event.get("exit_code")),
                "signal": text(event.get("signal")),
                "exc_type": text(exc.get("type")),
                "exc_message": text(exc.get("message")),
                "exc_traceback": text(exc.get("traceback")),
                "dropped": bounded_json.int64(event.get("dropped")),
            }
    return rows, finish


def write_events(cur: Any, run_id: str, chunk: bytes, first_line: int) -> bool:
    """The events of a chunk of complete lines; True when one is a finish."""
    rows, finish = event_rows(run_id, chunk, first_line)
    if finish is not None:
        update_run(cur, run_id, finish)
    if rows:
        cur.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", rows)
    return finish is not None


def artifact_rows(run_id: str, chunk: bytes, first_line: int) -> list[tuple[Any, ...]]:
    return [
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


def write_artifacts(cur: Any, run_id: str, chunk: bytes, first_line: int) -> None:
    rows = artifact_rows(run_id, chunk, first_line)
    if rows:
        cur.executemany("INSERT INTO artifacts VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
