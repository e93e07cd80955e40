"""Read DVCLive output directories (``Live(dir="dvclive")``) as foreign runs.

What DVCLive 3.x leaves, and how it is read (all text: standard library + PyYAML):

* ``<live>/params.yaml``: what ``log_params`` got → ``params``, as loaded
  (flat in the usual case; nested mappings are kept nested);
* ``<live>/plots/metrics/**.tsv``: the history, one file per metric. The
  metric key is the file's path relative to ``plots/metrics`` without
  ``.tsv``, so a ``/`` in a name became a sub-directory and comes back:
  ``plots/metrics/metrics/mAP50(B).tsv`` → ``metrics/mAP50(B)``, exactly as
  logged. Header ``step<TAB><leaf name>``; DVCLive 3 writes no time, older
  releases (and ``timestamp=True``) add a ``timestamp`` column in
  milliseconds, which becomes the point's ``t``. The value column is the
  one named like the metric's last path component (older releases used the
  full name); any other single column is taken as the value too;
* ``<live>/metrics.json``: the latest value of every metric (``/`` made
  nested objects) plus ``step``. The history is the TSVs; this file is only
  a check (a latest value that differs from the end of its TSV is reported
  in ``problems``) and the home of metrics logged with ``plot=False``,
  which have no TSV: those become one point at the file's ``step``. The
  whole file is kept in ``extra["summary"]``;
* artifacts: the entries of ``dvc.yaml``'s ``artifacts:`` (in the live dir
  or its parent) and the files under ``<live>/artifacts/`` (not their
  ``.dvc`` sidecars), by reference.

A live dir is a directory holding ``plots/metrics/``, or one named
``dvclive`` holding ``metrics.json`` or ``params.yaml``. The run is that
directory, or its parent when it has the default name ``dvclive`` (one
project per run is how DVCLive is used without DVC experiments); its path
relative to the import root is its ``source_id``, its own directory name its
name, and the folder above it (passing over ``runs/`` and the like) its
project, as for every tool without a project field (``_naming``):
``repo/runs/exp3/dvclive`` is run ``exp3`` in project ``repo``.

Damage: a TSV line that does not parse is skipped and counted, a last line
without its newline (cut mid-write) is dropped, broken YAML/JSON is skipped;
each affected file gets one ``problems`` line and the rest is imported.

Status (DVCLive records none; ``Live.__exit__`` calls ``end()`` even when
the training raised, so a crashed run's files look finished), first rule
that applies:

1. newest file (or ``timestamp``) less than ``stale_after`` (default
   ``STALE_AFTER_S``) old → ``running``;
2. an ``epochs`` param and an ``epoch`` metric that stopped short of it
   (fewer distinct epochs than asked, whether they count from 0 or 1) →
   ``crashed``, with "12 of 30 epochs";
3. otherwise ``finished`` (``status_reason`` says it is inferred).

An exception and ``kill -9`` leave the same files, so neither can be told
apart, nor told from a run whose script simply stopped early.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from trackui.store.importers import _read
from trackui.store.importers._evidence import epochs_short, newest_mtime
from trackui.store.importers._naming import dir_name, project_for
from trackui.store.importers.base import Artifact, ForeignRun, Point, each_run, find_runs

KIND = "dvclive"
DEFAULT_DIR = "dvclive"

#: Files touched less than this long ago mean the run is still going. DVCLive
#: rewrites metrics.json at every ``next_step()``.
STALE_AFTER_S = 900.0

_SKIP_DIRS = {".git", ".dvc", "__pycache__", "node_modules"}


def is_live_dir(path: Path) -> bool:
    if (path / "plots" / "metrics").is_dir():
        return True
    return path.name == DEFAULT_DIR and (
        (path / "metrics.json").is_file() or (path / "params.yaml").is_file()
    )


def _find_live_dirs(root: Path) -> list[Path]:
    if is_live_dir(root):
        return [root]
    found: list[Path] = []
    for dirpath, dirs, _files in os.walk(root):
        here = Path(dirpath)
        keep = []
        for d in sorted(dirs):
            if d in _SKIP_DIRS:
                continue
            if is_live_dir(here / d):
                found.append(here / d)  # nothing of interest below a live dir
            else:
                keep.append(d)
        dirs[:] = keep
    return found


def detect(path: Path) -> bool:
    try:
        return Path(path).is_dir() and bool(_find_live_dirs(Path(path)))
    except OSError:
        return False


# -- files ------------------------------------------------------------------


def read_tsv(path: Path, key: str, problems: list[str]) -> tuple[list[Point], bool]:
    """Points of one metric TSV, and whether its last line was cut short.

    The cut line is dropped and *not* reported here: the caller knows whether
    the run is still being written (then it is just the line being written).
    """
    try:
        raw = _read.read_bytes(path)
    except OSError as exc:
        problems.append(f"{path}: unreadable ({exc.strerror or exc})")
        return [], False
    return parse_tsv(raw.decode("utf-8", errors="replace"), path, key, problems)


def parse_tsv(text: str, path: Path, key: str, problems: list[str]) -> tuple[list[Point], bool]:
    """``read_tsv`` of the file's text (or its header line and rows appended since)."""
    cut = bool(text) and not text.endswith("\n")
    if cut:
        text = text[: text.rfind("\n") + 1]
    rows = list(csv.reader(io.StringIO(text), delimiter="\t"))
    if not rows:
        return [], cut
    header = rows[0]
    if "step" not in header:
        problems.append(f"{path}: no 'step' column in header {header!r}")
        return [], cut
    step_col = header.index("step")
    time_col = header.index("timestamp") if "timestamp" in header else None
    leaf = key.rsplit("/", 1)[-1]
    others = [i for i, h in enumerate(header) if i not in (step_col, time_col)]
    named = [i for i in others if header[i] in (leaf, key)]
    if named:
        value_col = named[0]
    elif len(others) == 1:
        value_col = others[0]
    else:
        problems.append(f"{path}: no value column for {key!r} in header {header!r}")
        return [], cut
    points: list[Point] = []
    bad: list[int] = []
    for lineno, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            bad.append(lineno)
            continue
        try:
            step = _int(row[step_col])
            value = float(row[value_col])
            t = float(row[time_col]) / 1000.0 if time_col is not None else None
        except ValueError:
            bad.append(lineno)
            continue
        points.append(Point(key, step, value, t))
    if bad:
        problems.append(f"{path}: {len(bad)} unreadable line(s) skipped, first at line {bad[0]}")
    return points, cut


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        as_float = float(text)
        if not as_float.is_integer():
            raise
        return int(as_float)


