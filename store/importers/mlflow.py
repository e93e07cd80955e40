"""Read MLflow tracking data: the file store (``mlruns/``) and the SQLite store.

Standard library and PyYAML only; ``mlflow`` is never imported, and nothing is
ever written under the path being read.

Where runs are found
    A *file store* is a directory whose sub-directories are experiments
    (``<id>/meta.yaml`` with ``experiment_id`` and ``name``). PATH may be such
    a directory, hold one a few levels below it, or be a single experiment or
    run directory of one. A *SQLite store* is any SQLite file (PATH itself, or
    a ``*.db`` below it) whose ``runs`` table has ``run_uuid`` and which has
    ``metrics`` and ``experiments`` tables.

Deleted runs
    Skipped, as the MLflow UI hides them: a run or experiment whose
    ``lifecycle_stage`` is ``deleted``, and everything under ``.trash/``.
    ``include_deleted=True`` reads them too, with ``extra["deleted"] = True``.

How a run maps onto a ``ForeignRun``
    * ``project``: the experiment's name (its directory name / id when the
      experiment's meta.yaml is unreadable).
    * ``name``: ``run_name`` as MLflow stores it, else the ``mlflow.runName``
      tag, else the run id. ``source_id``: the run uuid. ``source_path``: the
      run directory (file store) or the database file (SQLite store).
    * ``status``: FINISHED, FAILED, KILLED give finished, failed, killed.
      RUNNING (and SCHEDULED) is also what a process killed with ``kill -9``
      leaves behind forever, so it stays ``running`` only while the run shows
      activity within ``stale_after`` seconds (the newest timestamp inside
      its metric lines, or its start time; file times only for a file-store
      run with no metric line yet, since a copy made with ``cp -r`` has fresh
      file times), otherwise it is ``crashed`` with a reason such as
      "RUNNING in MLflow, no activity for 3 d".
    * ``created``/``ended``: ``start_time``/``end_time`` (ms) in seconds.
    * ``params``: strings, exactly as MLflow stores them, except the Python
      reprs MLflow makes of a dict or list (``{'lr': 0.0003, 'betas': [0.9,
      0.999]}``), parsed with ``ast.literal_eval`` (bounded size and depth,
      never ``eval``) so they flatten to dotted keys like native configs.
    * ``system/`` metrics (MLflow's system metrics) become system metrics
      under trackui's names and units (``_system``), with MLflow's steps
      (the sample's number); lines appended to them convert the same way.
    * Tags: the user's tags (keys not starting with ``mlflow.``) are kept
      exactly in ``extra["tags"]``; those whose value is one short line
      (at most 64 characters) also go into ``tags`` as ``"key=value"``, so
      they can be filtered on like labels. MLflow's own tags go to
      ``extra["mlflow_tags"]``; ``mlflow.parentRunId`` gives ``parent_id``
      (nested runs), ``mlflow.note.content`` gives ``notes``,
      ``mlflow.user`` (or ``user_id``) gives ``extra["user"]``, and
      ``mlflow.source.git.commit``/``branch``/``repoURL`` give ``extra["git"]``.
    * Points: names exactly as logged; ``t`` = timestamp_ms / 1000. File
      store lines are ``"<ts_ms> <value> <step>"``; 2-field lines (old files)
      get step 0; 5-field lines (metric logged with a dataset) keep the step
      in field 3, which is used (MLflow's own reader reports 0 for them).
      ``nan``/``inf`` read as floats. In the SQLite store a row with
      ``is_nan`` is NaN, and the +-1.7976931348623157e308 MLflow stores for
      +-inf (SQL has no infinities) is read back as +-inf. Order: for the
      file store each metric file in file order, files merged by timestamp;
      for SQLite by (timestamp, step, rowid). A last line without its newline
      is a write in progress: it is ignored unless the run has ended.
      Big stores are read into columns with the same result
      (``_mlflow_columns``: metric files by DuckDB's CSV reader, database
      rows as one text per column and the values as floats, NumPy; runs
      read ahead by threads), anything those could read differently by the
      line and row readers.
    * Artifacts: by reference, found relative to the run directory (file
      store) or to the database's directory (``mlruns/<exp>/<run>/artifacts``
      or ``mlartifacts/...``), never through the absolute ``artifact_uri``
      baked into the store (kept in ``extra["artifact_uri"]``).

Reading a database
    Opened read-only (``mode=ro``). A WAL database, whose read-only opening
    would still create or update ``-shm`` next to it, or one that does not
    open read-only (a hot journal, a read-only directory), is copied with its
    ``-wal``/``-journal`` into a temporary directory and the copy is read.
    ``-shm`` is not copied: it only indexes the WAL and SQLite rebuilds it.

This module finds stores and reads the file store; the SQLite store is read
in ``_mlflow_sqlite``, and ``_mlflow_run`` turns what either store holds of
a run into a ``ForeignRun``.
"""

