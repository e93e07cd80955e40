"""One place that turns numbers, times and durations into text, for the CLI
and the TUI alike (a loss of 0.0034 is never shown as ``0.00``)."""

from __future__ import annotations

import json
import math
import re
import time
from typing import Any


def number(value: float | int | None, digits: int = 4) -> str:
    """Significant digits, not decimals: 0.0034 -> '0.0034', 1234567 -> '1.235e+06'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if abs(value) < 10**9 else f"{value:.{digits - 1}e}"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 1e9:
        return str(int(value))
    magnitude = abs(value)
    if 1e-4 <= magnitude < 1e9:
        text = f"{value:.{digits}g}"
        return text if "e" not in text else f"{value:.{digits - 1}e}"
    return f"{value:.{digits - 1}e}"


def value(obj: Any) -> str:
    """A param or summary value as text: strings as they are, numbers by
    ``number``, everything else as compact JSON."""
    if obj is None:
        return "null"
    if isinstance(obj, str):
        return obj
    if isinstance(obj, (bool, int, float)):
        return number(obj, digits=6)
    return json.dumps(obj, default=str, separators=(", ", ": "))


def duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:
        return ""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def ago(timestamp: float | None, now: float | None = None) -> str:
    """'12s ago', '3h ago', '5d ago', or the date for old runs."""
    if timestamp is None:
        return ""
    now = time.time() if now is None else now
    delta = now - timestamp
    if delta < 0:
        return "just now"
    if delta < 60:
        return f"{delta:.0f}s ago"
    if delta < 3600:
        return f"{delta // 60:.0f}m ago"
    if delta < 86400:
        return f"{delta // 3600:.0f}h ago"
    if delta < 86400 * 30:
        return f"{delta // 86400:.0f}d ago"
    return time.strftime("%Y-%m-%d", time.localtime(timestamp))


def timestamp(ts: float | None) -> str:
    if ts is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def size(nbytes: int | None) -> str:
    if nbytes is None:
        return ""
    amount = float(nbytes)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if amount < 1024 or unit == "TB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{nbytes} B"


STATUS_GLYPHS = {
    "running": "▶",
    "finished": "✔",
    "failed": "✖",
    "killed": "■",
    "crashed": "✝",
}


def status(word: str) -> str:
    return f"{STATUS_GLYPHS.get(word, '?')} {word}"


# CSI/OSC/other escape sequences, then any remaining C0/C1 control character.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI ... final byte
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL or ST
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS/SOS/PM/APC ... ST
    r"|\x1b[@-Z\\-_]?"  # other two-byte escapes, or a lone ESC
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: object, *, keep_newlines: bool = False) -> str:
    """User text with escape sequences removed and other control characters
    made visible, so nothing a run wrote can drive the terminal."""
    s = _ESCAPES.sub("", str(text)).replace("\t", "    ")
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    if not keep_newlines:
        s = s.replace("\n", " ")
    return _CONTROLS.sub("\ufffd", s)
