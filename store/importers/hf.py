"""Read Hugging Face ``Trainer`` output directories as foreign runs.

One ``output_dir`` is one run, whatever it holds of:

* ``trainer_state.json`` (``trainer.save_state()``, written when training
  ended) or, when it is missing, the one in the newest ``checkpoint-<N>/``:
  ``log_history`` is the history. Each entry is one ``log()`` call; its
  ``step`` is the step of every other number in it, which become points
  named exactly as the file has them (``loss``, ``learning_rate``,
  ``eval_loss``, ``epoch``, ``train_runtime`` ...);
* ``runs/<Mon DD_HH-MM-SS>_<host>/`` (the Trainer's TensorBoard folder): the
  same values under TensorBoard names (``train/loss``, ``eval/loss``), so it
  adds only what ``log_history`` does not hold yet (steps logged after the
  last checkpoint of a run that was killed) and the wall times that date
  the run. Its names are mapped back as the Trainer wrote them
  (``train/x`` -> ``x``, ``eval/x`` -> ``eval_x``, ``test/x`` -> ``test_x``);
* ``config.json`` (the model's config) and ``training_args.json`` where a
  script saved one -> params, merged at top level as the W&B integration
  does (training arguments first, model config over them), plus the
  state's own settings (``max_steps``, ``num_train_epochs``,
  ``train_batch_size``, ``logging_steps``, ``eval_steps``, ``save_steps``)
  where those did not give them. ``training_args.bin`` is a pickle and is
  never loaded;
* model and checkpoint files (``*.safetensors``, ``*.bin``, ``*.pt``...) in the
  output directory and its ``checkpoint-<N>/`` folders -> artifacts by reference.

Name: ``run_name`` of ``training_args.json`` when it is not the output
directory itself (the Trainer's default), else the directory's name;
project: the folder above (``_naming``).

Status, first rule that applies:

1. a final ``trainer_state.json`` in the output directory, or a
   ``train_runtime`` entry in ``log_history`` (the Trainer logs it once
   training is over) -> ``finished``; a run that ended before ``max_steps``
   (early stopping) says so in its reason;
2. a file written less than ``stale_after`` ago -> ``running``;
3. otherwise ``crashed``: "stopped at step n of N steps (no final
   trainer_state.json)" when the state knows ``max_steps``.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trackui.store.importers import _read
from trackui.store.importers._evidence import newest_mtime
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

KIND = "hf"
STALE_AFTER_S = 900.0
STATE = "trainer_state.json"
_CHECKPOINT = re.compile(r"checkpoint-(\d+)")
_TB_DIR = re.compile(r"[A-Z][a-z]{2}\d{2}_\d{2}-\d{2}-\d{2}_.+")
_SKIP_DIRS = {".git", "__pycache__", "node_modules", "wandb", "mlruns"}
_MAX_DEPTH = 8
#: The state's settings that are params when nothing else gave them.
_STATE_PARAMS = (
    "max_steps",
    "num_train_epochs",
    "train_batch_size",
    "logging_steps",
    "eval_steps",
    "save_steps",
)
#: Files of a saved model or checkpoint listed as artifacts.
_MODEL_FILES = re.compile(r".*\.(safetensors|bin|pt|pth|ckpt|model|gguf)")
_MAX_ARTIFACTS = 1000


def _checkpoints(d: Path) -> list[tuple[int, Path]]:
    out = []
    try:
        for e in os.scandir(d):
            m = _CHECKPOINT.fullmatch(e.name)
            if m and e.is_dir(follow_symlinks=False):
                out.append((int(m.group(1)), Path(e.path)))
    except OSError:
        return []
    return sorted(out)


def is_output_dir(d: Path) -> bool:
    """A Trainer output directory: a trainer_state.json in it or in a checkpoint."""
    try:
        if (d / STATE).is_file() and not _CHECKPOINT.fullmatch(d.name):
            return True
    except OSError:
        return False
    return any((c / STATE).is_file() for _, c in _checkpoints(d))


def _find_output_dirs(root: Path) -> list[Path]:
    if root.is_file():
        return [root.parent] if root.name == STATE and is_output_dir(root.parent) else []
    found: list[Path] = []
    for dirpath, dirs, _files in os.walk(root):
        here = Path(dirpath)
        if is_output_dir(here):
            found.append(here)
            dirs[:] = []
            continue
        depth = len(here.relative_to(root).parts)
        dirs[:] = (
            []
            if depth >= _MAX_DEPTH
            else sorted(
                d
                for d in dirs
                if d not in _SKIP_DIRS and not d.startswith(".") and not _CHECKPOINT.fullmatch(d)
            )
        )
    return found


def detect(path: Path) -> bool:
    try:
        return bool(_find_output_dirs(Path(path)))
    except OSError:
        return False


# -- the files ---------------------------------------------------------------------


def _json(path: Path, root: Path, problems: list[str]) -> dict[str, Any] | None:
    try:
        data = json.loads(_read.read_bytes(path, root=root))
    except OSError as exc:
        problems.append(f"{path}: unreadable ({_read.why(exc)})")
        return None
    except (ValueError, RecursionError) as exc:
        problems.append(f"{path}: not JSON ({str(exc)[:200]})")
        return None
    if not isinstance(data, dict):
        problems.append(f"{path}: not a JSON object; not read")
        return None
    return data


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:
            return float("inf") if value > 0 else float("-inf")
    return None


def history_points(state: dict[str, Any]) -> list[Point]:
    """``log_history`` as points: every number but ``step`` at the entry's step."""
    points: list[Point] = []
    history = state.get("log_history")
    if not isinstance(history, list):
        return points
    for entry in history:
        if not isinstance(entry, dict):
            continue
        step = entry.get("step")
        if isinstance(step, bool) or not isinstance(step, int | float):
            continue
        for key, value in entry.items():
            if key == "step":
                continue
            num = _number(value)
            if num is not None:
                points.append(Point(str(key), int(step), num))
    return points


