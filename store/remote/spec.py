"""Telling a remote source (``gpu1:~/runs``) from a local path, as scp and rsync do.

A source argument is remote when a colon comes before any slash, and what is
before the colon is a host: ``gpu1:~/runs``, ``user@host:/data/runs``,
``[::1]:runs`` (brackets around an IPv6 address, as scp wants them). It is
local when a slash comes first (``./a:b``, ``/x/y:z``), when it starts with a
colon, and when the part before the colon is a single letter (a Windows drive,
``C:\\runs``; name a one-letter host ``user@c:path`` or by an alias instead).

The host is kept as typed: it goes to the user's own ``ssh``, so aliases from
``~/.ssh/config``, ``user@host``, ProxyJump and ports set there all apply. An
empty path (``gpu1:``) is the home directory on the box, a relative path is
relative to it, and ``~`` / ``~user`` are expanded there, as scp does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The rsync daemon form (``host::module``) and URLs are not ssh paths.
_NOT_SSH = ("rsync://", "ssh://", "scp://", "sftp://")
_DRIVE = re.compile(r"[A-Za-z]\Z")
_IPV6 = re.compile(r"(?:(?P<user>[^@\[\]/:]+)@)?\[(?P<addr>[^\[\]/@\s]+)\]:")


class SpecError(ValueError):
    """A source argument that looks remote but cannot be one; ``str()`` is one line."""


@dataclass(frozen=True)
class RemoteSpec:
    """A ``host:path`` source: ``box`` is the host as typed (the name shown
    and filtered on), ``destination`` what ``ssh`` is given, ``path`` the root
    on the box (``""`` for the home directory)."""

    box: str
    destination: str
    path: str

    @property
    def location(self) -> str:
        return f"{self.box}:{self.path}"

    @property
    def root(self) -> str:
        """The root as the helper is asked for it (``.`` for the home directory)."""
        return self.path or "."


def parse(text: str) -> RemoteSpec | None:
    """The RemoteSpec of ``text``, or None when it is a local path.
    SpecError (one line) when it has a host part that is not one."""
    for scheme in _NOT_SSH:
        if text.startswith(scheme):
            raise SpecError(f"{text}: URLs are not supported; write host:path")
    ipv6 = _IPV6.match(text)
    if ipv6:
        user, addr = ipv6.group("user"), ipv6.group("addr")
        box = text[: ipv6.end() - 1]
        destination = f"{user}@{addr}" if user else addr
        return _checked(box, destination, text[ipv6.end() :], text)
    colon = text.find(":")
    slash = text.find("/")
    if colon <= 0 or (0 <= slash < colon):
        return None
    host = text[:colon]
    if _DRIVE.match(host):
        return None
    path = text[colon + 1 :]
    if path.startswith(":"):
        raise SpecError(f"{text}: the rsync daemon form host::module is not supported")
    return _checked(host, host, path, text)


def _checked(box: str, destination: str, path: str, text: str) -> RemoteSpec:
    host = destination.rpartition("@")[2]
    if not host or host.startswith("-") or destination.startswith("-"):
        raise SpecError(f"{text}: {box!r} is not a host name")
    if any(ch.isspace() or ord(ch) < 32 or ch == "\x7f" for ch in destination):
        raise SpecError(f"{text}: the host name holds a space or control character")
    if "\x00" in path:
        raise SpecError(f"{text}: the path holds a NUL character")
    return RemoteSpec(box=box, destination=destination, path=path)


def is_remote(text: str) -> bool:
    """Whether ``text`` names a source on another host (SpecError counts as remote:
    it was meant as one and must not be read as a local path)."""
    try:
        return parse(text) is not None
    except SpecError:
        return True
