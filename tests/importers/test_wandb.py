"""The W&B reader against real offline runs of wandb 0.31 (``fixtures/wandb``).

Expected values come from ``EXPECTED.json`` (exit codes, counts, last steps,
final values, artifacts, start times), from the params the fixture script
passed to ``wandb.init`` (known values, written out below), from
``files/output.log``, and from a second, deliberately naive decoder written
here: it trusts the block framing without checking CRCs and walks the
protobuf bytes with a few lines of varint code to pull out history rows.
"""

from __future__ import annotations

import json
import shutil
import struct
from functools import partial
from pathlib import Path

import pytest

from trackui.store.importers import wandb
from trackui.store.importers.base import ForeignRun

from .helpers import hashes, naive_fields, read_runs, same

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "wandb"
EXPECTED = {e["run_id"]: e for e in json.loads((FIXTURES / "EXPECTED.json").read_text())["wandb"]}
FINISHED, EXC, KILL9 = "r6xw39n7", "ye7hqa3j", "fjupcm20"
LATER = 1795792000.0  # a day after the fixture runs
COMMON = {
    "model": "yolo26n.pt",
    "data": "coco8.yaml",
    "epochs": 30,
    "imgsz": 640,
    "seed": 0,
    "device": "cpu",
    "momentum": 0.937,
    "weight_decay": 0.0005,
    "warmup_epochs": 3.0,
}
PARAMS = {
    FINISHED: {**COMMON, "lr0": 0.01, "batch": 16, "optimizer": "SGD"},
    EXC: {**COMMON, "lr0": 0.01, "batch": 16, "optimizer": "AdamW"},
    KILL9: {**COMMON, "lr0": 0.02, "batch": 16, "optimizer": "SGD"},
}
STATUS_OF = {"finished": "finished", "failed": "failed", "no exit record (killed)": "crashed"}


# -- an independent, naive decoder -------------------------------------------------


def naive_records(path: Path) -> list[tuple[int, bytes]]:
    """(offset of the record's last chunk, payload) for every complete record."""
    data = path.read_bytes()
    out: list[tuple[int, bytes]] = []
    off, buf = 7, b""
    while off + 7 <= len(data):
        left = 32768 - off % 32768
        if left < 7:
            off += left
            continue
        length, kind = struct.unpack_from("<HB", data, off + 4)
        if kind == 0 and length == 0:
            off += left
            continue
        payload = data[off + 7 : off + 7 + length]
        if len(payload) < length:
            break
        if kind in (1, 4):
            out.append((off, buf + payload))
            buf = b""
        else:
            buf = payload if kind == 2 else buf + payload
        off += 7 + length
    return out


def naive_history(records: list[tuple[int, bytes]]) -> list[tuple[str, int, float]]:
    """(key, _step, value) of every numeric history item (record field 2)."""
    points: list[tuple[str, int, float]] = []
    for _off, payload in records:
        for field, history in naive_fields(payload):
            if field != 2:
                continue
            row: list[tuple[str, object]] = []
            for f, item in naive_fields(history):
                if f == 1:
                    parts = dict(naive_fields(item))
                    key = (parts.get(1) or parts[2]).decode()
                    row.append((key, json.loads(parts[16])))
            step = dict(row)["_step"]
            points += [
                (k, step, float(v))
                for k, v in row
                if k not in ("_step", "_timestamp", "_runtime") and isinstance(v, int | float)
            ]
    return points


def wandb_file(run_id: str, root: Path = FIXTURES) -> Path:
    (f,) = root.glob(f"wandb/*-{run_id}/run-{run_id}.wandb")
    return f


# -- helpers -----------------------------------------------------------------------


read_all = partial(read_runs, wandb, now=LATER)


@pytest.fixture(scope="module")
def imported() -> tuple[dict[str, ForeignRun], list[str]]:
    return read_all(FIXTURES)


# -- the fixture runs --------------------------------------------------------------


def test_runs_and_identity(imported) -> None:
    runs, _ = imported
    assert sorted(runs) == sorted(EXPECTED)  # latest-run is not a second copy
    for run_id, run in runs.items():
        exp = EXPECTED[run_id]
        assert run.kind == "wandb"
        assert run.name == exp["run_name"]
        assert run.project == "yolo-fake"
        assert run.tags == ["fake-ultralytics"]
        assert run.source_path == str((FIXTURES.parent / exp["dir"]).parent.absolute())
        assert int(run.created) == exp["start_time_s"]
        assert run.params == PARAMS[run_id]
        assert run.extra["job_type"] == "train"


