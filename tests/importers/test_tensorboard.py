"""The TensorBoard reader against real tensorboardX event files (``fixtures/tensorboard``).

Expected values come from ``EXPECTED.json`` (what the files say, counted by
the fixture set's own tools) and from a second, deliberately naive decoder
written here: it trusts the framing, skips CRCs, and pulls ``simple_value``
scalars and text out of the bytes with a minimal varint walk. Points are
compared one by one as float32, which is how the file stores them.
"""

from __future__ import annotations

import json
import math
import shutil
import struct
from functools import partial
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from trackui.store.importers import tensorboard
from trackui.store.importers.base import STATUSES, ForeignRun

from .helpers import f32, hashes, naive_fields, read_runs, record, varint

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "tensorboard"
EXPECTED = {
    e["run_name"]: e for e in json.loads((FIXTURES / "EXPECTED.json").read_text())["tensorboardX"]
}
FINISHED = "yolo26n-lr0.01-b16-sgd"
EXC = "yolo26n-lr0.01-b16-adamw-crash-exc"
KILL9 = "yolo26n-lr0.02-b16-sgd-crash-kill9"
EPOCH_TAGS = {
    "train/box_loss",
    "train/cls_loss",
    "metrics/mAP50_B_",
    "metrics/mAP50-95_B_",
    "lr/pg0",
}
LATER = 1795792000.0  # a day after the fixture runs: nothing is fresh


# -- an independent, naive decoder -------------------------------------------------


def naive_records(path: Path) -> list[tuple[int, bytes]]:
    """(offset, data) of every whole record; no CRC check."""
    blob = path.read_bytes()
    out, i = [], 0
    while i + 12 <= len(blob):
        (n,) = struct.unpack_from("<Q", blob, i)
        if i + 16 + n > len(blob):
            break
        out.append((i, blob[i + 12 : i + 12 + n]))
        i += 16 + n
    return out


def naive_scalars(path: Path) -> tuple[list[tuple[str, int, float]], dict[str, str]]:
    """``simple_value`` points (tag, step, float32) and text summaries of one file."""
    points: list[tuple[str, int, float]] = []
    texts: dict[str, str] = {}
    for _off, data in naive_records(path):
        fields = naive_fields(data)
        step = next((v for f, v in fields if f == 2), 0)
        for f, summary in fields:
            if f != 5:
                continue
            for _, value in naive_fields(summary):  # Summary.value
                vf = dict(naive_fields(value))
                tag = vf[1].decode()
                if 2 in vf:
                    points.append((tag, step, struct.unpack("<f", vf[2])[0]))
                elif 8 in vf:
                    strings = [v for f2, v in naive_fields(vf[8]) if f2 == 8]
                    if strings:
                        texts[tag] = strings[0].decode()
    return points, texts


