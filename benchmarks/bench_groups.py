"""Seed groups: grouping, the per-group summary and one metric aggregated per
group and step (``store.groups``), against a plain per-run chart load.

    python benchmarks/bench_groups.py [--groups 4] [--seeds 5] [--steps 100000]

Writes a store in run-directory format 1: ``groups × seeds`` runs of one
metric; each run logs a different subset of the steps (every step but a
seed-dependent tenth), so the union of steps is aggregated. Prints one figure
per line: medians over 7 rounds, catalog warm.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from trackui.store import groups
from trackui.store.queries import Store

ROUNDS = 7


def write_store(root: Path, n_groups: int, seeds: int, steps: int) -> None:
    now = time.time() - 3600
    for g in range(n_groups):
        for s in range(seeds):
            run_id = f"20260101-0000{g:02d}{s:03d}-bench{g:02d}{s:02d}"
            run_dir = root / "bench" / run_id
            run_dir.mkdir(parents=True)
            meta = {"format": 1, "id": run_id, "project": "bench", "name": f"g{g}-s{s}",
                    "created": now, "host": "bench-host", "pid": 1}  # fmt: skip
            (run_dir / "meta.json").write_text(json.dumps(meta))
            config = {"lr": 0.001 * (g + 1), "seed": s, "output_dir": f"/out/{g}/{s}"}
            (run_dir / "config.json").write_text(json.dumps(config))
            rng = random.Random(g * 1000 + s)
            lines = [
                f'{{"_step": {i}, "_t": {now + i * 0.01}, "val/loss": {rng.random():.6f}}}\n'
                for i in range(steps)
                if (i + s) % 10
            ]
            (run_dir / "metrics.jsonl").write_text("".join(lines))
            events = [{"event": "start", "t": now}, {"event": "finish", "t": now + steps * 0.01,
                      "status": "finished"}]  # fmt: skip
            (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
            (run_dir / "heartbeat").touch()


def median_ms(fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="trackui-bench-groups-") as tmp:
        root = Path(tmp) / "store"
        write_store(root, args.groups, args.seeds, args.steps)
        with Store(root, catalog_path=Path(tmp) / "catalog.duckdb") as store:
            run_ids = [r.id for r in store.list_runs()]
            points = store._rows("SELECT count(*) FROM metrics")[0][0]
            grouping = groups.group_runs(store, run_ids)
            print(f"groups_runs {len(run_ids)}")
            print(f"groups_groups {len(grouping.groups)}")
            print(f"groups_points {points}")
            print(
                f"groups_group_runs_ms {median_ms(lambda: groups.group_runs(store, run_ids)):.2f}"
            )
            print(
                f"groups_summary_ms {median_ms(lambda: groups.compare_groups(store, grouping)):.2f}"
            )
            print(
                "groups_series_ms "
                f"{median_ms(lambda: groups.group_series(store, grouping.groups, 'val/loss')):.2f}"
            )
            print(
                "groups_compare_in_groups_ms "
                f"{median_ms(lambda: groups.compare_in_groups(store, run_ids, 'val/loss')):.2f}"
            )
            per_run = median_ms(lambda: [store.series(r, "val/loss") for r in run_ids])
            print(f"groups_per_run_series_ms {per_run:.2f}")


if __name__ == "__main__":
    main()