@pytest.mark.parametrize("run_id", sorted(EXPECTED))
def test_every_point_equals_the_file(imported, run_id: str) -> None:
    run = imported[0][run_id]
    want = naive_history(naive_records(wandb_file(run_id)))
    got = [(p.key, p.step, p.value) for p in run.points]
    assert len(got) == len(want)
    for (k1, s1, v1), (k2, s2, v2) in zip(got, want, strict=True):
        assert (k1, s1) == (k2, s2) and same(v1, v2), (k1, s1, v1, v2)
    assert all(p.t is not None and run.created <= p.t <= run.last_activity for p in run.points)


@pytest.mark.parametrize("run_id", sorted(EXPECTED))
def test_counts_final_values_and_artifacts(imported, run_id: str) -> None:
    run, exp = imported[0][run_id], EXPECTED[run_id]
    loss = [p for p in run.points if p.key == "train/loss"]
    assert len(loss) == exp["train_loss_points"]
    assert loss[-1].step == exp["train_loss_last_step"]
    m = [p for p in run.points if p.key == "metrics/mAP50-95(B)"]  # name exactly as logged
    assert len(m) == exp["epochs_logged"]
    assert m[-1].value == exp["final_mAP50-95"]
    assert run.extra["summary"]["metrics/mAP50-95(B)"] == exp["final_mAP50-95"]
    assert [p.value for p in run.points if p.key == "epoch"] == list(
        range(1, exp["epochs_logged"] + 1)
    )
    assert [a.name for a in run.artifacts] == exp["artifacts"]
    (art,) = run.artifacts
    staged = Path(art.path)
    assert staged.parent == (FIXTURES / "_wandb_data_dir" / "artifacts" / "staging").absolute()
    assert art.size == staged.stat().st_size == 32786
    assert staged.read_bytes().startswith(b"FAKE-YOLO-WEIGHTS\0")


def test_statuses(imported) -> None:
    runs, problems = imported
    for run_id, run in runs.items():
        assert run.status == STATUS_OF[EXPECTED[run_id]["status"]]
        assert run.extra.get("exit_code") == EXPECTED[run_id]["exit_code"]
    assert runs[FINISHED].status_reason is None
    assert runs[EXC].status_reason == "exit code 1"
    # killed at step 2500: the config planned 30 epochs, the history reached 12
    assert runs[KILL9].status_reason == "no exit record; 12 of 30 epochs"
    # the killed writer's last record was cut between two blocks
    assert problems == [f"{wandb_file(KILL9)}: truncated at byte 720888 (last record incomplete)"]


def test_no_exit_record_and_recent_activity_is_running(imported) -> None:
    last = imported[0][KILL9].last_activity
    runs, problems = read_all(FIXTURES, now=last + 60)
    assert runs[KILL9].status == "running" and runs[KILL9].ended is None
    assert runs[FINISHED].status == "finished"  # an exit record needs no clock
    assert problems == []  # a live writer's unfinished record is not damage
    runs, _ = read_all(FIXTURES, now=last + 60, stale_after=30)
    assert runs[KILL9].status == "crashed"


