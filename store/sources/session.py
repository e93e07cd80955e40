"""What one ``trackui SPEC…`` opens: the sources named on the command line
(or in config.toml, or last time), and the store root whose catalog reads
them all.

A spec is a local path or ``host:path`` (``store/remote/spec.py``); a local
path that exists wins over a ``host:path`` reading of it, as scp and rsync
read ``./a:b``. One local trackui store is opened as itself; one local
folder of other tools' runs through ``read_through_store``; anything else
(several specs, or a remote one) through a *session root* under the cache
directory, an empty store whose ``.sources.json`` lists every spec with its
box (the ssh alias as typed, ``local`` here) and location (the spec as
typed). ``sources_of`` (``__init__.py``) turns that list into sources.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import paths
from ..catalog_schema import CatalogError
from ..models import SourceState
from ..remote.spec import RemoteSpec, SpecError
from ..remote.spec import parse as parse_remote

#: Under the cache directory: the roots of sessions of several sources.
SESSIONS = "sessions"
#: Under the cache directory: the set of specs opened last (``trackui --last``).
LAST_FILE = "last-sources.json"
#: The kind of a local or remote trackui store among the sources.
NATIVE = "trackui"


class SourceError(CatalogError):
    """A spec that names nothing trackui can read; ``str()`` is one line."""


@dataclass(frozen=True)
class SourceSpec:
    """One source as typed: ``box`` is ``local`` or the ssh alias as typed,
    ``location`` the spec as typed (a local one made absolute, so a session
    opened from another directory is the same session)."""

    text: str
    box: str
    location: str
    path: Path | None = None  # a local source
    remote: RemoteSpec | None = None
    #: ``trackui`` for a trackui store, another tool's kind, or None (not
    #: known yet: a remote source is told once its files are listed).
    kind: str | None = None

    @property
    def is_remote(self) -> bool:
        return self.remote is not None

    def entry(self) -> dict[str, Any]:
        """Its line in a session's ``.sources.json``."""
        doc: dict[str, Any] = {"kind": self.kind, "box": self.box, "location": self.location}
        if self.remote is not None:
            doc["remote"] = self.text
        else:
            doc["path"] = str(self.path)
        return doc


def parse_specs(specs: Sequence[str | SourceSpec]) -> list[SourceSpec]:
    """Each spec parsed (each once, in order); SourceError for one that names
    nothing: a local path that does not exist, a host part that is not one."""
    out: list[SourceSpec] = []
    for item in specs:
        spec = item if isinstance(item, SourceSpec) else parse_spec(item)
        if all(s.location != spec.location for s in out):
            out.append(spec)
    return out


def parse_spec(text: str) -> SourceSpec:
    raw = os.fspath(text)
    local = Path(raw).expanduser()
    if raw and local.exists():
        path = Path(os.path.abspath(local))
        return SourceSpec(raw, "local", str(path), path=path, kind=local_kind(path))
    try:
        remote = parse_remote(raw)
    except SpecError as exc:
        raise SourceError(str(exc)) from None
    if remote is None:
        raise SourceError(f"no such directory: {raw}")
    return SourceSpec(raw, remote.box, raw, remote=remote)


def local_kind(path: Path) -> str | None:
    """``trackui`` for a trackui store (or an empty folder), else the first
    kind of foreign runs found, else None (the reader decides later)."""
    from ..importers import detect_kinds, is_trackui_store

    if path.is_dir() and (is_trackui_store(path) or looks_native(path) or _empty(path)):
        return NATIVE
    kinds = detect_kinds(path)
    return kinds[0] if kinds else None


def looks_native(path: Path, limit: int = 5000) -> bool:
    """``<project>/<run>/meta.json`` (or another file only trackui's runs
    have: metrics.jsonl, events.jsonl, heartbeat) near the top: a store,
    also one whose meta.json was lost. A ``config.json`` or ``console.log``
    alone does not count: other tools write those too (a Hugging Face
    ``checkpoint-N/config.json`` under an output folder)."""
    names = {paths.META, paths.METRICS, paths.EVENTS, paths.HEARTBEAT}
    seen = 0
    try:
        for project in os.scandir(path):
            if project.name.startswith(".") or not project.is_dir(follow_symlinks=False):
                continue
            for run in os.scandir(project.path):
                seen += 1
                if seen > limit:
                    return False
                if run.is_dir(follow_symlinks=False) and any(
                    os.path.lexists(os.path.join(run.path, n)) for n in names
                ):
                    return True
    except OSError:
        return False
    return False


