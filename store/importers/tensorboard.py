"""Read TensorBoard event files (``events.out.tfevents.*``) as foreign runs.

The files are decoded in ``_tfevents``; this module decides which files make
one run, names it and infers its status. The rules, also in
``docs/importers.md``:

* a run is a directory that directly holds event files (several per run
  when the writer was restarted, read in the order of the time stamp in
  their names), and these sub-directories with event files of their own
  belong to the run that holds them instead of being runs:

  - ``train/``, ``training/``, ``val/``, ``valid/``, ``validation/``,
    ``eval/``, ``evaluation/``, ``test/`` (Keras' TensorBoard callback and
    many scripts write one writer per split): their tags get the
    sub-directory as prefix, ``validation/epoch_loss``. The holding
    directory is the run even when it has no event file of its own;
  - torch's ``add_scalars(main_tag, {name: value})`` writers
    ``<run>/<main_tag>_<name>/``, whose only tag is ``main_tag``: the points
    become ``<main_tag>/<name>`` (``loss/train``, ``loss/val``);
  - one ``add_hparams`` sub-directory (tensorboardX and torch name it after
    ``time.time()``): its hparams become the params, its scalars (such as
    ``hparam/mAP50-95_B_``) points as written. Several hparams children
    (one writer used for a sweep) stay separate runs, because they then
    describe different trials;
  - Hugging Face's ``<output_dir>/runs/<Mon DD_HH-MM-SS>_<host>/`` when the
    output directory holds a Trainer's files (``trainer_state.json``,
    ``config.json``, ``training_args.bin``, checkpoints): the run is the
    output directory, tags as written (``train/loss``, ``eval/loss``);

  any other sub-directory with event files is a run of its own, with the
  enclosing run as parent. When every kind is imported, directories that
  the Lightning, Hugging Face or Ultralytics reader reads (a Lightning
  ``version_N``, a Trainer output directory, a YOLO run) are left to them,
  so one training is one run;
* ``source_id`` is the run directory relative to the import root; the name
  is the directory's own name and the project the folder above it
  (``_naming``);
* files beside the event files (``weights/best.pt``) are artifacts by
  reference; files named like event files that do not frame as event files
  (a helper ``make_tfevents.py``) are ignored.

Status (TensorBoard has none), first rule that applies:

1. last event less than ``stale_after`` (default ``STALE_AFTER_S``) before
   ``now`` -> ``running``;
2. the newest event file of a writer ends inside a record -> ``crashed``:
   a writer that closes never leaves half a record; one killed mid-write
   does (the ``kill -9`` fixture run);
3. a planned epoch count in the hparams (``epochs``, ``schedule.epochs``,
   ``trainer.max_epochs``, ...) and an ``epoch`` scalar (or Keras'
   ``epoch_*`` scalars, logged at step = epoch) that stopped short of it ->
   ``crashed``, "n of N epochs";
4. hparams ``session_end_info.status`` FAILURE -> ``failed``;
5. otherwise ``finished``. This includes a run that died of an exception
   inside ``with SummaryWriter()``: its file was closed cleanly and holds
   nothing that tells it from a short finished run, so ``status_reason``
   says the status is inferred.
"""

from __future__ import annotations

import operator
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trackui.store.importers._naming import dir_name, project_for
from trackui.store.importers._pointcols import concat, key_set, renamed, sorted_by_t
from trackui.store.importers._tfahead import read_ahead
from trackui.store.importers._tfevents import (  # noqa: F401 - the decoder, re-exported
    _LENGTH_CRC,
    _common_scalar,
    _decode_event,
    _FileData,
    _shortest_of_raw,
    is_event_file,
    iter_records,
    read_event_file,
    shortest_float32,
)
from trackui.store.importers._tfstatus import _keras_epochs, _status  # noqa: F401 - re-exported
from trackui.store.importers.base import Artifact, ForeignRun, find_runs

KIND = "tensorboard"
_KEY = operator.attrgetter("key")

#: A run whose last event is younger than this is taken as still running
#: (the other importers use the same 15 minutes). tensorboardX flushes every
#: 120 s by default, so much less would flap.
STALE_AFTER_S = 900.0

#: How many files beside the event files are listed as artifacts, at most.
MAX_ARTIFACTS = 1000