def _from_tensorboard(tag: str) -> str:
    """A Trainer's TensorBoard tag as its log_history key."""
    if tag.startswith("train/"):
        return tag[len("train/") :]
    for split in ("eval", "test"):
        if tag.startswith(f"{split}/"):
            return f"{split}_{tag[len(split) + 1 :]}"
    return tag


def _tensorboard(out: Path, root: Path, problems: list[str]) -> tuple[list[Point], list[str]]:
    """Points of the Trainer's TensorBoard folders, named as log_history names them."""
    points: list[Point] = []
    files: list[str] = []
    runs = out / "runs"
    if not runs.is_dir() or runs.is_symlink():
        return points, files
    for sub in sorted(runs.iterdir()):
        if not sub.is_dir() or sub.is_symlink() or not _TB_DIR.fullmatch(sub.name):
            continue
        for f in sorted(p for p in sub.iterdir() if p.is_file() and is_event_file(p.name)):
            fd = read_event_file(f, problems, root=root)
            if fd.not_events:
                continue
            files.append(f.relative_to(out).as_posix())
            points.extend(Point(_from_tensorboard(p.key), p.step, p.value, p.t) for p in fd.points)
    return points, files


def _artifacts(out: Path) -> list[Artifact]:
    found: list[Artifact] = []
    for d in (out, *(c for _, c in _checkpoints(out))):
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:
            continue
        for e in entries:
            if not e.is_file(follow_symlinks=False) or not _MODEL_FILES.fullmatch(e.name):
                continue
            p = Path(e.path)
            found.append(
                Artifact(p.relative_to(out).as_posix(), str(p.absolute()), e.stat().st_size)
            )
            if len(found) >= _MAX_ARTIFACTS:
                return found
    return found


# -- one run -----------------------------------------------------------------------


