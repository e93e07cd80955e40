"""Images a W&B run logged (``wandb.Image``: a history value of ``_type``
``image-file`` pointing into the run's ``files/media/``) are listed with
their key and step, by reference, and open like trackui's own images."""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

from trackui.store.images import artifact_fields
from trackui.store.importers import import_path, wandb
from trackui.store.queries import Store

from .helpers import read_runs

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
T0 = 1767261600.0


def png_2x1() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0)
    raw = b"\x00" + bytes([255, 0, 0, 0, 0, 255])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def write_run(root: Path) -> Path:
    sys.path.insert(0, str(FIXTURES))
    try:
        from _formats import wandb_exit, wandb_history, wandb_log, wandb_run
    finally:
        sys.path.remove(str(FIXTURES))
    run_dir = root / "wandb" / "offline-run-20260101_100000-med1a"
    media = run_dir / "files" / "media" / "images"
    media.mkdir(parents=True)
    records = [wandb_run("med1a", "vision", "with-images", {"lr": 0.1}, T0)]
    for step in (0, 5):
        rel = f"media/images/pred_{step}_0123abcd.png"
        (run_dir / "files" / rel).write_bytes(png_2x1())
        image = {"_type": "image-file", "path": rel, "format": "png", "width": 2, "height": 1}
        records.append(wandb_history(step, T0 + step, {"loss": 1.0 / (step + 1), "pred": image}))
    # An entry pointing out of the run's files is never followed.
    records.append(
        wandb_history(6, T0 + 6, {"evil": {"_type": "image-file", "path": "../../../etc/passwd"}})
    )
    records.append(wandb_exit(0, 7))
    (run_dir / "run-med1a.wandb").write_bytes(wandb_log(records))
    return root


def test_logged_images_are_listed_with_key_and_step(tmp_path: Path) -> None:
    src = write_run(tmp_path / "src")
    runs, problems = read_runs(wandb, src, now=T0 + 3600)
    run = runs["med1a"]
    images = {a.name: a for a in run.artifacts}
    assert set(images) == {"media/pred/0.png", "media/pred/5.png"}
    assert images["media/pred/5.png"].path.endswith("files/media/images/pred_5_0123abcd.png")
    assert images["media/pred/0.png"].size == len(png_2x1())
    assert [p.key for p in run.points if p.key == "pred"] == []  # not a number series
    assert {p.step for p in run.points if p.key == "loss"} == {0, 5}


def test_imported_images_carry_their_key_and_step(tmp_path: Path) -> None:
    src = write_run(tmp_path / "src")
    import_path(tmp_path / "store", src)
    with Store(tmp_path / "store") as store:
        (run,) = store.list_runs()
        detail = store.get_run(run.id)
        fields = [artifact_fields(a.name) for a in detail.artifacts]
        images = sorted((f["key"], f["step"]) for f in fields if f.get("kind") == "image")
        assert images == [("pred", 0), ("pred", 5)]
