"""Import runs written by other tools into a store, as ordinary trackui runs.

Each reader (one module per tool) yields ``ForeignRun``s; ``write_foreign_run``
turns one into a run directory of format 1 with a ``source.json`` saying
where it came from. Re-importing is idempotent and incremental: the metrics
file only grows when the source grew (its bytes are appended), and is
replaced by atomic rename when the source changed its past (e.g. a resumed
Ultralytics run that re-did an epoch). Nothing is ever written into the
source directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from .. import paths, system
from ..runfiles import atomic_write_json, read_json
from ..status import STALE_INTERVALS
from .base import ForeignRun, Point

#: Reader modules, in the order detection tries them.
#: Lightning and Hugging Face come before TensorBoard, whose reader leaves
#: their directories to them (one training is one run, however many writers).
KINDS = (
    "ultralytics",
    "mlflow",
    "lightning",
    "hf",
    "tensorboard",
    "dvclive",
    "wandb",
    "trackio",
)
_ALIASES = {
    "yolo": "ultralytics",
    "tensorboardx": "tensorboard",
    "tb": "tensorboard",
    "pytorch_lightning": "lightning",
    "pl": "lightning",
    "huggingface": "hf",
    "transformers": "hf",
}
#: Where system metrics (``system/gpu0.util``...) of an imported run go: the
#: file the writer's sampler writes (docs/format.md), lines of the same shape.
SYSTEM_FILE = system.SYSTEM_FILE
#: Held (flock) while an import writes into a store: two imports of one
#: source at once take turns, and the second finds the first one's runs.
LOCK_FILE = ".import.lock"
#: Imported runs that look alive turn "crashed" after this long without news.
DEFAULT_STALE_AFTER = 900.0


class ImportError_(Exception):
    """A bad import request (unknown kind, missing path), fit for one line."""


class KindMismatch(ImportError_):
    """``--kind K`` names a tool whose runs are not under the path."""


@dataclass
class ImportReport:
    """What an import read: runs, points and the problems met."""

    runs: int = 0
    new_runs: int = 0
    updated_runs: int = 0
    points: int = 0
    new_points: int = 0
    problems: list[str] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.kinds.items())) or "none"
        text = (
            f"imported {self.runs} runs ({kinds}; {self.new_runs} new, {self.updated_runs} updated), "
            f"{self.points:,} points ({self.new_points:,} new)"
        )
        if self.problems:
            text += f"; skipped {len(self.problems)}: " + "; ".join(self.problems)
        return text


def canonical_kind(kind: str) -> str:
    return _ALIASES.get(kind.lower(), kind.lower())


def reader(kind: str) -> ModuleType:
    kind = canonical_kind(kind)
    if kind not in KINDS:
        raise ImportError_(f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    try:
        return importlib.import_module(f"{__name__}.{kind}")
    except ModuleNotFoundError as exc:
        raise ImportError_(f"the {kind} importer is not available: {exc}") from None


def detect_kinds(path: Path) -> list[str]:
    """Every kind of foreign run found under ``path``."""
    found = []
    for kind in KINDS:
        try:
            module = reader(kind)
        except ImportError_:
            continue
        try:
            if module.detect(path):
                found.append(kind)
        except OSError:
            continue
    return found


def is_trackui_store(path: Path) -> bool:
    """A directory holding trackui run directories (``<project>/<run>/meta.json``)."""
    try:
        for project in os.scandir(path):
            if project.is_dir() and not project.name.startswith("."):
                for run in os.scandir(project.path):
                    meta = os.path.join(run.path, paths.META)
                    if run.is_dir() and os.path.exists(meta):
                        doc = read_json(Path(meta)) or {}
                        return "format" in doc
    except OSError:
        return False
    return False


def _identity(run: ForeignRun) -> str:
    raw = f"{run.kind}\0{os.path.realpath(run.source_path)}\0{run.source_id}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _existing(root: Path) -> dict[str, Path]:
    """identity -> run directory of every imported run already in the store."""
    out: dict[str, Path] = {}
    for source in root.glob(f"*/*/{paths.SOURCE}"):
        doc = read_json(source) or {}
        if doc.get("identity"):
            out[doc["identity"]] = source.parent
    return out


def _metric_lines(run: ForeignRun) -> bytes:
    """Points as metrics.jsonl lines: consecutive points sharing step and time
    share a line, as a ``log()`` call would have written them."""
    return _metric_rows(run)[0]


#: How ``json.dumps`` writes the floats that ``repr`` writes otherwise.
_JSON_SPECIAL = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _metric_rows(run: ForeignRun) -> tuple[bytes, list[tuple[int, int]]]:
    """``_metric_lines`` and, for every line, (byte offset, number of points).

    Each line is exactly ``json.dumps`` of the row dict (keys in insertion
    order, default separators, ``NaN``/``Infinity`` for non-finite floats),
    written out directly: the keys' JSON is computed once per name, numbers
    are ``repr``'d as the json module does. A key that is not a ``str``
    sends the whole run through ``json.dumps``.
    """
    keys: dict[str, str] = {}
    special = _JSON_SPECIAL
    isfinite = math.isfinite
    float_repr = float.__repr__
    dumps = json.dumps
    lines: list[str] = []
    rows: list[tuple[int, int]] = []
    offset = 0
    parts: list[str] = []
    seen: set[str] = set()
    step: Any = None
    t: float | None = None
    open_row = False
    for p in run.points:
        key = p.key
        if key == "_step" or key == "_t":
            continue
        try:
            value = float(p.value)
        except (TypeError, ValueError, OverflowError):
            continue
        pt = p.t
        pt = None if pt is None or not isfinite(pt) else float(pt)
        if not open_row or step != p.step or t != pt or key in seen:
            if open_row:
                line = "{" + ", ".join(parts) + "}"
                lines.append(line)
                rows.append((offset, len(seen)))
                offset += len(line) + 1
            step = int(p.step)
            t = pt
            parts = ['"_step": ' + repr(step)]
            if t is not None:
                text = float_repr(t)
                parts.append('"_t": ' + special.get(text, text))
            seen = set()
            open_row = True
        encoded = keys.get(key)
        if encoded is None:
            if not isinstance(key, str):
                return _metric_rows_by_json(run)
            encoded = keys[key] = dumps(key) + ": "
        text = float_repr(value)
        parts.append(encoded + special.get(text, text))
        seen.add(key)
    if open_row:
        lines.append("{" + ", ".join(parts) + "}")
        rows.append((offset, len(seen)))
    # ensure_ascii: one character is one byte
    return (("\n".join(lines) + "\n").encode() if lines else b""), rows


def _metric_rows_by_json(run: ForeignRun) -> tuple[bytes, list[tuple[int, int]]]:
    """``_metric_rows`` through ``json.dumps``, for keys that are not strings."""
    out: list[str] = []
    row: dict[Any, Any] | None = None
    for p in run.points:
        if p.key in ("_step", "_t"):
            continue
        try:
            value = float(p.value)
        except (TypeError, ValueError, OverflowError):
            continue
        t = None if p.t is None or not math.isfinite(p.t) else float(p.t)
        if row is None or row["_step"] != p.step or row.get("_t") != t or p.key in row:
            if row is not None:
                out.append(json.dumps(row))
            row = {"_step": int(p.step)}
            if t is not None:
                row["_t"] = t
        row[p.key] = value
    if row is not None:
        out.append(json.dumps(row))
    rows = []
    offset = 0
    for line in out:
        # counted as read back: keys 1 and "1" are one key in JSON
        count = sum(1 for k in json.loads(line) if k not in ("_step", "_t"))
        rows.append((offset, count))
        offset += len(line) + 1
    return (("\n".join(out) + "\n").encode() if out else b""), rows


def _system_lines(points: list[Point]) -> bytes:
    """System samples as the writer's system.jsonl lines: one line per sample,
    ``{"_t": seconds, "system/<series>": value, ...}`` (no ``_step``)."""
    lines: list[str] = []
    row: dict[str, Any] = {}
    sample: tuple[int, float | None] | None = None
    for p in points:
        try:
            value = float(p.value)
        except (TypeError, ValueError, OverflowError):
            continue
        t = p.t if p.t is not None and math.isfinite(p.t) else None
        if sample != (p.step, t) or p.key in row:
            if row:
                lines.append(json.dumps(row))
            row = {} if t is None else {"_t": t}
            sample = (p.step, t)
        row[p.key] = value
    if row:
        lines.append(json.dumps(row))
    return "".join(line + "\n" for line in lines).encode()


def _jsonl(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, default=str) + "\n" for r in records).encode()


def _sync_bytes(path: Path, data: bytes, *, appendable: bool) -> int:
    """Make ``path`` hold ``data``: append when the file is a prefix of it
    (and ``appendable``), else replace by atomic rename. Returns bytes added."""
    try:
        old = path.read_bytes()
    except OSError:
        old = None
    if old == data:
        return 0
    if appendable and old is not None and data.startswith(old):
        with open(path, "ab") as fh:
            fh.write(data[len(old) :])
        return len(data) - len(old)
    # a name of its own: two importers never share a temp file
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return len(data)


def write_foreign_run(
    root: Path,
    run: ForeignRun,
    *,
    project: str | None = None,
    existing: dict[str, Path] | None = None,
    now: float | None = None,
) -> tuple[Path, bool, int]:
    """Write or update one imported run. Returns (run dir, is new, new points)."""
    identity = _identity(run)
    existing = _existing(root) if existing is None else existing
    run_dir = existing.get(identity)
    is_new = run_dir is None
    project_name = project or run.project or run.kind
    if run_dir is None:
        created = run.created if run.created is not None else (now or time.time())
        stamp = paths.new_run_id(created).rsplit("-", 1)[0]
        run_dir = root / paths.safe_segment(project_name) / f"{stamp}-{identity[:6]}"
        run_dir.mkdir(parents=True, exist_ok=True)
        existing[identity] = run_dir
    extra = run.extra or {}
    stale_after = float(extra.get("stale_after", DEFAULT_STALE_AFTER))
    meta = {
        "format": paths.FORMAT_VERSION,
        "id": run_dir.name,
        "project": project_name,
        "name": run.name,
        "group": run.group,
        "tags": list(run.tags),
        "notes": run.notes,
        "created": run.created,
        "host": extra.get("host"),
        "user": extra.get("user"),
        "pid": None,
        "argv": extra.get("argv") or [],
        "cwd": extra.get("cwd"),
        "python": extra.get("python"),
        "heartbeat_interval": stale_after / STALE_INTERVALS,
        "git": extra.get("git"),
        "imported": True,
    }
    source = {
        "kind": run.kind,
        "path": run.source_path,
        "id": run.source_id,
        "parent_id": run.parent_id,
        "identity": identity,
    }
    for name, doc in ((paths.META, meta), (paths.CONFIG, run.params), (paths.SOURCE, source)):
        if read_json(run_dir / name) != json.loads(json.dumps(doc, default=str)):
            atomic_write_json(run_dir / name, doc)
    lines, rows = _metric_rows(run)
    added = _sync_bytes(run_dir / paths.METRICS, lines, appendable=True)
    # the points of the rows that were written: those starting in the new bytes
    new_points = 0
    if added:
        cut = len(lines) - added
        for start, count in reversed(rows):
            if start < cut:
                break
            new_points += count
    events: list[dict[str, Any]] = [{"event": "start", "t": run.created}]
    if run.status != "running":
        finish: dict[str, Any] = {"event": "finish", "t": run.ended, "status": run.status}
        if run.status_reason:
            finish["reason"] = run.status_reason
        events.append(finish)
    _sync_bytes(run_dir / paths.EVENTS, _jsonl(events), appendable=True)
    artifacts = [
        {"name": a.name, "path": a.path, "size": a.size, "sha256": a.sha256, "copied": False}
        for a in run.artifacts
    ]
    _sync_bytes(run_dir / paths.ARTIFACTS, _jsonl(artifacts), appendable=False)
    if run.system:
        _sync_bytes(run_dir / SYSTEM_FILE, _system_lines(run.system), appendable=True)
    if run.console:
        _sync_bytes(
            run_dir / paths.CONSOLE, run.console.encode("utf-8", "replace"), appendable=True
        )
    beat = run_dir / paths.HEARTBEAT
    beat.touch()
    when = run.last_activity or run.ended or run.created
    if when:
        os.utime(beat, (when, when))
    return run_dir, is_new, new_points


def import_path(
    root: Path,
    path: Path,
    *,
    kind: str | None = None,
    project: str | None = None,
    on_run: Callable[[ForeignRun], None] | None = None,
) -> ImportReport:
    """Import every run of ``kind`` (default: every kind detected) under ``path``."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ImportError_(f"no such file or directory: {path}")
    if kind:
        module = reader(kind)
        if not module.detect(path):
            found = detect_kinds(path)
            there = f"found {', '.join(found)}" if found else "found no runs of a known kind"
            raise KindMismatch(f"no {canonical_kind(kind)} runs under {path} ({there})")
        kinds = [canonical_kind(kind)]
    else:
        kinds = detect_kinds(path)
    if not kinds:
        raise ImportError_(f"no runs of a known kind under {path} (known: {', '.join(KINDS)})")
    root.mkdir(parents=True, exist_ok=True)
    with _store_lock(root):
        return _import_locked(
            root, path, kinds, explicit=bool(kind), project=project, on_run=on_run
        )