def read_output_dir(
    root: Path, out: Path, problems: list[str], *, stale_after: float, now: float
) -> ForeignRun:
    """One run from one Trainer output directory. Never raises for bad content."""
    final = os.path.lexists(out / STATE)  # a special file there is reported, not skipped
    checkpoints = _checkpoints(out)
    state_file = out / STATE
    loaded = _json(state_file, root, problems) if final else None
    if loaded is None:
        # no final state (or one that cannot be read): the newest checkpoint's
        final = False
        state_file = next(
            (c / STATE for _, c in reversed(checkpoints) if (c / STATE).is_file()), state_file
        )
        if state_file != out / STATE:
            loaded = _json(state_file, root, problems)
    state = loaded or {}
    points = history_points(state)
    global_step = state.get("global_step")
    last_step = max((p.step for p in points), default=None)

    tb_points, tb_files = _tensorboard(out, root, problems)
    times = [p.t for p in tb_points if p.t is not None]
    if tb_points:
        # what TensorBoard got after the state was saved (a killed run's last steps)
        points.extend(p for p in tb_points if last_step is None or p.step > last_step)

    args = (
        _json(out / "training_args.json", root, problems)
        if (out / "training_args.json").is_file()
        else None
    )
    config = _json(out / "config.json", root, problems) if (out / "config.json").is_file() else None
    params: dict[str, Any] = {**(args or {}), **(config or {})}
    for key in _STATE_PARAMS:
        if key in state and key not in params:
            params[key] = state[key]

    name = dir_name(out)
    run_name = (args or {}).get("run_name")
    if isinstance(run_name, str) and run_name and run_name not in (str(out), out.name):
        if os.path.basename(run_name.rstrip("/")) != out.name:
            name = run_name

    newest = newest_mtime(out)
    last_activity = max(times) if times else newest
    created = min(times) if times else None
    runtime = next(
        (
            _number(e.get("train_runtime"))
            for e in reversed(state.get("log_history") or [])
            if isinstance(e, dict) and "train_runtime" in e
        ),
        None,
    )
    max_steps = state.get("max_steps")
    max_steps = max_steps if isinstance(max_steps, int) and max_steps > 0 else None
    done = global_step if isinstance(global_step, int) else (last_step or 0)
    if tb_points:
        done = max([done, *(p.step for p in tb_points)])
    ended = None
    if final or runtime is not None:
        status = "finished"
        reason = None
        if max_steps is not None and done < max_steps:
            reason = f"stopped early at step {done} of {max_steps} steps"
        if runtime is not None:
            if created is not None:
                ended = created + runtime
            elif newest is not None:
                ended = mtime(state_file) or newest
                created = ended - runtime
        ended = ended if ended is not None else last_activity
    elif last_activity is not None and now - last_activity < stale_after:
        status, reason = "running", None
    else:
        status = "crashed"
        reason = "no final trainer_state.json"
        if max_steps is not None and done < max_steps:
            reason = f"stopped at step {done} of {max_steps} steps ({reason})"
        ended = last_activity
    extra: dict[str, Any] = {"state_file": state_file.relative_to(out).as_posix()}
    if tb_files:
        extra["event_files"] = tb_files
    for key in ("best_metric", "best_model_checkpoint", "global_step", "total_flos"):
        if state.get(key) is not None:
            extra[key] = state[key]
    return ForeignRun(
        kind=KIND,
        source_path=str(out.absolute()),
        source_id=source_id(root, out),
        project=project_for(out, root),
        name=name,
        params=params,
        points=points,
        status=status,
        status_reason=reason,
        created=created,
        ended=ended if status != "running" else None,
        last_activity=last_activity,
        artifacts=_artifacts(out),
        extra=extra,
    )


def read(
    path: Path,
    problems: list[str],
    *,
    stale_after: float = STALE_AFTER_S,
    now: float | None = None,
) -> Iterator[ForeignRun]:
    """Yield one run per Trainer output directory under ``path``."""
    root = Path(path)
    now = time.time() if now is None else now
    outs = find_runs(root, problems, _find_output_dirs)
    if outs is None:
        return
    if root.is_file():
        root = root.parent
    yield from each_run(
        outs,
        problems,
        lambda place: read_output_dir(root, place, problems, stale_after=stale_after, now=now),
    )
