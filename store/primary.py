"""The metric a run is judged by, and which metrics have a direction at all.

A screen opens on the *primary* metric: the one the user named in
``config.toml``, else a known headline metric (mAP, accuracy, F1, BLEU, …),
else the main loss; never a counter (epoch, step, time) or a schedule (lr).
Only metrics whose direction is known get a ★ for the best run::

    primary = "val/acc"                       # every project
    [primary]                                 # or per project ("*" for the rest)
    detect = "metrics/mAP50-95(B)"
    "*" = "val/loss"

(Write one form or the other: TOML cannot hold both under one name.)
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from . import paths
from .directions import _LOWER_IS_BETTER, _LOWER_WORDS, configured

# Counters, clocks and schedules: they rise or fall by construction, so
# "best" means nothing and a chart of them is a diagonal line.
_NOT_A_RESULT = re.compile(
    r"(^|[/._\-\s])(epoch|epochs|step|steps|global_step|iter|iteration|iterations|batch_idx"
    r"|time|timestamp|_t|runtime|wall|elapsed|duration|seconds|secs|sec|eta"
    r"|lr|lr\d*|learning_rate|lr/pg\d+|momentum|weight_decay|wd|warmup|samples|tokens"
    r"|samples_per_second|steps_per_second|throughput|it_per_s|fps|grad_norm|total_flos"
    r"|train_runtime|train_samples_per_second|train_steps_per_second|gpu_mem|mem|memory)"
    r"($|[/._\-\s\d(])",
    re.IGNORECASE,
)
_SYSTEM = re.compile(r"^(system|sys)/", re.IGNORECASE)

# Higher is better, and a run is usually judged by one of these; ordered by
# how often they are *the* headline metric.
_HEADLINES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("map50-95", r"map50[-_:]?95|map_?50_?95|\bmap\b(?!50)|/map$|^map$|mAP(?!50)"),
        ("map50", r"map_?50(?![-_:]?95)"),
        ("accuracy", r"acc(uracy)?(@1|_top1|top1)?\b|acc$|top1"),
        ("f1", r"\bf1|f1[_-]?score|_f1\b|/f1"),
        ("bleu", r"bleu"),
        ("rouge", r"rouge"),
        ("auc", r"\bauc\b|roc_auc|auroc|_auc"),
        ("iou", r"\biou\b|miou|_iou"),
        ("dice", r"dice"),
        ("exact_match", r"exact_match|\bem\b"),
        ("pass@k", r"pass@\d"),
        ("reward", r"reward|return\b|episode_return"),
        ("precision", r"precision"),
        ("recall", r"recall"),
        ("score", r"score"),
    )
)
_HIGHER_IS_BETTER = re.compile(
    r"(acc|accuracy|map|f1|bleu|rouge|auc|iou|dice|exact_match|pass@|reward|return\b"
    r"|precision|recall|score|top1|top5|psnr|ssim|r2\b|spearman|pearson|kappa|meteor|cider)",
    re.IGNORECASE,
)


def is_result(key: str) -> bool:
    """False for counters, clocks, schedules and system samples."""
    return not (_NOT_A_RESULT.search(key) or _SYSTEM.match(key))


def direction(key: str, overrides: dict[str, str] | None = None) -> str | None:
    """``"min"``, ``"max"``, or ``None`` when nothing says which way is better
    (counters, schedules, unknown names): such metrics get no ★. A key named
    in ``[directions]`` always has the direction given there."""
    if overrides is None:
        overrides = configured()
    if key in overrides:
        return "min" if overrides[key].strip().lower() in _LOWER_WORDS else "max"
    if not is_result(key):
        return None
    if _LOWER_IS_BETTER.search(key):
        return "min"
    if _HIGHER_IS_BETTER.search(key):
        return "max"
    return None


def _prefer_validation(keys: list[str]) -> list[str]:
    """Validation/test metrics before training ones: a run is judged on held-out data."""

    def rank(key: str) -> int:
        low = key.lower()
        if re.search(r"(^|[/_.\-])(val|valid|validation|eval|test|metrics)([/_.\-]|$)", low):
            return 0
        if re.search(r"(^|[/_.\-])train([/_.\-]|$)", low):
            return 2
        return 1

    return sorted(keys, key=lambda k: (rank(k), len(k), k))


def choose(
    keys: Iterable[str], project: str | None = None, configured_primary: str | None = None
) -> str | None:
    """The metric to open on among ``keys``: the configured one when it is
    there, else the first known headline metric, else the main loss, else the
    first metric that is not a counter or schedule; ``None`` for no keys."""
    keys = [k for k in keys]
    if not keys:
        return None
    wanted = configured_primary if configured_primary is not None else primary_for(project)
    if wanted and wanted in keys:
        return wanted
    results = [k for k in keys if is_result(k)]
    for _name, pattern in _HEADLINES:
        hits = [k for k in results if pattern.search(k)]
        if hits:
            return _prefer_validation(hits)[0]
    losses = [k for k in results if re.search(r"loss", k, re.IGNORECASE)]
    if losses:
        # "loss"/"val/loss" before component losses like "train/box_loss".
        plain = [k for k in losses if re.search(r"(^|/)(val_|eval_|test_)?loss$", k, re.IGNORECASE)]
        return _prefer_validation(plain or losses)[0]
    others = [k for k in results if direction(k) is not None] or results
    if others:
        return _prefer_validation(others)[0]
    return sorted(keys)[0]


def short_header(key: str) -> str:
    """A short column header for a metric: its last path part, without the
    tool's decorations (``metrics/mAP50-95(B)`` -> ``mAP50-95``)."""
    last = key.rsplit("/", 1)[-1]
    last = re.sub(r"\((B|M|P)\)$", "", last)
    return last or key


_cache: dict[Path, tuple[tuple[int, int], object]] = {}


def primary_for(project: str | None, path: Path | None = None) -> str | None:
    """The ``primary`` metric configured for ``project`` in config.toml
    (a string for every project, or a table by project with ``"*"``)."""
    path = paths.config_dir() / "config.toml" if path is None else path
    try:
        st = os.stat(path)
    except OSError:
        return None
    stamp = (st.st_mtime_ns, st.st_size)
    cached = _cache.get(path)
    if cached is not None and cached[0] == stamp:
        raw = cached[1]
    else:
        raw = None
        try:
            import tomllib

            with open(path, "rb") as fh:
                raw = tomllib.load(fh).get("primary")
        except (ImportError, OSError, ValueError):
            raw = None
        _cache[path] = (stamp, raw)
    if isinstance(raw, str):
        return raw
    if isinstance(raw, dict):
        value = raw.get(project or "", raw.get("*"))
        return value if isinstance(value, str) else None
    return None