def _load_yaml(path: Path, problems: list[str]) -> Any:
    try:
        return yaml.safe_load(_read.read_bytes(path).decode("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        problems.append(f"{path}: unreadable YAML ({reason})")
        return None


def _load_json(path: Path, problems: list[str]) -> Any:
    try:
        return json.loads(_read.read_bytes(path).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        problems.append(f"{path}: unreadable JSON ({exc})")
        return None


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for k, v in tree.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            flat.update(_flatten(v, f"{name}/"))
        else:
            flat[name] = v
    return flat


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


# -- runs -------------------------------------------------------------------


def _run_identity(root: Path, live: Path) -> tuple[Path, str]:
    run_dir = live.parent if live.name == DEFAULT_DIR else live
    rel = os.path.relpath(run_dir, root)
    if rel == "." or rel.startswith(".."):
        return run_dir, run_dir.resolve().name
    return run_dir, Path(rel).as_posix()


def _artifacts(live: Path, run_dir: Path, problems: list[str]) -> list[Artifact]:
    out: list[Artifact] = []
    seen: set[Path] = set()
    for dvc_yaml in (live / "dvc.yaml", run_dir / "dvc.yaml"):
        if not dvc_yaml.is_file():
            continue
        doc = _load_yaml(dvc_yaml, problems)
        entries = doc.get("artifacts") if isinstance(doc, dict) else None
        if not isinstance(entries, dict):
            continue
        for spec in entries.values():
            rel = spec.get("path") if isinstance(spec, dict) else None
            if not isinstance(rel, str):
                continue
            p = (dvc_yaml.parent / rel).absolute()
            if p.is_file() and p not in seen:
                seen.add(p)
                out.append(_artifact(p, live))
    folder = live / "artifacts"
    if folder.is_dir():
        for p in sorted(folder.rglob("*")):
            p = p.absolute()
            if p.is_file() and p.suffix != ".dvc" and p not in seen:
                seen.add(p)
                out.append(_artifact(p, live))
    return out


def _artifact(p: Path, live: Path) -> Artifact:
    try:
        name = p.relative_to((live / "artifacts").absolute()).as_posix()
    except ValueError:
        name = p.name
    try:
        size: int | None = p.stat().st_size
    except OSError:
        size = None
    return Artifact(name=name, path=str(p), size=size)


def read_live_dir(
    root: Path, live: Path, problems: list[str], *, stale_after: float, now: float
) -> ForeignRun:
    """One run from one DVCLive directory. Never raises for bad content."""
    run_dir, source_id = _run_identity(root, live)
    params: dict[str, Any] = {}
    params_file = live / "params.yaml"
    if params_file.is_file():
        loaded = _load_yaml(params_file, problems)
        if isinstance(loaded, dict):
            params = {str(k): v for k, v in loaded.items()}
        elif loaded is not None:
            problems.append(f"{params_file}: not a mapping of params")

    points: list[Point] = []
    cut_files: list[Path] = []
    keys_with_history: set[str] = set()
    plots = live / "plots" / "metrics"
    tsvs = sorted(plots.rglob("*.tsv")) if plots.is_dir() else []
    for tsv in tsvs:
        key = tsv.relative_to(plots).with_suffix("").as_posix()
        got, cut = read_tsv(tsv, key, problems)
        keys_with_history.add(key)
        points.extend(got)
        if cut:
            cut_files.append(tsv)
    points.sort(key=lambda p: p.step)  # stable: per step, in file order

    extra: dict[str, Any] = {}
    metrics_file = live / "metrics.json"
    if metrics_file.is_file():
        summary = _load_json(metrics_file, problems)
        if isinstance(summary, dict):
            extra["summary"] = summary
            _check_summary(metrics_file, _flatten(summary), points, keys_with_history, problems)

    times = [p.t for p in points if p.t is not None]
    last_activity = max(times) if times else newest_mtime(live)
    created = min(times) if times else None
    if last_activity is not None and now - last_activity < stale_after:
        status, reason = "running", None
    else:
        short = epochs_short(params, points)
        if short is not None:
            status, reason = "crashed", f"{short}; DVCLive records no run status"
        else:
            status, reason = "finished", "inferred: DVCLive records no run status"
    for tsv in cut_files:
        if status != "running":  # a running writer may be mid-line
            problems.append(f"{tsv}: last line incomplete (cut mid-write), dropped")

    return ForeignRun(
        kind=KIND,
        source_path=str(live.absolute()),
        source_id=source_id,
        project=project_for(run_dir, root),
        name=dir_name(run_dir),
        params=params,
        points=points,
        status=status,
        status_reason=reason,
        created=created,
        ended=last_activity if status != "running" else None,
        last_activity=last_activity,
        artifacts=_artifacts(live, run_dir, problems),
        extra=extra,
    )


def _check_summary(
    path: Path,
    latest: dict[str, Any],
    points: list[Point],
    keys_with_history: set[str],
    problems: list[str],
) -> None:
    step = latest.pop("step", None)
    last: dict[str, Point] = {}
    for p in points:
        if p.key not in last or p.step >= last[p.key].step:
            last[p.key] = p
    differ: list[str] = []
    for key, value in latest.items():
        if not _is_number(value):
            continue
        if key in keys_with_history:
            if key in last and not _same(float(value), last[key].value):
                differ.append(key)
        elif _is_number(step):
            # logged with plot=False: metrics.json is its only record
            points.append(Point(key, int(step), float(value), None))
    if differ:
        problems.append(
            f"{path}: latest value differs from plots/metrics for {', '.join(sorted(differ))} "
            "(the plots are kept)"
        )


def read(
    path: Path,
    problems: list[str],
    *,
    stale_after: float = STALE_AFTER_S,
    now: float | None = None,
) -> Iterator[ForeignRun]:
    """Yield one run per DVCLive directory under ``path`` (see the module doc).

    A run with no news for ``stale_after`` seconds before ``now`` (default:
    the current time) is no longer taken as running.
    """
    root = Path(path)
    now = time.time() if now is None else now
    lives = find_runs(root, problems, _find_live_dirs)
    if lives is None:
        return
    yield from each_run(
        lives,
        problems,
        lambda place: read_live_dir(root, place, problems, stale_after=stale_after, now=now),
    )
