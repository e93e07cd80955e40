"""Imported system metrics reach the catalog under trackui's names: W&B
``stats`` records (the real wandb runs in ``fixtures/wandb`` and the resumed
fixture) and MLflow ``system/`` metrics, read from the imported
``system.jsonl`` like the sampler's."""

from __future__ import annotations

from pathlib import Path

from trackui.store.importers import import_path
from trackui.store.queries import Store
from trackui.store.sources import bind

from .helpers import aged_copy
from .test_faithful import T0_MS, mlflow_store

ROOT = Path(__file__).resolve().parents[2] / "fixtures"


def system_summaries(store: Store) -> dict[str, dict[str, object]]:
    """run id -> {system key: summary}, for every run of the store."""
    out: dict[str, dict[str, object]] = {}
    for run in store.list_runs():
        out[run.id] = {
            m.key: m for m in store.metric_summaries(run.id) if m.key.startswith("system/")
        }
    return out


def test_wandb_resumed_stats_in_the_catalog(tmp_path: Path) -> None:
    src = aged_copy(ROOT / "wandb-resumed", tmp_path / "wbr", 3600)
    assert import_path(tmp_path / "store", src).runs == 1
    with Store(tmp_path / "store") as store:
        ((run_id, got),) = system_summaries(store).items()
        util = got["system/gpu0.util"]
        assert (util.first, util.last, util.max, util.count) == (90.0, 97.0, 97.0, 3)
        assert [(p.step, p.value) for p in store.history(run_id, "system/gpu0.util")] == [
            (0, 90.0),
            (1, 95.0),
            (2, 97.0),
        ]
        assert store.history(run_id, "system/gpu0.util")[0].t == 1767261631.0
        assert got["system/gpu0.mem_used"].first == 8.0e9
        assert got["system/proc.rss"].first == 1024.0 * 1024**2
        assert got["system/host.mem_used"].first == 0.25 * 16 * 1024**3
        assert "system/disk./.usagePercent" in got  # kept under the tool's name
        metrics = [m.key for m in store.metric_summaries(run_id)]
        assert any(not k.startswith("system/") for k in metrics)  # the metrics beside them


def test_real_wandb_stats_in_the_catalog(tmp_path: Path) -> None:
    src = aged_copy(ROOT / "wandb", tmp_path / "wandb", 3600)
    import_path(tmp_path / "store", src)
    with Store(tmp_path / "store") as store:
        runs = system_summaries(store)
        assert runs and all(runs.values())
        for got in runs.values():
            assert {"system/proc.rss", "system/host.mem_used", "system/network.sent"} <= set(got)
        rss = {got["system/proc.rss"].min for got in runs.values()}
        rss |= {got["system/proc.rss"].max for got in runs.values()}
        assert all(v % 4096 == 0 for v in rss)  # MiB back in bytes: whole pages


def test_mlflow_system_metrics_in_the_catalog(tmp_path: Path) -> None:
    import_path(tmp_path / "store", mlflow_store(tmp_path / "src"))
    with Store(tmp_path / "store") as store:
        ((run_id, got),) = system_summaries(store).items()
        util = got["system/gpu0.util"]
        assert (util.first, util.last, util.count, util.last_step) == (80.0, 90.0, 2, 1)
        assert got["system/gpu0.mem_used"].max == 4100.0e6
        assert got["system/gpu0.power"].first == 200.0
        assert got["system/host.cpu"].last == 13.5
        assert got["system/host.mem_used"].first == 8000.0e6
        assert got["system/disk_usage_percentage"].last == 40.1
        assert store.history(run_id, "system/gpu0.util")[0].t == T0_MS / 1000 + 10
        assert not any(k.startswith("system/gpu_") for k in got)  # only trackui's names


def _mlflow_lines(run_dir: Path, key: str) -> list[tuple[float, float, int]]:
    """(timestamp s, value, step) of one MLflow metric file, split by hand."""
    out = []
    for line in (run_dir / "metrics" / key).read_text().splitlines():
        ts, value, step = line.split()
        out.append((int(ts) / 1000, float(value), int(step)))
    return out


def test_real_mlflow_system_metrics_imported_and_read_through(tmp_path: Path) -> None:
    """MLflow's own system-metrics monitor wrote fixtures/mlflow-system (see its
    make_system.py): CPU and memory land under trackui's names and units, the
    rest under MLflow's, imported and read in place alike."""
    src = aged_copy(ROOT / "mlflow-system" / "mlruns", tmp_path / "mlruns", 3600)
    (run_dir,) = [p.parent for p in src.glob("*/*/meta.yaml")]
    cpu = _mlflow_lines(run_dir, "system/cpu_utilization_percentage")
    mem = _mlflow_lines(run_dir, "system/system_memory_usage_megabytes")
    assert cpu and mem
    import_path(tmp_path / "store", src)
    with Store(tmp_path / "store") as store:
        ((run_id, got),) = system_summaries(store).items()
        history = store.history(run_id, "system/host.cpu")
        assert [(p.t, p.value) for p in history] == [(t, v) for t, v, _ in cpu]
        assert [p.value for p in store.history(run_id, "system/host.mem_used")] == [
            v * 1e6 for _, v, _ in mem
        ]
        assert "system/disk_usage_percentage" in got
        assert "system/system_memory_usage_percentage" in got  # no trackui series means this
        # the converted ones are not kept twice under MLflow's names
        assert "system/cpu_utilization_percentage" not in got
        assert "system/system_memory_usage_megabytes" not in got
        metrics = [m.key for m in store.metric_summaries(run_id)]
        assert "train/loss" in metrics
    # Read in place (no copy): the same series under the same names.
    bind(tmp_path / "through", src)
    with Store(tmp_path / "through", private=True) as store:
        ((run_id, got),) = system_summaries(store).items()
        assert [(p.t, p.value) for p in store.history(run_id, "system/host.cpu")] == [
            (t, v) for t, v, _ in cpu
        ]
        assert got["system/host.mem_used"].last == mem[-1][1] * 1e6
