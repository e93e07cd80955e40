"""Decoding TensorBoard event files (``events.out.tfevents.*``).

No TensorFlow, ``tensorboard`` or ``protobuf`` package is needed. An event
file is a sequence of TFRecords::

    uint64 LE length | uint32 masked-CRC32C(length) | data | uint32 masked-CRC32C(data)

and ``data`` is a serialized ``Event`` protobuf. The subset of the schema a
scalar importer needs is small enough to decode by hand with the wire-format
reader in ``_protobuf`` (shared with the W&B reader, plus a CRC32C), which
spares every user a heavy dependency for a few field numbers:

* ``Event``: wall_time=1 (double, seconds), step=2 (int64), file_version=3,
  summary=5;
* ``Summary``: value=1; ``Summary.Value``: tag=1, simple_value=2 (float),
  tensor=8, metadata=9 (``SummaryMetadata``: plugin_data=1 ->
  ``PluginData``: plugin_name=1, content=2);
* ``TensorProto``: dtype=1, tensor_shape=2 (dim=2), tensor_content=4,
  float_val=5, double_val=6, string_val=8;
* ``HParamsPluginData`` (plugin ``hparams``): session_start_info=3 ->
  hparams=1 (map name -> ``google.protobuf.Value``), session_end_info=4 ->
  status=1.

Scalars are ``simple_value`` (tensorboardX, torch) and 0-d float/double
tensors (plugin ``scalars`` or none: TF2 and Keras write every scalar this
way, naming the plugin only on a tag's first event); float32 values come
back as the shortest decimal naming the same float32 (0.44395, not
0.44394999742507935). Text summaries (``add_text``) are kept as text.

Damage: a record whose CRC does not match, or that runs past the end of the
file, ends the reading of that file; the records before it are kept and one
``"<file>: truncated/corrupt at byte N"`` line goes to ``problems``. A file
whose very first record does not frame is not an event file at all (say a
helper script named ``make_tfevents.py``): it is skipped without a word.
"""

from __future__ import annotations

import itertools
import operator
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trackui.store.importers import _protobuf as pb
from trackui.store.importers import _read, _tfscalars
from trackui.store.importers._read import open_regular
from trackui.store.importers._tfhparams import decode_hparams
from trackui.store.importers._tfrecords import (  # noqa: F401 - re-exported
    _GOOD_HEADERS,
    _LENGTH_CRC,
    _NotEvents,
    _Torn,
    iter_record_batches,
    iter_records,
)
from trackui.store.importers._tfscalars import (  # noqa: F401 - re-exported
    _shortest_by_search,
    _shortest_of_raw,
    gc_paused,
    shortest_float32,
    shortest_many,
)
from trackui.store.importers.base import Point

# Event
EVENT_WALL_TIME = 1
EVENT_STEP = 2
EVENT_FILE_VERSION = 3
EVENT_SUMMARY = 5
# Summary / Summary.Value
SUMMARY_VALUE = 1
VALUE_TAG = 1
VALUE_SIMPLE = 2
VALUE_TENSOR = 8
VALUE_METADATA = 9
# SummaryMetadata / PluginData
METADATA_PLUGIN_DATA = 1
PLUGIN_NAME = 1
PLUGIN_CONTENT = 2
# TensorProto
TENSOR_DTYPE = 1
TENSOR_SHAPE = 2
TENSOR_CONTENT = 4
TENSOR_FLOAT_VAL = 5
TENSOR_DOUBLE_VAL = 6
TENSOR_STRING_VAL = 8
SHAPE_DIM = 2
DT_FLOAT = 1
DT_DOUBLE = 2
DT_STRING = 7

_F64 = struct.Struct("<d")
#: Names that say "not an event file" even with ``tfevents`` in them.
_NOT_EVENTS = (".py", ".pyc", ".txt", ".md", ".json", ".yaml", ".yml", ".sh", ".ipynb", ".csv")


def is_event_file(name: str) -> bool:
    # TensorBoard's own test (io_wrapper.IsTensorFlowEventsFile), minus scripts and notes.
    return "tfevents" in name and not name.lower().endswith(_NOT_EVENTS)


