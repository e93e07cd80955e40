"""Read W&B run directories (``wandb/offline-run-*``, ``wandb/run-*``) as foreign runs.

Offline, wandb 0.31 writes config, history, summary, console output, the
artifact manifest and the exit code only into the binary ``run-<id>.wandb``
(no ``config.yaml`` or ``wandb-summary.json``). This reader decodes that
file without the ``wandb`` package:

* header, 7 bytes: ``b":W&B"``, uint16 LE magic ``0xBEE1``, uint8 version 0;
* LevelDB log framing in 32 KiB blocks (the header counts toward block 0):
  chunk = CRC-32 of type+payload (4 B, zlib's IEEE CRC, unmasked, not
  LevelDB's masked CRC32C), length (uint16 LE), type
  (1 FULL, 2 FIRST, 3 MIDDLE, 4 LAST), payload; a block tail shorter than
  a chunk header, or starting with a zero header, is padding;
* every reassembled payload is a ``wandb_internal.Record`` protobuf, read
  with the wire decoder in ``_protobuf``. The field numbers used are the
  named constants below, from wandb's ``wandb_internal.proto`` (the on-disk
  contract that wandb keeps stable) and checked on files written by 0.31.

What becomes what: ``run`` → id, project, display name, config (``_wandb``
dropped), tags, notes, group, start time; ``config`` records → later config
changes; ``history`` → points (``_step`` is the step, ``_timestamp`` the
time; ``_runtime`` and non-numeric values such as media are left out; a
nested key is joined with ``.`` as W&B displays it); ``summary`` deltas →
``extra["summary"]``; ``output_raw``/``output`` or ``files/output.log``
(whichever got further: after ``kill -9`` the records hold more) →
console; ``artifact`` manifest entries → artifacts by reference, the file
found under the import root by the longest tail of its recorded
``local_path`` (the absolute path in the file is the writer's machine's).
System stats, telemetry and metric definitions are not imported.

Status: an ``exit`` record with exit code 0 → ``finished``; any other code
→ ``failed`` ("exit code N"); no ``exit`` record (the process was killed,
or is still going) → ``running`` when the last record time is less than
``stale_after`` (default ``STALE_AFTER_S``) before ``now``, else
``crashed`` ("no exit record").

Damage: a chunk whose CRC does not match, that runs past the end of the
file or of its block, or of an unknown type ends the reading of the file;
everything before it is kept and one ``problems`` line names the file and
byte. A record that passes its CRC but does not decode is skipped and
counted (one line for the file).
"""

from __future__ import annotations

import json
import os
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from trackui.store.importers import _protobuf as pb
from trackui.store.importers.base import Artifact, ForeignRun, Point, find_runs

KIND = "wandb"

#: Without an exit record, a run whose last record is younger than this is
#: taken as still running (wandb writes history as it is logged).
STALE_AFTER_S = 900.0

FILE_MAGIC = b":W&B"
FILE_MAGIC_NUMBER = 0xBEE1
FILE_HEADER_SIZE = 7
BLOCK_SIZE = 32768
CHUNK_HEADER_SIZE = 7
CHUNK_FULL, CHUNK_FIRST, CHUNK_MIDDLE, CHUNK_LAST = 1, 2, 3, 4
_CHUNK_HEADER = struct.Struct("<IHB")
# The chunk CRC covers the type byte, then the payload. wandb writes the
# plain CRC-32 of zlib (IEEE polynomial, unmasked; checked on every chunk of
# the 0.31 files), not LevelDB's masked CRC32C, which is still accepted in
# case another writer used it.
_TYPE_CRC = {kind: zlib.crc32(bytes([kind])) for kind in range(256)}


def _masked_crc32c_ok(kind: int, payload: bytes, crc: int) -> bool:
    return pb.mask_crc(pb.crc32c(payload, pb.crc32c(bytes([kind])))) == crc


