"""System and GPU sampling for a run, on its own daemon thread.

Standard library only at import (this module is imported into training code).
NVML comes from the optional ``nvidia-ml-py`` package (``pip install
'trackui[gpu]'``), imported lazily on the sampler thread: absent NVML or no GPU
means no GPU series, silently. Torch is never imported.

Every ``interval`` seconds one JSON line is appended to ``system.jsonl`` in the
run directory::

    {"_t": 1764630000.5, "system/proc.cpu": 97.1, "system/proc.rss": 812345344,
     "system/host.cpu": 48.2, "system/host.mem_used": 6123454464,
     "system/gpu0.util": 88.0, "system/gpu0.mem_used": 20401094656,
     "system/gpu0.mem_total": 85899345920, "system/gpu0.temp": 61.0,
     "system/gpu0.power": 312.4}

Units: percent (``proc.cpu`` is percent of one core, so 4 busy cores read 400),
bytes, °C and W. Sampling never touches the ``log()`` path: it has its own
file descriptor and thread, and a hung NVML call delays only this thread.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

SYSTEM_FILE = "system.jsonl"
DEFAULT_INTERVAL_S = 10.0


def interval_from_env(given: float | None = None) -> float:
    """The sampling interval: ``given`` (``init(system_interval=…)``), else
    ``TRACKUI_SYSTEM_INTERVAL``, else 10 s; 0 or less turns sampling off."""
    if given is None:
        given = os.environ.get("TRACKUI_SYSTEM_INTERVAL")
        if given is None or not given.strip():
            return DEFAULT_INTERVAL_S
    try:
        value = float(given)
    except (TypeError, ValueError):
        return DEFAULT_INTERVAL_S
    if value != value:  # NaN
        return DEFAULT_INTERVAL_S
    if value <= 0 or value == float("inf"):  # never: off
        return 0.0
    return value


# -- host and process (Linux /proc; elsewhere what os and resource give) -------


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return fh.read(65536).decode("ascii", "replace")
    except OSError:
        return None


def _host_cpu_times() -> tuple[float, float] | None:
    """(busy, total) jiffies of all CPUs since boot."""
    text = _read("/proc/stat")
    if not text or not text.startswith("cpu "):
        return None
    fields = [float(x) for x in text.split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    total = sum(fields[:8])
    return total - idle, total


def _host_mem_used() -> float | None:
    text = _read("/proc/meminfo")
    if not text:
        return None
    info: dict[str, float] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            try:
                info[name] = float(parts[0]) * 1024
            except ValueError:
                pass
    if "MemTotal" in info and "MemAvailable" in info:
        return info["MemTotal"] - info["MemAvailable"]
    return None


def _proc_rss(pid: int) -> float | None:
    text = _read(f"/proc/{pid}/statm")
    if text:
        try:
            return float(text.split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (IndexError, ValueError, OSError):
            pass
    try:
        import resource

        # ru_maxrss is the peak, in KB on Linux: better than nothing elsewhere.
        return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
    except Exception:  # noqa: BLE001 - no resource module on some platforms
        return None


class _HostProbe:
    """Host and process readings; CPU percentages are over the time since the
    previous reading, so the first call only sets the baseline."""

    def __init__(self, pid: int | None = None, clock: Callable[[], float] = time.monotonic):
        self.pid = os.getpid() if pid is None else pid
        self.clock = clock
        self._last_host = _host_cpu_times()
        self._last_proc = (self._proc_cpu_seconds(), clock())

    def _proc_cpu_seconds(self) -> float:
        if self.pid == os.getpid():
            t = os.times()
            return t.user + t.system
        text = _read(f"/proc/{self.pid}/stat")
        if not text:
            return 0.0
        fields = text.rsplit(")", 1)[-1].split()
        try:
            return (float(fields[11]) + float(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (IndexError, ValueError, OSError):
            return 0.0

    def read(self) -> dict[str, float]:
        out: dict[str, float] = {}
        cpu_s, now = self._proc_cpu_seconds(), self.clock()
        last_cpu, last_now = self._last_proc
        if now > last_now:
            out["system/proc.cpu"] = round(100.0 * (cpu_s - last_cpu) / (now - last_now), 2)
        self._last_proc = (cpu_s, now)
        rss = _proc_rss(self.pid)
        if rss is not None:
            out["system/proc.rss"] = rss
        host = _host_cpu_times()
        if host is not None and self._last_host is not None:
            busy = host[0] - self._last_host[0]
            total = host[1] - self._last_host[1]
            if total > 0:
                out["system/host.cpu"] = round(100.0 * busy / total, 2)
        self._last_host = host
        mem = _host_mem_used()
        if mem is not None:
            out["system/host.mem_used"] = mem
        return out


# -- GPUs through NVML ---------------------------------------------------------


def visible_gpus(count: int, env: str | None) -> list[int | str]:
    """The GPUs this process can use, in CUDA's order: NVML indices or
    UUIDs from ``CUDA_VISIBLE_DEVICES`` (as CUDA reads it, up to the first
    entry that names no GPU), else all ``count``."""
    if env is None:
        return list(range(count))
    chosen: list[int | str] = []
    for entry in (e.strip() for e in env.split(",")):
        if entry.isdigit() and int(entry) < count:
            chosen.append(int(entry))
        elif entry.startswith("GPU-"):
            chosen.append(entry)
        else:
            break  # CUDA stops at the first invalid entry (so "-1" or "" hide every GPU)
    return chosen


class _GpuProbe:
    """Per visible GPU: utilisation, memory used/total, temperature, power;
    ``gpu{i}`` is the i-th GPU the process sees (``cuda:i`` in torch).
    Built on the sampler thread; any NVML failure leaves it empty for good
    (a box without a driver must not retry and warn every interval)."""

    def __init__(self, nvml: Any | None = None):
        self.nvml = None
        self.handles: list[Any] = []
        try:
            if nvml is None:
                import pynvml as nvml  # type: ignore[import-not-found,no-redef]
            nvml.nvmlInit()
            count = nvml.nvmlDeviceGetCount()
            for gpu in visible_gpus(count, os.environ.get("CUDA_VISIBLE_DEVICES")):
                if isinstance(gpu, int):
                    self.handles.append(nvml.nvmlDeviceGetHandleByIndex(gpu))
                else:
                    self.handles.append(nvml.nvmlDeviceGetHandleByUUID(gpu))
            self.nvml = nvml
        except Exception:  # noqa: BLE001 - no package, no driver, no GPU: no GPU series
            self.nvml = None
            self.handles = []

    def read(self) -> dict[str, float]:
        nvml = self.nvml
        if nvml is None:
            return {}
        out: dict[str, float] = {}
        for i, handle in enumerate(self.handles):
            prefix = f"system/gpu{i}"
            for name, fetch in (
                ("util", lambda h: float(nvml.nvmlDeviceGetUtilizationRates(h).gpu)),
                ("mem_used", lambda h: float(nvml.nvmlDeviceGetMemoryInfo(h).used)),
                ("mem_total", lambda h: float(nvml.nvmlDeviceGetMemoryInfo(h).total)),
                (
                    "temp",
                    lambda h: float(nvml.nvmlDeviceGetTemperature(h, 0)),
                ),  # NVML_TEMPERATURE_GPU
                ("power", lambda h: nvml.nvmlDeviceGetPowerUsage(h) / 1000.0),  # mW -> W
            ):
                try:
                    out[f"{prefix}.{name}"] = fetch(handle)
                except Exception:  # noqa: BLE001 - a reading a GPU does not support
                    continue
        return out

    def close(self) -> None:
        if self.nvml is not None:
            try:
                self.nvml.nvmlShutdown()
            except Exception:  # noqa: BLE001
                pass


class Sampler:
    """Appends one line of system readings to ``path`` every ``interval`` s.

    ``nvml`` replaces the ``pynvml`` module (tests give a fake one);
    ``on_error(exc, values)`` is told of a failed write and how many values
    it held (the run counts them as dropped); sampling goes on at the next
    interval. It is never given an exception to raise: nothing here reaches
    the training loop."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        interval: float,
        *,
        nvml: Any | None = None,
        clock: Callable[[], float] = time.time,
        on_error: Callable[[BaseException, int], None] | None = None,
    ):
        self.path = os.fspath(path)
        self.interval = interval
        self._nvml = nvml
        self._clock = clock
        self._on_error = on_error
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._gpus: _GpuProbe | None = None
        self._host: _HostProbe | None = None
        self.samples = 0
        self.cpu_seconds = 0.0  # this thread's own CPU time, for the benchmark

    def start(self) -> Sampler:
        if self.interval > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="trackui-system", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def sample(self) -> dict[str, Any]:
        """One reading (the first one after start has no CPU percentages)."""
        if self._host is None:
            self._host = _HostProbe()
        if self._gpus is None:
            self._gpus = _GpuProbe(self._nvml)
        row: dict[str, Any] = {"_t": round(self._clock(), 3)}
        row.update(self._host.read())
        row.update(self._gpus.read())
        return row

    def write(self, row: dict[str, Any]) -> None:
        line = (json.dumps(row, separators=(",", ":"), allow_nan=True) + "\n").encode()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        except OSError as exc:
            self._report(exc, sum(1 for key in row if not key.startswith("_")))

    def _report(self, exc: BaseException, values: int) -> None:
        if self._on_error is not None:
            try:
                self._on_error(exc, values)
            except Exception:  # noqa: BLE001 - the run's bookkeeping must not end sampling
                pass

    def _run(self) -> None:
        start_cpu = time.thread_time()
        try:
            try:
                self.sample()  # baseline for the CPU percentages
            except Exception as exc:  # noqa: BLE001 - sampling must never reach training
                self._report(exc, 0)
            while not self._stop.wait(self.interval):
                try:
                    row = self.sample()
                except Exception as exc:  # noqa: BLE001 - tried again at the next interval
                    self._report(exc, 0)
                    continue
                if self._stop.is_set():
                    break  # stopped while a reading hung: the run has ended
                self.write(row)
                self.samples += 1
                self.cpu_seconds = time.thread_time() - start_cpu
        finally:
            if self._gpus is not None:
                self._gpus.close()
