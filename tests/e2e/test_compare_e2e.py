"""The Compare screen of the installed ``trackui`` in a real terminal (tmux).

- 12 runs at TERM=xterm: the output really is 16 colours (SGR 30–37/90–97),
  and no two runs share a (colour, marker) pair, read off ``capture-pane -e``
  (snapshots record truecolor, so only a terminal shows this).
- 20 runs at 80×24 whose params differ in 12 keys: every key and every run's
  value is brought on screen with the keyboard alone.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ..tui.compare_runs import sweep, sweep_names
from .conftest import Tmux, foregrounds, marked_count, require_trackui, trackui_env

pytestmark = pytest.mark.e2e

#: The marker glyphs of the first runs, as the legend shows them.
GLYPHS = "⣿•+x*o#@%=~^ABCDEFGH"
_TAG = re.compile(r"(\d+)(\S) ")


def open_compare(
    tmux: Tmux,
    tmp_path: Path,
    store: Path,
    n: int,
    size: tuple[int, int],
    term: str,
    extra: dict[str, str] | None = None,
) -> str:
    """Start trackui on ``store``, mark its ``n`` runs, compare them."""
    env = {**trackui_env(tmp_path), "COLORTERM": "", **(extra or {})}
    tmux.start(
        [str(require_trackui()), str(store)], width=size[0], height=size[1], term=term, env=env
    )
    tmux.wait_for("run-0")
    # Space marks; whether it also moves down is the run list's business
    tmux.send("Space")
    tmux.wait_until(lambda s: marked_count(s) == 1, "one run marked")
    tmux.send("Space")
    screen = tmux.wait_until(lambda s: marked_count(s) in (0, 2), "a second Space")
    step = ["Space"] if marked_count(screen) == 2 else ["Space", "Down"]
    for _ in range(n - marked_count(screen)):
        tmux.send(*step)
    tmux.wait_until(lambda s: marked_count(s) == n, f"{n} runs marked")
    tmux.send("c")
    return tmux.wait_for(f"─ {n} runs ─")


def legend_entries(screen_e: str, n: int) -> dict[int, tuple[str, str]]:
    """Run number -> (marker glyph, colour of the glyph), from the legend lines
    of a ``capture-pane -e`` screen (the legend is the right-hand box)."""
    found: dict[int, tuple[str, str]] = {}
    for line in screen_e.splitlines():
        chars = foregrounds(line)
        plain = "".join(ch for ch, _ in chars)
        box = plain.rfind("││")  # the chart's right border, then the legend's left
        if box < 0:
            continue
        start = box + 2
        m = _TAG.match(plain[start:].lstrip("▶ "))
        if not m:
            continue
        offset = start + (len(plain[start:]) - len(plain[start:].lstrip("▶ ")))
        glyph_at = offset + len(m.group(1))
        found[int(m.group(1))] = (m.group(2), chars[glyph_at][1])
    return found


def test_twelve_runs_in_16_colours_have_distinct_colour_marker_pairs(
    tmux: Tmux, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    n = 12
    sweep(store, n, names=sweep_names("plain", n))
    open_compare(tmux, tmp_path, store, n, (120, 40), "xterm")
    tmux.wait_until(lambda s: "12^" in s, "the twelfth run in the legend")
    screen_e = tmux.screen(escapes=True)
    entries = legend_entries(screen_e, n)
    assert sorted(entries) == list(range(1, n + 1)), screen_e
    for number, (glyph, colour) in entries.items():
        assert glyph == GLYPHS[number - 1]
        # a 16-colour terminal got a 16-colour code, never 256 or RGB
        assert re.fullmatch(r"3[0-7]|9[0-7]", colour), (number, colour)
        assert colour not in ("30", "37", "90", "97")  # not black, grey or white
    pairs = set(entries.values())
    assert len(pairs) == n
    assert len({colour for _, colour in pairs}) == n  # twelve ANSI colours, twelve runs
    # the chart draws each run's marker in the run's colour
    chart_chars = [
        (ch, colour)
        for line in screen_e.splitlines()
        for ch, colour in foregrounds(line)[: len(foregrounds(line)) * 2 // 3]
    ]
    for number, (glyph, colour) in entries.items():
        if glyph != "⣿":  # braille draws with many glyphs
            assert (glyph, colour) in chart_chars, (number, glyph, colour)


def test_no_color_twelve_runs_keep_distinct_markers_all_visible(tmux: Tmux, tmp_path: Path) -> None:
    store = tmp_path / "store"
    n = 12
    sweep(store, n, names=sweep_names("plain", n))
    open_compare(tmux, tmp_path, store, n, (120, 40), "xterm", {"NO_COLOR": "1"})
    tmux.wait_until(lambda s: "12^" in s, "the twelfth run in the legend")
    screen_e = tmux.screen(escapes=True)
    entries = legend_entries(screen_e, n)
    assert sorted(entries) == list(range(1, n + 1)), screen_e
    assert len({glyph for glyph, _ in entries.values()}) == n
    # nothing a run is drawn with may be black (on the black background) or colourful
    drawn = {
        colour
        for line in screen_e.splitlines()
        for ch, colour in foregrounds(line)
        if ch in GLYPHS[1:n] and ch.strip()
    }
    assert drawn and not drawn & {"30", "31", "32", "33", "34", "35", "36", "91", "94"}


def test_80x24_every_param_and_every_runs_value_reachable_by_keyboard(
    tmux: Tmux, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    n, keys = 20, 12
    sweep(store, n, names=sweep_names("plain", n), differ=keys)
    open_compare(tmux, tmp_path, store, n, (80, 24), "xterm")
    # to the params table, maximized
    tmux.send("Tab")
    tmux.wait_until(lambda s: "Params:" in s, "the params pane")
    tmux.send("z")
    screen = tmux.wait_until(lambda s: "Summary:" not in s, "the params pane maximized")
    assert "Params: 12 of 14 differ" in screen
    seen_keys: set[str] = set()
    seen_values: set[tuple[int, str]] = set()

    def look() -> None:
        shown = tmux.screen()
        seen_keys.update(re.findall(r"\bp\d\d\b", shown))
        for line in shown.splitlines():
            m = re.match(r"\s*\d+\S run-(\d+) ", line)
            if m:
                for value in re.findall(r"\bv\d+-\d+\b|\b\d+\.\d+\b", line):
                    seen_values.add((int(m.group(1)), value))

    # walk every cell: right along a row, down, left along the next; after
    # each key, wait until the detail line names the cell's run and key
    def at(row: int, column: int) -> None:
        want = f"▶ {row + 1}{GLYPHS[row]} run-"
        key = f"· p{column - 1:02d}" if column else None

        def there(screen: str) -> bool:
            top = screen.splitlines()[0]
            return want in top and (key in top if key else "· p" not in top)

        tmux.wait_until(there, f"the cursor on run {row + 1}, column {column}")
        look()

    column = 0
    for row in range(n):
        at(row, column)
        for _ in range(keys):
            column += 1 if row % 2 == 0 else -1
            tmux.send("Right" if row % 2 == 0 else "Left")
            at(row, column)
        if row < n - 1:
            tmux.send("Down")
    assert seen_keys == {f"p{k:02d}" for k in range(keys)}
    for i in range(n):
        for k in range(keys):
            value = want_value(i, k)
            assert (i, value) in seen_values, (f"run-{i}", f"p{k:02d}", value)


def want_value(i: int, k: int) -> str:
    """The param ``p{k}`` of run ``i`` as the table shows it (see compare_runs.sweep)."""
    if k % 2 == 0:
        return f"v{k}-{i}"
    from trackui.store import fmt

    return fmt.value(round((k + 1) + (i + 1) / 1000, 6))
