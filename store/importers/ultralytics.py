"""Read Ultralytics training runs (``runs/detect/<name>/``) as foreign runs.

A run directory is any directory holding an ``args.yaml`` that is an
Ultralytics run: ``results.csv`` or ``weights/`` beside it, or the YAML is a
mapping with a ``task``/``mode`` key (a run killed in its first epoch leaves
neither). Runs are found by that file anywhere below PATH, never by path shape:
a relative ``project="runs/detect"`` nests (``runs/detect/runs/detect/x``) and a
repeated name gets ``-2``.

Conventions (what a ``ForeignRun`` holds):

- ``source_id``: the run directory relative to PATH, posix separators; the
  directory's own name when PATH is the run directory itself.
- ``project``: the basename of ``args.yaml``'s ``project`` (``/home/u/runs/detect``
  and ``runs/detect`` both give ``detect``); when that is missing or empty,
  the name of the run directory's parent (Ultralytics' default layout puts
  runs under ``<runs_dir>/<task>/``, so that is the task).
- ``name``: ``args.yaml``'s ``name`` (Ultralytics rewrites it to the final
  directory name, ``-2`` included), else the directory name.
- ``params``: every key of ``args.yaml`` as ``yaml.safe_load`` returns it.
  ``args.yaml`` records what was asked, not what was used.
- points: every ``results.csv`` column except ``epoch``, names as written with
  surrounding whitespace stripped (``metrics/mAP50-95(B)`` stays exact);
  ``step`` is the ``epoch`` value as written, which Ultralytics writes
  1-based; ``t`` is None (``time`` is cumulative seconds that restart after a
  resume, so it is kept as the ordinary metric ``time``). When an epoch
  appears twice (a resumed run reruns it and appends) only the later row is
  kept. A short, long or unparsable row is skipped and reported.
- artifacts, by reference: the plots (``*.png``, ``*.jpg`` directly in the run
  directory) and ``weights/*.pt``, with their size; sha256 is computed for
  files under ``HASH_LIMIT_BYTES`` (a yolo11n checkpoint is ~5 MB and hashes
  in milliseconds) and left None above it so a store of big models imports
  quickly. Other files in ``weights/`` (such as a ``MANIFEST.tsv``) are not
  artifacts.
- status, by evidence (Ultralytics writes no status marker):
  ``finished`` when ``results.png`` exists, or when ``results.csv`` reaches
  the asked ``epochs`` and ``weights/best.pt`` exists (a ``plots=False`` run);
  else ``running`` when the newest file in the run directory changed within
  ``stale_after`` seconds; else ``crashed`` (a ``kill -9``, a Ctrl-C and an
  exception leave the same files, so they cannot be told apart). A
  ``plots=False`` run that stopped early (``patience``) reads as crashed.
- ``created``: the mtime of ``results.csv`` less the training time the
  ``time`` column gives (cumulative seconds, restarting from 0 after a
  resume: the stretches are added), or the mtime of ``args.yaml`` when that
  is earlier (a copy gives every file the same time, so file times alone
  would say 0 s); ``ended``: mtime of ``results.csv`` for finished runs;
  ``last_activity``: newest mtime of any file in the run directory.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from trackui.store.importers import _read
from trackui.store.importers._evidence import mtime, newest_mtime
from trackui.store.importers.base import Artifact, ForeignRun, Point

KIND = "ultralytics"

#: Seconds without any file change after which an unfinished run counts as crashed.
STALE_AFTER_S = 900.0

#: Weights at or above this size are referenced without a sha256.
HASH_LIMIT_BYTES = 50 * 1024 * 1024

#: How deep ``detect`` looks below PATH (``~/proj/runs/detect/runs/detect/x`` is 5).
DETECT_MAX_DEPTH = 8

_SKIP_DIRS = frozenset({"node_modules", "__pycache__", "site-packages"})
_PLOT_SUFFIXES = (".png", ".jpg")


def detect(path: Path) -> bool:
    """True when an ``args.yaml`` sits next to a ``results.csv`` or ``weights/`` below ``path``."""
    path = Path(path)
    try:
        if path.is_file():
            return path.name == "args.yaml" and _looks_like_run_dir(path.parent)
        if not path.is_dir():
            return False
    except OSError:
        return False
    base_depth = len(path.parts)
    for dirpath, dirnames, filenames in os.walk(path):
        here = Path(dirpath)
        if len(here.parts) - base_depth >= DETECT_MAX_DEPTH:
            dirnames[:] = []
        else:
            dirnames[:] = [d for d in dirnames if not _skip_dir(d)]
        if "args.yaml" in filenames and _looks_like_run_dir(here):
            return True
    return False


def read(
    path: Path,
    problems: list[str],
    *,
    stale_after: float = STALE_AFTER_S,
    now: float | None = None,
) -> Iterator[ForeignRun]:
    """Yield every Ultralytics run below ``path``; bad files go to ``problems``, never raised."""
    root = Path(path)
    clock = time.time() if now is None else now
    if not root.is_dir():
        problems.append(f"{root}: not a directory")
        return
    for run_dir in _find_run_dirs(root, problems):
        try:
            yield _read_run(root, run_dir, problems, stale_after=stale_after, now=clock)
        except Exception as exc:  # one bad run must not stop the import
            problems.append(f"{run_dir}: skipped: {type(exc).__name__}: {exc}")


# -- discovery -------------------------------------------------------------------


def _skip_dir(name: str) -> bool:
    return name.startswith(".") or name in _SKIP_DIRS


def _looks_like_run_dir(directory: Path) -> bool:
    return (directory / "results.csv").is_file() or (directory / "weights").is_dir()


def _find_run_dirs(root: Path, problems: list[str]) -> Iterator[Path]:
    def on_error(err: OSError) -> None:
        problems.append(f"{err.filename}: cannot list: {err.strerror}")

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error):
        dirnames[:] = sorted(d for d in dirnames if not _skip_dir(d))
        if "args.yaml" not in filenames:
            continue
        here = Path(dirpath)
        if _looks_like_run_dir(here) or _args_look_like_ultralytics(here / "args.yaml"):
            yield here


def _args_look_like_ultralytics(args_path: Path) -> bool:
    try:
        data = yaml.safe_load(_read.read_bytes(args_path).decode("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return False
    return isinstance(data, dict) and ("task" in data or "mode" in data)


# -- one run ---------------------------------------------------------------------


def _read_run(
    root: Path, run_dir: Path, problems: list[str], *, stale_after: float, now: float
) -> ForeignRun:
    params = _read_args(run_dir / "args.yaml", problems)
    times: list[float] = []
    rows = _read_results(run_dir / "results.csv", problems, times)
    points = [
        Point(key=key, step=step, value=value) for step, values in rows for key, value in values
    ]

    source_id = run_dir.relative_to(root).as_posix()
    if source_id == ".":
        source_id = run_dir.resolve().name
    project_arg = params.get("project")
    project = (
        Path(str(project_arg)).name
        if project_arg not in (None, "") and Path(str(project_arg)).name
        else run_dir.resolve().parent.name
    )
    name_arg = params.get("name")
    name = str(name_arg) if name_arg not in (None, "") else run_dir.resolve().name

    # A run nested inside this one (project pointing into it) has its own liveness.
    last_activity = newest_mtime(run_dir, prune=lambda d: (d / "args.yaml").is_file())
    status, reason = _status(run_dir, params, rows, last_activity, stale_after, now)
    results_mtime = mtime(run_dir / "results.csv")
    ended = results_mtime if status == "finished" else None
    created = mtime(run_dir / "args.yaml")
    trained = training_seconds(times)
    if trained is not None and results_mtime is not None:
        # the last row was written when the time column says: the start is
        # that long before it (file times alone say 0 s after a copy)
        start = results_mtime - trained
        created = start if created is None else min(created, start)

    return ForeignRun(
        kind=KIND,
        source_path=str(run_dir.resolve()),
        source_id=source_id,
        project=project,
        name=name,
        params=params,
        points=points,
        status=status,
        status_reason=reason,
        created=created,
        ended=ended,
        last_activity=last_activity,
        artifacts=_artifacts(run_dir, problems),
    )


def training_seconds(times: list[float]) -> float | None:
    """Seconds of training by results.csv's ``time`` column, every row in file
    order: cumulative seconds that restart from 0 after a resume, so the sum of
    each stretch's last value."""
    total = 0.0
    previous: float | None = None
    for t in times:
        if not math.isfinite(t) or t < 0:
            continue
        if previous is not None and t < previous:
            total += previous  # a resume started the clock again
        previous = t
    return None if previous is None else total + previous


