"""End-to-end harness: the installed ``trackui`` command in a real terminal.

A private tmux server (its own socket, its own config) runs one pane; the
tests type into it with ``send-keys`` and read it with ``capture-pane``. A
shell stays in the pane after the program ends and prints its exit status, so
a test reads how it ended and what it left on screen. Every wait polls the
screen for a condition; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

#: The console script pip installed next to this interpreter: what a user runs.
TRACKUI = Path(sys.executable).parent / "trackui"
REPO = Path(__file__).resolve().parents[2]
#: Generous: CI machines are small and busy. Waits end as soon as the text shows.
TIMEOUT = 90.0
POLL = 0.1
EXIT_MARK = "[e2e: exit status"
_EXITED = re.compile(re.escape(EXIT_MARK) + r" (\d+)\]")

#: Our server is our own even when the tests themselves run inside tmux.
#: (COLUMNS and LINES would override the pane's size for the program in it.)
_OUTSIDE_TMUX = {
    k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE", "COLUMNS", "LINES")
}

TMUX_CONF = """\
set -g remain-on-exit on
set -g default-terminal "{term}"
set -g escape-time 0
set -g history-limit 2000
set -g status off
"""


def require_tmux() -> str:
    tmux = shutil.which("tmux")
    if tmux is None:
        pytest.skip("tmux is not installed here (CI installs it: see .ci/run)")
    return tmux


class PaneExited(AssertionError):
    """The program in the pane ended while a test still waited on it."""


class Tmux:
    """One tmux server on a private socket, holding one pane of a fixed size."""

    def __init__(self, tmux: str, workdir: Path) -> None:
        self.tmux = tmux
        self.socket = f"trackui-e2e-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.workdir = workdir
        self.target = "e2e"
        self.started = False
        self.socket_path: Path | None = None

    # -- plumbing ------------------------------------------------------------

    def cmd(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(
            [self.tmux, "-L", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=_OUTSIDE_TMUX,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    def start(
        self,
        argv: Sequence[str],
        *,
        width: int,
        height: int,
        term: str,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """Run ``argv`` (with ``env`` added to the environment) in a
        ``width``×``height`` pane whose terminal type is ``term``."""
        conf = self.workdir / f"{self.socket}.conf"
        conf.write_text(TMUX_CONF.format(term=term))
        assignments = [f"{k}={v}" for k, v in {"TERM": term, **(env or {})}.items()]
        # The shell stays after the program so that tmux reads everything it
        # printed on its way out (a pane whose process is gone may drop its
        # last output), and says how the program ended.
        script = f'env "$@"; echo "{EXIT_MARK} $?]"; exec cat'
        command = shlex.join(["sh", "-c", script, "sh", *assignments, *argv])
        self.cmd(
            "-f",
            str(conf),
            "new-session",
            "-d",
            "-s",
            self.target,
            "-x",
            str(width),
            "-y",
            str(height),
            "-c",
            str(REPO),
            command,
        )
        self.started = True
        self.socket_path = Path(self.cmd("display-message", "-p", "#{socket_path}").strip())

    def kill(self) -> None:
        if self.started:
            self.cmd("kill-server", check=False)
            self.started = False
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)  # tmux leaves it behind

    # -- what the user does and sees ----------------------------------------

    def send(self, *keys: str) -> None:
        """Key names as tmux knows them (``Enter``, ``Escape``, ``Down``, ``Space``)."""
        self.cmd("send-keys", "-t", self.target, *keys)

    def type(self, text: str) -> None:
        """Literal text, each character as typed."""
        self.cmd("send-keys", "-t", self.target, "-l", text)

    def screen(self, *, escapes: bool = False) -> str:
        args = ["capture-pane", "-p", "-t", self.target]
        if escapes:
            args.insert(1, "-e")
        return self.cmd(*args)

    def display(self, fmt: str) -> str:
        return self.cmd("display-message", "-p", "-t", self.target, fmt).strip()

    @staticmethod
    def exit_status(screen: str) -> int | None:
        """The program's exit status once it has ended, read off ``screen``."""
        found = _EXITED.search(screen)
        return int(found.group(1)) if found else None

    def pane_title(self) -> str:
        return self.display("#{pane_title}")

    def size(self) -> tuple[int, int]:
        width, height = self.display("#{pane_width} #{pane_height}").split()
        return int(width), int(height)

    # -- waiting ---------------------------------------------------------------

    def wait_until(
        self,
        predicate: Callable[[str], bool],
        what: str,
        timeout: float = TIMEOUT,
        *,
        allow_exit: bool = False,
    ) -> str:
        """Poll the screen until ``predicate(screen)`` holds; return that screen.
        Fails with the last screen when time runs out or the program ends."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if predicate(screen):
                return screen
            status = self.exit_status(screen)
            if status is not None and not allow_exit:
                raise PaneExited(
                    f"the program exited (status {status}) while waiting "
                    f"for {what}; screen:\n{screen}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} after {timeout:.0f} s; screen:\n{screen}")
            time.sleep(POLL)

    def wait_for(self, text: str, timeout: float = TIMEOUT) -> str:
        return self.wait_until(lambda screen: text in screen, repr(text), timeout)

    def wait_exit(self, timeout: float = TIMEOUT) -> int:
        """Wait for the program to end; its exit status."""
        screen = self.wait_until(
            lambda s: self.exit_status(s) is not None,
            "the program to exit",
            timeout,
            allow_exit=True,
        )
        status = self.exit_status(screen)
        assert status is not None
        return status


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    """A private tmux server, killed at teardown even when the test failed."""
    server = Tmux(require_tmux(), tmp_path)
    try:
        yield server
    finally:
        server.kill()


def trackui_env(tmp_path: Path) -> dict[str, str]:
    """Where the TUI under test keeps its default store, catalogs and config:
    all inside the test's own directory."""
    return {
        "TRACKUI_DIR": str(tmp_path / "default-store"),
        "TRACKUI_CACHE_DIR": str(tmp_path / "cache"),
        "TRACKUI_CONFIG_DIR": str(tmp_path / "config"),
    }


