"""Read PyTorch Lightning log directories (``lightning_logs/version_N/``) as foreign runs.

Lightning's loggers write into ``<save_dir>/<name>/version_<N>/`` (``name``
defaults to ``lightning_logs``). One ``version_N`` is one run whichever
loggers wrote it:

* ``metrics.csv`` (``CSVLogger``): a header of every key seen, sorted, and
  one row per ``log_metrics`` call, empty cells for keys that row did not
  have. The ``step`` column is the step of every value in the row; every
  other non-empty cell (``epoch`` included) is a point, named exactly as
  the header says. Lightning writes it with the ``csv`` module (``\\r\\n``
  line ends) and rewrites the whole file when a new key appears;
* ``hparams.yaml`` (both loggers): ``save_hyperparameters()``, nested as
  written -> params. Python tags are read as plain data, never built;
* ``config.yaml`` (``LightningCLI``): the full config, ``trainer.max_epochs``
  included -> params (keys ``hparams.yaml`` does not have);
* ``events.out.tfevents.*`` (``TensorBoardLogger``): read for points when
  there is no ``metrics.csv`` (both loggers log the same values, so the CSV
  wins when both exist);
* ``checkpoints/*.ckpt`` -> artifacts by reference.

A version directory is a directory holding ``metrics.csv`` or
``hparams.yaml`` whose name is ``version_<N>``, or one holding both files.
Its name is ``version_N``; its project is the folder above
``lightning_logs`` (``_naming``); ``source_id`` its path relative to the
import root.

Status (Lightning records none), first rule that applies:

1. a file in the directory written less than ``stale_after`` ago -> ``running``;
2. a planned epoch count (``max_epochs``, ``trainer.max_epochs``,
   ``epochs`` ...) and fewer epochs in the ``epoch`` column -> ``crashed``,
   "n of N epochs" (an early-stopped run says so the same way);
3. otherwise ``finished``, with a reason saying it is inferred.
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from trackui.store.importers import _read, _yaml
from trackui.store.importers._evidence import epochs_short, newest_mtime
from trackui.store.importers._naming import dir_name, project_for
from trackui.store.importers._tfevents import is_event_file, read_event_file
from trackui.store.importers.base import (
    Artifact,
    ForeignRun,
    Point,
    each_run,
    find_runs,
    mtime,
    source_id,
)

KIND = "lightning"
STALE_AFTER_S = 900.0
METRICS = "metrics.csv"
HPARAMS = "hparams.yaml"
CLI_CONFIG = "config.yaml"

_VERSION = re.compile(r"version_\d+")
_SKIP_DIRS = {".git", "__pycache__", "node_modules", "checkpoints", ".hydra", "wandb"}
_MAX_DEPTH = 8
_MAX_ARTIFACTS = 1000


def is_version_dir(d: Path) -> bool:
    """Whether D is one Lightning run (rule in the module doc)."""
    try:
        has_csv = (d / METRICS).is_file()
        has_hparams = (d / HPARAMS).is_file()
    except OSError:
        return False
    if has_csv and has_hparams:
        return True
    return bool(_VERSION.fullmatch(d.name)) and (has_csv or has_hparams)


def _find_version_dirs(root: Path) -> list[Path]:
    if root.is_file():
        return [root.parent] if root.name == METRICS and is_version_dir(root.parent) else []
    found: list[Path] = []
    for dirpath, dirs, _files in os.walk(root):
        here = Path(dirpath)
        if is_version_dir(here):
            found.append(here)
            dirs[:] = []
            continue
        depth = len(here.relative_to(root).parts)
        dirs[:] = (
            []
            if depth >= _MAX_DEPTH
            else sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        )
    return found


def detect(path: Path) -> bool:
    try:
        return bool(_find_version_dirs(Path(path)))
    except OSError:
        return False


# -- the files ---------------------------------------------------------------------


def read_metrics_csv(path: Path, root: Path, problems: list[str]) -> list[Point]:
    """Every non-empty cell of metrics.csv but ``step`` as a point at the row's step."""
    try:
        text = _read.read_text(path, root=root)
    except OSError as exc:
        problems.append(f"{path}: unreadable ({_read.why(exc)})")
        return []
    return parse_metrics_csv(text, path, problems)