@contextlib.contextmanager
def _store_lock(root: Path) -> Iterator[None]:
    """One import at a time writes into a store (an advisory lock beside its projects)."""
    fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _import_locked(
    root: Path,
    path: Path,
    kinds: list[str],
    *,
    explicit: bool,
    project: str | None,
    on_run: Callable[[ForeignRun], None] | None,
) -> ImportReport:
    report = ImportReport()
    existing = _existing(root)  # read under the lock: another import's runs are seen
    for name in kinds:
        module = reader(name)
        # asked for TensorBoard alone, it reads the event files of Lightning and
        # HF runs too; with every kind, those readers take their directories
        options: dict[str, Any] = {"defer": False} if explicit and name == "tensorboard" else {}
        for run in module.read(path, report.problems, **options):
            _, is_new, new_points = write_foreign_run(root, run, project=project, existing=existing)
            report.runs += 1
            report.kinds[run.kind] = report.kinds.get(run.kind, 0) + 1
            report.points += sum(1 for p in run.points if p.key not in ("_step", "_t"))
            report.new_points += new_points
            if is_new:
                report.new_runs += 1
            elif new_points:
                report.updated_runs += 1
            if on_run is not None:
                on_run(run)
    return report


def private_store_for(path: Path) -> Path:
    """Where ``trackui PATH`` keeps the runs it imported from a foreign directory
    (never inside the source)."""
    real = os.path.realpath(path)
    digest = hashlib.sha256(real.encode()).hexdigest()[:16]
    return paths.cache_dir() / "imported" / f"{paths.safe_segment(os.path.basename(real))}-{digest}"
