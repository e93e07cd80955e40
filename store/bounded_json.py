"""JSON from hostile bytes: no recursion limit reachable from content, no
exception but ``ValueError``, every string valid UTF-8.

- Nesting deeper than ``MAX_DEPTH`` is refused before ``json.loads`` sees it
  (Python's parser recurses per level and raises ``RecursionError`` at about a
  thousand; a C parser may overflow its stack).
- Invalid UTF-8 bytes become U+FFFD; lone surrogates written as ``\\udXXX``
  escapes are repaired with ``fmt.repair`` in keys and values.
- Integers of any length parse: Python refuses more than 4,300 digits, so
  those become ``±inf`` (a float); shorter ones stay exact ints, and callers
  convert to float64 (``±inf`` past its range) where a number is needed.
- Duplicate keys in one object: the last one wins, as in ``json.loads`` (the
  catalog's fast path defers to this parser whenever DuckDB's reader would
  see such a line differently).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .fmt import repair

MAX_DEPTH = 100

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_DIGITS_CAP = 4000
#: A run of digits past the cap (in a number or a string): parse with ``_parse_int``.
_LONG_DIGITS = re.compile(rb"[0-9]{%d}" % (_DIGITS_CAP + 1))


def depth(data: bytes) -> int:
    """The deepest nesting of ``[``/``{`` in a JSON text, strings left out."""
    opens = data.count(b"{") + data.count(b"[")
    if opens <= 1:
        return opens
    deepest = level = 0
    for m in _BRACKETS.finditer(_STRINGS.sub(b'""', data)):
        if m.group() in (b"{", b"["):
            level += 1
            if level > deepest:
                deepest = level
        else:
            level -= 1
    return deepest


def _parse_int(text: str) -> int | float:
    if len(text) <= _DIGITS_CAP:
        return int(text)
    return -math.inf if text.startswith("-") else math.inf


def _fix(obj: Any) -> Any:
    """Repair lone surrogates in every string of a parsed document (iterative)."""
    if isinstance(obj, str):
        return repair(obj)
    if not isinstance(obj, (dict, list)):
        return obj
    root = [obj]
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        items = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        if isinstance(node, dict):
            node.clear()
        for key, value in items:
            if isinstance(value, str):
                value = repair(value)
            elif isinstance(value, (dict, list)):
                stack.append(value)
            if isinstance(node, dict):
                node[repair(key)] = value
            else:
                node[key] = value
    return root[0]


def _first(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


_PLAIN = json.JSONDecoder()
_BIG_INTS = json.JSONDecoder(parse_int=_parse_int)
_FIRST_WINS = json.JSONDecoder(parse_int=_parse_int, object_pairs_hook=_first)


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH, first_wins: bool = False) -> Any:
    """A JSON document from hostile bytes (see the module docstring);
    ``ValueError`` naming what is wrong otherwise. ``first_wins``: a key
    repeated in one object keeps its first value (else its last)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if raw.count(b"{") + raw.count(b"[") > max_depth and depth(raw) > max_depth:
        raise ValueError(f"nested deeper than {max_depth} levels")
    text = raw.decode("utf-8", "replace")
    try:
        if first_wins:
            obj = _FIRST_WINS.decode(text)
        elif _LONG_DIGITS.search(raw):
            obj = _BIG_INTS.decode(text)
        else:
            try:
                obj = _PLAIN.decode(text)  # ints parsed in C: the common case
            except ValueError:
                # Invalid, or an int Python's digit limit refuses (set low):
                # again with the parser that raises what it always raised.
                obj = _BIG_INTS.decode(text)
    except RecursionError:  # cannot happen below max_depth; kept as a guard
        raise ValueError(f"nested deeper than {max_depth} levels") from None
    if _SURROGATE.search(raw) or isinstance(data, str):
        obj = _fix(obj)
    return obj


def loads_object(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """Like ``loads`` but the document must be a JSON object."""
    obj = loads(data, max_depth=max_depth)
    if not isinstance(obj, dict):
        raise ValueError(f"a JSON {type(obj).__name__}, not an object")
    return obj


def parse_lines(chunk: bytes, *, max_depth: int = MAX_DEPTH) -> list[dict[str, Any] | None]:
    """One entry per line of a chunk of complete lines: the object, or None
    for a blank, corrupt, too deep or non-object line (so indexes stay line numbers)."""
    out: list[dict[str, Any] | None] = []
    lines = chunk.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for raw in lines:
        try:
            obj = loads(raw, max_depth=max_depth)
        except ValueError:
            out.append(None)
            continue
        out.append(obj if isinstance(obj, dict) else None)
    return out


def to_float(value: Any) -> float | None:
    """A JSON number as float64 (ints past its range as ±inf); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    return None


def int64(value: Any) -> int | None:
    """An int that fits a BIGINT column, else None."""
    if type(value) is int and -(2**63) <= value < 2**63:
        return value
    return None
