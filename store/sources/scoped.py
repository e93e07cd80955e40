"""Reading some runs of a source again, not all of them.

When a file of one run changes in a way its cursor cannot follow (a
rewritten ``trainer_state.json``, a Lightning ``metrics.csv`` that gained a
column, a new writer in a sub-folder), or a new run directory appears, the
source reads only the run(s) that own the changed paths: ``scoped`` finds,
for each path, the place its tool's reader reads one run from (a Lightning
``version_N``, a Trainer output directory, a run folder and the writers
folded into it, an MLflow run directory or database, a Trackio database,
the ``.wandb`` files of one run id) and reads just those places, with the
run identities (``source_id``, project) a read of the whole source gives:
every place is read relative to the source's root.

``scoped`` answers None when a path belongs to no place it can tell (an
MLflow experiment's ``meta.yaml``, a file of the whole source): then the
source is read again whole, as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ..importers.base import ForeignRun

#: kind -> (root, paths, problems, defer) -> runs, or None when it cannot tell
Scoper = Callable[[Path, list[Path], list[str], bool], Iterator[ForeignRun] | None]


def scoped(
    kind: str, root: Path, paths: list[Path], problems: list[str], *, defer: bool = True
) -> Iterator[ForeignRun] | None:
    """The runs of ``kind`` whose places hold (or are) ``paths``, read
    relative to ``root``; None when this kind cannot be read run by run."""
    fn = _SCOPERS.get(kind)
    if fn is None or not root.is_dir():
        return None
    return fn(root, [Path(p) for p in paths], problems, defer)


def _ancestors(path: Path, root: Path) -> list[Path]:
    """``path`` (when it is a directory) and its folders up to ``root``, deepest first."""
    out: list[Path] = []
    here = path if path.is_dir() else path.parent
    while True:
        if here != root and root not in here.parents:
            return out
        out.append(here)
        if here == root:
            return out
        here = here.parent


def _places(
    root: Path, paths: list[Path], claims: Callable[[Path], Path | None], *, outermost: bool
) -> list[Path]:
    """For each path, the deepest (or outermost) folder above it that ``claims`` maps to a place."""
    found: dict[Path, None] = {}
    for path in paths:
        chain = _ancestors(path, root)
        if outermost:
            chain.reverse()
        for a in chain:
            place = claims(a)
            if place is not None:
                found[place] = None
                break
    return list(found)


def _now() -> float:
    return time.time()


def _each(places: list[Path], problems: list[str], read_one: Callable[[Path], ForeignRun]):
    from ..importers.base import each_run

    return each_run(places, problems, read_one)


# -- one kind each ----------------------------------------------------------------------


def _lightning(root: Path, paths: list[Path], problems: list[str], defer: bool):
    from ..importers import lightning as m

    places = _places(root, paths, lambda a: a if m.is_version_dir(a) else None, outermost=True)
    now = _now()
    return _each(
        places,
        problems,
        lambda p: m.read_version_dir(root, p, problems, stale_after=m.STALE_AFTER_S, now=now),
    )


def _hf(root: Path, paths: list[Path], problems: list[str], defer: bool):
    from ..importers import hf as m

    places = _places(root, paths, lambda a: a if m.is_output_dir(a) else None, outermost=True)
    now = _now()
    return _each(
        places,
        problems,
        lambda p: m.read_output_dir(root, p, problems, stale_after=m.STALE_AFTER_S, now=now),
    )


def _ultralytics(root: Path, paths: list[Path], problems: list[str], defer: bool):
    from ..importers import ultralytics as m

    def claims(a: Path) -> Path | None:
        if not (a / "args.yaml").is_file():
            return None
        ok = m._looks_like_run_dir(a) or m._args_look_like_ultralytics(a / "args.yaml")
        return a if ok else None

    places = _places(root, paths, claims, outermost=False)
    now = _now()
    return _each(
        places,
        problems,
        lambda p: m._read_run(root, p, problems, stale_after=m.STALE_AFTER_S, now=now),
    )


def _dvclive(root: Path, paths: list[Path], problems: list[str], defer: bool):
    from ..importers import dvclive as m

    def claims(a: Path) -> Path | None:
        if m.is_live_dir(a):
            return a
        if m.is_live_dir(a / m.DEFAULT_DIR):
            return a / m.DEFAULT_DIR
        return None

    places = _places(root, paths, claims, outermost=False)
    now = _now()
    return _each(
        places,
        problems,
        lambda p: m.read_live_dir(root, p, problems, stale_after=m.STALE_AFTER_S, now=now),
    )


def _tensorboard(root: Path, paths: list[Path], problems: list[str], defer: bool):
    """Every run folder (with the writers the reader folds into it) that
    holds a path, and every writer below such a folder: whether a child
    folds into its parent is settled by the reader while reading."""
    from ..importers import tensorboard as m

    event_dirs = m._find_run_dirs(root)
    if defer:
        seen: dict[Path, bool] = {}
        event_dirs = {d: f for d, f in event_dirs.items() if not m._deferred(d, root, seen)}
    plans = m.plan_runs(root, event_dirs)
    chosen: set[Path] = set()
    for owner in plans:
        if any(p == owner or owner in p.parents for p in paths):
            chosen.add(owner)
    if not chosen:
        return iter(())
    dirs = {
        d: files
        for d, files in event_dirs.items()
        if any(d == o or o in d.parents or m._owner(d, root)[0] == o for o in chosen)
    }
    return m.read_runs(root, dirs, problems, stale_after=m.STALE_AFTER_S, now=_now())


def _mlflow(root: Path, paths: list[Path], problems: list[str], defer: bool):
    """An MLflow run directory (its experiment's name from the folder above),
    or a database, read as ``mlflow.read`` reads either."""
    from ..importers import _mlflow_sqlite
    from ..importers import mlflow as m

    places: dict[Path, None] = {}
    for path in paths:
        if path.is_file() and _mlflow_sqlite.is_mlflow_db(path, None):
            places[path] = None
            continue
        for a in _ancestors(path, root):
            meta = m._load_meta(a / "meta.yaml")
            if isinstance(meta, dict) and m._is_run_meta(meta):
                places[a] = None
                break
        else:
            if path.exists():
                return None  # an experiment's or a store's file: read it all again

    def runs() -> Iterator[ForeignRun]:
        for place in places:
            yield from m.read(place, problems)

    return runs()


def _sqlite_file(module: str) -> Scoper:
    def fn(root: Path, paths: list[Path], problems: list[str], defer: bool):
        import importlib

        m = importlib.import_module(f"trackui.store.importers.{module}")
        dbs = [p for p in paths if p.is_file() and m.detect(p)]
        if len(dbs) != len([p for p in paths if p.exists()]):
            return None

        def runs() -> Iterator[ForeignRun]:
            for db in dbs:
                yield from m.read(db, problems)

        return runs()

    return fn


def _wandb(root: Path, paths: list[Path], problems: list[str], defer: bool):
    """All ``.wandb`` files of each run id that a path lies in the folder of."""
    from ..importers import wandb as m

    files = m._find_run_files(root)
    by_id: dict[str, list[Path]] = {}
    for f in files:
        by_id.setdefault(m._file_run_id(f), []).append(f)
    chosen = [
        group
        for group in by_id.values()
        if any(f.parent == p or f.parent in p.parents or f == p for f in group for p in paths)
    ]

    def runs() -> Iterator[ForeignRun]:
        now = _now()
        for group in chosen:
            segments = []
            for f in group:
                try:
                    run = m.read_run_file(f, root, problems, stale_after=m.STALE_AFTER_S, now=now)
                except Exception as exc:  # noqa: BLE001 - as the reader: one bad run is skipped
                    problems.append(f"{f}: skipped: {type(exc).__name__}: {exc}")
                    continue
                if run is not None:
                    segments.append(run)
            if len(segments) == 1:
                yield segments[0]
            elif segments:
                yield m.merge_resumed(segments)

    return runs()


_SCOPERS: dict[str, Scoper] = {
    "lightning": _lightning,
    "hf": _hf,
    "ultralytics": _ultralytics,
    "dvclive": _dvclive,
    "tensorboard": _tensorboard,
    "mlflow": _mlflow,
    "trackio": _sqlite_file("trackio"),
    "wandb": _wandb,
}


# -- how many runs a first read will find (for its progress) ---------------------------


def count_runs(kind: str, root: Path, *, defer: bool = True) -> int | None:
    """About how many runs ``kind``'s reader finds under ``root``, by listing
    (what ``reading N of M runs`` says); None when it cannot tell cheaply."""
    try:
        fn = _COUNTERS.get(kind)
        return None if fn is None else fn(root, defer)
    except (OSError, ValueError):
        return None


def _count_tensorboard(root: Path, defer: bool) -> int:
    from ..importers import tensorboard as m

    event_dirs = m._find_run_dirs(root)
    top = root.parent if root.is_file() else root
    if defer:
        seen: dict[Path, bool] = {}
        event_dirs = {d: f for d, f in event_dirs.items() if not m._deferred(d, top, seen)}
    return len(m.plan_runs(top, event_dirs))


def _count_mlflow(root: Path, defer: bool) -> int:
    import sqlite3

    from ..importers import _sqlite
    from ..importers import mlflow as m

    def runs_in(experiment: Path) -> int:
        return sum(1 for d in experiment.iterdir() if (d / "meta.yaml").is_file())

    total = 0
    for what, target in m._targets(root):
        if what == "run":
            total += 1
        elif what == "experiment":
            total += runs_in(target)
        elif what == "store":
            total += sum(
                runs_in(e) for e in target.iterdir() if e.is_dir() and (e / "meta.yaml").is_file()
            )
        else:
            try:
                with _sqlite.connect(target) as conn:
                    total += int(conn.execute("SELECT count(*) FROM runs").fetchone()[0])
            except sqlite3.Error:
                pass
    return total


def _count_wandb(root: Path, defer: bool) -> int:
    from ..importers import wandb as m

    return len({m._file_run_id(f) for f in m._find_run_files(root)})


def _count_found(module: str, finder: str) -> Callable[[Path, bool], int]:
    def fn(root: Path, defer: bool) -> int:
        import importlib

        m = importlib.import_module(f"trackui.store.importers.{module}")
        if module == "ultralytics":
            return len(list(m._find_run_dirs(root, []))) if root.is_dir() else 0
        if module == "dvclive" and not root.is_dir():
            return 0
        return len(getattr(m, finder)(root))

    return fn


_COUNTERS: dict[str, Callable[[Path, bool], int]] = {
    "lightning": _count_found("lightning", "_find_version_dirs"),
    "hf": _count_found("hf", "_find_output_dirs"),
    "ultralytics": _count_found("ultralytics", "_find_run_dirs"),
    "dvclive": _count_found("dvclive", "_find_live_dirs"),
    "tensorboard": _count_tensorboard,
    "mlflow": _count_mlflow,
    "wandb": _count_wandb,
}
