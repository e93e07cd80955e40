"""The run-list filter language by example, for `?` (every example is
tested to parse with ``trackui.store.filters``)."""

from __future__ import annotations

#: the filter language by example (each is tested to parse): what `?` shows
FILTER_EXAMPLES: tuple[tuple[str, str], ...] = (
    ("yolo", "name, project or a tag contains yolo"),
    ('"yolo adamw"', "... with a space in it"),
    ("status:running", "status (finished, failed, killed…)"),
    ("status:failed,crashed", "any of several (also tag:, host:…)"),
    ("project:det*", "project by name; * is a wildcard"),
    ("box:gpu1", "runs on this box (its ssh alias; local here)"),
    ("tag:baseline", "has this tag"),
    ("name:yolo", "the name contains yolo"),
    ("id:20261126", "the run id starts with this"),
    ("lr0<0.01", "a param, as a number"),
    ("optimizer=AdamW", "a param, as text (any case)"),
    ("optimizer.name!=SGD", "a nested param, by dotted key"),
    ("model~^yolo", "a regular expression (!~ negates)"),
    ("max(metrics/mAP50-95(B))>0.3", "a metric: first/last/min/max/count"),
    ("loss<0.3", "not a param: the metric's last value"),
    ("yolo lr0<0.01", "side by side: both must match"),
    ("not tag:baseline or lr0<0.01", "and, or, not"),
    ("(lr0<0.01 or batch>=32) and yolo", "parentheses group"),
)


def filter_help() -> str:
    width = max(len(example) for example, _ in FILTER_EXAMPLES) + 2
    lines = ["Filter (/), by example:"]
    lines += [f"  {example.ljust(width)}{meaning}" for example, meaning in FILTER_EXAMPLES]
    lines.append("A comparison never matches a run that lacks the key.")
    lines.append("enter applies; esc closes the bar, then clears the filter.")
    return "\n".join(lines)