# Record.record_type (oneof) field numbers, wandb_internal.proto
REC_HISTORY = 2
REC_SUMMARY = 3
REC_OUTPUT = 4
REC_CONFIG = 5
REC_STATS = 7
REC_ARTIFACT = 8
REC_OUTPUT_RAW = 13
REC_RUN = 17
REC_EXIT = 18
REC_HEADER = 21
# RunRecord
RUN_ID = 1
RUN_ENTITY = 2
RUN_PROJECT = 3
RUN_CONFIG = 4
RUN_GROUP = 6
RUN_JOB_TYPE = 7
RUN_DISPLAY_NAME = 8
RUN_NOTES = 9
RUN_TAGS = 10
RUN_HOST = 13
RUN_START_TIME = 17
# ConfigRecord / SummaryRecord and their items (same layout)
UPDATES = 1
REMOVES = 2
ITEM_KEY = 1
ITEM_NESTED_KEY = 2
ITEM_VALUE_JSON = 16
# HistoryRecord: item=1 (HistoryItem, as above), step=2 (HistoryStep: num=1)
HISTORY_ITEM = 1
HISTORY_STEP = 2
HISTORY_STEP_NUM = 1
# OutputRecord / OutputRawRecord
OUTPUT_TIMESTAMP = 2
OUTPUT_LINE = 3
# StatsRecord
STATS_TIMESTAMP = 2
# RunExitRecord
EXIT_CODE = 1
EXIT_RUNTIME = 2
# ArtifactRecord → ArtifactManifest → ArtifactManifestEntry
ARTIFACT_TYPE = 4
ARTIFACT_NAME = 5
ARTIFACT_MANIFEST = 12
MANIFEST_CONTENTS = 4
ENTRY_PATH = 1
ENTRY_DIGEST = 2
ENTRY_REF = 3
ENTRY_SIZE = 4
ENTRY_LOCAL_PATH = 6
# HeaderRecord: version_info=1 (producer=1)
HEADER_VERSION_INFO = 1
VERSION_PRODUCER = 1
# google.protobuf.Timestamp
TS_SECONDS = 1
TS_NANOS = 2

#: History keys that wandb adds to every row; they are the step and time of
#: the points, not metrics.
_ROW_KEYS = {"_step", "_timestamp", "_runtime"}


def _find_run_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root] if root.suffix == ".wandb" else []
    found: list[Path] = []
    # os.walk does not follow the ``latest-run`` symlink: no run twice.
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            if name.startswith("run-") and name.endswith(".wandb"):
                found.append(Path(dirpath, name))
    return found


def detect(path: Path) -> bool:
    try:
        return bool(_find_run_files(Path(path)))
    except OSError:
        return False


# -- the record log ---------------------------------------------------------


@dataclass
class LogDamage:
    """The framing is broken at ``offset``: reading the file stopped there."""

    offset: int
    reason: str


@dataclass
class LogEnd:
    """How the record log ended, filled in by :func:`iter_records`."""

    damage: LogDamage | None = None
    partial_record_at: int | None = None  # a FIRST chunk never completed


