"""Keeping a store tidy: the trash, tags and names, and the catalog cache.

Run directories are the truth, so every change here is a change to them:
``trash`` moves ``<root>/<project>/<run>`` to ``<root>/.trash/<project>/<run>``
(the catalog skips dot-folders, so the run leaves the list at the next
refresh, and comes back when ``restore`` moves it home); ``retag`` and
``rename`` replace ``meta.json`` atomically (temp file + rename) with every
other field kept as it was.
The catalog cache (``trackui cache``) is ``cache.py``'s.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import bounded_json, paths
from .fmt import repair
from .opener import Opener, UnsafeFile
from .runfiles import atomic_write_json, read_json

TRASH = ".trash"
#: Under the cache directory: the stores made to read a folder of other
#: tools' runs through (each names it in its ``.sources.json``).
READ_THROUGH = "sources"
#: A meta.json larger than this is not one the writer made: left alone.
META_LIMIT = 1 << 20


class TidyError(Exception):
    """A change refused, with a message fit for one line."""


# -- the run's directory -----------------------------------------------------------


def run_dir(root: str | os.PathLike[str], location: str) -> Path:
    """The directory of a run the catalog lists at ``location``, checked to be
    a real directory two levels below ``root`` (not a link out of it)."""
    path = Path(location)
    if repair(location, path=True) != location or not path.is_dir() or path.is_symlink():
        raise TidyError(f"run directory {repair(location, path=True)} is not a plain directory")
    real_root = os.path.realpath(root)
    if os.path.realpath(path.parent.parent) != real_root or path.parent.is_symlink():
        raise TidyError(
            f"run directory {repair(location, path=True)} is not <project>/<run> in the store"
        )
    return path


# -- what may be changed ------------------------------------------------------------

_RUN_FIELDS = ("id", "project", "name", "status", "dir", "kind", "origin", "box", "location")


def run_rows(catalog: Any, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """What deciding a change needs, per run id the catalog lists."""
    if not run_ids:
        return {}
    marks = ", ".join("?" for _ in run_ids)
    rows = catalog.query(
        "SELECT run_id, project, name, status, dir, source_kind, source_path, "
        f"coalesce(box, 'local'), location FROM runs WHERE run_id IN ({marks})",
        list(run_ids),
    )
    return {row[0]: dict(zip(_RUN_FIELDS, row)) for row in rows}


def refusal(verb: str, run: dict[str, Any], root: str | os.PathLike[str]) -> str | None:
    """Why ``verb`` (rm, tag, rename) must leave this run alone, in one line;
    None when it may go ahead. Runs of other tools are theirs to change, and
    a running run stays where its writer is writing."""
    who = f"{run['project']}/{run['name']}"
    if run.get("box", "local") != "local":
        return (
            f"cannot {verb} {who}: it is a run on {run['box']} ({run.get('location')}), "
            f"read over ssh; trackui {verb} changes runs on this machine only"
        )
    if run.get("kind") or imported_store(root):
        tool = run.get("kind") or "another tool"
        where = f" ({run['origin']})" if run.get("origin") else ""
        return (
            f"cannot {verb} {who}: it is a run of {tool}{where}, read from its own files; "
            f"trackui {verb} changes trackui's own runs only (change it in {tool})"
        )
    if verb == "rm" and run.get("status") == "running":
        return f"cannot rm {who}: it is running (its heartbeat is fresh); stop it first"
    return None


def imported_store(root: str | os.PathLike[str]) -> bool:
    """Whether ``root`` is a store trackui made for a folder of other tools'
    runs (a read-through store, or an imported copy)."""
    real = os.path.realpath(root)
    return any(
        real.startswith(os.path.realpath(paths.cache_dir() / sub) + os.sep)
        for sub in (READ_THROUGH, "imported")
    )


@dataclass(frozen=True)
class Outcome:
    """What a change to several runs did: the runs changed, and one line
    per run it left alone."""

    done: tuple[str, ...]
    refused: tuple[str, ...]


def tag_runs(
    store: Any, run_ids: Sequence[str], add: Sequence[str], remove: Sequence[str]
) -> Outcome:
    """``retag`` each run of ``store`` (a ``Store``) that may be changed."""
    return _each(store, run_ids, "tag", lambda path: retag(store.root, path, add, remove))


def trash_runs(store: Any, run_ids: Sequence[str]) -> Outcome:
    """Move each run of ``store`` that may go to its trash."""
    return _each(store, run_ids, "rm", lambda path: trash(store.root, path))


def _each(store: Any, run_ids: Sequence[str], verb: str, change: Any) -> Outcome:
    rows = run_rows(store.catalog, run_ids)
    done: list[str] = []
    refused: list[str] = []
    for run_id in run_ids:
        run = rows.get(run_id)
        if run is None:
            refused.append(f"no run {run_id} in the store any more")
            continue
        why = refusal(verb, run, store.root)
        if why is None:
            try:
                change(run_dir(store.root, run["dir"] or ""))
                done.append(run_id)
                continue
            except TidyError as exc:
                why = str(exc)
            except OSError as exc:
                why = f"cannot {verb} {run['project']}/{run['name']}: {exc.strerror or exc}"
        refused.append(why)
    return Outcome(tuple(done), tuple(refused))


# -- the trash ----------------------------------------------------------------------


@dataclass(frozen=True)
class Trashed:
    """A run in the trash."""

    id: str  # its directory name
    project: str
    name: str
    path: Path
    trashed: float  # when it was moved there (the directory's ctime)


def trash(root: str | os.PathLike[str], path: Path) -> Path:
    """Move a run directory into the store's trash; where it went."""
    dest = Path(root) / TRASH / path.parent.name / path.name
    if dest.exists():
        raise TidyError(f"the trash already holds {path.parent.name}/{path.name}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.rename(path, dest)
    return dest


def trashed(root: str | os.PathLike[str]) -> list[Trashed]:
    """Every run in the trash, most recently trashed first."""
    out = []
    base = Path(root) / TRASH
    try:
        projects = sorted(os.scandir(base), key=lambda e: e.name)
    except OSError:
        return []
    for project in projects:
        if not project.is_dir(follow_symlinks=False):
            continue
        try:
            entries = list(os.scandir(project.path))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            meta = _meta_or_empty(Path(entry.path))
            name = meta.get("name") if isinstance(meta.get("name"), str) else entry.name
            shown_project = meta.get("project")
            if not isinstance(shown_project, str):
                shown_project = project.name
            try:
                when = entry.stat(follow_symlinks=False).st_ctime
            except OSError:
                when = 0.0
            out.append(
                Trashed(
                    repair(entry.name, path=True),
                    repair(shown_project),
                    repair(name),
                    Path(entry.path),
                    when,
                )
            )
    out.sort(key=lambda t: (-t.trashed, t.id))
    return out


def find_trashed(root: str | os.PathLike[str], ref: str) -> Trashed:
    """The one trashed run ``ref`` names: its id, ``project/name``, a unique
    name, or a unique id prefix."""
    items = trashed(root)
    text = ref.strip()
    if not text:
        raise TidyError("empty run name")
    for match in (
        lambda t: t.id == text or f"{t.path.parent.name}/{t.id}" == text,
        lambda t: f"{t.project}/{t.name}" == text,
        lambda t: t.name == text,
        lambda t: t.id.startswith(text),
    ):
        hits = [t for t in items if match(t)]
        if len(hits) == 1:
            return hits[0]
        if hits:
            shown = ", ".join(f"{t.project}/{t.name} ({t.id})" for t in hits[:6])
            raise TidyError(f"'{text}' names {len(hits)} runs in the trash: {shown} (use an id)")
    raise TidyError(f"no run '{text}' in the trash (trackui restore --list shows it)")


def restore(root: str | os.PathLike[str], item: Trashed) -> Path:
    """Move a trashed run back to ``<root>/<project>/<run>``; where it went."""
    dest = Path(root) / item.path.parent.name / item.path.name
    if dest.exists():
        raise TidyError(
            f"cannot restore {item.id}: {item.path.parent.name}/{item.path.name} exists in the store"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.rename(item.path, dest)
    project = Path(root) / TRASH / item.path.parent.name
    try:
        project.rmdir()  # only when empty
    except OSError:
        pass
    return dest


# -- meta.json edits ------------------------------------------------------------------


def read_meta(root: str | os.PathLike[str], path: Path) -> dict[str, Any]:
    """A run's meta.json as written (valid UTF-8, bounded, a regular file)."""
    try:
        data, _ = Opener(root).read(path / paths.META, limit=META_LIMIT)
    except FileNotFoundError:
        raise TidyError(f"{path.name} has no {paths.META}") from None
    except UnsafeFile as exc:
        raise TidyError(f"{path.name}/{paths.META}: {exc.reason}") from None
    try:
        text = data.decode("utf-8")
        if bounded_json.depth(data) > bounded_json.MAX_DEPTH:
            raise ValueError("nested too deep")
        doc = json.loads(text)
    except ValueError as exc:
        raise TidyError(
            f"{path.name}/{paths.META} is not readable JSON ({exc}); left as it is"
        ) from None
    if not isinstance(doc, dict):
        raise TidyError(f"{path.name}/{paths.META} is not a JSON object; left as it is")
    return doc


def retag(
    root: str | os.PathLike[str], path: Path, add: Sequence[str], remove: Sequence[str]
) -> list[str]:
    """Add and remove tags (in that order, each once, order kept); the new tags."""
    meta = read_meta(root, path)
    tags = meta.get("tags")
    if tags is None:
        tags = []
    elif isinstance(tags, str):
        tags = [tags]
    elif not isinstance(tags, list):
        raise TidyError(f"{path.name}/{paths.META}: tags is not a list; left as it is")
    new = list(tags)
    for tag in add:
        if tag not in new:
            new.append(tag)
    new = [t for t in new if t not in set(remove)]
    if new != tags or "tags" not in meta:
        meta["tags"] = new
        atomic_write_json(path / paths.META, meta)
    return [t if isinstance(t, str) else json.dumps(t) for t in new]


def rename(root: str | os.PathLike[str], path: Path, name: str) -> str:
    """Give a run a new name (its directory keeps its id); the old name."""
    meta = read_meta(root, path)
    old = meta.get("name")
    meta["name"] = name
    atomic_write_json(path / paths.META, meta)
    return old if isinstance(old, str) else ""


def check_text(what: str, text: str) -> str:
    """A name or tag as given, or a TidyError: empty, or with a control character."""
    if not text.strip():
        raise TidyError(f"empty {what}")
    if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in text) or repair(text) != text:
        raise TidyError(f"{what} {text!r} holds a control character or invalid text")
    return text


def _meta_or_empty(path: Path) -> dict[str, Any]:
    meta = path / paths.META
    if meta.is_symlink():
        return {}
    try:
        if meta.stat().st_size > META_LIMIT:
            return {}
    except OSError:
        return {}
    return read_json(meta) or {}
