"""The metric a screen opens on, and which metrics have a direction (store/primary.py)."""

from __future__ import annotations

from trackui.store import primary

ULTRALYTICS = [
    "epoch",
    "lr/pg0",
    "lr/pg1",
    "lr/pg2",
    "metrics/mAP50(B)",
    "metrics/mAP50-95(B)",
    "metrics/precision(B)",
    "metrics/recall(B)",
    "train/box_loss",
    "val/box_loss",
    "time",
]


def test_headline_metric_beats_counters_schedules_and_losses():
    assert primary.choose(ULTRALYTICS) == "metrics/mAP50-95(B)"
    assert (
        primary.choose(["epoch", "loss", "val_loss", "val_accuracy", "accuracy"]) == "val_accuracy"
    )
    assert primary.choose(["train/loss", "eval/loss", "eval/bleu", "learning_rate"]) == "eval/bleu"


def test_main_loss_when_no_headline_metric():
    assert primary.choose(["epoch", "lr", "train/box_loss", "loss", "step"]) == "loss"
    assert primary.choose(["epoch", "train/loss", "val/loss"]) == "val/loss"


def test_configured_primary_wins(tmp_path):
    (tmp_path / "config.toml").write_text('[primary]\ndetect = "lr/pg0"\n"*" = "epoch"\n')
    assert primary.primary_for("detect", tmp_path / "config.toml") == "lr/pg0"
    assert primary.primary_for("other", tmp_path / "config.toml") == "epoch"
    assert primary.choose(ULTRALYTICS, configured_primary="lr/pg0") == "lr/pg0"


def test_only_directional_metrics_have_a_direction():
    for key in ("epoch", "lr/pg0", "time", "step", "grad_norm", "custom_thing", "system/gpu0.util"):
        assert primary.direction(key, {}) is None, key
    assert primary.direction("val/box_loss", {}) == "min"
    assert primary.direction("metrics/mAP50-95(B)", {}) == "max"
    assert primary.direction("custom_thing", {"custom_thing": "min"}) == "min"


def test_short_header():
    assert primary.short_header("metrics/mAP50-95(B)") == "mAP50-95"