def same32(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or f32(a) == f32(b)


# -- helpers -----------------------------------------------------------------------


read_all = partial(read_runs, tensorboard, now=LATER)


@pytest.fixture(scope="module")
def imported() -> tuple[dict[str, ForeignRun], list[str]]:
    return read_all(FIXTURES)


def main_file(run_dir: Path) -> Path:
    (f,) = sorted(run_dir.glob("events.out.tfevents.*"))
    return f


# -- the fixture runs --------------------------------------------------------------


def test_one_run_per_directory_hparams_subrun_folded_in(imported) -> None:
    runs, _ = imported
    assert sorted(runs) == sorted(EXPECTED)
    assert runs[FINISHED].extra["hparams_dir"] == "1795703520.813343"
    for name, run in runs.items():
        assert run.kind == "tensorboard"
        assert run.name == name
        assert run.project == "tensorboard"
        assert run.source_path == str((FIXTURES / name).absolute())
        assert run.parent_id is None
        assert ("hparams_dir" in run.extra) is EXPECTED[name]["hparams_subrun"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_points_equal_the_file_point_by_point(imported, name: str) -> None:
    run = imported[0][name]
    own, _ = naive_scalars(main_file(FIXTURES / name))
    for sub in (FIXTURES / name).glob("*/events.out.tfevents.*"):
        own += naive_scalars(sub)[0]
    got = [(p.key, p.step, p.value) for p in run.points]
    assert len(got) == len(own)
    for (k1, s1, v1), (k2, s2, v2) in zip(got, own, strict=True):
        assert (k1, s1) == (k2, s2)
        assert same32(v1, v2), (k1, s1, v1, v2)
    assert all(p.t is not None and p.t >= run.created for p in run.points)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_counts_names_and_final_values_match_expected(imported, name: str) -> None:
    run, exp = imported[0][name], EXPECTED[name]
    loss = [p for p in run.points if p.key == "train/loss"]
    assert len(loss) == exp["train_loss_points"]
    assert loss[-1].step == exp["train_loss_last_step"]
    keys = {p.key for p in run.points}
    hparam_keys = {"hparam/mAP50-95_B_", "hparam/mAP50_B_"} if exp["hparams_subrun"] else set()
    assert keys == {"train/loss"} | EPOCH_TAGS | hparam_keys  # exactly as tensorboardX wrote them
    m = [p for p in run.points if p.key == "metrics/mAP50-95_B_"]
    assert len(m) == exp["epochs_logged"]
    assert [p.step for p in m] == list(range(exp["epochs_logged"]))
    # float32 read back as the shortest decimal: the very value that was logged
    assert m[-1].value == exp["final_mAP50-95"]
    assert sorted(a.name.rsplit("/", 1)[-1] for a in run.artifacts) == exp["artifacts"]


def test_hparams_become_params(imported) -> None:
    runs, _ = imported
    _, texts = naive_scalars(main_file(FIXTURES / FINISHED))
    logged_args = yaml.safe_load(texts["args/text_summary"])  # the script's own record
    params = runs[FINISHED].params
    assert params == logged_args  # hparams store numbers as doubles: 30.0 == 30
    assert params["optimizer"] == "SGD" and params["lr0"] == 0.01 and params["epochs"] == 30
    assert runs[FINISHED].extra["text"]["args/text_summary"] == texts["args/text_summary"]
    assert runs[EXC].params == {} and runs[KILL9].params == {}


def test_statuses(imported) -> None:
    runs, problems = imported
    assert runs[FINISHED].status == "finished"
    assert "SUCCESS" in runs[FINISHED].status_reason
    # the exception run's file was closed cleanly: nothing tells it from a finished run
    assert runs[EXC].status == "finished"
    assert "inferred" in runs[EXC].status_reason
    # kill -9 left half a record at the end
    assert runs[KILL9].status == "crashed"
    assert "mid-write" in runs[KILL9].status_reason
    kill_file = main_file(FIXTURES / KILL9)
    assert problems == [f"{kill_file}: truncated at byte 122171 (last record cut short)"]
    for run in runs.values():
        assert run.status in STATUSES
        assert run.ended == run.last_activity


def test_a_run_with_recent_events_is_running() -> None:
    runs, _ = read_all(FIXTURES, now=LATER)
    last = runs[KILL9].last_activity
    assert last is not None
    fresh, problems = read_all(FIXTURES, now=last + 60)
    assert {r.status for r in fresh.values()} == {"running"}
    assert fresh[KILL9].ended is None
    assert problems == []  # a live writer's half record is not damage
    stale, _ = read_all(FIXTURES, now=last + 60, stale_after=30)
    assert stale[KILL9].status == "crashed"


def test_reading_writes_nothing() -> None:
    before = hashes(FIXTURES)
    read_all(FIXTURES)
    assert hashes(FIXTURES) == before


def test_detect(tmp_path: Path) -> None:
    assert tensorboard.detect(FIXTURES)
    assert tensorboard.detect(FIXTURES / FINISHED)
    assert tensorboard.detect(main_file(FIXTURES / FINISHED))
    assert not tensorboard.detect(tmp_path)
    (tmp_path / "results.csv").write_text("epoch\n1\n")
    assert not tensorboard.detect(tmp_path)


# -- damaged files -----------------------------------------------------------------


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    root = tmp_path / "tb"
    shutil.copytree(FIXTURES, root)
    return root


def test_garbage_appended(copy: Path) -> None:
    f = main_file(copy / FINISHED)
    size = f.stat().st_size
    with f.open("ab") as handle:
        handle.write(b"\x13\x37 not a record, just garbage bytes \xff" * 3)
    runs, problems = read_all(copy)
    assert sorted(runs) == sorted(EXPECTED)
    assert len([p for p in runs[FINISHED].points if p.key == "train/loss"]) == 6000
    assert f"{f}: corrupt at byte {size} (record length CRC mismatch)" in problems


def test_garbage_in_the_middle(copy: Path) -> None:
    f = main_file(copy / FINISHED)
    records = naive_records(f)
    offset, data = records[3000]
    blob = bytearray(f.read_bytes())
    blob[offset + 12 + len(data) // 2] ^= 0xFF  # one flipped bit pattern inside the data
    f.write_bytes(bytes(blob))
    runs, problems = read_all(copy)
    run = runs[FINISHED]
    # every record before the damaged one is kept (record 0 is file_version, 1 the text)
    kept = naive_scalars(main_file(FIXTURES / FINISHED))[0][: 3000 - 2]
    assert [(p.key, p.step) for p in run.points if not p.key.startswith("hparam/")] == [
        (k, s) for k, s, _ in kept
    ]
    assert f"{f}: corrupt at byte {offset} (record data CRC mismatch)" in problems
    assert runs[EXC].status == "finished" and len(runs[EXC].points) > 0


def test_truncated_in_the_middle(copy: Path) -> None:
    f = main_file(copy / FINISHED)
    offset, _ = naive_records(f)[1000]
    with f.open("r+b") as handle:
        handle.truncate(offset + 20)
    runs, problems = read_all(copy)
    run = runs[FINISHED]
    assert len([p for p in run.points if not p.key.startswith("hparam/")]) == 1000 - 2
    assert f"{f}: truncated at byte {offset} (last record cut short)" in problems
    assert run.status == "crashed"


def test_unreadable_hparams_subrun_leaves_the_run(copy: Path) -> None:
    sub = main_file(copy / FINISHED / "1795703520.813343")
    sub.write_bytes(b"\x00" * 5)
    runs, problems = read_all(copy)
    assert sorted(runs) == sorted(EXPECTED)
    assert len([p for p in runs[FINISHED].points if p.key == "train/loss"]) == 6000
    assert any(line.startswith(f"{sub}: truncated at byte 0") for line in problems)


def test_empty_and_missing_paths(tmp_path: Path) -> None:
    assert read_all(tmp_path) == ({}, [])
    assert read_all(tmp_path / "nope") == ({}, [f"{tmp_path / 'nope'}: no such file or directory"])


# -- layouts not in the fixtures ----------------------------------------------------


def test_nested_runs_and_several_hparams_children(copy: Path) -> None:
    parent = copy / FINISHED
    shutil.copytree(parent / "1795703520.813343", parent / "1795703999.5")
    nested = copy / EXC / "seed2"  # not a split name: a run of its own
    nested.mkdir()
    shutil.copy(main_file(copy / KILL9), nested / "events.out.tfevents.1795703600.vm")
    runs, _ = read_all(copy)
    # two hparams children describe two trials: they stay separate runs
    assert f"{FINISHED}/1795703520.813343" in runs and f"{FINISHED}/1795703999.5" in runs
    assert runs[f"{FINISHED}/1795703999.5"].parent_id == FINISHED
    assert runs[f"{FINISHED}/1795703999.5"].params["optimizer"] == "SGD"
    assert "hparams_dir" not in runs[FINISHED].extra
    assert runs[f"{EXC}/seed2"].parent_id == EXC
    assert runs[f"{EXC}/seed2"].name == "seed2"
    assert runs[f"{EXC}/seed2"].project == EXC
    assert len(runs[f"{EXC}/seed2"].points) == len(runs[KILL9].points)
    # a nested run's files are not the parent's artifacts
    assert [a.name for a in runs[EXC].artifacts] == ["weights/last.pt"]


def _field(number: int, wire: int, payload: bytes) -> bytes:
    key = varint(number << 3 | wire)
    if wire == 2:
        return key + varint(len(payload)) + payload
    if wire == 0:
        return key + varint(int.from_bytes(payload, "little"))
    return key + payload


def test_tensor_scalars_as_tf2_writes_them(tmp_path: Path) -> None:
    scalars_meta = _field(9, 2, _field(1, 2, _field(1, 2, b"scalars")))
    float_tensor = _field(1, 0, b"\x01") + _field(2, 2, b"") + _field(5, 2, struct.pack("<f", 0.25))
    double_tensor = _field(1, 0, b"\x02") + _field(4, 2, struct.pack("<d", 1 / 3))
    nan_tensor = _field(1, 0, b"\x01") + _field(5, 5, struct.pack("<f", math.nan))
    histogram = _field(1, 0, b"\x01") + _field(2, 2, _field(2, 2, _field(1, 0, b"\x02")))
    histogram += _field(5, 2, struct.pack("<ff", 1.0, 2.0))

    def event(step: int, tag: bytes, tensor: bytes) -> bytes:
        value = _field(1, 2, tag) + _field(8, 2, tensor) + scalars_meta
        return (
            _field(1, 1, struct.pack("<d", 1700000000.0 + step))
            + _field(2, 0, step.to_bytes(2, "little"))
            + _field(5, 2, _field(1, 2, value))
        )

    run = tmp_path / "logs" / "tf2"
    run.mkdir(parents=True)
    (run / "events.out.tfevents.1700000000.host.1.v2").write_bytes(
        record(_field(1, 1, struct.pack("<d", 1700000000.0)) + _field(3, 2, b"brain.Event:2"))
        + record(event(1, b"acc", float_tensor))
        + record(event(2, b"loss (B)", double_tensor))
        + record(event(3, b"acc", nan_tensor))
        + record(event(4, b"weights", histogram))
    )
    runs, problems = read_all(tmp_path / "logs")
    assert problems == []
    pts = [(p.key, p.step, p.value) for p in runs["tf2"].points]
    assert pts[:2] == [("acc", 1, 0.25), ("loss (B)", 2, 1 / 3)]
    assert pts[2][:2] == ("acc", 3) and math.isnan(pts[2][2])
    assert len(pts) == 3  # the 1-d histogram tensor is not a scalar
    assert runs["tf2"].status == "finished"


@given(st.floats(width=32, allow_nan=True, allow_infinity=True))
def test_shortest_float32_names_the_same_float32(x: float) -> None:
    y = tensorboard.shortest_float32(x)
    assert same32(x, y)
    assert significant_digits(y) <= significant_digits(x)


def significant_digits(v: float) -> int:
    """Digits of the shortest repr without sign, point, exponent or edge zeros
    (1000000000000.0 has 1, 999999995904.0 has 12)."""
    mantissa = repr(abs(v)).split("e")[0].replace(".", "")
    return len(mantissa.strip("0")) or 1


def test_shortest_float32_gives_back_what_was_logged() -> None:
    for logged in (0.44395, 1.587669, 5e-05, 0.0001, 1e-45, -2.5, 3.0):
        widened = struct.unpack("<f", f32(logged))[0]
        assert tensorboard.shortest_float32(widened) == logged