# -- reading one event file -------------------------------------------------


@dataclass
class _FileData:
    """What one event file (or one run directory's files) yielded."""

    points: list[Point] = field(default_factory=list)
    hparams: dict[str, Any] | None = None
    session_status: str | None = None
    text: dict[str, str] = field(default_factory=dict)
    first_t: float | None = None
    last_t: float | None = None
    torn_at: int | None = None  # byte offset where the last record was cut short
    end: int = 0  # byte offset just after the last intact record read
    not_events: bool = False  # the file is not an event file at all

    def merge(self, other: _FileData) -> None:
        self.points.extend(other.points)
        if other.hparams is not None:
            self.hparams = {**(self.hparams or {}), **other.hparams}
        self.session_status = other.session_status or self.session_status
        self.text.update(other.text)
        if other.first_t is not None:
            self.first_t = min(self.first_t or other.first_t, other.first_t)
        if other.last_t is not None:
            self.last_t = max(self.last_t or other.last_t, other.last_t)


#: Cached float32 bit patterns and tags per file are capped at this many.
_CACHE_MAX = 1 << 16
#: By m, the bytes from the summary field to the end of a common scalar
#: event m bytes long from there: Summary (length m - 2), one Value (m - 4),
#: its tag (m - 11 bytes); the float32 tag and value follow the tag.
_COMMON_HEADS = {m: bytes((0x2A, m - 2, 0x0A, m - 4, 0x0A, m - 11)) for m in range(11, 0x82)}
_WALL_TIME = slice(1, 9)
_FLOAT32 = slice(-4, None)


#: Set to False to read every file with the record reader below (tests compare the two).
USE_COLUMNS = True


def columns_on() -> bool:
    """Whether event files are read whole into columns (NumPy is there)."""
    return USE_COLUMNS and _tfscalars.USE_NUMPY and _tfscalars._numpy() is not None


@gc_paused
def read_event_file(
    path: Path, problems: list[str], *, root: Path | None = None, start: int = 0
) -> _FileData:
    """Decode one event file as far as it is intact. Never raises.

    With NumPy, all records at once into columns (``_tfcolumns``: ``points``
    is then a ``PointColumns``); without, record by record (below).

    ``start`` (a record boundary, e.g. a previous read's ``end``) reads only
    what follows it: how the sources layer follows a file being written.
    """
    if columns_on():
        from trackui.store.importers import _tfcolumns

        return _tfcolumns.read_event_file(path, problems, root=root, start=start)
    return _read_records(path, problems, root=root, start=start)


