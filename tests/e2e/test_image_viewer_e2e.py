"""The image viewer in a real terminal: the installed ``trackui`` in tmux
(120×40, 256 colours) and through ``ssh -t`` to a loopback sshd (80×24,
TERM=xterm, 16 colours). Open a run, its Artifacts tab, an image (enter),
step with ``]``, go back with esc: the Run screen is as it was, nothing of
the picture is left behind."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

import trackui

from .conftest import POLL, Tmux, require_trackui, trackui_env
from .test_ssh import SshServer, sshd  # noqa: F401 - the loopback sshd fixture

pytestmark = pytest.mark.e2e

RUN_SCREEN_MARK = "1 Overview"
FIRST = "media/samples/0.png"
_EXTENDED_COLOUR = re.compile(r"\x1b\[[0-9;]*[34]8[;:][25][;:]")
_BASIC_RED = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:31|91)(?:;[0-9;]*)?m(?:\x1b\[[0-9;]*m)*▀")


def write_run(store: Path) -> None:
    with trackui.init(project="img", name="pics", dir=store, console=False) as run:
        for step, colour in ((0, (255, 0, 0)), (5, (0, 255, 0)), (10, (0, 0, 255))):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
            run.log_image("samples", [[colour] * 24] * 24, step=step)


def comparable(screen: str) -> list[str]:
    """The screen without lines that say how long ago something was, and
    without the tabs' underline (where it stands is the Run screen's affair:
    after a digit it can lag behind the tab shown until the next redraw)."""
    return [
        line
        for line in screen.splitlines()
        if "ago" not in line and not (line.strip() and set(line.strip()) <= set("━╸╺─"))
    ]


def steady(term: Tmux, predicate, what: str) -> str:
    """The screen once ``predicate`` holds and two captures in a row agree
    (the tab underline slides into place before that)."""
    last = term.wait_until(predicate, what)
    for _ in range(100):
        time.sleep(POLL)
        now = term.wait_until(predicate, what)
        if now == last:
            return now
        last = now
    raise AssertionError(f"{what}: the screen never settled:\n{last}")


def walk(term: Tmux) -> dict[str, str]:
    seen: dict[str, str] = {}
    term.wait_for("pics")
    term.send("Enter")
    term.wait_for(RUN_SCREEN_MARK)
    term.send("5")
    before = steady(
        term,
        # and the app's toasts (the store being read) gone, so that they are no difference
        lambda s: FIRST in s and "media/samples/10.png" in s and "▌" not in s,
        "the images, no toast",
    )
    term.send("Enter")
    seen["viewer"] = term.wait_until(
        lambda s: "step 0" in s and "(1/3" in s and "▀" in s, "the first image in the viewer"
    )
    seen["viewer_escapes"] = term.screen(escapes=True)
    term.send("]")
    seen["stepped"] = term.wait_until(lambda s: "step 5" in s and "(2/3" in s, "the next step")
    term.send("Escape")
    after = steady(
        term,
        lambda s: RUN_SCREEN_MARK in s and FIRST in s and "(2/3" not in s,
        "the Run screen again",
    )
    assert "▀" not in after, f"the picture was left on screen:\n{after}"
    assert comparable(after) == comparable(before), f"before:\n{before}\nafter:\n{after}"
    term.send("q")
    term.wait_until(lambda s: RUN_SCREEN_MARK not in s and "pics" in s, "the run list")
    term.send("q")
    status = term.wait_exit()
    screen = term.screen()
    assert status == 0 and "Traceback" not in screen, screen
    return seen


def test_viewer_opens_steps_and_closes_in_tmux(tmux: Tmux, tmp_path: Path) -> None:
    store = tmp_path / "store"
    write_run(store)
    tmux.start(
        [str(require_trackui()), str(store)],
        width=120,
        height=40,
        term="xterm-256color",
        env=trackui_env(tmp_path),
    )
    walk(tmux)


def test_viewer_over_ssh_in_16_colours(tmux: Tmux, sshd: SshServer, tmp_path: Path) -> None:  # noqa: F811
    store = tmp_path / "store"
    write_run(store)
    env = {"TERM": "xterm", **trackui_env(tmp_path)}
    tmux.start(
        sshd.run_trackui(env, str(store)),
        width=80,
        height=24,
        term="xterm",
    )
    try:
        seen = walk(tmux)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- sshd log ---\n{sshd.log.read_text()}") from None
    # half blocks in the basic palette: no 256-colour or RGB codes reach the terminal
    assert not _EXTENDED_COLOUR.search(seen["viewer_escapes"]), seen["viewer_escapes"]
    # and the red first picture is drawn in the basic palette's red (31 or 91)
    assert _BASIC_RED.search(seen["viewer_escapes"]), seen["viewer_escapes"]
