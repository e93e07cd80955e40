"""Sampled system series in the catalog: ``system.jsonl`` (written by the
sampler with NVML faked, two GPUs) read like metrics under ``system/`` keys,
step = the sample's line number, incrementally, with exact summaries."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from trackui.cli import main
from trackui.store import catalog, paths, system
from trackui.store.queries import Store
from trackui.store.writer import Run

from .test_system_sampler import GPUS, fake_pynvml


@pytest.fixture(params=["duckdb-reader", "python-parser"])
def ingest_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test over both ways the catalog reads metric lines."""
    big = request.param == "duckdb-reader"
    monkeypatch.setattr(catalog, "SMALL_CHUNK_BYTES", 0 if big else 1 << 30)
    return str(request.param)


class FakeClock:
    def __init__(self, t: float = 1_795_792_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        self.t += 10.0
        return self.t


def sample_run(root: Path, samples: int) -> tuple[Run, system.Sampler, list[dict], list[dict]]:
    """A run with one logged metric and ``samples`` system lines written by the
    sampler (two fake GPUs whose readings change per sample)."""
    run = Run(
        project="p", name="r", dir=root, console=False, handle_signals=False, system_interval=0
    )
    run.log({"loss": 1.0})
    gpus = copy.deepcopy(GPUS)
    sampler = system.Sampler(run.dir / paths.SYSTEM, 10, nvml=fake_pynvml(gpus), clock=FakeClock())
    sampler.sample()  # the baseline, never written (as the thread does)
    rows: list[dict] = []
    write_samples(sampler, gpus, rows, samples)
    return run, sampler, gpus, rows


def write_samples(sampler: system.Sampler, gpus: list[dict], rows: list[dict], n: int) -> None:
    for _ in range(n):
        i = len(rows)
        gpus[0]["util"] = 10 * (i + 1)
        gpus[0]["mem_used"] = 1_000_000_000 * (3 - i % 3)  # 3 GB, 2 GB, 1 GB, ...
        gpus[1]["temp"] = 40 + i
        row = sampler.sample()
        sampler.write(row)
        rows.append(row)


def expected(rows: list[dict], key: str, got: dict) -> dict:
    """The summary of ``key`` over ``rows``; ``step_min``/``step_max`` (the
    step of the min/max) taken from ``got`` where the extreme is tied."""
    seen = [(i, r["_t"], r[key]) for i, r in enumerate(rows) if key in r]
    vals = [v for _, _, v in seen]
    at_min = [i for i, _, v in seen if v == min(vals)]
    at_max = [i for i, _, v in seen if v == max(vals)]
    want = {
        "first": vals[0],
        "last": vals[-1],
        "min": min(vals),
        "max": max(vals),
        "count": len(vals),
        "step_min": at_min[0] if len(at_min) == 1 else got["step_min"],
        "step_max": at_max[0] if len(at_max) == 1 else got["step_max"],
        "last_step": seen[-1][0],
        "last_t": seen[-1][1],
    }
    assert want["step_min"] in at_min and want["step_max"] in at_max
    return want


def summaries(store: Store, run_id: str) -> dict[str, dict]:
    return {
        m.key: {
            "first": m.first,
            "last": m.last,
            "min": m.min,
            "max": m.max,
            "count": m.count,
            "step_min": m.step_min,
            "step_max": m.step_max,
            "last_step": m.last_step,
            "last_t": m.last_t,
        }
        for m in store.metric_summaries(run_id)
    }


def test_fake_nvml_samples_land_in_the_catalog_exactly(tmp_path: Path, ingest_path: str) -> None:
    root = tmp_path / "store"
    run, _, _, rows = sample_run(root, 4)
    with Store(root) as store:
        got = summaries(store, run.id)
        # (host CPU % may be missing from a line: no time passed since the last)
        sampled = sorted({k for r in rows for k in r if k.startswith("system/")})
        assert {
            f"system/gpu{i}.{s}"
            for i in (0, 1)
            for s in ("util", "mem_used", "mem_total", "temp", "power")
        } <= set(sampled)
        assert sorted(k for k in got if k.startswith("system/")) == sampled
        for key in sampled:
            assert got[key] == expected(rows, key, got[key]), key
        assert got["system/gpu0.util"]["max"] == 40.0
        assert got["system/gpu0.mem_used"]["max"] == 3e9
        assert got["system/gpu1.power"]["last"] == 70.0
        assert got["loss"]["count"] == 1  # the metrics are there beside them
        history = store.history(run.id, "system/gpu1.temp")
        assert [(p.step, p.t, p.value) for p in history] == [
            (i, r["_t"], 40.0 + i) for i, r in enumerate(rows)
        ]
    run.finish()


def test_appended_samples_are_read_from_where_the_last_read_stopped(
    tmp_path: Path, ingest_path: str
) -> None:
    root = tmp_path / "store"
    run, sampler, gpus, rows = sample_run(root, 2)
    with Store(root) as store:
        assert summaries(store, run.id)["system/gpu0.util"]["count"] == 2
        write_samples(sampler, gpus, rows, 3)
        stats = store.refresh()
        assert stats.points == sum(1 for r in rows[2:] for k in r if k.startswith("system/"))
        got = summaries(store, run.id)
        for key in ("system/gpu0.util", "system/gpu0.mem_used", "system/gpu1.temp"):
            assert got[key] == expected(rows, key, got[key])
        assert [p.step for p in store.history(run.id, "system/gpu0.util")] == [0, 1, 2, 3, 4]
        assert store.refresh().points == 0  # exactly once
    with Store(root) as reopened:  # the offsets saved with the catalog agree
        assert summaries(reopened, run.id)["system/gpu0.util"]["count"] == 5
    run.finish()


def test_torn_and_foreign_lines(tmp_path: Path) -> None:
    """A torn last line waits for its newline; a corrupt line and a key outside
    ``system/`` add nothing, but the line still counts as a step."""
    root = tmp_path / "store"
    run = Run(
        project="p", name="r", dir=root, console=False, handle_signals=False, system_interval=0
    )
    path = run.dir / paths.SYSTEM
    path.write_bytes(b'{"_t": 1.0, "system/host.cpu": 5, "loss": 9}\nnot json\n{"_t": 3.0, "sys')
    with Store(root) as store:
        assert [(p.step, p.value) for p in store.history(run.id, "system/host.cpu")] == [(0, 5.0)]
        assert "loss" not in summaries(store, run.id)
        with open(path, "ab") as fh:
            fh.write(b'tem/host.cpu": 7.5}\n')
        store.refresh()
        assert [(p.step, p.t, p.value) for p in store.history(run.id, "system/host.cpu")] == [
            (0, 1.0, 5.0),
            (2, 3.0, 7.5),
        ]
    run.finish()


def test_a_replaced_system_file_is_read_again_and_metrics_stay(tmp_path: Path) -> None:
    """Importers replace system.jsonl by rename: its series are read again
    from the new file; the metrics are left alone; a metrics reset re-reads
    system.jsonl too."""
    root = tmp_path / "store"
    run = Run(
        project="p", name="r", dir=root, console=False, handle_signals=False, system_interval=0
    )
    run.log({"loss": 1.0})
    run.log({"loss": 0.5})
    path = run.dir / paths.SYSTEM
    path.write_text(json.dumps({"_t": 1.0, "system/host.cpu": 5}) + "\n")
    run.finish()  # the writer would make a replaced metrics.jsonl again
    with Store(root) as store:
        tmp = run.dir / "system.tmp"
        tmp.write_text("".join(json.dumps({"_t": t, "system/host.cpu": t}) + "\n" for t in (7, 8)))
        os.replace(tmp, path)
        store.refresh()
        got = summaries(store, run.id)
        assert got["system/host.cpu"]["count"] == 2 and got["system/host.cpu"]["first"] == 7.0
        assert got["loss"]["count"] == 2

        metrics = run.dir / paths.METRICS
        tmp = run.dir / "metrics.tmp"
        tmp.write_bytes(metrics.read_bytes().splitlines(keepends=True)[0])
        os.replace(tmp, metrics)
        store.refresh()
        got = summaries(store, run.id)
        assert got["loss"]["count"] == 1
        assert got["system/host.cpu"]["count"] == 2

        path.unlink()
        store.refresh()
        assert "system/host.cpu" not in summaries(store, run.id)
        assert summaries(store, run.id)["loss"]["count"] == 1


def test_max_gpu_memory_as_a_run_list_column(tmp_path: Path) -> None:
    root = tmp_path / "store"
    run, _, _, rows = sample_run(root, 3)
    with Store(root) as store:
        (row,) = store.run_summaries([run.id], ["max(system/gpu0.mem_used)"])
        assert row.columns["max(system/gpu0.mem_used)"] == 3e9
    run.finish()


def test_show_json_lists_system_series_under_their_own_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "store"
    run, _, _, rows = sample_run(root, 3)
    run.finish()
    assert main(["show", "--store", str(root), run.id, "--json"]) == 0
    detail = json.loads(capsys.readouterr().out)
    assert set(detail["metrics"]) == {"loss"}
    assert all(k.startswith("system/") for k in detail["system"])
    assert detail["system"]["system/gpu0.mem_used"] == {
        "first": 3e9,
        "last": 1e9,
        "min": 1e9,
        "max": 3e9,
        "count": 3,
        "step_min": 2,
        "step_max": 0,
        "last_step": 2,
    }
    assert set(detail["system"]["system/gpu1.util"]) == set(detail["metrics"]["loss"])
    assert main(["show", "--store", str(root), run.id]) == 0  # the human form: its own table
    out = capsys.readouterr().out
    assert "system/gpu0.mem_used" in out and out.index("system/") > out.index("loss")


def test_show_json_without_sampling_has_an_empty_system(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "store"
    run = Run(
        project="p", name="r", dir=root, console=False, handle_signals=False, system_interval=0
    )
    run.log({"loss": 1.0})
    run.finish()
    assert main(["show", "--store", str(root), run.id, "--json"]) == 0
    detail = json.loads(capsys.readouterr().out)
    assert detail["system"] == {} and set(detail["metrics"]) == {"loss"}


@pytest.mark.parametrize(
    "line",
    [
        b'{"_t":1764630000.5,"system/proc.cpu":97.1,"system/gpu0.mem_used":20401094656}',
        b'{"_t": 1.5, "system/host.cpu": 5, "system/disk./.usagePercent": 40.0}',
        b'{"_t":2,"system/gpu0.temp":-1.5e2,"system/gpu0.temp":7}',  # first wins
        b'{"_t":2,"system/a":NaN,"system/b":1}',
        b'{"_t":2,"system/a":1e400,"system/b":1}',
        b'{"_t":2,"loss":1,"system/b":1}',
        b'{"system/b":1,"_t":2}',
        b'{"_t":2,"system/\\u00e9":1}',
        b"[1]",
        b"",
    ],
)
def test_spliced_and_parsed_lines_read_alike(line: bytes) -> None:
    """A plain line gets its ``_step`` spliced in unparsed; any other is
    parsed and rewritten: both give the same points."""
    from trackui.store import bounded_json, system_lines

    got = system_lines.as_metric_lines(b"x\n" + line + b"\n", 6)
    first, second = got.split(b"\n")[:2]
    assert first == b"{}"
    obj = bounded_json.loads(line, first_wins=True) if line.strip() else None
    want: dict[str, float] = {}
    if isinstance(obj, dict):
        want = {"_step": 7, "_t": obj["_t"]}
        for k, v in obj.items():
            finite = isinstance(v, (int, float)) and v == v and abs(v) != float("inf")
            if k.startswith("system/") and finite:
                want[k] = v
    read = bounded_json.loads(second, first_wins=True)
    if len(want) <= 2:
        want = {}
    assert read == want