def _empty(path: Path) -> bool:
    try:
        return not any(not e.name.startswith(".") for e in os.scandir(path))
    except OSError:
        return False


def session_root(specs: Sequence[str | SourceSpec], *, kind: str | None = None) -> Path:
    """The store root whose catalog reads every spec (see the module docstring).
    Deterministic for the same ordered set of specs."""
    from . import bind_all, read_through_store

    parsed = parse_specs(specs)
    if not parsed:
        raise SourceError("no source named")
    if len(parsed) == 1 and not parsed[0].is_remote:
        only = parsed[0]
        assert only.path is not None
        if kind is None and only.kind == NATIVE:
            return only.path
        return read_through_store(only.path, kind or only.kind)
    if kind is not None:
        parsed = [
            s if s.kind == NATIVE and not s.is_remote else _with_kind(s, kind) for s in parsed
        ]
    key = "\0".join(f"{s.box}\0{s.location}\0{s.kind or ''}" for s in parsed)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    label = paths.safe_segment("+".join(s.box for s in parsed))[:40]
    root = paths.cache_dir() / SESSIONS / f"{label}-{digest}"
    bind_all(root, [s.entry() for s in parsed])
    return root


def _with_kind(spec: SourceSpec, kind: str) -> SourceSpec:
    return SourceSpec(spec.text, spec.box, spec.location, spec.path, spec.remote, kind)


# -- remembered and configured sets -------------------------------------------------


def remember_last(specs: Sequence[str]) -> None:
    """Note the set just opened, for ``trackui --last`` (best effort)."""
    target = paths.cache_dir() / LAST_FILE
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{LAST_FILE}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"sources": [str(s) for s in specs]}), encoding="utf-8")
        os.replace(tmp, target)
    except OSError:
        pass


def last_specs() -> list[str] | None:
    """The set opened last, or None when there is none."""
    try:
        doc = json.loads((paths.cache_dir() / LAST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    items = doc.get("sources") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        return None
    return list(items)


def _config() -> dict[str, Any]:
    path = paths.config_dir() / "config.toml"
    try:
        import tomllib

        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except (ImportError, OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def configured_sources() -> list[str]:
    """The ``sources = [...]`` list of config.toml (empty when absent)."""
    raw = _config().get("sources")
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        return []
    return [s for s in raw if isinstance(s, str) and s]


def ssh_command() -> list[str]:
    """The ssh to run: ``$TRACKUI_SSH`` (shell words), else ``ssh = "…"`` in
    config.toml, else ``ssh``."""
    for raw in (os.environ.get("TRACKUI_SSH"), _config().get("ssh")):
        if isinstance(raw, str) and raw.strip():
            try:
                words = shlex.split(raw)
            except ValueError:
                continue
            if words:
                return words
    return ["ssh"]


# -- how the sources are doing ----------------------------------------------------


def source_states(catalog: Any) -> list[SourceState]:
    """A ``SourceState`` per source of ``catalog`` (none for a single store)."""
    counts: dict[tuple[str, str], int] = {}
    if catalog.sources:
        for box, location, n in catalog.query(
            "SELECT coalesce(box, 'local'), location, count(*) FROM runs GROUP BY ALL"
        ):
            counts[(box, location or "")] = n
    out = []
    for source in catalog.sources:
        location = str(source.location)
        runs = counts.get((source.box, location), 0)
        if getattr(source, "is_remote", False):
            out.append(
                SourceState(
                    location=location,
                    box=source.box,
                    kind=source.kind or None,
                    state=source.status,
                    since=source.since,
                    error=source.error,
                    runs=runs,
                    bytes_read=source.bytes_read,
                    bytes_sent=source.bytes_sent,
                )
            )
            continue
        progress = getattr(source, "progress", None)
        out.append(
            SourceState(
                location=location,
                box="local",
                kind=source.kind,
                state="ok",
                since=None,
                error=None,
                runs=runs,
                bytes_read=int(getattr(progress, "bytes_read", 0) or 0),
            )
        )
    return out
