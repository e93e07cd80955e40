"""``system.jsonl`` lines as metric lines, so the catalog ingests sampled
system series (``system/gpu0.util``...) the way it ingests ``metrics.jsonl``.

A sample line has no ``_step``: its step is its line number in the file (the
sample's index, blank and corrupt lines counted, as metric lines' ``seq``
is). Only ``system/`` keys with finite numbers are kept, so the file can never
add a series outside the ``system/`` namespace; a line that is not a JSON
object becomes ``{}`` (no points, its number still counted).
"""

from __future__ import annotations

import json
import math
import re

from . import bounded_json

PREFIX = "system/"


def is_system(key: str) -> bool:
    """Whether ``key`` is a sampled system series (GPU, CPU, memory)."""
    return key.startswith(PREFIX)


_NUM = rb"-?(?:\d{1,18}|\d{1,300}\.\d+(?:[eE][+-]?\d{1,2})?|\d{1,300}[eE][+-]?\d{1,2})"
#: a line as the sampler and the importers write it: ``_t`` first, then only
#: ``system/`` keys (no quote or backslash in them) with plain numbers; such a
#: line gets its ``_step`` spliced in without being parsed
_PLAIN = re.compile(
    rb'\{\s*"_t"\s*:\s*'
    + _NUM
    + rb'(?:\s*,\s*"system/[^"\\\x00-\x1f]*"\s*:\s*'
    + _NUM
    + rb")*\s*\}\s*"
)


def as_metric_lines(data: bytes, first_line: int) -> bytes:
    """Complete ``system.jsonl`` lines (``data`` ends with a newline) whose
    first is line ``first_line``, as metric lines with ``_step`` = line number."""
    out = []
    for i, raw in enumerate(data.split(b"\n")[:-1]):
        if _PLAIN.fullmatch(raw):
            out.append(b'{"_step":%d,' % (first_line + i) + raw.lstrip()[1:].rstrip())
            continue
        try:
            obj = bounded_json.loads(raw, first_wins=True) if raw.strip() else None
        except (ValueError, RecursionError):
            obj = None
        line: dict[str, object] = {}
        if isinstance(obj, dict):
            line["_step"] = first_line + i
            t = obj.get("_t")
            if _finite(t):
                line["_t"] = t
            for key, value in obj.items():
                if isinstance(key, str) and key.startswith(PREFIX) and _finite(value):
                    line[key] = float(value)
        out.append((json.dumps(line) if len(line) > 1 else "{}").encode())
    return b"\n".join(out) + b"\n" if out else b""


def _finite(value: object) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer past float64's range
        return False
