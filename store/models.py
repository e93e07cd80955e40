"""Plain frozen dataclasses the store hands to the TUI and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class _Missing:
    """A param a run does not have (shown as a blank, never equal to a value)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


@dataclass(frozen=True)
class MetricSummary:
    """One metric of a run: first, last, min, max and how many points."""

    key: str
    first: float | None
    last: float | None
    min: float | None
    max: float | None
    count: int
    step_min: int | None
    step_max: int | None
    last_step: int | None
    last_t: float | None = None

    def stat(self, name: str) -> float | None:
        return {"first": self.first, "last": self.last, "min": self.min, "max": self.max}.get(
            name, float(self.count) if name == "count" else None
        )


@dataclass(frozen=True)
class RunSummary:
    """One row of the run list."""

    id: str
    project: str
    name: str
    status: str
    status_reason: str | None
    created: float | None
    ended: float | None
    duration: float | None
    group: str | None = None
    tags: tuple[str, ...] = ()
    host: str | None = None
    source_kind: str | None = None
    #: the source's box: the ssh alias as typed, ``local`` for a local source
    box: str = "local"
    #: the source as typed (``gpu1:~/runs``), or the local store or folder
    location: str | None = None
    #: the values of the columns asked for, keyed by column spec (``lr0``, ``max(mAP)``)
    columns: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.project}/{self.name}"


@dataclass(frozen=True)
class Artifact:
    """A file the run logged, and whether the store holds a copy."""

    name: str
    path: str
    size: int | None
    sha256: str | None
    copied: bool


@dataclass(frozen=True)
class RunDetail:
    """All of one run: its summary, params, metrics, summary values and artifacts."""

    run: RunSummary
    dir: str
    params: tuple[tuple[str, Any], ...]
    metrics: tuple[MetricSummary, ...]
    summary: dict[str, Any]  # summary overrides (run.summary), raw values
    artifacts: tuple[Artifact, ...]
    meta: dict[str, Any]
    notes: str | None = None
    exit_code: int | None = None
    signal: str | None = None
    exception_type: str | None = None
    exception_message: str | None = None
    exception_traceback: str | None = None
    dropped: int | None = None
    source_kind: str | None = None
    source_path: str | None = None
    source_id: str | None = None
    parent_id: str | None = None
    console_path: str | None = None
    diff_path: str | None = None
    #: where the run lives under the store (``<project dir>/<run dir>``)
    rel_dir: str | None = None
    #: what the catalog read differently from what was written (e.g. integers
    #: past float64's range read as ±inf), "; "-separated
    read_notes: str | None = None
    #: as ``RunSummary.box`` and ``RunSummary.location``
    box: str = "local"
    location: str | None = None

    @property
    def metric_keys(self) -> tuple[str, ...]:
        return tuple(m.key for m in self.metrics)


@dataclass(frozen=True)
class Series:
    """Points of one metric of one run, possibly downsampled (min and max of
    each bucket kept, so spikes survive)."""

    run_id: str
    key: str
    x_axis: str  # "step" | "relative" | "wall"
    x: tuple[float, ...]
    y: tuple[float, ...]
    steps: tuple[int, ...]
    total: int  # points logged
    downsampled: bool

    @property
    def shown(self) -> int:
        return len(self.y)

    @property
    def label(self) -> str:
        return f"{self.shown} of {self.total} points"


@dataclass(frozen=True)
class Point:
    """One logged value of a metric."""

    seq: int
    step: int
    t: float | None
    value: float


@dataclass(frozen=True)
class ParamDiffRow:
    """One param key across the runs compared."""

    key: str
    values: tuple[Any, ...]  # MISSING where a run lacks the key
    differs: bool


@dataclass(frozen=True)
class ParamDiff:
    """The params of the runs compared, side by side."""

    runs: tuple[RunSummary, ...]
    rows: tuple[ParamDiffRow, ...]
    total_keys: int  # keys over all runs, before "only changed"


@dataclass(frozen=True)
class MetricComparisonRow:
    """One metric across the runs compared: each run's last and best."""

    key: str
    direction: str  # "min" (lower is better) or "max"
    last: tuple[float | None, ...]
    best: tuple[float | None, ...]
    best_run: int | None  # index into runs of the best `best` value


@dataclass(frozen=True)
class MetricComparison:
    """The metrics of the runs compared, side by side."""

    runs: tuple[RunSummary, ...]
    rows: tuple[MetricComparisonRow, ...]


@dataclass(frozen=True)
class SourceState:
    """One source of a catalog as the user named it, and how reading it goes."""

    location: str
    box: str
    kind: str | None
    state: str  # "ok" | "reading" | "unreachable"
    since: float | None  # unreachable since (epoch seconds)
    error: str | None  # why, in one line
    runs: int
    #: bytes that crossed the wire from the box (remote); bytes read (local)
    bytes_read: int
    #: bytes sent to the box (requests, and the helper's source once per connection)
    bytes_sent: int = 0