from __future__ import annotations

import heapq
import itertools
import operator
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from . import _mlflow_columns, _read, _sqlite
from ._evidence import latest, mtime
from ._mlflow_run import ENDED, Options, as_int, files_below, list_artifacts, make_run, status_name
from ._mlflow_run import KIND as KIND  # every reader module names its kind
from ._mlflow_sqlite import is_mlflow_db, read_db
from ._pointcols import Points
from ._system import from_mlflow, is_mlflow_system
from ._tfscalars import gc_paused
from .base import ForeignRun, Point

STALE_AFTER = 900.0

_RUN_ID = re.compile(r"[0-9a-f]{32}")
_MAX_DEPTH = 6
#: A meta.yaml is a few hundred bytes; one bigger than this is not read.
_META_CAP = 1 << 20
_BROKEN = object()  # a meta.yaml that exists but is not a readable mapping
_UNSET = object()  # "not loaded yet"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TIME = operator.attrgetter("t")


# ---------------------------------------------------------------- entry points


def detect(path: Path) -> bool:
    """True when PATH is, or holds below it, an MLflow file store or SQLite store."""
    return next(_targets(Path(path)), None) is not None


def read(
    path: Path,
    problems: list[str],
    *,
    stale_after: float = STALE_AFTER,
    now: float | None = None,
    include_deleted: bool = False,
) -> Iterator[ForeignRun]:
    """Yield every MLflow run under PATH (see the module docstring for the rules)."""
    path = Path(path)
    clock = time.time() if now is None else now
    opts = Options(stale_after, clock, include_deleted)
    if path.is_file():
        if is_mlflow_db(path, problems, suspicious=True):
            yield from read_db(path, problems, opts)
        return
    if not path.is_dir():
        problems.append(f"{path}: no such file or directory")
        return
    for kind, target in _walk(path, 0, problems):
        if kind == "db":
            yield from read_db(target, problems, opts)
        elif kind == "store":
            yield from _read_store(target, problems, opts)
        elif kind == "experiment":
            yield from _read_experiment(target, problems, opts)
        else:  # a single run directory
            exp_meta = _load_meta(target.parent / "meta.yaml")
            exp = exp_meta if isinstance(exp_meta, dict) else {}
            deleted = _is_deleted_experiment(target.parent, exp)
            run = _read_file_run(
                target, _experiment_name(target.parent, exp), problems, opts, exp_deleted=deleted
            )
            if run is not None:
                yield run


# ---------------------------------------------------------------- finding stores


def _targets(path: Path) -> Iterator[tuple[str, Path]]:
    """("store" | "experiment" | "run" | "db", path) for everything MLflow under PATH."""
    if path.is_file():
        if is_mlflow_db(path, None):
            yield "db", path
    elif path.is_dir():
        yield from _walk(path, 0, None)


