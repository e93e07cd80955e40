"""A private sshd on 127.0.0.1 for the remote-source tests and benchmark.

The same approach as tests/e2e/test_ssh.py: its own host key and user key,
everything under one working directory, a free port, key login only (or
password login only, to see BatchMode refuse it). A generated ssh client
config gives the server aliases, so the code under test runs plain
``ssh -F CONFIG ALIAS`` as a user's ``~/.ssh/config`` would make it.

The server can be killed with every session process it started (what a box
going away looks like to the laptop) and started again on the same port.
Plain module, no pytest: the benchmark imports it too.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"
PRIVSEP_DIR = Path("/run/sshd")
TIMEOUT = 30.0


class Unavailable(Exception):
    """sshd cannot run here; ``str()`` says why (for a skip)."""


def _tools() -> tuple[str, str, str]:
    ssh, keygen = shutil.which("ssh"), shutil.which("ssh-keygen")
    sshd = SSHD if os.access(SSHD, os.X_OK) else shutil.which("sshd")
    if not (ssh and keygen and sshd):
        raise Unavailable(
            "ssh, ssh-keygen or sshd is not installed here "
            "(CI installs openssh-server and openssh-client: see .ci/run)"
        )
    if not PRIVSEP_DIR.is_dir():
        try:
            PRIVSEP_DIR.mkdir(mode=0o755, parents=True)
        except OSError as exc:
            raise Unavailable(
                f"sshd needs {PRIVSEP_DIR} and it cannot be made here ({exc}); "
                "runs as root, as CI does, or where openssh-server made it"
            ) from None
    return ssh, keygen, sshd


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children first found by /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


class LoopbackSshd:
    """One sshd on loopback; ``start``, ``kill_all``, ``start`` again."""

    def __init__(self, workdir: Path, *, password_only: bool = False) -> None:
        _, keygen, self.sshd_bin = _tools()
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.user = getpass.getuser()
        self.host_key = self.dir / "host_ed25519"
        self.user_key = self.dir / "id_ed25519"
        for key in (self.host_key, self.user_key):
            subprocess.run(
                [keygen, "-q", "-t", "ed25519", "-N", "", "-C", "trackui-test", "-f", str(key)],
                check=True,
                timeout=TIMEOUT,
            )
        authorized = self.dir / "authorized_keys"
        shutil.copy(self.user_key.with_suffix(".pub"), authorized)
        authorized.chmod(0o600)
        self.port = free_port()
        self.config = self.dir / "sshd_config"
        login = (
            ["PubkeyAuthentication no", "PasswordAuthentication yes"]
            if password_only
            else ["PubkeyAuthentication yes", "PasswordAuthentication no"]
        )
        self.config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.host_key}",
                    f"PidFile {self.dir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {authorized}",
                    "StrictModes no",
                    "UsePAM no",
                    "PermitRootLogin yes",
                    *login,
                    "KbdInteractiveAuthentication no",
                    "PrintMotd no",
                    "PrintLastLog no",
                    "MaxStartups 50",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )
        self.log = self.dir / "sshd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [self.sshd_bin, "-D", "-e", "-f", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self._wait_for_banner()

    def _wait_for_banner(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"sshd exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    if conn.recv(64).startswith(b"SSH-"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"sshd did not listen on {self.port}:\n{self.log_text()}")
            time.sleep(0.1)

    def kill_all(self) -> list[int]:
        """SIGKILL the server and every session process below it (the
        helpers included): the box is gone. Returns the pids killed."""
        if self.proc is None:
            return []
        pids = [*descendants(self.proc.pid), self.proc.pid]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=TIMEOUT)
        self.proc = None
        return pids

    def stop(self) -> None:
        if self.proc is None:
            return
        children = descendants(self.proc.pid)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for pid in children:  # session processes outlive a terminated listener
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def client_config(self, path: Path, aliases: dict[str, dict[str, str]]) -> Path:
        """An ssh client config naming this server under each alias (extra
        options per alias override the defaults, e.g. a known_hosts file)."""
        blocks = []
        for alias, extra in aliases.items():
            options = {
                "HostName": "127.0.0.1",
                "Port": str(self.port),
                "User": self.user,
                "IdentityFile": str(self.user_key),
                "IdentitiesOnly": "yes",
                "StrictHostKeyChecking": "no",
                "UserKnownHostsFile": "/dev/null",
                "LogLevel": "ERROR",
                **extra,
            }
            blocks.append(f"Host {alias}\n" + "".join(f"  {k} {v}\n" for k, v in options.items()))
        path.write_text("\n".join(blocks))
        return path
