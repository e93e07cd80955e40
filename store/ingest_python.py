"""The Python path of metric ingest: chunks DuckDB's JSON reader would read
differently from what was written (see ``ingest``) parsed line by line, exactly,
into long-format rows for DuckDB to load."""

from __future__ import annotations

import json
import math
from typing import Any

from . import bounded_json

OVERFLOW_NOTE = "metrics: integers past float64's range read as ±inf"


def _metric_line(raw: bytes) -> dict[str, Any] | None:
    """One metric line as ``bounded_json`` reads it, a repeated key keeping
    its first value (as DuckDB's reader does); None when not an object."""
    try:
        if b"\\u" in raw or raw.count(b"{") + raw.count(b"[") > bounded_json.MAX_DEPTH:
            raise ValueError("escapes or nesting: the careful parser")
        obj = json.loads(raw)  # what the shim writes, fast
    except ValueError:  # includes invalid UTF-8
        try:
            obj = bounded_json.loads(raw)
        except ValueError:
            return None
    if not isinstance(obj, dict):
        return None
    if raw.count(b'":') > len(obj):  # maybe a repeated key: read it again, slowly
        try:
            obj = bounded_json.loads(raw, first_wins=True)
        except ValueError:
            return None
    return obj


class ParsedPoints:
    """Points parsed in Python, kept as long-format JSON lines for DuckDB to
    load with fixed column types (a list parameter would cost a slow Python
    conversion per element). This path is exact where DuckDB's reader of the
    run files is not: case-insensitive twin keys (which it renames), blank
    lines (which it does not count), steps that are not integers, invalid
    UTF-8, lone surrogates, deep nesting."""

    COLUMNS = {
        "run_id": "VARCHAR",
        "key": "VARCHAR",
        "seq": "BIGINT",
        "step": "BIGINT",
        "t": "DOUBLE",
        "value": "DOUBLE",
    }

    def __init__(self, notes: dict[str, set[str]] | None = None) -> None:
        self.lines: list[str] = []
        self._keys: dict[str, str] = {}  # key -> its JSON
        self.notes = notes if notes is not None else {}

    def parse(self, run_id: str, chunk: bytes, first_line: int) -> None:
        out = self.lines
        keys = self._keys
        run = json.dumps(run_id)
        for i, raw in enumerate(chunk.split(b"\n")):
            if not raw:
                continue
            obj = _metric_line(raw)
            if obj is None or not _is_step(obj.get("_step")):
                continue
            t = _num(obj.get("_t"))
            head = f'{{"run_id":{run},"seq":{first_line + i},"step":{obj["_step"]},"t":{_json_number(t)},'
            for key, value in obj.items():
                if key in ("_step", "_t"):
                    continue
                kind = type(value)
                if kind is float:  # what the shim writes: the common case first
                    text = repr(value) if value - value == 0 else _json_number(value)
                elif kind is int or kind is bool:
                    num = _num(value) if kind is int else float(value)
                    if num in (math.inf, -math.inf):
                        self.notes.setdefault(run_id, set()).add(OVERFLOW_NOTE)
                    text = _json_number(num)
                else:
                    num = _num(value)
                    if num is None:
                        continue
                    text = _json_number(num)
                name = keys.get(key)
                if name is None:
                    name = keys[key] = json.dumps(key)
                out.append(f'{head}"key":{name},"value":{text}}}\n')

    def __len__(self) -> int:
        return len(self.lines)


def _num(value: Any) -> float | None:
    """A metric value or time as float64: numbers (ints past its range as
    ±inf) and numeric strings; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return bounded_json.to_float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _json_number(value: float | None) -> str:
    """A float as JSON, non-finite values as the JSON reader expects them."""
    if value is None:
        return "null"
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def _is_step(value: Any) -> bool:
    return type(value) is int and -(2**63) <= value < 2**63
