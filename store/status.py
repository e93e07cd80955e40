"""Run status is derived from evidence, never trusted from a writer that may be dead."""

from __future__ import annotations

import os
import socket

STATUSES = ("running", "finished", "failed", "killed", "crashed", "unreadable")
#: A heartbeat older than this many intervals means the writer is gone.
STALE_INTERVALS = 4.0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else
    return True


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def derive(
    *,
    finish_status: str | None,
    finish_reason: str | None,
    heartbeat_mtime: float | None,
    heartbeat_interval: float | None,
    host: str | None,
    pid: int | None,
    now: float,
    this_host: str | None = None,
    unreadable: str | None = None,
) -> tuple[str, str | None]:
    """``(status, reason)`` for a run.

    A finish event decides. Without one the run is ``running`` while its
    heartbeat is fresh and its process (when on this host) exists, else
    ``crashed``, with the reason saying which evidence decided. A run with a
    file the catalog could not read (``unreadable``: which and why) is
    ``unreadable`` whatever else is known, so nothing shown is silently partial.
    """
    if unreadable:
        return "unreadable", unreadable
    if finish_status:
        return finish_status, finish_reason
    if heartbeat_mtime is None:
        return "crashed", "no heartbeat file"
    interval = heartbeat_interval or 5.0
    age = now - heartbeat_mtime
    if this_host is None:
        this_host = socket.gethostname()
    if pid and host == this_host and (not pid_alive(pid) or _zombie(pid)):
        return "crashed", f"process {pid} is gone (no finish recorded)"
    if age > STALE_INTERVALS * interval:
        return "crashed", f"heartbeat stale for {_age(age)} (no finish recorded)"
    return "running", None


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def finish_reason(event: dict) -> str | None:
    """A one-line reason from a finish event."""
    if event.get("reason"):
        return str(event["reason"])
    exc = event.get("exception")
    if isinstance(exc, dict):
        return f"{exc.get('type', 'Exception')}: {exc.get('message', '')}".rstrip(": ")
    if event.get("signal"):
        return f"signal {event['signal']}"
    code = event.get("exit_code")
    if code not in (None, 0):
        return f"exit code {code}"
    return None
