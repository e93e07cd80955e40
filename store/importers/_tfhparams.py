"""The ``hparams`` plugin's content in TensorBoard event files
(``HParamsPluginData``): the hparams a session started with (a map of
``google.protobuf.Value``) and the status its end recorded."""

from __future__ import annotations

from typing import Any

from trackui.store.importers import _protobuf as pb

# HParamsPluginData
HPARAMS_SESSION_START = 3
HPARAMS_SESSION_END = 4
SESSION_START_HPARAMS = 1
SESSION_END_STATUS = 1
SESSION_STATUS = {
    0: "STATUS_UNKNOWN",
    1: "STATUS_SUCCESS",
    2: "STATUS_FAILURE",
    3: "STATUS_RUNNING",
}
# google.protobuf.Value / Struct / ListValue
GVALUE_NULL = 1
GVALUE_NUMBER = 2
GVALUE_STRING = 3
GVALUE_BOOL = 4
GVALUE_STRUCT = 5
GVALUE_LIST = 6


def decode_hparams(content: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """The hparams a session start names, and the status its end gives."""
    data = pb.fields(content)
    params: dict[str, Any] | None = None
    status: str | None = None
    start = pb.first(data, HPARAMS_SESSION_START)
    if start is not None:
        params = {}
        for entry in pb.fields(pb.as_bytes(start)).get(SESSION_START_HPARAMS, []):
            key, val = _map_entry(pb.as_bytes(entry))
            params[key] = val
    end = pb.first(data, HPARAMS_SESSION_END)
    if end is not None:
        code = pb.first(pb.fields(pb.as_bytes(end)), SESSION_END_STATUS) or 0
        status = SESSION_STATUS.get(int(code), f"STATUS_{code}")
    return params, status


def _map_entry(raw: bytes) -> tuple[str, Any]:
    entry = pb.fields(raw)
    key = pb.as_str(pb.first(entry, 1) or b"")
    val = pb.first(entry, 2)
    return key, _gvalue(pb.as_bytes(val)) if val is not None else None


def _gvalue(raw: bytes) -> Any:
    """A ``google.protobuf.Value`` as the Python value it stands for."""
    result: Any = None
    for number, _wire, v in pb.iter_fields(raw):
        if number == GVALUE_NULL:
            result = None
        elif number == GVALUE_NUMBER:
            result = pb.as_double(v)
        elif number == GVALUE_STRING:
            result = pb.as_str(v)
        elif number == GVALUE_BOOL:
            result = bool(v)
        elif number == GVALUE_STRUCT:
            result = dict(_map_entry(pb.as_bytes(e)) for e in pb.fields(pb.as_bytes(v)).get(1, []))
        elif number == GVALUE_LIST:
            result = [_gvalue(pb.as_bytes(e)) for e in pb.fields(pb.as_bytes(v)).get(1, [])]
    return result