def _walk(d: Path, depth: int, report_dbs: list[str] | None) -> Iterator[tuple[str, Path]]:
    """Top-down search, not descending into what it found (runs can hold big artifact trees)."""
    meta = _load_meta(d / "meta.yaml")
    if isinstance(meta, dict) and _is_run_meta(meta):
        yield "run", d
        return
    if isinstance(meta, dict) and _is_experiment_meta(meta):
        yield "experiment", d
        return
    if _is_file_store(d):
        yield "store", d
        return
    dbs, subdirs = _sqlite.scan_dir(d)
    for db in dbs:
        if is_mlflow_db(db, report_dbs):
            yield "db", db
    if depth < _MAX_DEPTH:
        for sub in subdirs:
            yield from _walk(sub, depth + 1, report_dbs)


def _is_file_store(d: Path) -> bool:
    for child in _subdirs(d):
        if child.name.startswith("."):
            continue
        meta = _load_meta(child / "meta.yaml")
        if isinstance(meta, dict) and _is_experiment_meta(meta):
            return True
        if meta is _BROKEN and any(_looks_like_run(r) for r in _subdirs(child)):
            return True
    return False


def _looks_like_run(d: Path, meta: dict[str, Any] | object | None = _UNSET) -> bool:
    if meta is _UNSET:
        meta = _load_meta(d / "meta.yaml")
    if meta is not None:
        return meta is _BROKEN or (isinstance(meta, dict) and _is_run_meta(meta))
    return bool(_RUN_ID.fullmatch(d.name)) and any(
        (d / sub).is_dir() for sub in ("metrics", "params", "tags")
    )


def _is_run_meta(meta: dict[str, Any]) -> bool:
    return ("run_id" in meta or "run_uuid" in meta) and "experiment_id" in meta


def _is_experiment_meta(meta: dict[str, Any]) -> bool:
    return "experiment_id" in meta and "name" in meta and not _is_run_meta(meta)


# ---------------------------------------------------------------- file store


def _read_store(root: Path, problems: list[str], opts: Options) -> Iterator[ForeignRun]:
    for exp_dir in _subdirs(root):
        if not exp_dir.name.startswith(".") and _experiment_like(exp_dir):
            yield from _read_experiment(exp_dir, problems, opts)
    trash = root / ".trash"
    if opts.include_deleted and trash.is_dir():
        for exp_dir in _subdirs(trash):
            if _experiment_like(exp_dir):
                yield from _read_experiment(exp_dir, problems, opts)


def _experiment_like(d: Path) -> bool:
    meta = _load_meta(d / "meta.yaml")
    if isinstance(meta, dict):
        return _is_experiment_meta(meta)
    return any(_looks_like_run(r) for r in _subdirs(d))


def _is_deleted_experiment(exp_dir: Path, meta: dict[str, Any]) -> bool:
    return meta.get("lifecycle_stage") == "deleted" or exp_dir.parent.name == ".trash"


def _read_experiment(exp_dir: Path, problems: list[str], opts: Options) -> Iterator[ForeignRun]:
    meta_path = exp_dir / "meta.yaml"
    loaded = _load_meta(meta_path)
    meta: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
    if loaded is None:
        problems.append(f"{meta_path}: missing; experiment named after its directory")
    elif not isinstance(loaded, dict):
        problems.append(f"{meta_path}: unreadable YAML; experiment named after its directory")
    deleted = _is_deleted_experiment(exp_dir, meta)
    if deleted and not opts.include_deleted:
        return
    project = _experiment_name(exp_dir, meta)
    runs: list[tuple[int, str, Path, dict[str, Any] | object | None]] = []
    for d in _subdirs(exp_dir):
        run_meta = _load_meta(d / "meta.yaml")
        if _looks_like_run(d, run_meta):
            start = as_int(run_meta.get("start_time")) if isinstance(run_meta, dict) else None
            runs.append((start or 0, d.name, d, run_meta))
    runs.sort(key=lambda r: (r[0], r[1]))

    def read_one(item: tuple[int, str, Path, dict[str, Any] | object | None]) -> ForeignRun | None:
        _, _, run_dir, run_meta = item
        return _read_file_run(run_dir, project, problems, opts, exp_deleted=deleted, meta=run_meta)

    for run in _mlflow_columns.ahead(
        runs, read_one, held=_mlflow_columns.held, budget=_mlflow_columns.AHEAD_POINTS
    ):
        if run is not None:
            yield run