def parse_metrics_csv(text: str, path: Path, problems: list[str]) -> list[Point]:
    """The points of metrics.csv text (a header, then rows; a last row
    without its line end is cut mid-write and left for later)."""
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # a row cut mid-write
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(rows, None)
    if not header:
        return []
    header = [h.strip() for h in header]
    if "step" not in header:
        problems.append(f"{path}: no step column; not read")
        return []
    at_step = header.index("step")
    points: list[Point] = []
    bad = 0
    for row in rows:
        if not row:
            continue
        if len(row) != len(header):
            bad += 1
            continue
        try:
            step = int(float(row[at_step]))
        except ValueError:
            bad += 1
            continue
        for key, cell in zip(header, row, strict=True):
            if key == "step" or cell == "":
                continue
            try:
                points.append(Point(key, step, float(cell)))
            except ValueError:
                bad += 1
    if bad:
        problems.append(f"{path}: {bad} unreadable row(s) or cell(s) skipped")
    return points


def read_yaml(path: Path, root: Path, problems: list[str]) -> dict[str, Any]:
    try:
        data = _yaml.load(_read.read_text(path, root=root))
    except OSError as exc:
        problems.append(f"{path}: unreadable ({_read.why(exc)})")
        return {}
    except (yaml.YAMLError, RecursionError) as exc:
        problems.append(f"{path}: invalid YAML ({' '.join(str(exc).split())[:200]})")
        return {}
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.append(f"{path}: not a mapping; not read")
        return {}
    return {str(k): v for k, v in data.items()}


def _artifacts(version: Path) -> list[Artifact]:
    out: list[Artifact] = []
    folder = version / "checkpoints"
    if not folder.is_dir() or folder.is_symlink():
        return out
    for dirpath, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            p = Path(dirpath, name)
            try:
                st = p.lstat()
            except OSError:
                continue
            if not p.is_file() or p.is_symlink():
                continue
            out.append(Artifact(p.relative_to(version).as_posix(), str(p.absolute()), st.st_size))
            if len(out) >= _MAX_ARTIFACTS:
                return out
    return out


# -- one run -----------------------------------------------------------------------


def read_version_dir(
    root: Path, version: Path, problems: list[str], *, stale_after: float, now: float
) -> ForeignRun:
    """One run from one ``version_N`` directory. Never raises for bad content."""
    params: dict[str, Any] = {}
    if os.path.lexists(version / HPARAMS):
        params = read_yaml(version / HPARAMS, root, problems)
    if os.path.lexists(version / CLI_CONFIG):
        for key, value in read_yaml(version / CLI_CONFIG, root, problems).items():
            params.setdefault(key, value)

    extra: dict[str, Any] = {}
    first_t = last_t = None
    events = sorted(f.name for f in version.iterdir() if f.is_file() and is_event_file(f.name))
    if os.path.lexists(version / METRICS):  # a FIFO or a link out is reported, not skipped
        points = read_metrics_csv(version / METRICS, root, problems)
        extra["loggers"] = ["csv"] + (["tensorboard"] if events else [])
    else:
        points = []
        for name in events:
            fd = read_event_file(version / name, problems, root=root)
            points.extend(fd.points)
            params = {**(fd.hparams or {}), **params}
            if fd.first_t is not None:
                first_t = fd.first_t if first_t is None else min(first_t, fd.first_t)
            if fd.last_t is not None:
                last_t = fd.last_t if last_t is None else max(last_t, fd.last_t)
        extra["loggers"] = ["tensorboard"]
    if events:
        extra["event_files"] = events

    newest = newest_mtime(version, prune=lambda d: d.name == "checkpoints")
    last_activity = last_t if last_t is not None else newest
    created = first_t
    if created is None:
        created = min(
            (t for t in (mtime(version / HPARAMS), mtime(version / CLI_CONFIG)) if t is not None),
            default=None,
        )
    if last_activity is not None and now - last_activity < stale_after:
        status, reason = "running", None
    else:
        short = epochs_short(params, points)
        if short is not None:
            status, reason = "crashed", f"{short}; Lightning records no run status"
        else:
            status, reason = "finished", "inferred: Lightning records no run status"
    return ForeignRun(
        kind=KIND,
        source_path=str(version.absolute()),
        source_id=source_id(root, version),
        project=project_for(version, root),
        name=dir_name(version),
        params=params,
        points=points,
        status=status,
        status_reason=reason,
        created=created,
        ended=last_activity if status != "running" else None,
        last_activity=last_activity,
        artifacts=_artifacts(version),
        extra=extra,
    )


def read(
    path: Path,
    problems: list[str],
    *,
    stale_after: float = STALE_AFTER_S,
    now: float | None = None,
) -> Iterator[ForeignRun]:
    """Yield one run per Lightning version directory under ``path``."""
    root = Path(path)
    now = time.time() if now is None else now
    versions = find_runs(root, problems, _find_version_dirs)
    if versions is None:
        return
    if root.is_file():
        root = root.parent
    yield from each_run(
        versions,
        problems,
        lambda place: read_version_dir(root, place, problems, stale_after=stale_after, now=now),
    )
