"""Real-GPU check of system sampling, for a machine with an NVIDIA GPU,
its driver, ``nvidia-ml-py`` (``pip install 'trackui[gpu]'``) and torch
(the workload only: the shim never imports torch).

Records a run at ``--interval`` while it idles, then multiplies matrices on
the GPU for ``--seconds``, then idles again; prints, one figure per line, what
system.jsonl holds for GPU 0 in each phase: utilisation and memory used
should rise during the workload. Asserts nothing.

    python benchmarks/check_gpu_sampling.py [--seconds 20] [--interval 0.5]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the workload")
    parser.add_argument("--interval", type=float, default=0.5, help="sampling interval (s)")
    args = parser.parse_args()

    import torch

    import trackui

    if not torch.cuda.is_available():
        print("cuda_available 0")
        return
    with tempfile.TemporaryDirectory(prefix="trackui-gpu-") as tmp:
        run = trackui.init(
            project="gpu-check", dir=tmp, console=False, system_interval=args.interval
        )
        phases: list[tuple[str, float, float]] = []

        def phase(name: str, work: bool, seconds: float) -> None:
            t0 = time.time()
            a = torch.randn(8192, 8192, device="cuda") if work else None
            while time.time() - t0 < seconds:
                if a is not None:
                    a = (a @ a).clamp_(-1, 1)
                    torch.cuda.synchronize()
                else:
                    time.sleep(0.05)
            del a
            torch.cuda.empty_cache()
            phases.append((name, t0, time.time()))

        phase("idle_before", False, 4 * args.interval)
        phase("workload", True, args.seconds)
        phase("idle_after", False, 4 * args.interval)
        run.finish()
        rows = [json.loads(line) for line in (Path(run.dir) / "system.jsonl").open()]

    print(f"gpu_name {torch.cuda.get_device_name(0).replace(' ', '_')}")
    print(f"samples {len(rows)}")
    print(f"gpu_series {sum(1 for k in rows[-1] if k.startswith('system/gpu')) if rows else 0}")
    for name, t0, t1 in phases:
        inside = [r for r in rows if t0 <= r["_t"] <= t1]
        for series in ("util", "mem_used", "power", "temp"):
            values = [r[f"system/gpu0.{series}"] for r in inside if f"system/gpu0.{series}" in r]
            if values:
                print(f"{name}_gpu0_{series}_max {max(values):g}")
    if rows and "system/gpu0.mem_total" in rows[-1]:
        print(f"gpu0_mem_total {rows[-1]['system/gpu0.mem_total']:g}")


if __name__ == "__main__":
    main()
