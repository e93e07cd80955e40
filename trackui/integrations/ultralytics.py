"""Track an Ultralytics training run live::

    from ultralytics import YOLO
    from trackui.integrations.ultralytics import add_trackui_callbacks

    model = YOLO("yolo11n.pt")
    add_trackui_callbacks(model)
    model.train(data="coco8.yaml", epochs=10)

It logs what Ultralytics' own MLflow callback logs, with names kept exact
(``metrics/mAP50-95(B)``, not MLflow's ``metrics/mAP50-95B``):

- ``on_pretrain_routine_end``: ``trackui.init`` with every training argument
  (``vars(trainer.args)``) as config.
- ``on_train_epoch_end``: the training losses
  (``trainer.label_loss_items(trainer.tloss, prefix="train")``) and ``trainer.lr``.
- ``on_fit_epoch_end``: ``trainer.metrics`` (validation metrics and losses),
  and ``time``, seconds since training started, as ``results.csv`` has it.
- ``on_train_end``: ``weights/best.pt``, ``weights/last.pt`` and the plots in
  ``save_dir`` (``*.png``, ``*.jpg``) as artifacts by reference (not copied).
- ``teardown``: ``finish`` (Ultralytics runs it in a ``finally``).

Conventions, chosen so that a run tracked live and the same run imported
later from its folder (``trackui import``) line up:

- step = ``trainer.epoch + 1``, the 1-based epoch that ``results.csv`` writes
  (Ultralytics' W&B callback uses the same; its MLflow callback uses the
  0-based epoch).
- project = the basename of ``args.project``, else the name of ``save_dir``'s
  parent (``runs/detect/train`` -> ``detect``); name = ``args.name``, which
  Ultralytics sets to the final folder name (``train2``, ``exp-2``).
  Either can be given to ``add_trackui_callbacks``.
- After the last epoch Ultralytics validates ``best.pt`` once more and fires
  ``on_fit_epoch_end`` again without a training epoch before it. Those
  numbers are not an epoch, so they go to ``run.summary`` as
  ``best/<metric>`` instead of the series.
- status: ``finished`` once ``on_train_end`` was seen; at a ``teardown``
  without it, ``killed`` for a KeyboardInterrupt, ``failed`` otherwise (with
  the exception when one is propagating). A process killed outright is left
  to trackui's own liveness rules (stale heartbeat -> crashed).

Tracking never stops training: every callback body is guarded; the first
failure warns once (``TrackuiWarning``), later ones are counted in
``errors``. Multi-GPU (DDP) training runs its workers in subprocesses that do
not receive callbacks added this way, so nothing is logged there.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import trackui

_PLOT_SUFFIXES = (".png", ".jpg")


def add_trackui_callbacks(
    model: Any, project: str | None = None, name: str | None = None, **init_kwargs: Any
) -> TrackuiCallbacks:
    """Attach trackui to ``model`` (a ``YOLO`` or anything with ``add_callback``).

    ``init_kwargs`` go to ``trackui.init`` (``tags``, ``notes``, ``group``,
    ``dir``…); a ``config`` given here is merged over the training arguments.
    Returns the callbacks object: ``run`` is the trackui run of the latest
    ``train()`` (kept after it finishes), ``errors`` counts swallowed failures.
    """
    callbacks = TrackuiCallbacks(project=project, name=name, init_kwargs=init_kwargs)
    for event, fn in callbacks.handlers().items():
        model.add_callback(event, fn)
    return callbacks


class TrackuiCallbacks:
    """State shared by the callbacks of one model (one run per ``train()``)."""

    def __init__(
        self,
        project: str | None = None,
        name: str | None = None,
        init_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.project = project
        self.name = name
        self.init_kwargs = dict(init_kwargs or {})
        self.run: Any = None
        self.errors = 0
        self._warned = False
        self._epoch_open = False
        self._train_end_seen = False

    def handlers(self) -> dict[str, Callable[[Any], None]]:
        return {
            "on_pretrain_routine_end": self._guarded(self._start),
            "on_train_epoch_end": self._guarded(self._train_epoch_end),
            "on_fit_epoch_end": self._guarded(self._fit_epoch_end),
            "on_train_end": self._guarded(self._train_end),
            "teardown": self._guarded(self._teardown),
        }

    # -- guard ---------------------------------------------------------------------

    def _guarded(self, body: Callable[[Any], None]) -> Callable[[Any], None]:
        def callback(trainer: Any) -> None:
            try:
                body(trainer)
            except Exception as exc:  # tracking must never stop training
                self.errors += 1
                if not self._warned:
                    self._warned = True
                    _warn(
                        f"trackui: Ultralytics callback {body.__name__.lstrip('_')} failed "
                        f"({type(exc).__name__}: {exc}); training goes on, "
                        "later tracking errors are not reported"
                    )

        callback.__name__ = f"trackui{body.__name__}"
        return callback

    # -- events ---------------------------------------------------------------------

    def _start(self, trainer: Any) -> None:
        if self.run is not None and not getattr(self.run, "finished", True):
            self.run.finish()  # a previous train() that never reached teardown
        self.run = None
        self._epoch_open = False
        self._train_end_seen = False
        args = trainer.args
        config = dict(vars(args)) if hasattr(args, "__dict__") else dict(args)
        kwargs = dict(self.init_kwargs)
        extra_config = kwargs.pop("config", None)
        save_dir = Path(str(getattr(trainer, "save_dir", "") or config.get("save_dir") or "."))
        self.run = trackui.init(
            project=self.project or _project(config.get("project"), save_dir),
            name=self.name or _text(config.get("name")) or save_dir.name or None,
            config=config,
            **kwargs,
        )
        if extra_config:
            self.run.config.update(dict(extra_config))

    def _train_epoch_end(self, trainer: Any) -> None:
        if self.run is None:
            return
        self._epoch_open = True
        data = _numbers(trainer.label_loss_items(trainer.tloss, prefix="train"))
        data.update(_numbers(getattr(trainer, "lr", None) or {}))
        self.run.log(data, step=_step(trainer))

    def _fit_epoch_end(self, trainer: Any) -> None:
        if self.run is None:
            return
        metrics = _numbers(getattr(trainer, "metrics", None) or {})
        if not self._epoch_open:
            # Ultralytics' final validation of best.pt, not a training epoch.
            self.run.summary.update({f"best/{key}": value for key, value in metrics.items()})
            return
        self._epoch_open = False
        started = getattr(trainer, "train_time_start", None)
        if isinstance(started, (int, float)) and "time" not in metrics:
            metrics["time"] = time.time() - started
        self.run.log(metrics, step=_step(trainer))

    def _train_end(self, trainer: Any) -> None:
        if self.run is None:
            return
        self._train_end_seen = True
        for attr in ("best", "last"):
            weights = getattr(trainer, attr, None)
            if weights is not None and Path(weights).is_file():
                self.run.log_artifact(
                    str(weights), name=f"weights/{Path(weights).name}", copy=False
                )
        save_dir = getattr(trainer, "save_dir", None)
        if save_dir is not None and Path(save_dir).is_dir():
            for plot in sorted(Path(save_dir).iterdir()):
                if plot.suffix.lower() in _PLOT_SUFFIXES and plot.is_file():
                    self.run.log_artifact(str(plot), name=plot.name, copy=False)

    def _teardown(self, trainer: Any) -> None:
        run = self.run
        if run is None or getattr(run, "finished", False):
            return
        if self._train_end_seen:
            run.finish("finished")
            return
        exc = sys.exc_info()[1]  # teardown runs in a `finally`: the propagating error
        if isinstance(exc, KeyboardInterrupt):
            run.finish("killed", signal_name="SIGINT")
        elif isinstance(exc, BaseException):
            run.finish("failed", exception=exc)
        else:
            run.finish("failed")


# -- helpers ------------------------------------------------------------------------


def _step(trainer: Any) -> int:
    return int(trainer.epoch) + 1


def _numbers(values: Mapping[str, Any]) -> dict[str, float]:
    """``{key: float}`` for every value that is a number (floats, ints, 0-d tensors)."""
    out: dict[str, float] = {}
    for key, value in values.items():
        try:
            out[str(key)] = float(value)
        except (TypeError, ValueError):
            continue  # e.g. a multi-element tensor: not a scalar metric
    return out


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _project(project_arg: Any, save_dir: Path) -> str | None:
    """The same rule as the importer: basename of ``project``, else ``save_dir``'s parent."""
    if project_arg not in (None, "") and Path(str(project_arg)).name:
        return Path(str(project_arg)).name
    return save_dir.parent.name or None


def _warn(message: str) -> None:
    try:
        warnings.warn(message, trackui.TrackuiWarning, stacklevel=3)
    except Exception:
        pass  # `-W error` must not turn a tracking problem into a training crash
