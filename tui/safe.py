"""User text (run names, params, console lines) shown literally and safely.

Nothing a user wrote is ever parsed as Rich markup, and no control character
or escape sequence from a name or a console log reaches the terminal.
"""

from __future__ import annotations

from rich.text import Text

from trackui.store.fmt import printable


def clean(text: object, *, keep_newlines: bool = False, console: bool = False) -> str:
    """``text`` with control characters, escapes, bidi and zero-width characters
    made visible (``console``: colour and cursor sequences dropped instead)."""
    return printable(text, keep_newlines=keep_newlines, console=console)


def literal(text: object, style: str = "", *, keep_newlines: bool = False) -> Text:
    """A ``Text`` that displays exactly what the user typed (no markup)."""
    return Text(clean(text, keep_newlines=keep_newlines), style=style, no_wrap=not keep_newlines)