def _read_records(
    path: Path,
    problems: list[str],
    *,
    root: Path | None = None,
    start: int = 0,
    origin: int = 0,
    out: _FileData | None = None,
    bad: list[int] | None = None,
    finish: bool = True,
    f: Any = None,
) -> _FileData:
    """``read_event_file`` record by record, from ``start + origin`` (offsets
    in problem lines and ``end`` as if read from ``start``); ``finish``:
    note where it ended and say how many events were not decodable. ``f``:
    the bytes from ``start + origin`` on, already read (a file object).

    Nearly every record of a scalar log is ``Event{wall_time, step,
    summary{value{tag, simple_value}}}`` with one-byte lengths; those are
    decoded here with a few direct byte reads. Any other shape, and anything
    this path does not expect, goes to the general decoder, which gives the
    same points for the common shape (a test holds the two together).

    ``start`` (a record boundary, e.g. a previous read's ``end``) reads only
    what follows it: how the sources layer follows a file being written.
    """
    out = _FileData(end=start) if out is None else out
    bad = [] if bad is None else bad
    tags: dict[bytes, str] = {}
    values: dict[bytes, float] = {}
    # the common records not yet made points, column by column
    keys: list[str] = []
    steps: list[int] = []
    common: list[bytes] = []  # their records: time and value are cut out all at once
    heads = _COMMON_HEADS

    def flush() -> None:
        if not common:
            return
        times = list(
            struct.unpack(
                f"<{len(common)}d",
                b"".join(map(operator.getitem, common, itertools.repeat(_WALL_TIME))),
            )
        )
        raws = list(map(operator.getitem, common, itertools.repeat(_FLOAT32)))
        # builtin min/max fold left with < and >, as one record at a time did
        first, last = out.first_t, out.last_t
        out.first_t = min(times) if first is None else min(itertools.chain((first,), times))
        out.last_t = max(times) if last is None else max(itertools.chain((last,), times))
        floats = shortest_many(raws, _shortest_of_raw, values)
        out.points.extend(map(Point, keys, steps, floats, times))
        for column in (keys, steps, common):
            column.clear()

    try:
        with f if f is not None else open_regular(path, root=root, start=start + origin) as f:
            for batch in iter_record_batches(f, path, problems, origin):
                for offset, data in batch:
                    n = len(data)
                    try:  # _common_scalar, inlined: this runs once per record
                        pos = 0
                        if data[0] == 0x09:  # wall_time, fixed64
                            pos, step = 9, 0
                            if data[9] == 0x10:  # step, varint
                                step, pos = data[10], 11
                                if step >= 0x80:  # longer steps: the general decoder
                                    b1 = data[11]
                                    if b1 < 0x80:
                                        step, pos = (step & 0x7F) | b1 << 7, 12
                                    elif data[12] < 0x80:
                                        step = (step & 0x7F) | (b1 & 0x7F) << 7 | data[12] << 14
                                        pos = 13
                                    else:
                                        pos = 0
                        # summary, one value, tag, float: each to the end, as lengths say
                        if (
                            pos
                            and data[pos : pos + 6] == heads.get(n - pos)
                            and data[n - 5] == 0x15
                        ):
                            tag_raw = data[pos + 6 : n - 5]
                            tag = tags.get(tag_raw)
                            if tag is None:
                                if len(tags) >= _CACHE_MAX:
                                    tags.clear()
                                tag = tags[tag_raw] = tag_raw.decode("utf-8", errors="replace")
                            keys.append(tag)
                            steps.append(step)
                            common.append(data)
                            continue
                    except IndexError:  # short: the general decoder says what is wrong
                        pass
                    flush()
                    try:
                        _decode_event(data, out)
                    except (ValueError, TypeError, struct.error):
                        # The CRC matched, so the framing is sound: skip just this event.
                        bad.append(offset)
                offset, data = batch[-1]
                out.end = start + offset + len(data) + 16
    except _Torn as torn:
        out.torn_at = start + torn.offset
    except _NotEvents:
        out.not_events = True
    except OSError as exc:
        problems.append(f"{path}: unreadable ({exc.strerror or exc})")
    flush()
    if not finish:
        return out
    _read.note_end(path, out.end)
    if bad:
        problems.append(
            f"{path}: {len(bad)} event(s) not decodable, skipped, first at byte {bad[0]}"
        )
    return out


def _common_scalar(data: bytes) -> tuple[int, int, int] | None:
    """``(step, tag offset, tag length)`` when ``data`` is exactly ``Event{wall_time=1,
    [step=2,] summary=5{value=1{tag=1, simple_value=2}}}`` with one-byte
    lengths, in that field order and nothing else; else None. The wall time
    is at bytes 1-8 and the float32 in the last 4 bytes. May raise IndexError
    on short input or DecodeError on a bad step varint (the caller then uses
    the general decoder)."""
    if data[0] != 0x09:  # wall_time, fixed64
        return None
    pos = 9
    step = 0
    if data[9] == 0x10:  # step, varint
        step = data[10]
        pos = 11
        if step >= 0x80:  # steps up to 2**21 inline, the rest through the general reader
            b1 = data[11]
            if b1 < 0x80:
                step = (step & 0x7F) | b1 << 7
                pos = 12
            elif data[12] < 0x80:
                step = (step & 0x7F) | (b1 & 0x7F) << 7 | data[12] << 14
                pos = 13
            else:
                step, pos = pb.read_varint(data, 10)
                step = pb.as_int64(step)
    n = len(data)
    if n - pos - 2 >= 0x80:  # then every length below fits in one byte
        return None
    if data[pos] != 0x2A or data[pos + 1] != n - pos - 2:  # summary, to the end
        return None
    if data[pos + 2] != 0x0A or data[pos + 3] != n - pos - 4:  # one value, to the end
        return None
    size = data[pos + 5]
    if data[pos + 4] != 0x0A or size != n - pos - 11 or data[n - 5] != 0x15:  # tag, float
        return None
    return step, pos + 6, size


