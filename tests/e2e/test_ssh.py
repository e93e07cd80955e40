"""The compare walk over plain SSH, at 80×24 with TERM=xterm (16 colours).

The test starts its own ``sshd`` on 127.0.0.1 (a free port, its own host key
and authorized key, everything under the test's directory), then runs
``ssh -t`` to it inside tmux and starts the installed ``trackui`` there.
"""

from __future__ import annotations

import getpass
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..conftest import copy_store
from .conftest import REPO, TIMEOUT, Tmux, compare_walk, require_trackui, trackui_env

pytestmark = pytest.mark.e2e

SSHD = "/usr/sbin/sshd"
PRIVSEP_DIR = Path("/run/sshd")
_EXTENDED_COLOUR = re.compile(r"\x1b\[[0-9;]*[34]8[;:][25][;:]")


@dataclass(frozen=True)
class SshServer:
    port: int
    key: Path
    user: str
    log: Path

    def run_trackui(self, env: dict[str, str], *args: str) -> list[str]:
        """``ssh -t`` to this server running the installed ``trackui ARGS``
        from the repository with ``env`` set there."""
        remote = f"cd {shlex.quote(str(REPO))} && " + shlex.join(
            [*(f"{k}={v}" for k, v in env.items()), str(require_trackui()), *args]
        )
        ssh = shutil.which("ssh")
        assert ssh is not None
        return [
            ssh, "-t", "-p", str(self.port), "-i", str(self.key),
            "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
            f"{self.user}@127.0.0.1", remote,
        ]  # fmt: skip


def _tools() -> tuple[str, str, str]:
    ssh, keygen = shutil.which("ssh"), shutil.which("ssh-keygen")
    sshd = SSHD if os.access(SSHD, os.X_OK) else shutil.which("sshd")
    if not (ssh and keygen and sshd):
        pytest.skip("ssh, ssh-keygen or sshd is not installed here (.ci/run installs them)")
    return ssh, keygen, sshd


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_banner(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Poll until the port answers with an SSH banner (sshd is listening)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"sshd exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                if conn.recv(64).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"sshd did not listen on {port}:\n{log.read_text()}")
        time.sleep(0.1)


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SshServer]:
    _, keygen, sshd_bin = _tools()
    if not PRIVSEP_DIR.is_dir():
        try:
            PRIVSEP_DIR.mkdir(mode=0o755, parents=True)
        except OSError as exc:
            pytest.skip(f"sshd needs {PRIVSEP_DIR} and it cannot be made here: {exc}")
    home = tmp_path / "ssh"
    home.mkdir()
    host_key, user_key = home / "host_ed25519", home / "id_ed25519"
    for key in (host_key, user_key):
        subprocess.run(
            [keygen, "-q", "-t", "ed25519", "-N", "", "-C", "trackui-e2e", "-f", str(key)],
            check=True,
            timeout=TIMEOUT,
        )
    authorized = home / "authorized_keys"
    shutil.copy(user_key.with_suffix(".pub"), authorized)
    authorized.chmod(0o600)
    port = _free_port()
    config = home / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"PidFile {home / 'sshd.pid'}",
                f"AuthorizedKeysFile {authorized}",
                "StrictModes no",
                "UsePAM no",
                "PermitRootLogin yes",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PrintMotd no",
                "PrintLastLog no",
                "LogLevel VERBOSE",
                "",
            ]
        )
    )
    log = home / "sshd.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sshd_bin, "-D", "-e", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_for_banner(port, proc, log)
        yield SshServer(port, user_key, getpass.getuser(), log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_compare_walk_over_ssh(tmux: Tmux, sshd: SshServer, tmp_path: Path) -> None:
    store = copy_store(tmp_path / "store")
    env = {"TERM": "xterm", **trackui_env(tmp_path)}
    tmux.start(
        sshd.run_trackui(env, str(store)),
        width=80,
        height=24,
        term="xterm",
    )
    assert tmux.size() == (80, 24)
    try:
        seen = compare_walk(tmux, back="Escape")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- sshd log ---\n{sshd.log.read_text()}") from None
    # 16 colours: the app drew with the basic palette, no 256-colour or RGB codes.
    for name in ("runs", "compare"):
        assert not _EXTENDED_COLOUR.search(seen[name + "_escapes"]), seen[name + "_escapes"]
