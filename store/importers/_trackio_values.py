"""Trackio's stored values as Python values: numbers (with the strings it
writes for non-finite floats), JSON text, ISO-8601 times."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # a huge int
            return math.inf if value > 0 else -math.inf
    if isinstance(value, str):
        return _NON_FINITE.get(value)
    return None


def json_value(blob: Any) -> Any:
    if blob is None:
        return None
    try:
        return json.loads(blob)
    except (ValueError, TypeError):
        return None


def json_obj(blob: Any) -> dict[str, Any] | None:
    value = json_value(blob)
    return value if isinstance(value, dict) else None


def parse_time(value: Any) -> float | None:
    """ISO-8601 text (with a UTC offset; naive means local time, as old Trackio wrote it)."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
