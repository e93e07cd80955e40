"""Which way is better, per metric: by name, by argument, by the config file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from trackui.store.directions import direction_of
from trackui.store.queries import Store


@pytest.mark.parametrize(
    "key, expected",
    [
        ("train/box_loss", "min"),
        ("val/error_rate", "min"),
        ("eval/perplexity", "min"),
        ("metrics/mAP50-95(B)", "max"),
        ("val/acc", "max"),
        ("wer", "min"),
    ],
)
def test_direction_by_name(key: str, expected: str) -> None:
    assert direction_of(key, {}) == expected


def test_overrides_by_argument_and_by_config_file(fixture_store: Path) -> None:
    assert direction_of("val/acc", {"val/acc": "lower"}) == "min"
    config = Path(os.environ["TRACKUI_CONFIG_DIR"])
    config.mkdir(parents=True)
    (config / "config.toml").write_text('[directions]\n"metrics/mAP50(B)" = "min"\n')
    assert direction_of("metrics/mAP50(B)") == "min"
    with Store(fixture_store) as store:
        ids = [store.resolve("detect/yolo-sgd"), store.resolve("detect/yolo-adamw")]
        rows = {r.key: r for r in store.compare_metrics(ids).rows}
        mAP = rows["metrics/mAP50(B)"]
        assert mAP.direction == "min"
        lower = min(range(2), key=lambda i: mAP.best[i])
        assert mAP.best_run == lower
        assert rows["metrics/mAP50-95(B)"].direction == "max"
    (config / "config.toml").write_text("[directions\nbroken")
    assert direction_of("metrics/mAP50(B)") == "max"  # a broken file changes nothing