def _experiment_name(exp_dir: Path, meta: dict[str, Any]) -> str:
    name = meta.get("name")
    return str(name) if name not in (None, "") else exp_dir.name


def _read_file_run(
    run_dir: Path,
    project: str,
    problems: list[str],
    opts: Options,
    *,
    exp_deleted: bool = False,
    meta: dict[str, Any] | object | None = _UNSET,
) -> ForeignRun | None:
    meta_path = run_dir / "meta.yaml"
    loaded = _load_meta(meta_path) if meta is _UNSET else meta
    info: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
    if not isinstance(loaded, dict):
        why = "missing" if loaded is None else "unreadable YAML"
        problems.append(f"{meta_path}: {why}; run read without it (status unknown)")
    deleted = exp_deleted or info.get("lifecycle_stage") == "deleted"
    if deleted and not opts.include_deleted:
        return None

    run_id = str(info.get("run_id") or info.get("run_uuid") or run_dir.name)
    raw_status = status_name(info.get("status"))
    params = _read_value_dir(run_dir / "params", problems)
    tags = _read_value_dir(run_dir / "tags", problems)
    ended = raw_status in ENDED
    points, newest, newest_mtime = _read_metric_dir(run_dir / "metrics", problems, ended=ended)
    if not ended and newest is None:
        # Liveness comes from the timestamps in the metric lines: a killed
        # run copied with ``cp -r`` has fresh file times but old lines. Only
        # a run with no line yet is judged by its files' times.
        newest = latest(newest_mtime, mtime(meta_path))

    start_ms = as_int(info.get("start_time"))
    end_ms = as_int(info.get("end_time"))
    run = make_run(
        source_path=str(run_dir.resolve()),
        run_id=run_id,
        project=project,
        run_name=info.get("run_name"),
        raw_status=raw_status,
        start_ms=start_ms,
        end_ms=end_ms,
        params=params,
        tags=tags,
        points=points,
        newest=newest,
        user_id=info.get("user_id"),
        opts=opts,
    )
    run.artifacts = list_artifacts(run_dir / "artifacts", problems)
    run.extra.update(
        {
            "store": "file",
            "experiment_id": str(info.get("experiment_id", run_dir.parent.name)),
        }
    )
    if info.get("artifact_uri"):
        run.extra["artifact_uri"] = str(info["artifact_uri"])
    if deleted:
        run.extra["deleted"] = True
    return run


def _read_value_dir(d: Path, problems: list[str]) -> dict[str, str]:
    """params/ or tags/: one file per key, '/' in a key makes sub-directories."""
    out: dict[str, str] = {}
    for f in files_below(d):
        key = f.relative_to(d).as_posix()
        try:
            data = _read.read_bytes(f)
        except OSError as exc:
            problems.append(f"{f}: cannot read ({exc.strerror or exc})")
            continue
        try:
            out[key] = data.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(f"{f}: not UTF-8; undecodable bytes replaced")
            out[key] = data.decode("utf-8", errors="replace")
    return out


def _read_metric_dir(
    d: Path, problems: list[str], *, ended: bool
) -> tuple[Points, float | None, float | None]:
    """All points of one run merged by timestamp, the newest timestamp and the
    newest mtime: as columns when they can be (``_mlflow_columns``)."""
    files: list[tuple[str, Path, bytes | None]] = []
    newest_mtime: float | None = None
    for f in files_below(d):
        try:
            data: bytes | None = _read.read_bytes(f)
        except OSError as exc:
            problems.append(f"{f}: cannot read ({exc.strerror or exc})")
            data = None
        files.append((f.relative_to(d).as_posix(), f, data))
        newest_mtime = latest(newest_mtime, mtime(f))
    fast = _mlflow_columns.file_columns([(key, data) for key, _, data in files], ended=ended)
    if fast is not None:
        return fast[0], fast[1], newest_mtime
    points, newest_t = _merge_lines(files, problems, ended=ended)
    return points, newest_t, newest_mtime


