"""Where stores, runs and catalogs live, and how run ids and path segments are made."""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import time
from pathlib import Path

FORMAT_VERSION = 1

META = "meta.json"
CONFIG = "config.json"
SUMMARY = "summary.json"
METRICS = "metrics.jsonl"
EVENTS = "events.jsonl"
ARTIFACTS = "artifacts.jsonl"
ARTIFACT_DIR = "artifacts"
HEARTBEAT = "heartbeat"
CONSOLE = "console.log"
CODE_DIFF = "code.diff"
SOURCE = "source.json"  # written by importers: where a foreign run came from
SYSTEM = "system.jsonl"  # sampled system readings (store/system.py, importers)

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def default_root() -> Path:
    """`$TRACKUI_DIR`, else `$XDG_DATA_HOME/trackui`, else `~/.local/share/trackui`."""
    env = os.environ.get("TRACKUI_DIR")
    if env:
        return Path(env).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(data) / "trackui"


def cache_dir() -> Path:
    env = os.environ.get("TRACKUI_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "trackui"


def config_dir() -> Path:
    """``$TRACKUI_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/trackui``, else ``~/.config/trackui``."""
    env = os.environ.get("TRACKUI_CONFIG_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "trackui"


def catalog_path(root: Path) -> Path:
    """The catalog of a store, private to this user: two users of one shared
    store each keep their own, in their own cache directory."""
    real = os.path.realpath(root)
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry (containers): the uid is as good
        user = str(os.getuid())
    digest = hashlib.sha256(f"{user}\0{real}".encode()).hexdigest()[:16]
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", os.path.basename(real.rstrip("/")) or "root")
    return cache_dir() / "catalogs" / f"{base}-{digest}.duckdb"


def new_run_id(now: float | None = None) -> str:
    """Sorts by creation time (to the millisecond), unique without coordination."""
    now = time.time() if now is None else now
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    millis = int((now % 1) * 1000)
    import secrets  # here: the TUI and the CLI make no runs

    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(6))
    return f"{stamp}{millis:03d}-{suffix}"


_UNSAFE = re.compile(r"[^\w.+-]+", re.UNICODE)


def safe_segment(text: str, fallback: str = "default") -> str:
    """A path segment made from a user's project name; the real name stays in meta.json."""
    seg = _UNSAFE.sub("-", text.strip()).strip(".-")[:80]
    return seg or fallback
