"""One MLflow run as a ``ForeignRun``: what the file store and the SQLite store
readers share once each has pulled a run's fields out of its own layout
(status, names, tags, times, artifacts by reference; params that are Python
reprs of dicts or lists parsed safely; ``system/`` metrics set apart as
system metrics under trackui's names). Points come as a list or as
``PointColumns`` (``_mlflow_columns``), alike here. The rules are in the
``mlflow`` module's docstring."""

from __future__ import annotations

import operator
import os
from pathlib import Path
from typing import Any

from ._config import parse_reprs
from ._evidence import ago, epochs_short, latest
from ._pointcols import PointColumns, Points, numpy_or_none
from ._system import from_mlflow, is_mlflow_system
from .base import Artifact, ForeignRun, Point

KIND = "mlflow"

#: MLflow's RunStatus enum, as the SQLite store may hold it.
_STATUS_NAMES = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
#: Statuses that say the run is over, and what they become.
ENDED = {"FINISHED": "finished", "FAILED": "failed", "KILLED": "killed"}
_SHORT_TAG = 64
_KEY = operator.attrgetter("key")


class Options:
    """How a ``read`` call was asked to read: staleness, clock, deleted runs."""

    def __init__(self, stale_after: float, now: float, include_deleted: bool) -> None:
        self.stale_after = stale_after
        self.now = now
        self.include_deleted = include_deleted


def make_run(
    *,
    source_path: str,
    run_id: str,
    project: str,
    run_name: Any,
    raw_status: str | None,
    start_ms: int | None,
    end_ms: int | None,
    params: dict[str, str],
    tags: dict[str, str],
    points: Points,
    newest: float | None,
    user_id: Any,
    opts: Options,
) -> ForeignRun:
    created = None if start_ms is None else start_ms / 1000.0
    ended = None if end_ms is None else end_ms / 1000.0
    last_activity = latest(latest(newest, created), ended)
    status, reason = _status(raw_status, last_activity, opts)
    if status == "crashed":
        short = epochs_short(parse_reprs(params), _named(points, "epoch"))
        if short is not None:
            reason = f"{reason}; {short}"
    name = run_name if run_name not in (None, "") else tags.get("mlflow.runName") or run_id

    user_tags = {k: v for k, v in tags.items() if not k.startswith("mlflow.")}
    system_tags = {k: v for k, v in tags.items() if k.startswith("mlflow.")}
    extra: dict[str, Any] = {}
    if user_tags:
        extra["tags"] = user_tags
    if system_tags:
        extra["mlflow_tags"] = system_tags
    user = system_tags.get("mlflow.user") or user_id
    if user:
        extra["user"] = str(user)
    git = {
        field: system_tags[tag]
        for field, tag in (
            ("commit", "mlflow.source.git.commit"),
            ("branch", "mlflow.source.git.branch"),
            ("remote", "mlflow.source.git.repoURL"),
        )
        if system_tags.get(tag)
    }
    if git:
        extra["git"] = git
    if raw_status is not None:
        extra["mlflow_status"] = raw_status
    metrics, system = split_system(points)
    return ForeignRun(
        kind=KIND,
        source_path=source_path,
        source_id=run_id,
        project=project,
        name=str(name),
        # MLflow stores a nested dict logged as a param as its Python repr
        params=parse_reprs(params),
        points=metrics,
        system=system,
        status=status,
        status_reason=reason,
        created=created,
        ended=ended,
        last_activity=last_activity,
        tags=[f"{k}={v}" for k, v in user_tags.items() if len(v) <= _SHORT_TAG and "\n" not in v],
        notes=system_tags.get("mlflow.note.content") or None,
        parent_id=system_tags.get("mlflow.parentRunId") or None,
        extra=extra,
    )


def split_system(points: Points) -> tuple[Points, list[Point]]:
    """``(metrics, system metrics)``: MLflow's ``system/`` metrics set apart,
    under trackui's names and units with MLflow's steps (``_system``);
    decided once per key, not per point (most runs have none)."""
    if isinstance(points, PointColumns):
        sys_keys = [i for i, k in enumerate(points.names) if is_mlflow_system(k)]
        if not sys_keys:
            return points, []
        np = numpy_or_none()
        is_sys = np.isin(points.ki, np.array(sys_keys, dtype=np.int32))
        return _subset(points, ~is_sys), from_mlflow(_subset(points, is_sys))
    if any(map(is_mlflow_system, set(map(_KEY, points)))):
        metrics = [p for p in points if not is_mlflow_system(p.key)]
        return metrics, from_mlflow(p for p in points if is_mlflow_system(p.key))
    return points, []


def _named(points: Points, key: str) -> list[Point]:
    """The points of one key (few), as a list."""
    if not isinstance(points, PointColumns):
        return [p for p in points if p.key == key]
    if key not in points.names:
        return []
    return list(_subset(points, points.ki == points.names.index(key)))


def _subset(points: PointColumns, mask: Any) -> PointColumns:
    return PointColumns(
        points.names, points.ki[mask], points.step[mask], points.value[mask], points.t[mask]
    )


def _status(raw: str | None, last_activity: float | None, opts: Options) -> tuple[str, str | None]:
    if raw in ENDED:
        return ENDED[raw], (None if raw == "FINISHED" else f"{raw} in MLflow")
    if last_activity is not None and opts.now - last_activity <= opts.stale_after:
        return "running", None
    said = f"{raw} in MLflow" if raw else "no status readable"
    if last_activity is None:
        return "crashed", f"{said}, no activity recorded"
    return "crashed", f"{said}, no activity for {ago(opts.now - last_activity)}"


def status_name(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, int):
        return _STATUS_NAMES.get(value, str(value))
    text = str(value).strip().upper()
    if text.isdigit():
        return _STATUS_NAMES.get(int(text), text)
    return text or None


def list_artifacts(d: Path, problems: list[str]) -> list[Artifact]:
    out = []
    for f in files_below(d):
        try:
            size: int | None = f.stat().st_size
        except OSError as exc:
            problems.append(f"{f}: cannot stat ({exc.strerror or exc})")
            size = None
        out.append(Artifact(name=f.relative_to(d).as_posix(), path=str(f.resolve()), size=size))
    return out


def files_below(d: Path) -> list[Path]:
    out: list[Path] = []
    for root, dirs, files in os.walk(d):
        dirs.sort()
        out.extend(Path(root) / f for f in sorted(files))
    return out


def as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