#: Sub-directories that hold one split's writer of the enclosing run.
SPLITS = frozenset(
    {"train", "training", "val", "valid", "validation", "eval", "evaluation", "test"}
)
#: torch's and Hugging Face's default log dir name: ``Jan01_12-00-00_host``.
_TORCH_RUN_DIR = re.compile(r"[A-Z][a-z]{2}\d{2}_\d{2}-\d{2}-\d{2}_.+")
#: Files that say a directory is a Hugging Face Trainer's output directory.
HF_MARKERS = (
    "trainer_state.json",
    "training_args.bin",
    "training_args.json",
    "config.json",
    "model.safetensors",
    "pytorch_model.bin",
    "adapter_config.json",
)


def detect(path: Path) -> bool:
    path = Path(path)
    if path.is_file():
        return is_event_file(path.name)
    try:
        for _dirpath, _dirs, files in os.walk(path):
            if any(is_event_file(f) for f in files):
                return True
    except OSError:
        return False
    return False


# -- which writers make one run --------------------------------------------------


@dataclass
class _Part:
    """One writer's directory and how its tags become the run's keys."""

    dir: Path
    how: str  # "own" | "split" | "hf" | "scalars" | "hparams"
    prefix: str = ""  # "split": "<dir name>/"
    scalars: tuple[str, str] | None = None  # "scalars": (main tag, name)


@dataclass
class _Plan:
    """The event files of one TensorBoard run, in the order they are read."""

    run_dir: Path
    parts: list[_Part] = field(default_factory=list)


def _file_order(name: str) -> tuple[float, str]:
    # events.out.tfevents.<unix time>.<host>[.<pid>.<n>][suffix]: order by time.
    parts = name.split("tfevents.", 1)[-1].split(".")
    try:
        return float(parts[0]), name
    except ValueError:
        return float("inf"), name


def _find_run_dirs(root: Path) -> dict[Path, list[Path]]:
    """Every directory under ROOT directly holding event files, with them in order."""
    if root.is_file():
        return {root.parent: [root]} if is_event_file(root.name) else {}
    found: dict[Path, list[Path]] = {}
    for dirpath, dirs, files in os.walk(root):  # never follows a symlinked directory
        dirs.sort()
        events = sorted((f for f in files if is_event_file(f)), key=_file_order)
        if events:
            found[Path(dirpath)] = [Path(dirpath, f) for f in events]
    return found


def _inside(d: Path, root: Path) -> bool:
    return d == root or root in d.parents


def _is_hf_output(d: Path) -> bool:
    try:
        if any((d / m).is_file() for m in HF_MARKERS):
            return True
        return any(e.name.startswith("checkpoint-") and e.is_dir() for e in os.scandir(d))
    except OSError:
        return False


def _owner(d: Path, root: Path) -> tuple[Path, _Part]:
    """The run directory that the writer in D belongs to, and how."""
    if d != root and d.name.lower() in SPLITS:
        return d.parent, _Part(d, "split", prefix=f"{d.name}/")
    out = d.parent.parent
    if (
        d.parent.name == "runs"
        and _TORCH_RUN_DIR.fullmatch(d.name)
        and _inside(out, root)
        and _is_hf_output(out)
    ):
        return out, _Part(d, "hf")
    return d, _Part(d, "own")


def _deferred(d: Path, root: Path, seen: dict[Path, bool] | None = None) -> bool:
    """Whether D lies in a directory that the Lightning, Hugging Face or
    Ultralytics reader reads."""
    from trackui.store.importers import hf, lightning

    seen = {} if seen is None else seen  # one look per directory, however many writers below
    for a in (d, *d.parents):
        if not _inside(a, root):
            return False
        claimed = seen.get(a)
        if claimed is None:
            claimed = seen[a] = (
                lightning.is_version_dir(a) or hf.is_output_dir(a) or _is_ultralytics_run(a)
            )
        if claimed:
            return True
    return False


def _is_ultralytics_run(d: Path) -> bool:
    # Ultralytics' TensorBoard callback writes its event files into the run directory
    return (d / "args.yaml").is_file() and (d / "results.csv").is_file()


def _scalars_child(child: Path, fd: _FileData) -> tuple[str, str] | None:
    """(main tag, name) when CHILD is what torch's ``add_scalars`` writes."""
    tags = key_set(fd.points)
    if len(tags) != 1 or fd.hparams is not None:
        return None
    (tag,) = tags
    head = tag.replace("/", "_") + "_"
    if child.name.startswith(head) and len(child.name) > len(head):
        return tag, child.name[len(head) :]
    return None


