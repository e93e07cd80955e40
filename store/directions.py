"""Which way is better for a metric: lower for loss/error-like names, else higher."""

from __future__ import annotations

import re

_LOWER_IS_BETTER = re.compile(
    r"(loss|error|err\b|_err|mse|mae|rmse|perplexity|ppl|\bwer\b|\bcer\b|\bfid\b|latency"
    r"|distance|regret|nll|\bbpd\b|\bbpb\b)",
    re.IGNORECASE,
)


def direction_of(key: str, overrides: dict[str, str] | None = None) -> str:
    """``"min"`` when lower is better, ``"max"`` otherwise. ``overrides`` maps
    a key to ``"min"``/``"max"`` (also accepted: ``"lower"``/``"higher"``)."""
    if overrides and key in overrides:
        value = overrides[key].strip().lower()
        return "min" if value in ("min", "lower", "low", "minimize", "-") else "max"
    return "min" if _LOWER_IS_BETTER.search(key) else "max"
