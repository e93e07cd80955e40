"""trackui: experiment tracking for people who live in a terminal.

    import trackui
    run = trackui.init(project="detect", name="yolo26n-lr01", config={"lr0": 0.01})
    run.log({"train/box_loss": 1.2, "metrics/mAP50-95(B)": 0.31}, step=epoch)
    run.finish()

The module-level ``init / log / finish / config / summary / log_artifact / log_image``
act on the current run, so ``import trackui as wandb`` works for those calls.
Importing this module loads only the standard library, and not the writer
either until a run is started or ``Run``, ``Config``, ``Summary`` or
``TrackuiWarning`` is named: the ``trackui`` command (TUI, ls, sql) starts
without it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trackui.store.writer import Config, Run, Summary, TrackuiWarning

#: names served from trackui.store.writer on first use
_WRITER_NAMES = ("Config", "Run", "Summary", "TrackuiWarning")

__all__ = [
    "Config",
    "Run",
    "Summary",
    "TrackuiWarning",
    "finish",
    "init",
    "log",
    "log_artifact",
    "log_image",
    "run",
]
__version__ = "0.1.0"


def init(
    project: str | None = None,
    name: str | None = None,
    config: Mapping[str, Any] | Any | None = None,
    tags: list[str] | tuple[str, ...] | None = None,
    notes: str | None = None,
    group: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    console: bool = True,
    system_interval: float | None = None,
    **_wandb_only: Any,
) -> Run:
    """Start a run and make it the current one. ``dir`` is the store root
    (default ``$TRACKUI_DIR`` or ``~/.local/share/trackui``).
    ``system_interval`` is the seconds between system and GPU readings
    (default ``$TRACKUI_SYSTEM_INTERVAL``, else 10; 0 turns them off). Keyword
    arguments that only mean something to W&B (``entity``, ``mode``…) are
    accepted and ignored, so existing ``wandb.init`` calls keep working."""
    from trackui.store.writer import Run, current, set_current

    previous = current()
    if previous is not None and not previous.finished:
        previous.finish()
    run = Run(
        project=project,
        name=name,
        config=config,
        tags=tags,
        notes=notes,
        group=group,
        dir=dir,
        console=console,
        system_interval=system_interval,
    )
    set_current(run)
    return run


def _current() -> Run | None:
    writer = sys.modules.get("trackui.store.writer")
    return writer.current() if writer is not None else None


def _require() -> Run:
    run = _current()
    if run is None:
        raise RuntimeError("trackui: call trackui.init() before logging")
    return run


def log(data: Mapping[str, Any], step: int | None = None, commit: Any = None) -> None:
    _require().log(data, step=step)


def log_artifact(path: str | os.PathLike[str], name: str | None = None, copy: bool = True) -> Any:
    return _require().log_artifact(path, name=name, copy=copy)


def log_image(key: str, image: Any, step: int | None = None) -> Any:
    return _require().log_image(key, image, step=step)


def finish(status: str | None = None, exit_code: int | None = None) -> None:
    run = _current()
    if run is not None:
        run.finish(status, exit_code)


def __getattr__(name: str) -> Any:
    # `trackui.run`, `trackui.config` and `trackui.summary` follow the current run.
    if name == "run":
        return _current()
    if name in ("config", "summary"):
        return getattr(_require(), name)
    if name in _WRITER_NAMES:
        from trackui.store import writer

        return getattr(writer, name)
    raise AttributeError(f"module 'trackui' has no attribute {name!r}")
