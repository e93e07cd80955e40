"""What every importer hands back: a tool-neutral description of one foreign run.

Each reader module (``ultralytics``, ``mlflow``, ``lightning``, ``hf``,
``tensorboard``, ``dvclive``, ``wandb``, ``trackio``) exposes two functions:

``detect(path: Path) -> bool``
    True when ``path`` (a directory, or a file for single-file stores) holds
    runs of this kind anywhere below it.

``read(path: Path, problems: list[str]) -> Iterator[ForeignRun]``
    Yields every run found under ``path``. It never raises for bad input:
    a truncated, corrupt or unreadable file is skipped (or read as far as it
    goes) and one line ``"<file path>: <reason>"`` is appended to
    ``problems``. It never writes anything into ``path``. ``find_runs`` below
    is how it starts: a missing or unlistable ``path`` is one such line.

The common writer (``trackui.store.importers.write_foreign_run``) turns a
``ForeignRun`` into an ordinary trackui run directory (format 1), so that
imported runs show in ``ls``/``show``/``diff`` and the TUI like native ones.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ._naming import dir_name

_Found = TypeVar("_Found")

#: Statuses an importer may report. ``running`` needs ``last_activity``.
STATUSES = ("running", "finished", "failed", "killed", "crashed")


@dataclass
class Point:
    """One logged value. ``t`` is unix seconds (float) or None when unknown."""

    key: str
    step: int
    value: float
    t: float | None = None


@dataclass
class Artifact:
    """A file the run produced. Imported by reference, never copied."""

    name: str  # relative name shown to the user, e.g. "weights/best.pt"
    path: str  # absolute path of the file as found under the import PATH
    size: int | None = None
    sha256: str | None = None


@dataclass
class ForeignRun:
    """A run as another tool wrote it, read into trackui's terms."""

    kind: str  # "ultralytics" | "mlflow" | "tensorboard" | "dvclive" | "wandb" | "trackio" | ...
    source_path: str  # absolute path of the run (directory, or the db/file holding it)
    source_id: str  # the tool's own id (mlflow run uuid, wandb run id, dir relative to PATH...)
    project: str  # experiment / project name
    name: str  # display name, kept exactly as the tool has it
    params: dict[str, Any] = field(default_factory=dict)  # values as the tool stores them
    points: list[Point] = field(default_factory=list)  # in the order the tool logged them
    status: str = "finished"  # one of STATUSES
    status_reason: str | None = None  # e.g. "exit code 1", "SimulatedCrash: CUDA out of memory"
    created: float | None = None  # unix seconds
    ended: float | None = None  # unix seconds
    last_activity: float | None = None  # newest mtime / timestamp seen: liveness evidence
    tags: list[str] = field(default_factory=list)
    notes: str | None = None
    group: str | None = None
    parent_id: str | None = None  # source_id of the parent run (mlflow nested runs)
    artifacts: list[Artifact] = field(default_factory=list)
    console: str | None = None  # captured stdout/stderr when the tool keeps it
    #: system metrics the tool sampled, under trackui's names (``system/gpu0.util``...)
    system: list[Point] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # anything else to show (host, user...)


def find_runs(root: Path, problems: list[str], find: Callable[[Path], _Found]) -> _Found | None:
    """What ``find`` lists under ROOT, where a reader starts; None when ROOT is
    missing or cannot be listed, with the one ``problems`` line that says so."""
    if not root.exists():
        problems.append(f"{root}: no such file or directory")
        return None
    try:
        return find(root)
    except OSError as exc:
        problems.append(f"{root}: unreadable ({exc.strerror or exc})")
        return None


def each_run(
    places: Iterable[Path],
    problems: list[str],
    read_one: Callable[[Path], ForeignRun | None],
) -> Iterator[ForeignRun]:
    """``read_one`` of each place a reader found: a place that cannot be read
    costs its run, with one ``problems`` line, never the rest of the import."""
    for place in places:
        try:
            run = read_one(place)
        except OSError as exc:
            problems.append(f"{place}: unreadable ({exc.strerror or exc})")
            continue
        except Exception as exc:  # noqa: BLE001 - one bad run must not stop the import
            problems.append(f"{place}: skipped: {type(exc).__name__}: {exc}")
            continue
        if run is not None:
            yield run


def mtime(path: Path) -> float | None:
    """A file's modification time, None when it cannot be stat-ed."""
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def source_id(root: Path, run_dir: Path) -> str:
    """A run's id within its source: its folder relative to the root read,
    or the folder's own name when the root is the run."""
    rel = os.path.relpath(run_dir, root)
    return dir_name(run_dir) if rel == "." else Path(rel).as_posix()