def _read_args(args_path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        data = yaml.safe_load(_read.read_bytes(args_path).decode("utf-8"))
    except OSError as exc:
        problems.append(f"{args_path}: cannot read: {exc.strerror or exc}")
        return {}
    except UnicodeDecodeError as exc:
        problems.append(f"{args_path}: not UTF-8: {exc.reason}")
        return {}
    except (yaml.YAMLError, RecursionError) as exc:
        reason = " ".join(str(exc).split())
        problems.append(f"{args_path}: invalid YAML: {reason}")
        return {}
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.append(f"{args_path}: expected a mapping, found {type(data).__name__}")
        return {}
    return {str(k): v for k, v in data.items()}


Row = tuple[int, list[tuple[str, float]]]


def _read_results(
    csv_path: Path, problems: list[str], times: list[float] | None = None
) -> list[Row]:
    """Rows of ``results.csv`` as (epoch, [(column, value), ...]); later duplicates win.
    ``times`` gets the ``time`` column of every row, in file order."""
    try:
        text = _read.read_bytes(csv_path).decode("utf-8")
    except FileNotFoundError:
        return []  # killed during the first epoch: no row was ever written
    except OSError as exc:
        problems.append(f"{csv_path}: cannot read: {exc.strerror or exc}")
        return []
    except UnicodeDecodeError as exc:
        problems.append(f"{csv_path}: not UTF-8: {exc.reason}")
        return []
    return parse_results(text, csv_path, problems, times)


def parse_results(
    text: str, csv_path: Path, problems: list[str], times: list[float] | None = None
) -> list[Row]:
    """``_read_results`` of the file's text (or its header line and rows appended since)."""
    lines = text.splitlines()
    if not lines:
        return []
    header = [h.strip() for h in _split(lines[0])]
    if "epoch" in header:
        epoch_col: int | None = header.index("epoch")
    else:
        epoch_col = None
        problems.append(f"{csv_path}: line 1: no 'epoch' column; using row numbers as steps")

    by_epoch: dict[int, list[tuple[str, float]]] = {}
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = _split(line)
        if len(fields) != len(header):
            what = "cut short" if len(fields) < len(header) else "too many fields"
            problems.append(
                f"{csv_path}: line {lineno}: {what} "
                f"({len(fields)} fields, header has {len(header)}); skipped"
            )
            continue
        try:
            epoch = _parse_epoch(fields[epoch_col]) if epoch_col is not None else lineno - 1
            values = [
                (key, _parse_value(raw))
                for i, (key, raw) in enumerate(zip(header, fields, strict=True))
                if i != epoch_col and raw.strip() != ""
            ]
        except ValueError as exc:
            problems.append(f"{csv_path}: line {lineno}: {exc}; skipped")
            continue
        if times is not None:
            times.extend(v for k, v in values if k == "time")
        # A resume reruns the interrupted epoch and appends it again: the later row is true.
        by_epoch.pop(epoch, None)
        by_epoch[epoch] = values
    return list(by_epoch.items())


def _split(line: str) -> list[str]:
    try:
        return next(csv.reader([line]), [])
    except csv.Error:
        return []  # reported by the caller as a short row


def _parse_epoch(raw: str) -> int:
    try:
        number = float(raw)
    except ValueError:
        raise ValueError(f"epoch {raw.strip()!r} is not a number") from None
    if not math.isfinite(number) or number != int(number):
        raise ValueError(f"epoch {raw.strip()!r} is not a whole number")
    return int(number)


def _parse_value(raw: str) -> float:
    try:
        return float(raw)  # accepts nan/inf and the padding older versions wrote
    except ValueError:
        raise ValueError(f"value {raw.strip()!r} is not a number") from None


# -- files, status ---------------------------------------------------------------


def _status(
    run_dir: Path,
    params: dict[str, Any],
    rows: list[Row],
    last_activity: float | None,
    stale_after: float,
    now: float,
) -> tuple[str, str | None]:
    if (run_dir / "results.png").is_file():
        return "finished", None
    asked = params.get("epochs")
    last_epoch = max((epoch for epoch, _ in rows), default=0)
    if (
        isinstance(asked, int)
        and not isinstance(asked, bool)
        and last_epoch >= asked > 0
        and (run_dir / "weights" / "best.pt").is_file()
    ):
        return "finished", None
    if last_activity is None:
        return "crashed", "no results.png; no readable files"
    still = max(0.0, now - last_activity)
    if still <= stale_after:
        return "running", f"no results.png yet; last write {_duration(still)} ago"
    return "crashed", f"no results.png; files still for {_duration(still)}"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def _artifacts(run_dir: Path, problems: list[str]) -> list[Artifact]:
    found: list[tuple[str, Path]] = []
    try:
        for entry in sorted(run_dir.iterdir()):
            if entry.suffix.lower() in _PLOT_SUFFIXES and entry.is_file():
                found.append((entry.name, entry))
        weights = run_dir / "weights"
        if weights.is_dir():
            for entry in sorted(weights.iterdir()):
                if entry.suffix == ".pt" and entry.is_file():
                    found.append((f"weights/{entry.name}", entry))
    except OSError as exc:
        problems.append(f"{run_dir}: cannot list artifacts: {exc.strerror or exc}")
    artifacts = []
    for name, file in found:
        size = None
        digest = None
        try:
            st = file.stat()
            size = st.st_size
            # a file with a size and no blocks on disk holds no content here
            # (a remote box's mirror keeps such stubs of checkpoints)
            if size < HASH_LIMIT_BYTES and not (size and getattr(st, "st_blocks", 1) == 0):
                digest = _sha256(file)
        except OSError as exc:
            problems.append(f"{file}: cannot read: {exc.strerror or exc}")
        artifacts.append(Artifact(name=name, path=str(file.resolve()), size=size, sha256=digest))
    return artifacts


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with _read.open_regular(path) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
