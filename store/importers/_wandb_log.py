"""The ``.wandb`` run log: its framing and its records, decoded without ``wandb``.

Offline, wandb 0.31 writes config, history, summary, console output, system
stats, the artifact manifest and the exit code only into the binary
``run-<id>.wandb`` (no ``config.yaml`` or ``wandb-summary.json``):

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

``_decode_record`` folds each record into a ``_RunState``; the ``wandb``
module turns states into runs.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from trackui.store.importers import _protobuf as pb
from trackui.store.importers.base import Point

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
# StatsRecord: timestamp=2, item=3 (StatsItem: key=1, value_json=16)
STATS_TIMESTAMP = 2
STATS_ITEM = 3
# EnvironmentRecord (record field 26): cpu_count=16, memory=21 (MemoryInfo: total=1)
REC_ENVIRONMENT = 26
ENV_CPU_COUNT = 16
ENV_MEMORY = 21
MEMORY_TOTAL = 1
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
    resume_at: int = 0  # just after the last complete record: where reading more resumes


def iter_records(f: BinaryIO, end: LogEnd, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, payload)`` of each complete record of a ``.wandb`` file;
    with ``start`` (a previous read's ``end.resume_at``, ``f`` positioned
    there), only those after it: the bytes before it in its block are not read."""
    end.resume_at = max(start, FILE_HEADER_SIZE)
    if start > FILE_HEADER_SIZE:
        block_start = start - start % BLOCK_SIZE
        pos = start - block_start
        block = bytes(pos) + f.read(BLOCK_SIZE - pos)  # never looked at below pos
    else:
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
                end.resume_at = block_start + pos
                yield at, payload
            elif kind == CHUNK_FIRST:
                pending, pending_at = [payload], at
            elif kind in (CHUNK_MIDDLE, CHUNK_LAST) and pending is not None:
                pending.append(payload)
                if kind == CHUNK_LAST:
                    record, pending = b"".join(pending), None
                    end.resume_at = block_start + pos
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
    """What the records of a W&B run log said so far."""

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
    #: images logged with wandb.Image: (key, step, path relative to the run's files/)
    media: list[tuple[str, int, str]] = field(default_factory=list)
    #: system stats samples: (time, key -> value)
    stats: list[tuple[float | None, dict[str, float]]] = field(default_factory=list)
    cpu_count: int | None = None
    memory_total: int | None = None

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
            _stats(pb.as_bytes(raw), st)
        elif number == REC_ENVIRONMENT:
            env = pb.fields(pb.as_bytes(raw))
            count = pb.first(env, ENV_CPU_COUNT)
            if isinstance(count, int) and count > 0:
                st.cpu_count = count
            memory = pb.first(env, ENV_MEMORY)
            if isinstance(memory, bytes):
                total = pb.first(pb.fields(memory), MEMORY_TOTAL)
                if isinstance(total, int) and total > 0:
                    st.memory_total = total
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


def _stats(raw: bytes, st: _RunState) -> None:
    rec = pb.fields(raw)
    t = _timestamp(pb.first(rec, STATS_TIMESTAMP))
    st.seen(t)
    items: dict[str, float] = {}
    for item in rec.get(STATS_ITEM, []):
        path, value = _item(item)
        num = _number(value)
        if num is not None and path:
            items[".".join(path)] = num
    if items:
        st.stats.append((t, items))


def _history(raw: bytes, st: _RunState) -> None:
    rec = pb.fields(raw)
    row: list[tuple[str, float]] = []
    images: list[tuple[str, str]] = []
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
        elif isinstance(value, dict) and value.get("_type") == "image-file":
            if isinstance(value.get("path"), str):
                images.append((key, value["path"]))
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
    st.media.extend((key, step, path) for key, path in images)


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
