"""What can go wrong with a remote source, each said in one line.

ssh prints its reasons on stderr, among warnings; ``describe_exit`` picks the
line that matters and says what to do where the fix is not obvious (a
password prompt or a host-key question cannot be answered: ssh runs in
BatchMode). ``refused`` turns the helper's refusal of one request into the
exception the local opener raises for the same case, so readers catch the
same things for local and remote files.
"""

from __future__ import annotations

import errno
import re
from typing import Any

from ..fmt import printable


class RemoteError(Exception):
    """A remote source that cannot answer; ``str()`` is one line."""


class Unreachable(RemoteError):
    """The box cannot be reached now (ssh failed, the connection dropped)."""


class FileChanged(RemoteError):
    """A file was replaced or truncated between two reads of one range."""


#: ssh chatter that never explains a failure.
_NOISE = re.compile(
    r"^(Warning: Permanently added|\*\* |Pseudo-terminal|Connection to \S+ closed\.$)"
)
#: (pattern in ssh's line, what the user reads before it)
_KNOWN = (
    (re.compile(r"Could not resolve hostname", re.I), "host not found"),
    (
        re.compile(r"Permission denied", re.I),
        "login refused (ssh runs in BatchMode and asks for no password: "
        "set up a key or an agent for this host)",
    ),
    (
        re.compile(r"Host key verification failed|host key is known|authenticity of host", re.I),
        "host key not confirmed (connect once with plain ssh to accept it)",
    ),
    (
        re.compile(r"REMOTE HOST IDENTIFICATION HAS CHANGED", re.I),
        "the host key changed (check known_hosts)",
    ),
    (
        re.compile(r"python3?[^:]*: (command )?not found|No such file.*python", re.I),
        "no python3 on the box (the helper needs Python 3.8 or newer)",
    ),
    (re.compile(r"closed by remote host|Connection reset|Broken pipe", re.I), "connection lost"),
)
#: The line that decides, when several match: resolution and login first.
_PRIORITY = ("host not found", "login refused", "host key", "the host key", "no python3")


def describe_exit(name: str, stderr: list[str], code: int | None, fallback: str) -> str:
    """One line: why the helper behind ``name`` stopped (ssh's stderr lines,
    its exit status, and ``fallback`` when neither says anything)."""
    lines = [ln.strip() for ln in stderr if ln.strip() and not _NOISE.match(ln.strip())]
    lines = [ln[5:] if ln.startswith("ssh: ") else ln for ln in lines]
    found: list[tuple[int, str]] = []
    for line in lines:
        for pattern, what in _KNOWN:
            if pattern.search(line):
                rank = next((i for i, p in enumerate(_PRIORITY) if what.startswith(p)), 99)
                found.append((rank, f"{what}: {line}"))
                break
    if found:
        found.sort(key=lambda item: item[0])
        return printable(f"{name}: {found[0][1]}")
    if lines:
        return printable(f"{name}: {lines[-1]}")
    if code is not None and code != 0:
        return printable(f"{name}: ssh exited with status {code}")
    return printable(f"{name}: {fallback}")


def refused(header: dict[str, Any], name: str) -> Exception:
    """The exception a local opener would raise for the helper's refusal."""
    from ..opener import FileTooLarge, UnsafeFile

    kind = header.get("kind")
    line = printable(str(header.get("error", "refused")))
    path, _, reason = line.partition(": ")
    if kind == "missing":
        return FileNotFoundError(errno.ENOENT, line)
    if kind == "unsafe":
        return UnsafeFile(path, reason or line)
    if kind == "too_large":
        return FileTooLarge(path, reason or line)
    return RemoteError(f"{name}:{line}" if kind == "noroot" else f"{name}: {line}")
