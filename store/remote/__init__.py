"""Remote sources: runs on another host, read over the user's own ``ssh``.

``spec.parse("gpu1:~/runs")`` tells a ``host:path`` source from a local path;
``RemoteBox(host, root)`` reads one such root through one long-lived
``ssh HOST python3 -c …`` per box, running the standard-library helper
(helper.py) that it sends over stdin. Nothing is installed on the box.
See docs/remote.md for the protocol and what the box needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .box import Changes, Entry, Listing, RemoteBox
    from .client import Connection, Hello, State, local_argv, ssh_argv
    from .errors import FileChanged, RemoteError, Unreachable
    from .spec import RemoteSpec, SpecError, is_remote, parse

#: Where each name lives. The names load on first use: telling ``host:path``
#: from a local path (``spec``) is on the way to every TUI start, while the
#: ssh client (sockets, subprocess, the helper's sqlite3) is needed only when
#: a remote source is opened.
_HOMES = {
    **dict.fromkeys(("Changes", "Entry", "Listing", "RemoteBox"), "box"),
    **dict.fromkeys(("Connection", "Hello", "State", "local_argv", "ssh_argv"), "client"),
    **dict.fromkeys(("FileChanged", "RemoteError", "Unreachable"), "errors"),
    **dict.fromkeys(("RemoteSpec", "SpecError", "is_remote", "parse"), "spec"),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "Changes",
    "Connection",
    "Entry",
    "FileChanged",
    "Hello",
    "Listing",
    "RemoteBox",
    "RemoteError",
    "RemoteSpec",
    "SpecError",
    "State",
    "Unreachable",
    "is_remote",
    "local_argv",
    "parse",
    "ssh_argv",
]
