"""One place that turns numbers, times and durations into text, for the CLI
and the TUI alike (a loss of 0.0034 is never shown as ``0.00``)."""

from __future__ import annotations

import json
import math
import re
import time
from typing import Any


def _trim_mantissa(text: str) -> str:
    """'5.000e-05' -> '5e-05', '1.250e+06' -> '1.25e+06': zeros after the point
    say nothing, and dropping them keeps the exponent on screen."""
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e", 1)
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{exponent}"


def number(value: float | int | None, digits: int = 4) -> str:
    """Significant digits, not decimals: 0.0034 -> '0.0034', 1234567 -> '1.235e+06',
    5e-05 -> '5e-05'. The exponent is never dropped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if abs(value) < 10**9 else _trim_mantissa(f"{value:.{digits - 1}e}")
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
        return text if "e" not in text else _trim_mantissa(f"{value:.{digits - 1}e}")
    return _trim_mantissa(f"{value:.{digits - 1}e}")


def _candidates(value: float | int) -> list[str]:
    """True renderings of ``value``, most precise first: the exact text, then
    fewer and fewer significant digits (fixed and exponent forms)."""
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, int):
        exact = str(value)
        out = [exact]
        for digits in range(min(len(exact.lstrip("-")), 17), 0, -1):
            out.append(_trim_mantissa(f"{value:.{digits - 1}e}"))
        return out
    if math.isnan(value):
        return ["nan"]
    if math.isinf(value):
        return ["inf" if value > 0 else "-inf"]
    if value == 0:
        return ["0"]
    if value.is_integer() and abs(value) < 1e16:
        exact = str(int(value))
    else:
        exact = repr(value)
    out = [exact]
    for digits in range(17, 0, -1):
        fixed = f"{value:.{digits}g}"
        if "e" in fixed:
            fixed = _trim_mantissa(fixed)
        out.append(fixed)
        out.append(_trim_mantissa(f"{value:.{digits - 1}e}"))
    return out


def number_fit(value: float | int | None, width: int | None = None, digits: int = 6) -> str:
    """The most precise true text for ``value`` that fits ``width`` cells, at most
    ``digits`` significant digits (``width=None``: no width limit).

    Never a cut string: when even one significant digit with its exponent does
    not fit, the shortest true text is returned and the caller must widen the
    column (columns are sized from formatted values, not cut after)."""
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return _candidates(value)[0]
    preferred = number(value, digits)
    if width is None or len(preferred) <= width:
        return preferred
    best = preferred
    for text in _candidates(value):
        if len(text) < len(best) and _significant(text) <= _significant(preferred):
            best = text
        if len(text) <= width and _significant(text) <= _significant(preferred):
            return text
    return best


def _significant(text: str) -> int:
    mantissa = text.split("e", 1)[0].lstrip("-+")
    digits = mantissa.replace(".", "").lstrip("0")
    if "." not in mantissa:
        digits = digits.rstrip("0") or digits
    return max(len(digits), 1)


def delta(
    value: float | int | None, base: float | int | None, width: int | None = None, digits: int = 4
) -> str:
    """``value - base`` with its sign, through the same rules as ``number_fit``:
    '+0.002', '-5.3e-05', '0' when equal, '' when either is missing."""
    if value is None or base is None or isinstance(value, bool) or isinstance(base, bool):
        return ""
    try:
        diff = value - base
    except (TypeError, OverflowError):
        return ""
    if isinstance(diff, float) and math.isnan(diff):
        return (
            ""
            if (isinstance(value, float) and math.isnan(value))
            or (isinstance(base, float) and math.isnan(base))
            else "nan"
        )
    if diff == 0:
        return "0"
    text = number_fit(diff, None if width is None else width - (0 if diff < 0 else 1), digits)
    return text if text.startswith("-") else "+" + text


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
    "unreadable": "⊘",
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
# Colour and cursor sequences in a console log (tqdm, rich logging) carry no
# text: the console view drops them, while other escapes are made visible.
_CONSOLE_NOISE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]")

# Everything that moves the cursor, changes the terminal or takes no cell:
# C0 and C1 controls, DEL, bidi overrides and isolates, zero-width and other
# format characters, line/paragraph separators, lone surrogates.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u115f\u1160\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0e\ufeff\ufff9-\ufffb\U000e0000-\U000e0fff"
    "\ud800-\udfff]"
)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def printable(text: object, *, keep_newlines: bool = False, console: bool = False) -> str:
    """User text made safe for a terminal, for every human-readable output (TUI,
    tables, plain, CSV, Markdown): nothing a run wrote can drive the terminal.

    Control characters, ESC (and so every escape sequence), DEL, bidi overrides
    and zero-width characters are shown as visible ``\\xNN``/``\\uNNNN`` text,
    so a name cannot clear the screen, set the title, write the clipboard or
    shift columns, and nothing is hidden from the reader. ``console=True``
    drops colour and cursor sequences instead (a training log's progress bars)."""
    s = str(text)
    if console:
        s = _CONSOLE_NOISE.sub("", s)
    s = s.replace("\t", "    ").replace("\r\n", "\n")
    if console:
        s = s.replace("\r", "\n")
    if keep_newlines:
        return "\n".join(_INVISIBLE.sub(_visible, line) for line in s.split("\n"))
    return _INVISIBLE.sub(_visible, s.replace("\n", " ") if console else s)


def visible_controls(text: str) -> bool:
    """Whether ``printable`` would change ``text`` (used by tests and linters)."""
    return bool(_INVISIBLE.search(text))


_JSON_ESCAPE = re.compile(
    "[\x7f-\x9f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]"
)


def json_text(obj: Any, **kwargs: Any) -> str:
    """JSON for ``--json``: values exact, non-ASCII text kept readable, and every
    control character (C0 by json itself; DEL, C1, bidi and zero-width here)
    written as a ``\\uNNNN`` escape, so piping it to a terminal is safe too."""
    kwargs.setdefault("ensure_ascii", False)
    text = json.dumps(obj, **kwargs)
    return _JSON_ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def repair(text: str, path: bool = False) -> str:
    """Any ``str`` as valid UTF-8 text. Lone surrogates (Python makes them from
    undecodable bytes of file names, argv and environment) become ``\\xNN`` when
    ``path`` (so the bytes stay recognisable), else U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    if path:
        raw = text.encode("utf-8", "surrogateescape") if _only_escapes(text) else None
        if raw is not None:
            return raw.decode("utf-8", "backslashreplace")
        return "".join(
            f"\\x{ord(c) - 0xDC00:02x}"
            if 0xDC80 <= ord(c) <= 0xDCFF
            else "\ufffd"
            if 0xD800 <= ord(c) <= 0xDFFF
            else c
            for c in text
        )
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def _only_escapes(text: str) -> bool:
    return all(not (0xD800 <= ord(c) <= 0xDFFF) or 0xDC80 <= ord(c) <= 0xDCFF for c in text)