def _decode_event(data: bytes, out: _FileData) -> None:
    event = pb.fields(data)
    wall = pb.first(event, EVENT_WALL_TIME)
    t = pb.as_double(wall) if wall is not None else None
    step_raw = pb.first(event, EVENT_STEP)
    step = pb.as_int64(step_raw) if step_raw is not None else 0
    if t is not None:
        out.first_t = t if out.first_t is None else min(out.first_t, t)
        out.last_t = t if out.last_t is None else max(out.last_t, t)
    summary = pb.first(event, EVENT_SUMMARY)
    if summary is None:
        return
    for number, _wire, raw in pb.iter_fields(pb.as_bytes(summary)):
        if number == SUMMARY_VALUE:
            _decode_value(pb.as_bytes(raw), step, t, out)


def _decode_value(raw: bytes, step: int, t: float | None, out: _FileData) -> None:
    value = pb.fields(raw)
    tag = pb.as_str(pb.first(value, VALUE_TAG) or b"")
    plugin, content = "", b""
    metadata = pb.first(value, VALUE_METADATA)
    if metadata is not None:
        plugin_data = pb.first(pb.fields(pb.as_bytes(metadata)), METADATA_PLUGIN_DATA)
        if plugin_data is not None:
            pd = pb.fields(pb.as_bytes(plugin_data))
            plugin = pb.as_str(pb.first(pd, PLUGIN_NAME) or b"")
            content = pb.as_bytes(pb.first(pd, PLUGIN_CONTENT) or b"")
    if plugin == "hparams":
        _decode_hparams(content, out)
    simple = pb.first(value, VALUE_SIMPLE)
    if simple is not None:
        out.points.append(Point(tag, step, shortest_float32(pb.as_float(simple)), t))
        return
    tensor = pb.first(value, VALUE_TENSOR)
    if tensor is None:
        return
    tp = pb.fields(pb.as_bytes(tensor))
    dtype = pb.first(tp, TENSOR_DTYPE) or 0
    if dtype == DT_STRING and plugin == "text":
        strings = tp.get(TENSOR_STRING_VAL) or []
        if strings:
            out.text[tag] = "\n".join(pb.as_str(s) for s in strings)
        return
    if plugin not in ("", "scalars") or dtype not in (DT_FLOAT, DT_DOUBLE):
        return
    shape = pb.first(tp, TENSOR_SHAPE)
    if shape is not None and pb.fields(pb.as_bytes(shape)).get(SHAPE_DIM):
        return  # not 0-d: a histogram or an image, not a scalar
    if dtype == DT_FLOAT:
        vals = pb.repeated_floats(tp.get(TENSOR_FLOAT_VAL, []))
        fmt, size = "<f", 4
    else:
        vals = pb.repeated_doubles(tp.get(TENSOR_DOUBLE_VAL, []))
        fmt, size = "<d", 8
    if not vals:
        blob = pb.first(tp, TENSOR_CONTENT)
        if isinstance(blob, bytes) and len(blob) == size:
            vals = [struct.unpack(fmt, blob)[0]]
    if len(vals) == 1:
        val = shortest_float32(vals[0]) if dtype == DT_FLOAT else vals[0]
        out.points.append(Point(tag, step, val, t))


def _decode_hparams(content: bytes, out: _FileData) -> None:
    params, status = decode_hparams(content)
    if params is not None:
        out.hparams = {**(out.hparams or {}), **params}
    if status is not None:
        out.session_status = status
