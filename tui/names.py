"""Run names that fit a column and stay told apart.

Widths are terminal cells (``rich.cells.cell_len``), never ``len()``: CJK and
emoji take two cells. A name too long for its column loses its middle, or the
prefix every name in view shares, so the part that tells runs apart (``seed3``,
``lr0.01``) stays on screen. Imports only ``rich`` (never Textual), so the CLI
uses the same rules as the TUI.
"""

from __future__ import annotations

from rich.cells import cell_len

from trackui.store.fmt import printable

ELLIPSIS = "…"
# Where a shared prefix may be cut: after one of these, so "yolo-lr0.01-seed1"
# keeps "seed1" whole rather than "ed1".
_SEPARATORS = "-_/.:= ,|"


def cells(text: str) -> int:
    """Width of ``text`` in terminal cells."""
    return cell_len(text)


def _head(text: str, width: int) -> str:
    """The longest start of ``text`` that takes at most ``width`` cells."""
    out, used = [], 0
    for ch in text:
        w = cell_len(ch)
        if used + w > width:
            break
        out.append(ch)
        used += w
    return "".join(out)


def _tail(text: str, width: int) -> str:
    """The longest end of ``text`` that takes at most ``width`` cells."""
    out, used = [], 0
    for ch in reversed(text):
        w = cell_len(ch)
        if used + w > width:
            break
        out.append(ch)
        used += w
    return "".join(reversed(out))


def fit(text: str, width: int, *, tail_share: float = 0.6) -> str:
    """``text`` in at most ``width`` cells: unchanged when it fits, else its
    middle replaced by ``…``, keeping more of the end (where runs differ)."""
    text = printable(text)
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    if width == 1:
        return ELLIPSIS
    room = width - 1
    keep_tail = max(1, round(room * tail_share))
    tail = _tail(text, keep_tail)
    head = _head(text, room - cell_len(tail))
    return f"{head}{ELLIPSIS}{tail}"


def fit_start(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, losing its start (``…seed3``)."""
    text = printable(text)
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    return ELLIPSIS + _tail(text, width - 1)


def common_prefix(names: list[str]) -> str:
    """The prefix all ``names`` share, ending at a separator (so no name loses
    part of a word); empty for fewer than two names."""
    if len(names) < 2:
        return ""
    first, last = min(names), max(names)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    prefix = first[:n]
    if all(len(name) > n for name in names):
        cut = max(prefix.rfind(sep) for sep in _SEPARATORS)
        prefix = prefix[: cut + 1] if cut >= 0 else ""
    else:
        # One name is the prefix itself: keep the last word of it visible.
        cut = max(prefix[:-1].rfind(sep) for sep in _SEPARATORS) if prefix else -1
        prefix = prefix[: cut + 1] if cut >= 0 else ""
    return prefix


def distinct(names: list[str], width: int) -> list[str]:
    """Each name shortened to at most ``width`` cells, so that names that differ
    stay different where the width allows it: first the prefix they all share
    is elided (``…seed1``), then the middle; if two still collide, more of
    their ends is kept."""
    clean = [printable(n) for n in names]
    if all(cell_len(n) <= width for n in clean):
        return clean
    prefix = common_prefix(clean)
    if prefix and cell_len(prefix) > 3:
        rest = [ELLIPSIS + n[len(prefix) :] for n in clean]
    else:
        rest = clean
    out = [n if cell_len(n) <= width else fit(n, width) for n in rest]
    if len(set(out)) == len(set(clean)):
        return out
    # Collisions: the distinguishing part sits at the end more often than not.
    tails = [n if cell_len(n) <= width else fit_start(n, width) for n in rest]
    if len(set(tails)) >= len(set(out)):
        return tails
    return out
