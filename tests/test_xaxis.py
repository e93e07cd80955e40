"""store/xaxis.py: a metric charted against another logged metric (epoch,
tokens seen), joined by step in SQL."""

from __future__ import annotations

from pathlib import Path

import trackui
from trackui.store import xaxis
from trackui.store.queries import Store


def test_x_is_the_x_metric_at_the_same_or_latest_earlier_step(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with trackui.init(project="p", name="r", dir=root, console=False) as run:
        for step in range(12):
            row = {"train/loss": 1.0 / (step + 1), "tokens": 1000.0 * step}
            if step % 4 == 0:
                row["epoch"] = step // 4
            run.log(row, step=step)
            if step % 4 == 3:  # validation at the end of each epoch, no epoch logged here
                run.log({"val/acc": 0.1 * step}, step=step)
    with Store(root) as store:
        s = xaxis.series_against(store, run.id, "train/loss", "epoch")
        assert s.x_axis == "metric:epoch"
        assert s.x == tuple(float(step // 4) for step in range(12))
        assert s.y == tuple(1.0 / (step + 1) for step in range(12))
        assert s.steps == tuple(range(12)) and s.total == 12 and not s.downsampled
        # a metric logged at steps where epoch was not: the epoch logged before
        val = xaxis.series_against(store, run.id, "val/acc", "epoch")
        assert val.x == (0.0, 1.0, 2.0)
        assert val.y == (0.1 * 3, 0.1 * 7, 0.1 * 11)
        tokens = xaxis.series_against(store, run.id, "train/loss", "tokens")
        assert tokens.x == tuple(1000.0 * step for step in range(12))
        # no such x metric, or no such metric: nothing to draw, no error
        none = xaxis.series_against(store, run.id, "train/loss", "nope")
        assert none.x == () and none.total == 12
        assert xaxis.series_against(store, run.id, "nope", "epoch").total == 0


def test_long_series_are_downsampled_keeping_min_and_max(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with trackui.init(project="p", name="r", dir=root, console=False) as run:
        for step in range(2000):
            run.log({"loss": 1000.0 if step == 1234 else 1.0, "epoch": step / 100}, step=step)
    with Store(root) as store:
        s = xaxis.series_against(store, run.id, "loss", "epoch", buckets=50)
        assert s.downsampled and s.total == 2000
        assert len(s.y) <= 100
        assert max(s.y) == 1000.0  # the spike survives
        assert list(s.x) == sorted(s.x)


def test_x_candidates_put_epoch_first_and_leave_results_out() -> None:
    keys = ["train/loss", "tokens_seen", "epoch", "val/acc", "lr", "trainer/global_step"]
    assert xaxis.x_candidates(keys) == ["epoch", "tokens_seen", "trainer/global_step"]
    assert xaxis.metric_of("metric:epoch") == "epoch"
    assert xaxis.metric_of("step") is None