@gc_paused
def _merge_lines(
    files: list[tuple[str, Path, bytes | None]], problems: list[str], *, ended: bool
) -> tuple[list[Point], float | None]:
    """The line reader: each file's lines parsed in Python, merged by timestamp."""
    series: list[list[Point]] = []
    newest_t: float | None = None
    in_order = True
    for key, f, data in files:
        text = "" if data is None else data.decode("utf-8", errors="replace")
        points = parse_metric_text(text, key, f, problems, ended=ended)
        series.append(points)
        times = [p.t for p in points]  # never None: every line has its timestamp
        if times:
            newest_t = latest(newest_t, max(times))
            in_order = in_order and all(map(operator.le, times, itertools.islice(times, 1, None)))
    if len(series) == 1:
        return series[0], newest_t
    if in_order:
        # every file in timestamp order: a stable sort of them one after the
        # other is the merge below, with the loop in C
        return sorted(itertools.chain.from_iterable(series), key=_TIME), newest_t
    # heapq.merge keeps each file's own order even where its timestamps go backwards
    return list(heapq.merge(*series, key=lambda p: p.t or 0.0)), newest_t


def _read_metric_file(f: Path, key: str, problems: list[str], *, ended: bool) -> list[Point]:
    """One metric file by the line reader."""
    try:
        text = _read.read_bytes(f).decode("utf-8", errors="replace")
    except OSError as exc:
        problems.append(f"{f}: cannot read ({exc.strerror or exc})")
        return []
    return parse_metric_text(text, key, f, problems, ended=ended)


def parse_metric_text(
    text: str, key: str, f: Path, problems: list[str], *, ended: bool
) -> list[Point]:
    """The points of metric file lines (all of a file, or what was appended);
    a ``system/`` metric's under trackui's name and unit (``_system``)."""
    lines = text.split("\n")
    tail = lines.pop()  # "" when the file ends with a newline
    if tail.strip() and ended:
        lines.append(tail)  # the run is over: the line is complete, just unterminated
    points: list[Point] = []
    append = points.append
    bad = 0
    first_bad = 0
    for lineno, line in enumerate(lines, 1):
        parts = line.split()
        if len(parts) == 3:  # "<ts_ms> <value> <step>", nearly every line: inline
            try:
                point = Point(key, int(parts[2]), float(parts[1]), int(parts[0]) / 1000.0)
            except ValueError:
                point = None
        elif not parts:
            continue
        else:
            point = _parse_metric_line(line, key)
        if point is None:
            bad += 1
            first_bad = first_bad or lineno
            continue
        append(point)
    if bad:
        problems.append(
            f"{f}: {bad} unreadable line{'s' if bad > 1 else ''} skipped (first: line {first_bad})"
        )
    if is_mlflow_system(key):  # under trackui's name and unit, appended lines too
        return from_mlflow(points)
    return points


def _parse_metric_line(line: str, key: str) -> Point | None:
    parts = line.split()
    if len(parts) not in (2, 3, 5):
        return None
    try:
        ts = int(parts[0])
        value = float(parts[1])
        step = int(parts[2]) if len(parts) >= 3 else 0
    except ValueError:
        return None
    return Point(key=key, step=step, value=value, t=ts / 1000.0)


# ---------------------------------------------------------------- helpers


def _load_meta(path: Path) -> dict[str, Any] | object | None:
    """The YAML mapping in PATH; None when missing, _BROKEN when unreadable."""
    try:
        data = yaml.load(_read.read_bytes(path, cap=_META_CAP), Loader=_YAML_LOADER)  # noqa: S506 - safe
    except FileNotFoundError:
        return None
    except (OSError, yaml.YAMLError, UnicodeDecodeError, RecursionError):
        return _BROKEN
    return data if isinstance(data, dict) else _BROKEN


def _subdirs(d: Path) -> list[Path]:
    try:
        return sorted(Path(e.path) for e in os.scandir(d) if e.is_dir(follow_symlinks=False))
    except OSError:
        return []
