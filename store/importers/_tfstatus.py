"""How a TensorBoard run ended, from what its event files hold (TensorBoard
records no status): the rules are listed in ``tensorboard``'s module doc."""

from __future__ import annotations

from typing import Any

from trackui.store.importers._config import planned_epochs
from trackui.store.importers._evidence import epochs_short
from trackui.store.importers._pointcols import PointColumns, key_set
from trackui.store.importers.base import Point


def _keras_epochs(points: Any) -> int | None:
    """Epochs logged by Keras, which has no ``epoch`` scalar but logs
    ``epoch_loss``... at step = epoch index; None when there is an ``epoch``
    series to count (or no Keras keys)."""
    keys = key_set(points)  # the test per key, not per point
    if "epoch" in keys:
        return None
    keras = {k for k in keys if k.rsplit("/", 1)[-1].startswith("epoch_")}
    if not keras:
        return None
    if isinstance(points, PointColumns):
        import numpy as np

        ids = [i for i, k in enumerate(points.names) if k in keras]
        steps = points.step[np.isin(points.ki, ids)]
        return int(steps.max()) + 1 if steps.size else None
    steps = {p.step for p in points if p.key in keras}
    return max(steps) + 1 if steps else None


def _epoch_points(params: dict[str, Any], points: Any) -> Any:
    """What ``epochs_short`` reads of the points: only the ``epoch`` series
    (all of them when there is no plan to compare with, which it then skips)."""
    if not isinstance(points, PointColumns) or planned_epochs(params) is None:
        return points
    if "epoch" not in points.names:
        return []
    i = points.names.index("epoch")
    return [Point("epoch", 0, v) for v in points.value[points.ki == i].tolist()]


def _status(
    torn_at: int | None,
    session_status: str | None,
    params: dict[str, Any],
    points: Any,
    last_t: float | None,
    fresh_after: float,
) -> tuple[str, str | None]:
    if last_t is not None and last_t > fresh_after:
        return "running", None
    if torn_at is not None:
        return "crashed", "event file ends inside a record: the writer was stopped mid-write"
    short = epochs_short(params, _epoch_points(params, points), done=_keras_epochs(points))
    if short is not None:
        return "crashed", short
    if session_status == "STATUS_FAILURE":
        return "failed", "hparams session status FAILURE"
    if session_status == "STATUS_SUCCESS":
        return "finished", "hparams session status SUCCESS"
    return "finished", "inferred: TensorBoard records no run status"
