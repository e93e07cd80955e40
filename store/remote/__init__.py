"""Remote sources: runs on another host, read over the user's own ``ssh``.

``spec.parse("gpu1:~/runs")`` tells a ``host:path`` source from a local path;
``RemoteBox(host, root)`` reads one such root through one long-lived
``ssh HOST python3 -c …`` per box, running the standard-library helper
(helper.py) that it sends over stdin. Nothing is installed on the box.
See docs/remote.md for the protocol and what the box needs.
"""

from __future__ import annotations

from .box import Changes, Entry, Listing, RemoteBox
from .client import Connection, Hello, State, local_argv, ssh_argv
from .errors import FileChanged, RemoteError, Unreachable
from .spec import RemoteSpec, SpecError, is_remote, parse

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