def require_trackui() -> Path:
    if not TRACKUI.exists():
        pytest.fail(f"the trackui console script is not installed at {TRACKUI} (pip install -e .)")
    return TRACKUI


_SGR = re.compile(r"\x1b\[([0-9;:]*)m")


def line_with(screen: str, text: str) -> str:
    """The first line of ``screen`` holding ``text`` (an assertion error names the screen)."""
    for line in screen.splitlines():
        if text in line:
            return line
    raise AssertionError(f"no line holds {text!r}; screen:\n{screen}")


def foregrounds(line: str) -> list[tuple[str, str]]:
    """Each visible character of an ``capture-pane -e`` line with the foreground
    colour in force for it (``""`` for the default), following SGR codes."""
    out: list[tuple[str, str]] = []
    fg = ""
    pos = 0
    for match in _SGR.finditer(line):
        out.extend((ch, fg) for ch in line[pos : match.start()])
        pos = match.end()
        codes = [c for c in re.split("[;:]", match.group(1))] or ["0"]
        i = 0
        while i < len(codes):
            code = int(codes[i] or 0)
            if code in (0, 39):
                fg = ""
            elif 30 <= code <= 37 or 90 <= code <= 97:
                fg = str(code)
            elif code in (38, 48):
                mode = codes[i + 1] if i + 1 < len(codes) else ""
                width = 3 if mode == "5" else 5 if mode == "2" else 1
                if code == 38:
                    fg = ";".join(codes[i : i + width])
                i += width - 1
            i += 1
    out.extend((ch, fg) for ch in line[pos:])
    return [(ch, colour) for ch, colour in out if ch != "\x1b"]


def colours_of(line: str, text: str) -> set[str]:
    """The foreground colours used to draw ``text`` where it appears in ``line``."""
    chars = foregrounds(line)
    plain = "".join(ch for ch, _ in chars)
    start = plain.find(text)
    if start < 0:
        raise AssertionError(f"{text!r} is not drawn in the line {plain!r}")
    return {colour for _, colour in chars[start : start + len(text)]}


# -- the walk both end-to-end tests take ------------------------------------------

#: lr0 of each detect run in fixtures/store, as the diff table prints it.
DETECT_LR0 = {"yolo-sgd": "0.01", "yolo-adamw": "0.002", "yolo-oom": "0.02"}
CLS_RUNS = ("resnet-kill", "resnet-crash")
#: The chart title's point count: "52 of 52 points", or "52/52 pts" where the pane is narrow.
_POINTS = re.compile(r"\d+ of \d+ points|\d+/\d+ pts")
_FILTER_LINE = re.compile(r"^\s{0,2}/(\s|$)")
_MARKED = re.compile(r"(\d+) marked")
#: The glyph the run list puts in front of a marked run.
MARK = "●"
_TRACEBACK = ("Traceback", "Error:", "Exception")


