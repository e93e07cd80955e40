"""Run directories for the Compare tests, written as files (format 1) with fixed
ids and times, so snapshots and tmux captures do not change between runs.

``sweep(root, n, names=...)``: ``n`` finished runs of one project, each with
``val/loss``, ``acc``, ``epoch`` and ``lr`` series and params of which
``differ`` keys differ between runs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

T0 = 1795700000.0
#: 40 shared characters, then the part that differs
LONG_PREFIX = "imagenet-resnet50-cosine-warmup-lr-sched"
CJK_EMOJI = ["学習率-0.01-バッチ64", "実験🚀-seed1", "模型-🔥🔥-大", "données-élevé-ß"]
HOSTILE = ["opt[/x] [bold]\x1b[31mred", "bidi\u202eevil\u202c", "tab\there", "zero\u200bwidth"]


def write_run(
    root: Path,
    project: str,
    run_id: str,
    name: str,
    config: dict[str, object],
    rows: Sequence[dict[str, float]],
    created: float,
) -> str:
    d = root / project / run_id
    d.mkdir(parents=True)
    meta = {
        "format": 1,
        "id": run_id,
        "project": project,
        "name": name,
        "group": None,
        "tags": [],
        "notes": None,
        "created": created,
        "host": "box",
        "user": "user",
        "pid": 1,
        "argv": ["train.py"],
        "cwd": ".",
        "python": "3.11",
        "heartbeat_interval": 5.0,
        "git": None,
    }
    (d / "meta.json").write_text(json.dumps(meta))
    (d / "config.json").write_text(json.dumps(config))
    lines = []
    for i, row in enumerate(rows):
        lines.append(json.dumps({"_step": i, "_t": created + i, **row}))
    (d / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    end = created + len(rows)
    events = [
        {"event": "start", "t": created, "pid": 1},
        {"event": "finish", "t": end, "status": "finished"},
    ]
    (d / "events.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    (d / "heartbeat").write_text("")
    import os

    os.utime(d / "heartbeat", (end, end))
    return run_id


def sweep_names(kind: str, n: int) -> list[str]:
    if kind == "long":
        return [f"{LONG_PREFIX}-seed{i}" for i in range(n)]
    if kind == "cjk":
        return [CJK_EMOJI[i % len(CJK_EMOJI)] + f"-{i}" for i in range(n)]
    if kind == "hostile":
        return [HOSTILE[i % len(HOSTILE)] + f"-{i}" for i in range(n)]
    if kind == "mixed":
        pools = [
            [f"{LONG_PREFIX}-seed{i}" for i in range(n)],
            [CJK_EMOJI[i % len(CJK_EMOJI)] + f"-{i}" for i in range(n)],
            [HOSTILE[i % len(HOSTILE)] + f"-{i}" for i in range(n)],
        ]
        return [pools[i % 3][i] for i in range(n)]
    return [f"run-{i}" for i in range(n)]


def sweep(
    root: Path,
    n: int,
    *,
    names: Sequence[str] | None = None,
    differ: int = 3,
    points: int = 20,
    project: str = "sweep",
) -> list[str]:
    """``n`` runs; params ``p00``…: the first ``differ`` keys differ between runs."""
    names = list(names) if names is not None else sweep_names("plain", n)
    ids = []
    for i in range(n):
        config: dict[str, object] = {"seed": 7, "model": "resnet50"}
        for k in range(differ):
            # unique per (key, run): a value on screen names its cell
            config[f"p{k:02d}"] = round((k + 1) + (i + 1) / 1000, 6) if k % 2 else f"v{k}-{i}"
        rows = []
        for step in range(points):
            rows.append(
                {
                    "val/loss": 2.0 * math.exp(-step / (4 + i)) + 0.01 * i,
                    "acc": 0.9 * (1 - math.exp(-step / (3 + i))) + 0.001 * i,
                    "epoch": step // 4,
                    "lr": 0.1 * (0.9**step),
                }
            )
        run_id = f"20261127-1000{i:02d}000-r{i:05d}"
        ids.append(write_run(root, project, run_id, names[i], config, rows, T0 + 60 * i))
    return ids