def plan_runs(root: Path, event_dirs: dict[Path, list[Path]]) -> dict[Path, _Plan]:
    """Run directory -> the writers folded into it by directory name alone
    (own, splits, Hugging Face); ``add_scalars`` and ``add_hparams`` children
    are settled while reading, as they need the tags."""
    plans: dict[Path, _Plan] = {}
    for d in sorted(event_dirs):
        owner, part = _owner(d, root)
        plans.setdefault(owner, _Plan(owner)).parts.append(part)
    for plan in plans.values():
        plan.parts.sort(key=lambda p: (p.how != "own", str(p.dir)))
    return plans


def _artifacts(run_dir: Path, skip_dirs: set[Path]) -> list[Artifact]:
    out: list[Artifact] = []
    for dirpath, dirs, files in os.walk(run_dir):
        here = Path(dirpath)
        dirs[:] = sorted(d for d in dirs if here / d not in skip_dirs)
        for name in sorted(files):
            if is_event_file(name):
                continue
            p = here / name
            try:
                size = p.stat().st_size
            except OSError:
                continue
            out.append(
                Artifact(name=p.relative_to(run_dir).as_posix(), path=str(p.absolute()), size=size)
            )
            if len(out) >= MAX_ARTIFACTS:
                return out
    return out


# -- reading runs ----------------------------------------------------------------


def read(
    path: Path,
    problems: list[str],
    *,
    stale_after: float = STALE_AFTER_S,
    now: float | None = None,
    defer: bool = True,
) -> Iterator[ForeignRun]:
    """Yield one run per training found under ``path`` (see the module doc).

    A run with no news for ``stale_after`` seconds before ``now`` (default:
    the current time) is no longer taken as running. With ``defer``, the
    directories of Lightning and Hugging Face runs are left to their readers.
    """
    root = Path(path)
    now = time.time() if now is None else now
    event_dirs = find_runs(root, problems, _find_run_dirs)
    if event_dirs is None:
        return
    if root.is_file():
        root = root.parent
    if defer:
        seen: dict[Path, bool] = {}
        event_dirs = {d: f for d, f in event_dirs.items() if not _deferred(d, root, seen)}
    yield from read_runs(root, event_dirs, problems, stale_after=stale_after, now=now)


def read_runs(
    root: Path,
    event_dirs: dict[Path, list[Path]],
    problems: list[str],
    *,
    stale_after: float = STALE_AFTER_S,
    now: float,
) -> Iterator[ForeignRun]:
    """The runs that the event files ``event_dirs`` (directory -> its files, in
    order) under ``root`` make; the layout half of ``read``, for readers of
    other tools that found event files of their own runs."""
    plans = plan_runs(root, event_dirs)
    # Runs are decoded as they are yielded, in path order, so that only one
    # run's points (and its direct children's) are held at a time. Whether a
    # child folds into its parent is settled by the parent, which comes first.
    data: dict[Path, _FileData] = {}
    torn: dict[Path, list[tuple[Path, int]]] = {}
    # Problem lines come out as when every file was decoded first: those of
    # the files in walk order, then those found while assembling runs.
    file_problems: dict[Path, list[str]] = {}
    late: list[str] = []

    for d in event_dirs:  # each directory's list made here, filled by whichever thread reads it
        file_problems[d] = []

    def read_dir(d: Path) -> tuple[_FileData, list[tuple[Path, int]]]:
        files = event_dirs[d]
        merged = _FileData()
        cut: list[tuple[Path, int]] = []
        pieces: list[Any] = []
        for f in files:
            fd = read_event_file(f, file_problems[d], root=root)
            if fd.not_events:
                continue
            if fd.torn_at is not None:
                cut.append((f, fd.torn_at))
            pieces.append(fd.points)
            fd.points = []
            merged.merge(fd)
        merged.points = concat(pieces)
        # Only the newest file can be cut short by a live or killed writer.
        merged.torn_at = cut[-1][1] if cut and cut[-1][0] == files[-1] else None
        return merged, cut

    early = read_ahead(plans, read_dir)

    def load(d: Path) -> _FileData:
        if d not in data:
            data[d], torn[d] = early.take(d) if early is not None else read_dir(d)
        return data[d]

    folded: set[Path] = set()
    try:
        for run_dir in sorted(plans):
            if run_dir in folded:
                continue
            plan = plans[run_dir]
            parts = list(plan.parts)
            for part in parts:
                load(part.dir)
            hparams_kids: list[_Part] = []
            for child in sorted(plans):
                if child.parent != run_dir or child in folded:
                    continue
                kid = plans[child]
                if [p.how for p in kid.parts] != ["own"]:
                    continue
                fd = load(child)
                pair = _scalars_child(child, fd)
                if pair is not None:
                    parts.append(_Part(child, "scalars", scalars=pair))
                    folded.add(child)
                elif fd.hparams is not None:
                    hparams_kids.append(_Part(child, "hparams"))
            if len(hparams_kids) == 1:
                parts.append(hparams_kids[0])
                folded.add(hparams_kids[0].dir)
            try:
                loaded = [(p, load(p.dir)) for p in parts]
                if all(fd.first_t is None for _, fd in loaded):
                    # Not one readable event (an empty or wrecked file): nothing to show.
                    for p in parts:
                        for f, at in torn.get(p.dir, []):
                            late.append(f"{f}: truncated at byte {at} (last record cut short)")
                    continue
                run = _assemble(
                    root, plan.run_dir, loaded, event_dirs, torn, late, now - stale_after
                )
                parent = next((a for a in run_dir.parents if a in plans and a not in folded), None)
                if parent is not None and _inside(parent, root):
                    run.parent_id = _source_id(root, parent)
            except Exception as exc:  # one bad run must not stop the import
                late.append(f"{run_dir}: skipped: {type(exc).__name__}: {exc}")
                continue
            finally:
                for p in parts:
                    data.pop(p.dir, None)
            yield run
    finally:
        if early is not None:
            early.close()  # before the problem lines: the thread may still add to them
        for d in sorted(event_dirs):
            problems.extend(file_problems.get(d, []))
        problems.extend(late)