def tokens(line: str) -> list[str]:
    """The words of a table line, without the box-drawing and padding around them."""
    return re.split(r"[\s│┃|]+", line.strip())


def lr0_row(screen: str, first: str, second: str) -> str | None:
    for line in screen.splitlines():
        words = tokens(line)
        if "lr0" in words and first in words and second in words:
            return line
    return None


def filter_bar_open(screen: str) -> bool:
    """The filter bar's line (``/`` and the input) is on screen, above the
    status line and the footer."""
    return any(_FILTER_LINE.match(line) for line in screen.splitlines()[:-2])


def marked_count(screen: str) -> int:
    found = _MARKED.search(screen)
    return int(found.group(1)) if found else 0


def marked_runs(screen: str, names: Iterable[str]) -> list[str]:
    """Which of ``names`` are on a row that carries the mark glyph."""
    rows = [line for line in screen.splitlines() if line.lstrip().startswith(MARK)]
    return [name for name in names if any(name in tokens(row) for row in rows)]


def apply_filter(term: Tmux, text: str, done: Callable[[str], bool], what: str) -> str:
    """``/``, type ``text``, enter; wait until ``done(screen)`` and the bar has
    closed, so that keys go to the run list again."""
    term.send("/")
    term.wait_until(filter_bar_open, "the filter bar")
    term.type(text)
    term.send("Enter")
    return term.wait_until(
        lambda s: done(s) and not filter_bar_open(s) and f"filter: {text}" in s,
        f"{what}, the filter bar closed",
    )


def compare_walk(term: Tmux, back: str = "q") -> dict[str, str]:
    """Open on the fixture store, filter to project detect, mark two runs,
    compare them, read the lr0 diff row and the chart title, go back (with the
    tmux key ``back``), quit with ``q``. Returns what was read (screens, the
    row, the title), for the caller to check further."""
    seen: dict[str, str] = {}
    seen["runs"] = term.wait_until(
        lambda s: all(name in s for name in (*DETECT_LR0, *CLS_RUNS)),
        "every fixture run in the run list",
    )
    seen["runs_escapes"] = term.screen(escapes=True)

    seen["filtered"] = apply_filter(
        term,
        "project:detect",
        lambda s: all(n in s for n in DETECT_LR0) and not any(n in s for n in CLS_RUNS),
        "only the detect runs",
    )

    term.send("Space")
    term.wait_until(lambda s: marked_count(s) == 1, "one run marked")
    term.send("Down")
    term.send("Space")
    screen = term.wait_until(lambda s: marked_count(s) == 2, "two runs marked")
    marked = marked_runs(screen, DETECT_LR0)
    assert len(marked) == 2, f"two rows should carry {MARK}; screen:\n{screen}"

    term.send("c")
    want = (DETECT_LR0[marked[0]], DETECT_LR0[marked[1]])
    screen = term.wait_until(
        lambda s: lr0_row(s, *want) is not None,
        f"an lr0 diff row with {want[0]} ({marked[0]}) and {want[1]} ({marked[1]})",
    )
    seen["lr0_row"] = lr0_row(screen, *want) or ""
    screen = term.wait_until(lambda s: _POINTS.search(s) is not None, "a chart title with points")
    title = _POINTS.search(screen)
    assert title is not None
    seen["chart_title"] = line_with(screen, title.group(0)).strip(" │╭╮─")
    seen["compare"] = screen
    seen["compare_escapes"] = term.screen(escapes=True)

    term.send(back)
    term.wait_until(
        lambda s: (
            lr0_row(s, *want) is None
            and all(n in s for n in DETECT_LR0)
            and not any(n in s for n in CLS_RUNS)
        ),
        "the filtered run list again",
    )
    term.send("q")
    status = term.wait_exit()
    screen = term.screen()
    assert status == 0, f"trackui exited with status {status}; screen:\n{screen}"
    assert not any(word in screen for word in _TRACEBACK), f"an error on screen:\n{screen}"
    return seen
