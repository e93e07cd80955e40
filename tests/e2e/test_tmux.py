"""The installed ``trackui`` in a real terminal (tmux, 120×40, 256 colours):
the compare walk, and user text with markup and escape sequences shown
literally without reaching the terminal."""

from __future__ import annotations

from pathlib import Path

import pytest

import trackui

from ..conftest import copy_store
from .conftest import (
    Tmux,
    apply_filter,
    colours_of,
    compare_walk,
    line_with,
    require_trackui,
    trackui_env,
)

pytestmark = pytest.mark.e2e

#: Markup, an SGR colour and an OSC window title inside one run name.
EVIL_NAME = "opt[/x] [bold]\x1b[31mred\x1b]0;pwned\x07 end"
#: What the user must see: the text as typed, each control character shown as
#: visible text (``\x1b``), so nothing reaches the terminal and nothing is hidden.
EVIL_SHOWN = "opt[/x] [bold]\\x1b[31mred\\x1b]0;pwned\\x07 end"
RED = "31"
#: Only the Run screen shows its tab names.
RUN_SCREEN_MARK = "1 Overview"


def start_trackui(tmux: Tmux, tmp_path: Path, store: Path) -> None:
    tmux.start(
        [str(require_trackui()), str(store)],
        width=120,
        height=40,
        term="xterm-256color",
        env=trackui_env(tmp_path),
    )


def test_compare_walk_in_tmux(tmux: Tmux, tmp_path: Path) -> None:
    store = copy_store(tmp_path / "store")
    start_trackui(tmux, tmp_path, store)
    assert tmux.size() == (120, 40)
    seen = compare_walk(tmux)
    assert "lr0" in seen["lr0_row"]


def write_evil_run(store: Path) -> None:
    with trackui.init(
        project="evil",
        name=EVIL_NAME,
        config={"lr0": 0.01, "note": "[red]not markup[/red]"},
        dir=store,
        console=False,
    ) as run:
        for step in range(20):
            run.log({"loss": 1.0 / (step + 1)}, step=step)


def assert_literal_and_uncoloured(tmux: Tmux, screen: str) -> None:
    assert EVIL_SHOWN in screen, f"the name is not shown as typed; screen:\n{screen}"
    lines = [line for line in tmux.screen(escapes=True).splitlines() if "opt[/x]" in line]
    assert lines
    for line in lines:
        colours = colours_of(line, EVIL_SHOWN)
        # The injected SGR would paint "red end" red while "opt[/x] [bold]"
        # keeps the app's colour: the name must be drawn in one colour, not red.
        assert len(colours) == 1 and RED not in colours, f"name drawn in {colours}: {line!r}"
    assert "pwned" not in tmux.pane_title()


def test_markup_and_escapes_in_a_run_name_show_literally(tmux: Tmux, tmp_path: Path) -> None:
    store = copy_store(tmp_path / "store")
    write_evil_run(store)
    start_trackui(tmux, tmp_path, store)

    screen = tmux.wait_until(
        lambda s: EVIL_SHOWN in s and "yolo-sgd" in s, "the evil run beside the others"
    )
    assert_literal_and_uncoloured(tmux, screen)

    # Open it: narrow the list to its project so it is the row under the cursor.
    apply_filter(
        tmux, "project:evil", lambda s: EVIL_SHOWN in s and "yolo-sgd" not in s, "only the evil run"
    )
    tmux.send("Enter")
    screen = tmux.wait_until(
        lambda s: RUN_SCREEN_MARK in s and s.count(EVIL_SHOWN) >= 2,
        "the run screen of the evil run (header and overview)",
    )
    assert_literal_and_uncoloured(tmux, screen)
    tmux.send("2")
    screen = tmux.wait_for("[red]not markup[/red]")
    assert_literal_and_uncoloured(tmux, screen)

    tmux.send("q")
    tmux.wait_until(lambda s: RUN_SCREEN_MARK not in s and EVIL_SHOWN in s, "the run list again")
    tmux.send("q")
    status = tmux.wait_exit()
    screen = tmux.screen()
    assert status == 0 and "Traceback" not in screen, screen
    assert "pwned" not in tmux.pane_title()


def test_detectors_see_raw_escapes(tmux: Tmux, tmp_path: Path) -> None:
    """The checks above can fail: the same name written raw to the terminal
    turns the text red and renames the pane."""
    tmux.start(["printf", "%s\\n", EVIL_NAME], width=120, height=40, term="xterm-256color")
    tmux.wait_exit()
    line = line_with(tmux.screen(escapes=True), "red end")
    assert RED in colours_of(line, "red end")
    assert len(colours_of(line, "opt[/x] [bold]red end")) == 2
    assert tmux.pane_title() == "pwned"
