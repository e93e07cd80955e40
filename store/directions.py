"""Which way is better for a metric: lower for loss/error-like names, else higher.

Overridable per key, for every command and screen at once, in the
``[directions]`` table of ``$TRACKUI_CONFIG_DIR/config.toml`` (default
``~/.config/trackui/config.toml``)::

    [directions]
    "val/perplexity_gain" = "max"
    "train/lr" = "min"
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from . import paths

_LOWER_IS_BETTER = re.compile(
    r"(loss|error|err\b|_err|mse|mae|rmse|perplexity|ppl|\bwer\b|\bcer\b|\bfid\b|latency"
    r"|distance|regret|nll|\bbpd\b|\bbpb\b)",
    re.IGNORECASE,
)
_LOWER_WORDS = ("min", "lower", "low", "minimize", "-")
_cache: dict[Path, tuple[tuple[int, int], dict[str, str]]] = {}


def configured(path: Path | None = None) -> dict[str, str]:
    """The ``[directions]`` of the config file (empty when there is none or
    it cannot be read: a broken file never stops a comparison)."""
    path = paths.config_dir() / "config.toml" if path is None else path
    try:
        st = os.stat(path)
    except OSError:
        return {}
    stamp = (st.st_mtime_ns, st.st_size)
    cached = _cache.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    table: dict[str, str] = {}
    try:
        import tomllib

        with open(path, "rb") as fh:
            raw = tomllib.load(fh).get("directions", {})
        if isinstance(raw, dict):
            table = {str(k): str(v) for k, v in raw.items()}
    except (ImportError, OSError, ValueError):
        table = {}
    _cache[path] = (stamp, table)
    return table


def direction_of(key: str, overrides: dict[str, str] | None = None) -> str:
    """``"min"`` when lower is better, ``"max"`` otherwise. ``overrides`` maps
    a key to ``"min"``/``"max"`` (also ``"lower"``/``"higher"``); without it
    the config file's ``[directions]`` apply."""
    if overrides is None:
        overrides = configured()
    if key in overrides:
        return "min" if overrides[key].strip().lower() in _LOWER_WORDS else "max"
    return "min" if _LOWER_IS_BETTER.search(key) else "max"
