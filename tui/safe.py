"""User text (run names, params, console lines) shown literally and safely.

Nothing a user wrote is ever parsed as Rich markup, and no control character
or escape sequence from a name or a console log reaches the terminal.
"""

from __future__ import annotations

import re

from rich.text import Text

# CSI/OSC/other escape sequences, then any remaining C0/C1 control character.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI ... final byte
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL or ST
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS/SOS/PM/APC ... ST
    r"|\x1b[@-Z\\-_]?"  # other two-byte escapes, or a lone ESC
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: object, *, keep_newlines: bool = False) -> str:
    """``text`` without escape sequences; other control characters become
    visible placeholders (``\\t`` becomes a space)."""
    s = str(text)
    s = _ESCAPES.sub("", s)
    s = s.replace("\t", "    ")
    if not keep_newlines:
        s = s.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    else:
        s = s.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub("\ufffd", s) if not keep_newlines else _CONTROLS.sub(
        lambda m: "\n" if m.group() == "\n" else "\ufffd", s
    )


def literal(text: object, style: str = "", *, keep_newlines: bool = False) -> Text:
    """A ``Text`` that displays exactly what the user typed (no markup)."""
    return Text(clean(text, keep_newlines=keep_newlines), style=style, no_wrap=not keep_newlines)
