"""Reading what was appended to one file of a foreign run, by the file's
kind, with the importers' own parsers: TFRecord event files from the end of
the last whole record, MLflow metric files and dvclive TSVs by complete
lines, Ultralytics ``results.csv`` by complete rows.

``classify`` says, after a first read, how each file a reader used is
followed; ``read_appended`` reads one grown file from its cursor. Anything
these cannot follow (another kind's files, a config, a state file rewritten
whole) is ``whole``: when it changes, its runs are read again.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path
from typing import Any

from ..importers import _system
from ..importers._pointcols import renamed
from ..importers._tfevents import _read_records, is_event_file, read_event_file
from ..importers.base import ForeignRun, Point
from ..opener import Opener, UnsafeFile
from .cursor import Cursor

#: Kinds of file followed by appends (a database: by rows past a row id).
STREAMS = (
    "tfevents",
    "mlflow",
    "tsv",
    "results_csv",
    "lightning_csv",
    "wandb",
    "sqlite_rows",
)


#: Bytes appended to an event file below which its records are decoded one
#: at a time (the NumPy pass over a whole buffer costs more for a few).
SMALL_APPEND = 64 * 1024


class Rewritten(Exception):
    """The appended part does not continue what was read: read the run again."""


def classify(
    run: ForeignRun, keys: set[str], last_step: int, rel_in_run: str, path: Path, opener: Opener
) -> tuple[str, dict[str, Any]]:
    """``(how, spec)`` for a file of ``run`` (whose points had ``keys``, up to
    ``last_step``) that a reader used (see the module doc)."""
    name = os.path.basename(rel_in_run)
    parts = rel_in_run.split("/")
    if run.kind == "tensorboard" and is_event_file(name):
        return "tfevents", _tb_spec(keys, parts[:-1])
    if run.kind == "mlflow" and parts[0] == "metrics" and len(parts) > 1:
        # system metrics too: their lines convert as they are parsed
        return "mlflow", {"k": "/".join(parts[1:])}
    if run.kind == "dvclive" and name.endswith(".tsv") and "/plots/metrics/" in f"/{rel_in_run}":
        head = f"/{rel_in_run}".split("/plots/metrics/", 1)[1]
        return "tsv", {"k": head[: -len(".tsv")], "hdr": _first_line(opener, path)}
    if run.kind == "wandb" and name.endswith(".wandb"):
        return "wandb", {}
    if run.kind == "hf" and is_event_file(name) and len(parts) == 3 and parts[0] == "runs":
        # the Trainer's TensorBoard writer: what it appends is newer than the
        # log_history read with it (a new save reads the run again)
        return "tfevents", {"hf": 1}
    if run.kind == "lightning" and is_event_file(name) and len(parts) == 1:
        if (run.extra or {}).get("loggers") == ["tensorboard"]:
            return "tfevents", {}  # its points, named as the tags are
    if run.kind == "lightning" and rel_in_run == "metrics.csv":
        return "lightning_csv", {"hdr": _first_line(opener, path)}
    if run.kind == "ultralytics" and rel_in_run == "results.csv":
        return "results_csv", {"hdr": _first_line(opener, path), "last": last_step}
    return "whole", {}


def _tb_spec(keys: set[str], dirs: list[str]) -> dict[str, Any]:
    """How a writer's tags become the run's keys (see ``tensorboard._keys``)."""
    if not dirs:
        return {}
    sub = "/".join(dirs)
    child = dirs[-1]
    for key in keys:
        main, _, leaf = key.rpartition("/")
        if main and child == main.replace("/", "_") + "_" + leaf:
            return {"s": key}
    if any(k.startswith(sub + "/") for k in keys):
        return {"p": sub + "/"}
    return {}


def _first_line(opener: Opener, path: Path) -> str:
    try:
        data, _ = opener.read_range(str(path), 0, 64 * 1024)
    except (OSError, UnsafeFile):
        return ""
    return data.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")


def read_appended(
    opener: Opener, root: Path, cursor: Cursor, problems: list[str]
) -> tuple[list[Point], int, int]:
    """``(points, new offset, bytes read)`` of what ``cursor``'s file gained.
    ``Rewritten`` when it does not continue what was read."""
    path = root / cursor.rel
    if cursor.how == "tfevents":
        if cursor.size - cursor.offset <= SMALL_APPEND:  # a few records: one at a time
            try:  # through the source's opener, which knows the folders it checked
                data, _ = opener.read_range(str(path), cursor.offset, cursor.size - cursor.offset)
            except UnsafeFile as exc:
                raise OSError(exc.reason) from None
            got = _read_records(path, problems, start=cursor.offset, f=io.BytesIO(data))
        else:
            got = read_event_file(path, problems, root=root, start=cursor.offset)
        if got.not_events:
            raise Rewritten(cursor.rel)
        read = max(0, cursor.size - cursor.offset)
        return _tb_keys(cursor.spec, got.points), got.end, read
    if cursor.how == "wandb":
        return _wandb_appended(root, cursor)
    head = 0
    if cursor.how == "lightning_csv":
        # Lightning writes the whole file again when a key appears: a
        # header that changed says the rows before the cursor did too
        hdr = cursor.spec.get("hdr", "")
        data, head = _complete_lines(opener, path, 0, min(cursor.size, len(hdr.encode()) + 2))[::2]
        if data.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r") != hdr or not hdr:
            raise Rewritten(cursor.rel)
    data, end, read = _complete_lines(opener, path, cursor.offset, cursor.size)
    read += head
    text = data.decode("utf-8", "replace")
    if cursor.how == "mlflow":
        from ..importers.mlflow import parse_metric_text

        points = parse_metric_text(text, cursor.spec["k"], path, problems, ended=False)
    elif cursor.how == "tsv":
        from ..importers.dvclive import parse_tsv

        points, _ = parse_tsv(cursor.spec["hdr"] + "\n" + text, path, cursor.spec["k"], problems)
    elif cursor.how == "results_csv":
        from ..importers.ultralytics import parse_results

        rows = parse_results(cursor.spec["hdr"] + "\n" + text, path, problems)
        if rows and rows[0][0] <= cursor.spec.get("last", -1):
            raise Rewritten(cursor.rel)  # a resume re-did an epoch: the later row wins
        points = [Point(k, step, v) for step, values in rows for k, v in values]
        if rows:
            cursor.spec["last"] = rows[-1][0]
    elif cursor.how == "lightning_csv":
        from ..importers.lightning import parse_metrics_csv

        points = parse_metrics_csv(cursor.spec["hdr"] + "\n" + text, path, problems)
    else:
        raise Rewritten(cursor.rel)
    return points, end, read


def _wandb_appended(root: Path, cursor: Cursor) -> tuple[list[Point], int, int]:
    """History rows in the records after the cursor; an exit, config or run
    record (the run's status or params changed): ``Rewritten``."""
    from ..importers import _read
    from ..importers._wandb_log import LogEnd, _decode_record, _RunState, iter_records

    st = _RunState()
    end = LogEnd()
    with _read.open_regular(root / cursor.rel, root=root, start=cursor.offset) as f:
        for _offset, payload in iter_records(f, end, start=cursor.offset):
            try:
                _decode_record(payload, st)
            except (ValueError, TypeError, struct.error):
                continue  # as the reader does: an undecodable record is skipped
    if end.damage is not None:
        raise Rewritten(cursor.rel)
    if st.exit_code is not None or st.config or st.run_id is not None:
        raise Rewritten(cursor.rel)
    return st.points, end.resume_at, max(0, cursor.size - cursor.offset)


def _complete_lines(opener: Opener, path: Path, offset: int, size: int) -> tuple[bytes, int, int]:
    """The complete lines from ``offset`` to (at most) ``size``, where they
    end, and how many bytes were read."""
    parts = []
    pos = offset
    while pos < size:
        try:
            data, _ = opener.read_range(str(path), pos, size - pos)
        except UnsafeFile as exc:
            raise OSError(exc.reason) from None
        if not data:
            break
        parts.append(data)
        pos += len(data)
    data = b"".join(parts)
    cut = data.rfind(b"\n") + 1
    return data[:cut], offset + cut, len(data)


def _tb_keys(spec: dict[str, Any], points: Any) -> Any:
    if "hf" in spec:
        from ..importers.hf import _from_tensorboard

        return renamed(points, _from_tensorboard)
    if "s" in spec:
        return renamed(points, lambda k: spec["s"])
    if "p" in spec:
        return renamed(points, lambda k: spec["p"] + k)
    return points


# -- SQLite: rows past a row id (Trackio, MLflow) ---------------------------------------------


def trackio_spec(db: Path, names: dict[str, str]) -> tuple[str, dict[str, Any], int]:
    """``(how, spec, last row id)`` for a Trackio database whose runs (by
    name -> catalog id) were just read; ``whole`` when its rows cannot be
    told apart by run name."""
    last = max_row_id(db)
    if last is None or not names:
        return "whole", {}, 0
    return "sqlite_rows", {"runs": names}, last


def mlflow_db_spec(db: Path, names: dict[str, str]) -> tuple[str, dict[str, Any], int]:
    """As ``trackio_spec``, for an MLflow database whose runs (by run uuid ->
    catalog id) were just read: its ``metrics`` rows are followed by row id."""
    how, spec, last = trackio_spec(db, names)
    if how == "sqlite_rows":
        spec["t"] = "mlflow"
        spec["fp"] = _mlflow_fingerprint(db)
    return how, spec, last


def _mlflow_fingerprint(db: Path) -> str:
    """``_mlflow_sqlite.fingerprint`` of a database: runs, tags and params
    that change without a metric row (a param logged late, a run ended)."""
    import sqlite3

    from ..importers import _sqlite
    from ..importers._mlflow_sqlite import fingerprint

    try:
        with _sqlite.connect(db) as conn:
            return fingerprint(conn)
    except (sqlite3.Error, OSError):
        return ""


def max_row_id(db: Path) -> int | None:
    """The last row id of a database's ``metrics`` table (Trackio's ``id``
    is its row id; MLflow's table has only the implicit one)."""
    import sqlite3

    from ..importers import _sqlite

    try:
        with _sqlite.connect(db) as conn:
            (last,) = conn.execute("SELECT coalesce(max(rowid), 0) FROM metrics").fetchone()
    except (sqlite3.Error, OSError):
        return None
    return int(last)


def _mlflow_rows(db: Path, cursor: Cursor) -> tuple[dict[str, list[Point]], int, int]:
    """MLflow metric rows past ``cursor.offset`` (as ``read_rows``); system
    metrics under trackui's names and units."""
    import sqlite3

    from ..importers import _sqlite
    from ..importers._mlflow_sqlite import _db_value, fingerprint

    runs: dict[str, str] = cursor.spec["runs"]
    out: dict[str, list[Point]] = {}
    last, count = cursor.offset, 0
    try:
        with _sqlite.connect(db) as conn:
            cols = {row[1] for row in conn.execute("PRAGMA table_info(metrics)")}
            step = "step" if "step" in cols else "0"
            nan = "is_nan" if "is_nan" in cols else "0"
            rows = conn.execute(
                f"SELECT rowid, run_uuid, key, value, timestamp, {step}, {nan} FROM metrics "
                "WHERE rowid > ? ORDER BY rowid",
                [cursor.offset],
            ).fetchall()
            changed = cursor.spec.get("fp", "") != fingerprint(conn)
    except (sqlite3.Error, OSError):
        raise Rewritten(cursor.rel) from None
    if changed:
        raise Rewritten(cursor.rel)  # a param, a tag, a status: read its runs again
    for row_id, uuid, key, value, ts, st, is_nan in rows:
        count += 1
        last = max(last, int(row_id))
        run = runs.get(str(uuid))
        if run is None:
            raise Rewritten(cursor.rel)  # a new run: read the database again
        try:
            point = Point(str(key), int(st or 0), _db_value(value, is_nan), None)
        except (TypeError, ValueError):
            continue
        point.t = None if ts is None else int(ts) / 1000.0
        if _system.is_mlflow_system(point.key):  # under trackui's name and unit
            (point,) = _system.from_mlflow([point])
        out.setdefault(run, []).append(point)
    return out, last, count


def read_rows(root: Path, cursor: Cursor) -> tuple[dict[str, list[Point]], int, int]:
    """Trackio metric rows past ``cursor.offset``: ``(points by catalog run
    id, last row id, rows read)``. ``Rewritten`` for a run not seen before
    (or when the database cannot be read: read it again whole)."""
    import sqlite3

    from ..importers import _sqlite
    from ..importers._trackio_values import json_obj as _json_obj
    from ..importers._trackio_values import number as _number
    from ..importers._trackio_values import parse_time as _parse_time

    db = root / cursor.rel
    if cursor.spec.get("t") == "mlflow":
        return _mlflow_rows(db, cursor)
    runs: dict[str, str] = cursor.spec["runs"]
    out: dict[str, list[Point]] = {}
    last = cursor.offset
    count = 0
    try:
        with _sqlite.connect(db) as conn:
            rows = conn.execute(
                "SELECT id, run_name, timestamp, step, metrics FROM metrics WHERE id > ? "
                "ORDER BY id",
                [cursor.offset],
            ).fetchall()
    except (sqlite3.Error, OSError):
        raise Rewritten(cursor.rel) from None
    for row_id, name, ts, step, blob in rows:
        count += 1
        last = max(last, int(row_id))
        run = runs.get(name)
        if run is None:
            raise Rewritten(cursor.rel)  # a new run: read the database again
        values = _json_obj(blob)
        if values is None or not isinstance(step, int):
            continue
        t = _parse_time(ts)
        for key, value in values.items():
            number = _number(value)
            if number is not None:
                out.setdefault(run, []).append(Point(key, step, number, t))
    return out, last, count
