"""The CLI on a real terminal (a pseudo-terminal 80 columns wide): rich
tables whose only escape sequences are rich's own colours, with hostile
run names made visible, and a run list that keeps each run on one line."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from rich.cells import cell_len

from .cli_helpers import FORBIDDEN, HOSTILE, write_run

SGR = re.compile(r"\x1b\[[0-9;]*m")


def on_terminal(args: list[str], columns: int = 80) -> str:
    """Run ``python -m trackui ARGS`` with stdout on a pty of ``columns``."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {
        k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TRACKUI_FORCE_RICH")
    }
    env.update(TERM="xterm-256color", PYTHONIOENCODING="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "trackui", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(master)
    assert proc.returncode == 0, proc.stderr.read().decode()  # type: ignore[union-attr]
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


@pytest.fixture
def hostile_store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    write_run(root, "20261126-000000000-aaaaaa", HOSTILE[2], HOSTILE[0], value=0.5)
    write_run(root, "20261126-000000001-bbbbbb", HOSTILE[3], HOSTILE[1], value=0.25)
    return root


@pytest.mark.parametrize(
    "command",
    [
        ["ls", "{store}", "-c", "lr", "-c", f"param:{HOSTILE[5]}"],
        ["ls", "{store}", "--wide", "-c", f"max({HOSTILE[0]})"],
        ["show", "-d", "{store}", "20261126-000000000"],
        ["diff", "-d", "{store}", "20261126-000000000", "20261126-000000001"],
    ],
    ids=["ls", "ls-wide", "show", "diff"],
)
def test_terminal_output_has_only_rich_colours(hostile_store: Path, command: list[str]) -> None:
    out = on_terminal([a.replace("{store}", str(hostile_store)) for a in command])
    plain = SGR.sub("", out)
    bad = FORBIDDEN.search(plain)
    assert bad is None, plain[max(0, bad.start() - 40) : bad.end() + 40]
    assert "\\x1b" in plain  # the hostile names are there, made visible


def test_run_list_fits_80_columns_on_a_terminal(tmp_path: Path) -> None:
    root = tmp_path / "store"
    for i in range(3):
        write_run(root, f"20261126-00000000{i}-cccccc", "proj", f"{'x' * 45}-seed{i}", value=i)
    out = SGR.sub("", on_terminal(["ls", str(root), "-c", "lr"]))
    lines = out.rstrip("\n").splitlines()
    assert all(cell_len(line) <= 80 for line in lines), out
    assert len(lines) == 4 + 3, out  # one line per run
    assert all(f"seed{i}" in out for i in range(3))