def iter_records(f: BinaryIO, end: LogEnd) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, payload)`` of each complete record of a ``.wandb`` file."""
    header = f.read(FILE_HEADER_SIZE)
    if len(header) < FILE_HEADER_SIZE or header[:4] != FILE_MAGIC:
        end.damage = LogDamage(0, "not a W&B run file (bad header)")
        return
    (magic,) = struct.unpack("<H", header[4:6])
    if magic != FILE_MAGIC_NUMBER:
        end.damage = LogDamage(4, f"unknown magic 0x{magic:04X}")
        return
    block_start = 0
    pos = FILE_HEADER_SIZE
    block = header + f.read(BLOCK_SIZE - FILE_HEADER_SIZE)
    pending: list[bytes] | None = None
    pending_at = 0
    while True:
        padded = False
        while pos + CHUNK_HEADER_SIZE <= len(block):
            at = block_start + pos
            crc, length, kind = _CHUNK_HEADER.unpack_from(block, pos)
            if kind == 0 and length == 0:
                padded = True  # zero padding: the rest of this block is unused
                break
            start = pos + CHUNK_HEADER_SIZE
            if start + length > len(block):
                reason = "truncated" if len(block) < BLOCK_SIZE else "corrupt (chunk crosses block)"
                end.damage = LogDamage(at, reason)
                return
            payload = block[start : start + length]
            if zlib.crc32(payload, _TYPE_CRC[kind]) != crc and not _masked_crc32c_ok(
                kind, payload, crc
            ):
                end.damage = LogDamage(at, "corrupt (chunk CRC mismatch)")
                return
            pos = start + length
            if kind == CHUNK_FULL:
                pending = None
                yield at, payload
            elif kind == CHUNK_FIRST:
                pending, pending_at = [payload], at
            elif kind in (CHUNK_MIDDLE, CHUNK_LAST) and pending is not None:
                pending.append(payload)
                if kind == CHUNK_LAST:
                    record, pending = b"".join(pending), None
                    yield pending_at, record
            else:
                end.damage = LogDamage(at, f"corrupt (chunk type {kind} out of place)")
                return
        if len(block) < BLOCK_SIZE:
            if not padded and any(block[pos:]):
                # fewer bytes than a chunk header left, and not padding
                end.damage = LogDamage(block_start + pos, "truncated")
                return
            break
        block_start += BLOCK_SIZE
        block = f.read(BLOCK_SIZE)
        pos = 0
        if not block:
            break
    if pending is not None:
        end.partial_record_at = pending_at


# -- decoding records -------------------------------------------------------


def _timestamp(raw: pb.FieldValue | None) -> float | None:
    if raw is None:
        return None
    ts = pb.fields(pb.as_bytes(raw))
    seconds = pb.as_int64(pb.first(ts, TS_SECONDS) or 0)
    nanos = pb.as_int64(pb.first(ts, TS_NANOS) or 0)
    return seconds + nanos / 1e9


def _item(raw: pb.FieldValue) -> tuple[list[str], Any]:
    """A Config/Summary/History item: its key path and decoded JSON value."""
    key: str | None = None
    nested: list[str] = []
    value_json = "null"
    for number, _wire, v in pb.iter_fields(pb.as_bytes(raw)):
        if number == ITEM_KEY:
            key = pb.as_str(v)
        elif number == ITEM_NESTED_KEY:
            nested.append(pb.as_str(v))
        elif number == ITEM_VALUE_JSON:
            value_json = pb.as_str(v)
    path = [key] if key else nested
    try:
        value = _json_number(value_json)
    except ValueError:
        try:
            value = json.loads(value_json)
        except ValueError as exc:
            raise pb.DecodeError(f"bad value_json for {'.'.join(path)!r}") from exc
    return path, value


def _json_number(text: str) -> int | float:
    """Fast path for the usual value_json, a bare number (NaN/Infinity included)."""
    if text.lstrip("-").isdigit():
        return int(text)
    if text[:1] in "-0123456789NI":  # JSON numbers, and Python's NaN/Infinity spellings
        return float(text)
    raise ValueError(text)


def _set_path(tree: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        child = tree.get(part)
        if not isinstance(child, dict):
            child = tree[part] = {}
        tree = child
    if path:
        tree[path[-1]] = value


def _del_path(tree: dict[str, Any], path: list[str]) -> None:
    for part in path[:-1]:
        child = tree.get(part)
        if not isinstance(child, dict):
            return
        tree = child
    if path:
        tree.pop(path[-1], None)


def _apply_updates(tree: dict[str, Any], raw: bytes) -> None:
    rec = pb.fields(raw)
    for item in rec.get(UPDATES, []):
        path, value = _item(item)
        _set_path(tree, path, value)
    for item in rec.get(REMOVES, []):
        path, _ = _item(item)
        _del_path(tree, path)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


@dataclass
class _RunState:
    run_id: str | None = None
    entity: str | None = None
    project: str | None = None
    name: str | None = None
    group: str | None = None
    job_type: str | None = None
    notes: str | None = None
    host: str | None = None
    tags: list[str] = field(default_factory=list)
    start_time: float | None = None
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    points: list[Point] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    last_t: float | None = None
    exit_code: int | None = None
    runtime: int | None = None
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    version: str | None = None
    history_rows: int = 0

    def seen(self, t: float | None) -> None:
        if t is not None and (self.last_t is None or t > self.last_t):
            self.last_t = t


def _decode_record(payload: bytes, st: _RunState) -> None:
    for number, _wire, raw in pb.iter_fields(payload):
        if number == REC_HISTORY:
            _history(pb.as_bytes(raw), st)
        elif number == REC_SUMMARY:
            _apply_updates(st.summary, pb.as_bytes(raw))
        elif number in (REC_OUTPUT_RAW, REC_OUTPUT):
            out = pb.fields(pb.as_bytes(raw))
            st.console.append(pb.as_str(pb.first(out, OUTPUT_LINE) or b""))
            st.seen(_timestamp(pb.first(out, OUTPUT_TIMESTAMP)))
        elif number == REC_CONFIG:
            _apply_updates(st.config, pb.as_bytes(raw))
        elif number == REC_STATS:
            st.seen(_timestamp(pb.first(pb.fields(pb.as_bytes(raw)), STATS_TIMESTAMP)))
        elif number == REC_RUN:
            _run(pb.as_bytes(raw), st)
        elif number == REC_EXIT:
            ex = pb.fields(pb.as_bytes(raw))
            st.exit_code = pb.as_int64(pb.first(ex, EXIT_CODE) or 0)
            st.runtime = pb.as_int64(pb.first(ex, EXIT_RUNTIME) or 0)
        elif number == REC_ARTIFACT:
            st.artifacts.append(_artifact_record(pb.as_bytes(raw)))
        elif number == REC_HEADER:
            info = pb.first(pb.fields(pb.as_bytes(raw)), HEADER_VERSION_INFO)
            if info is not None:
                producer = pb.first(pb.fields(pb.as_bytes(info)), VERSION_PRODUCER)
                st.version = pb.as_str(producer) if producer is not None else None


def _history(raw: bytes, st: _RunState) -> None:
    rec = pb.fields(raw)
    row: list[tuple[str, float]] = []
    step: int | None = None
    t: float | None = None
    for item in rec.get(HISTORY_ITEM, []):
        path, value = _item(item)
        key = ".".join(path)
        if key == "_step" and isinstance(value, int | float) and not isinstance(value, bool):
            step = int(value)
        elif key == "_timestamp":
            t = _number(value)
        elif key in _ROW_KEYS or key.startswith("_wandb"):
            continue
        else:
            num = _number(value)
            if num is not None:
                row.append((key, num))
    if step is None:
        hstep = pb.first(rec, HISTORY_STEP)
        num = pb.first(pb.fields(pb.as_bytes(hstep)), HISTORY_STEP_NUM) if hstep else None
        step = pb.as_int64(num) if num is not None else st.history_rows
    st.history_rows += 1
    st.seen(t)
    st.points.extend(Point(key, step, value, t) for key, value in row)


def _run(raw: bytes, st: _RunState) -> None:
    # A run record may come again (resume, rename): later values win.
    run = pb.fields(raw)

    def text(number: int) -> str | None:
        value = pb.first(run, number)
        return pb.as_str(value) if value else None

    st.run_id = text(RUN_ID) or st.run_id
    st.entity = text(RUN_ENTITY) or st.entity
    st.project = text(RUN_PROJECT) or st.project
    st.name = text(RUN_DISPLAY_NAME) or st.name
    st.group = text(RUN_GROUP) or st.group
    st.job_type = text(RUN_JOB_TYPE) or st.job_type
    st.notes = text(RUN_NOTES) or st.notes
    st.host = text(RUN_HOST) or st.host
    if RUN_TAGS in run:
        st.tags = [pb.as_str(t) for t in run[RUN_TAGS]]
    start = _timestamp(pb.first(run, RUN_START_TIME))
    if start:
        st.start_time = start
        st.seen(start)
    config = pb.first(run, RUN_CONFIG)
    if config is not None:
        _apply_updates(st.config, pb.as_bytes(config))


def _artifact_record(raw: bytes) -> dict[str, Any]:
    art = pb.fields(raw)
    entries = []
    manifest = pb.first(art, ARTIFACT_MANIFEST)
    if manifest is not None:
        for entry in pb.fields(pb.as_bytes(manifest)).get(MANIFEST_CONTENTS, []):
            e = pb.fields(pb.as_bytes(entry))
            size = pb.first(e, ENTRY_SIZE)
            entries.append(
                {
                    "path": pb.as_str(pb.first(e, ENTRY_PATH) or b""),
                    "digest": pb.as_str(pb.first(e, ENTRY_DIGEST) or b""),
                    "ref": pb.as_str(pb.first(e, ENTRY_REF) or b"") or None,
                    "size": pb.as_int64(size) if size is not None else None,
                    "local_path": pb.as_str(pb.first(e, ENTRY_LOCAL_PATH) or b"") or None,
                }
            )
    return {
        "name": pb.as_str(pb.first(art, ARTIFACT_NAME) or b""),
        "type": pb.as_str(pb.first(art, ARTIFACT_TYPE) or b""),
        "entries": entries,
    }


# -- assembling a run -------------------------------------------------------


def resolve_recorded_path(recorded: str, root: Path, size: int | None = None) -> Path | None:
    """Find a file recorded by absolute path on another machine under ``root``.

    Tries the longest tail of ``recorded`` that exists below ``root`` (and,
    when known, has the recorded size); never follows the path itself.
    """
    parts = [p for p in PurePosixPath(recorded).parts if p not in ("/", "", ".", "..")]
    base = root.absolute()
    for i in range(len(parts)):
        candidate = base.joinpath(*parts[i:])
        try:
            if candidate.is_file() and (size is None or candidate.stat().st_size == size):
                return candidate
        except OSError:
            continue
    return None


def _artifacts(st: _RunState, root: Path) -> tuple[list[Artifact], list[str]]:
    found: list[Artifact] = []
    missing: list[str] = []
    names: set[str] = set()
    for art in st.artifacts:
        for e in art["entries"]:
            name = e["path"]
            if name in names:
                name = f"{art['name']}/{name}"
            local = e["local_path"]
            path = resolve_recorded_path(local, root, e["size"]) if local else None
            if path is None:
                missing.append(name)
                continue
            names.add(name)
            found.append(Artifact(name=name, path=str(path), size=e["size"]))
    return found, missing


def _console(st: _RunState, run_dir: Path, problems: list[str]) -> str | None:
    from_records = "".join(st.console)
    log = run_dir / "files" / "output.log"
    from_file = ""
    if log.is_file():
        try:
            from_file = log.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            problems.append(f"{log}: unreadable ({exc.strerror or exc})")
    text = from_records if len(from_records) >= len(from_file) else from_file
    return text or None


def read_run_file(
    wandb_file: Path, root: Path, problems: list[str], *, stale_after: float, now: float
) -> ForeignRun | None:
    """One run from one ``run-<id>.wandb``. Never raises for bad content."""
    st = _RunState()
    end = LogEnd()
    bad_records: list[int] = []
    try:
        with open(wandb_file, "rb") as f:
            for offset, payload in iter_records(f, end):
                try:
                    _decode_record(payload, st)
                except (ValueError, TypeError, struct.error):  # DecodeError is a ValueError
                    bad_records.append(offset)
    except OSError as exc:
        problems.append(f"{wandb_file}: unreadable ({exc.strerror or exc})")
        return None
    if end.damage is not None and end.damage.offset == 0:
        problems.append(f"{wandb_file}: {end.damage.reason}")
        return None

    if st.exit_code is not None:
        status, reason = (
            ("finished", None) if st.exit_code == 0 else ("failed", f"exit code {st.exit_code}")
        )
    elif st.last_t is not None and now - st.last_t < stale_after:
        status, reason = "running", None
    else:
        status, reason = "crashed", "no exit record"

    if end.damage is not None:
        problems.append(f"{wandb_file}: {end.damage.reason} at byte {end.damage.offset}")
    elif end.partial_record_at is not None and status != "running":
        problems.append(
            f"{wandb_file}: truncated at byte {end.partial_record_at} (last record incomplete)"
        )
    if bad_records:
        problems.append(
            f"{wandb_file}: {len(bad_records)} record(s) could not be decoded and were skipped, "
            f"first at byte {bad_records[0]}; their framing is intact, so the layout is one this "
            "reader does not know. Installing the optional wandb extra "
            "(pip install 'trackui[wandb]') would not help: this reader does not use it."
        )

    run_dir = wandb_file.parent
    run_id = st.run_id or wandb_file.stem.removeprefix("run-")
    artifacts, missing = _artifacts(st, root)
    extra: dict[str, Any] = {
        k: v
        for k, v in {
            "entity": st.entity,
            "job_type": st.job_type,
            "host": st.host,
            "wandb_version": st.version,
            "exit_code": st.exit_code,
            "runtime_s": st.runtime,
            "summary": {k: v for k, v in st.summary.items() if not k.startswith("_wandb")},
            "artifacts_not_found": missing,
        }.items()
        if v not in (None, [], {})
    }
    return ForeignRun(
        kind=KIND,
        source_path=str(run_dir.absolute()),
        source_id=run_id,
        project=st.project or "uncategorized",
        name=st.name or run_id,
        params={k: v for k, v in st.config.items() if k != "_wandb"},
        points=st.points,
        status=status,
        status_reason=reason,
        created=st.start_time,
        ended=st.last_t if status != "running" else None,
        last_activity=st.last_t,
        tags=st.tags,
        notes=st.notes,
        group=st.group,
        artifacts=artifacts,
        console=_console(st, run_dir, problems),
        extra=extra,
    )


def read(
    path: Path,
    problems: list[str],
    *,
    stale_after: float = STALE_AFTER_S,
    now: float | None = None,
) -> Iterator[ForeignRun]:
    """Yield one run per ``run-<id>.wandb`` under ``path`` (see the module doc).

    A run with no news for ``stale_after`` seconds before ``now`` (default:
    the current time) is no longer taken as running.
    Artifacts are looked up under ``path``: pass the directory that holds
    both ``wandb/`` and the W&B data dir to get the staged files.
    """
    root = Path(path)
    now = time.time() if now is None else now
    files = find_runs(root, problems, _find_run_files)
    if files is None:
        return
    base = root.parent if root.is_file() else root
    for wandb_file in files:
        try:
            run = read_run_file(wandb_file, base, problems, stale_after=stale_after, now=now)
        except Exception as exc:  # one bad run must not stop the import
            problems.append(f"{wandb_file}: skipped: {type(exc).__name__}: {exc}")
            continue
        if run is not None:
            yield run
