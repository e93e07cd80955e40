"""System metrics that W&B and MLflow sampled, under trackui's names and units.

trackui's series (docs/format.md): ``system/gpu{i}.util`` (%),
``system/gpu{i}.mem_used`` (bytes), ``system/gpu{i}.temp`` (°C),
``system/gpu{i}.power`` (W), ``system/proc.cpu`` (% of one core),
``system/proc.rss`` (bytes), ``system/host.cpu`` (%),
``system/host.mem_used`` (bytes).

W&B (``stats`` records of the ``.wandb`` log, one record per sample):

=============================  ======================================================
``gpu.{i}.gpu``                ``system/gpu{i}.util``
``gpu.{i}.memoryAllocatedBytes`` ``system/gpu{i}.mem_used``
``gpu.{i}.temp``               ``system/gpu{i}.temp``
``gpu.{i}.powerWatts``         ``system/gpu{i}.power``
``cpu``                        ``system/proc.cpu``: W&B divides the process' CPU %
                               by the CPU count; multiplied back when the run's
                               environment record gives the count
``cpu.{i}.cpu_percent``        ``system/host.cpu``: the mean over the cores
``proc.memory.rssMB``          ``system/proc.rss``: MiB -> bytes (x 1024^2)
``memory_percent``             ``system/host.mem_used``: % of the total memory
                               the environment record gives
=============================  ======================================================

MLflow (metrics logged as ``system/<name>``, one step per sample; MB = 10^6 bytes):

==========================================  ==========================================
``system/gpu_{i}_utilization_percentage``   ``system/gpu{i}.util``
``system/gpu_{i}_memory_usage_megabytes``   ``system/gpu{i}.mem_used`` (x 10^6)
``system/gpu_{i}_power_usage_watts``        ``system/gpu{i}.power``
``system/cpu_utilization_percentage``       ``system/host.cpu``
``system/system_memory_usage_megabytes``    ``system/host.mem_used`` (x 10^6)
``system/process_cpu_percentage``           ``system/proc.cpu``
``system/process_memory_rss_megabytes``     ``system/proc.rss`` (x 10^6)
==========================================  ==========================================

Every other sampled series (disk, network, threads, power %...) is kept too,
as ``system/<the tool's name>``, in the tool's unit: nothing is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .base import Point

MIB = 1024 * 1024
MB = 1_000_000

_WANDB_GPU = re.compile(r"gpu\.(\d+)\.(gpu|memoryAllocatedBytes|temp|powerWatts)")
_WANDB_GPU_NAMES = {
    "gpu": "util",
    "memoryAllocatedBytes": "mem_used",
    "temp": "temp",
    "powerWatts": "power",
}
_WANDB_CORE = re.compile(r"cpu\.(\d+)\.cpu_percent")

_MLFLOW_GPU = re.compile(
    r"system/gpu_(\d+)_(utilization_percentage|memory_usage_megabytes|power_usage_watts)"
)
_MLFLOW_GPU_NAMES = {
    "utilization_percentage": ("util", 1.0),
    "memory_usage_megabytes": ("mem_used", MB),
    "power_usage_watts": ("power", 1.0),
}
_MLFLOW = {
    "system/cpu_utilization_percentage": ("system/host.cpu", 1.0),
    "system/system_memory_usage_megabytes": ("system/host.mem_used", MB),
    "system/process_cpu_percentage": ("system/proc.cpu", 1.0),
    "system/process_memory_rss_megabytes": ("system/proc.rss", MB),
}


def from_wandb(
    samples: Iterable[tuple[float | None, dict[str, float]]],
    *,
    cpu_count: int | None = None,
    memory_total: int | None = None,
) -> list[Point]:
    """One W&B ``stats`` record per sample (time, key -> value) as trackui points,
    the sample's index as step."""
    points: list[Point] = []
    for step, (t, items) in enumerate(samples):
        cores: list[float] = []
        for key, value in items.items():
            m = _WANDB_GPU.fullmatch(key)
            if m:
                points.append(
                    Point(f"system/gpu{m.group(1)}.{_WANDB_GPU_NAMES[m.group(2)]}", step, value, t)
                )
                continue
            if _WANDB_CORE.fullmatch(key):
                cores.append(value)
                continue
            if key == "cpu" and cpu_count:
                points.append(Point("system/proc.cpu", step, value * cpu_count, t))
            elif key == "proc.memory.rssMB":
                points.append(Point("system/proc.rss", step, value * MIB, t))
            elif key == "memory_percent" and memory_total:
                points.append(Point("system/host.mem_used", step, memory_total * value / 100.0, t))
                points.append(Point("system/memory_percent", step, value, t))
            else:
                points.append(Point(f"system/{key}", step, value, t))
        if cores:
            points.append(Point("system/host.cpu", step, sum(cores) / len(cores), t))
    return points


def mlflow_name(key: str) -> tuple[str, float]:
    """The trackui name of an MLflow ``system/`` metric and the factor that
    brings its values to trackui's unit (the key itself and 1.0 for a series
    trackui has no name for, and for a name already converted)."""
    m = _MLFLOW_GPU.fullmatch(key)
    if m:
        name, scale = _MLFLOW_GPU_NAMES[m.group(2)]
        return f"system/gpu{m.group(1)}.{name}", scale
    return _MLFLOW.get(key, (key, 1.0))


def from_mlflow(points: Iterable[Point]) -> list[Point]:
    """MLflow's ``system/`` metric points under trackui's names and units
    (converting twice changes nothing: a converted name is kept as it is)."""
    out: list[Point] = []
    for p in points:
        name, scale = mlflow_name(p.key)
        if name == p.key and scale == 1.0:
            out.append(p)
        else:
            out.append(Point(name, p.step, p.value * scale, p.t))
    return out


def is_mlflow_system(key: str) -> bool:
    """MLflow's system metrics are the ones it logs as ``system/<name>``."""
    return key.startswith("system/")