def _source_id(root: Path, run_dir: Path) -> str:
    rel = os.path.relpath(run_dir, root)
    return dir_name(run_dir) if rel == "." else Path(rel).as_posix()


def _keys(part: _Part, points: Any) -> Any:
    if part.how == "split":
        return renamed(points, lambda k: part.prefix + k)
    if part.how == "scalars" and part.scalars is not None:
        key = f"{part.scalars[0]}/{part.scalars[1]}"
        return renamed(points, lambda k: key)
    return points


def _assemble(
    root: Path,
    run_dir: Path,
    loaded: list[tuple[_Part, _FileData]],
    event_dirs: dict[Path, list[Path]],
    torn: dict[Path, list[tuple[Path, int]]],
    problems: list[str],
    fresh_after: float,
) -> ForeignRun:
    pieces: list[Any] = []
    params: dict[str, Any] = {}
    text: dict[str, str] = {}
    session_status: str | None = None
    first_t: float | None = None
    last_t: float | None = None
    torn_at: int | None = None
    extra: dict[str, Any] = {}
    files: list[str] = []
    writers: list[str] = []
    for part, fd in loaded:
        pieces.append(_keys(part, fd.points))
        params.update(fd.hparams or {})
        text.update({part.prefix + k: v for k, v in fd.text.items()})
        session_status = fd.session_status or session_status
        if fd.first_t is not None:
            first_t = fd.first_t if first_t is None else min(first_t, fd.first_t)
        if fd.last_t is not None:
            last_t = fd.last_t if last_t is None else max(last_t, fd.last_t)
        if fd.torn_at is not None and torn_at is None:
            torn_at = fd.torn_at
        files.extend(os.path.relpath(f, run_dir) for f in event_dirs[part.dir])
        if part.how == "hparams":
            extra["hparams_dir"] = part.dir.name
        elif part.how != "own":
            writers.append(os.path.relpath(part.dir, run_dir))
    points = concat(pieces)
    if len(loaded) > 1:
        points = sorted_by_t(points)  # stable: each writer's order
    extra["event_files"] = [Path(f).as_posix() for f in files]
    if writers:
        extra["writers"] = [Path(w).as_posix() for w in writers]
    if text:
        extra["text"] = text
    if session_status:
        extra["hparams_session_status"] = session_status

    status, reason = _status(torn_at, session_status, params, points, last_t, fresh_after)
    newest = {part.dir: event_dirs[part.dir][-1] for part, _ in loaded}
    for part, _ in loaded:
        for f, at in torn.get(part.dir, []):
            # A live writer may be half-way through its newest record: not damage.
            if not (status == "running" and f == newest[part.dir]):
                problems.append(f"{f}: truncated at byte {at} (last record cut short)")
    skip = {d for d in event_dirs if d != run_dir}
    return ForeignRun(
        kind=KIND,
        source_path=str(run_dir.absolute()),
        source_id=_source_id(root, run_dir),
        project=project_for(run_dir, root),
        name=dir_name(run_dir),
        params=params,
        points=points,
        status=status,
        status_reason=reason,
        created=first_t,
        ended=last_t if status != "running" else None,
        last_activity=last_t,
        artifacts=_artifacts(run_dir, skip),
        extra=extra,
    )
