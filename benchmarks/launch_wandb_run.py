"""Write the launch benchmark's run with the real ``wandb`` (offline mode).

    python launch_wandb_run.py DIR METRICS STEPS

Run by ``bench_launch.py`` with the Python of a separate environment that has
``wandb`` installed (trackui's own environment never needs it). The values
are those of ``bench_launch.value`` (copied here: this script must run
without trackui), so the W&B run and the native trackui run hold the same
points. Prints the run directory.
"""

from __future__ import annotations

import math
import os
import sys


def value(metric: int, step: int) -> float:
    """Keep in step with bench_launch.value."""
    return round(
        (1.0 + metric / 10) / (1.0 + step * 1e-4) + 0.05 * math.sin(step * 0.01 * (metric + 1)), 6
    )


def metric_names(count: int) -> list[str]:
    """Keep in step with bench_launch.metric_names."""
    return ["train/loss", "val/loss", *(f"m{k:02d}/loss" for k in range(2, count))][:count]


def main() -> None:
    folder, metrics, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.environ.setdefault("WANDB_SILENT", "true")
    import wandb

    keys = metric_names(metrics)
    run = wandb.init(
        mode="offline",
        dir=folder,
        project="launch",
        name=f"launch-{metrics}x{steps}",
        config={"lr0": 0.01, "batch": 16},
    )
    for step in range(steps):
        run.log({key: value(k, step) for k, key in enumerate(keys)}, step=step)
    run.finish()
    print(run.dir.rsplit(os.sep, 1)[0] if run.dir.endswith("files") else run.dir)


if __name__ == "__main__":
    main()