def test_console(imported) -> None:
    runs, _ = imported
    for run_id in (FINISHED, EXC):
        log = (wandb_file(run_id).parent / "files" / "output.log").read_text()
        assert runs[run_id].console == log
    assert (
        runs[EXC]
        .console.rstrip()
        .endswith("SimulatedCrash: CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
    )
    # after kill -9, output.log stopped at one line; the records got further
    log = (wandb_file(KILL9).parent / "files" / "output.log").read_text()
    assert runs[KILL9].console.startswith(log) and len(runs[KILL9].console) > len(log)
    assert "epoch 12/30" in runs[KILL9].console


def test_reading_writes_nothing() -> None:
    before = hashes(FIXTURES)
    read_all(FIXTURES)
    assert hashes(FIXTURES) == before


def test_detect(tmp_path: Path) -> None:
    assert wandb.detect(FIXTURES)
    assert wandb.detect(wandb_file(EXC).parent)
    assert wandb.detect(wandb_file(EXC))
    assert not wandb.detect(tmp_path)


def test_artifacts_outside_the_given_root_are_not_guessed(tmp_path: Path) -> None:
    runs, problems = read_all(FIXTURES / "wandb")
    assert problems == [f"{wandb_file(KILL9)}: truncated at byte 720888 (last record incomplete)"]
    for run_id, run in runs.items():
        assert run.artifacts == []
        assert run.extra["artifacts_not_found"] == EXPECTED[run_id]["artifacts"]


# -- damaged files -----------------------------------------------------------------


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    root = tmp_path / "wb"
    shutil.copytree(FIXTURES, root)
    return root


def test_truncated_file(copy: Path) -> None:
    f = wandb_file(FINISHED, copy)
    with f.open("r+b") as handle:
        handle.truncate(900_000)
    runs, problems = read_all(copy)
    run = runs[FINISHED]
    want = naive_history(naive_records(f))
    assert [(p.key, p.step) for p in run.points] == [(k, s) for k, s, _ in want]
    assert 0 < len(run.points) < 6000
    assert run.status == "crashed"
    assert run.status_reason == "no exit record; 15 of 30 epochs"  # cut at 900 kB
    assert run.params == PARAMS[FINISHED]
    assert any(p.startswith(f"{f}: truncated at byte ") for p in problems)
    assert sorted(runs) == sorted(EXPECTED)


def test_damage_in_the_middle_keeps_the_records_before(copy: Path) -> None:
    f = wandb_file(EXC, copy)
    records = naive_records(f)
    k = len(records) // 2
    chunk_at, payload = records[k]
    blob = bytearray(f.read_bytes())
    length = struct.unpack_from("<H", blob, chunk_at + 4)[0]
    blob[chunk_at + 7 + length - 1] ^= 0x55  # last byte of that record's last chunk
    f.write_bytes(bytes(blob))
    runs, problems = read_all(copy)
    run = runs[EXC]
    want = naive_history(records[:k])
    assert [(p.key, p.step, p.value) for p in run.points] == want
    assert f"{f}: corrupt (chunk CRC mismatch) at byte {chunk_at}" in problems
    assert run.status == "crashed"  # the exit record is past the damage


def test_not_a_wandb_file(copy: Path) -> None:
    f = wandb_file(EXC, copy)
    f.write_bytes(b"PK\x03\x04 something else entirely")
    runs, problems = read_all(copy)
    assert sorted(runs) == sorted({FINISHED, KILL9})
    assert f"{f}: not a W&B run file (bad header)" in problems


def test_zero_filled_tail_is_the_end(copy: Path) -> None:
    f = wandb_file(KILL9, copy)
    with f.open("ab") as handle:
        handle.write(b"\0" * 40000)  # preallocated, never written
    runs, problems = read_all(copy)
    assert len([p for p in runs[KILL9].points if p.key == "train/loss"]) == 2451
    assert problems == [f"{f}: truncated at byte 720888 (last record incomplete)"]


def test_torn_chunk_header_at_the_end(copy: Path) -> None:
    f = wandb_file(EXC, copy)
    size = f.stat().st_size
    with f.open("ab") as handle:
        handle.write(b"\x01\x02\x03")  # the start of a chunk header, and then nothing
    runs, problems = read_all(copy)
    assert runs[EXC].status == "failed"  # everything before it is intact
    assert f"{f}: truncated at byte {size}" in problems


def test_missing_path(tmp_path: Path) -> None:
    assert read_all(tmp_path / "nope") == ({}, [f"{tmp_path / 'nope'}: no such file or directory"])


# -- pieces ------------------------------------------------------------------------


def test_recorded_paths_resolve_only_under_the_root(tmp_path: Path) -> None:
    (tmp_path / "data" / "staging").mkdir(parents=True)
    (tmp_path / "data" / "staging" / "tmpabc").write_bytes(b"x" * 5)
    recorded = "/home/someone/else/data/staging/tmpabc"
    assert (
        wandb.resolve_recorded_path(recorded, tmp_path) == tmp_path / "data" / "staging" / "tmpabc"
    )
    assert wandb.resolve_recorded_path(recorded, tmp_path, size=5) is not None
    assert wandb.resolve_recorded_path(recorded, tmp_path, size=6) is None
    assert wandb.resolve_recorded_path("/etc/../../passwd", tmp_path) is None
