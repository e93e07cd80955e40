"""A run's artifacts and images: copied (or referenced) into ``artifacts/``
and recorded in ``artifacts.jsonl``. Off the fast path of ``log()``; warns
instead of raising, except for a wrong type at the call.

Standard library only (imported into training code).
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any

from . import images, paths
from .fmt import repair
from .runfiles import append_line
from .writer_io import artifact_name, copy_artifact, sha256

#: Files larger than this are recorded by reference instead of copied.
COPY_LIMIT_BYTES = int(os.environ.get("TRACKUI_ARTIFACT_COPY_LIMIT", str(256 * 1024 * 1024)))


def _warn(message: str) -> None:
    from .writer import TrackuiWarning

    try:
        warnings.warn(message, TrackuiWarning, stacklevel=4)
    except Exception:
        pass


def log_artifact(
    run_dir: Path, path: str | os.PathLike[str], name: str | None, copy: bool
) -> dict[str, Any] | None:
    shown = repr(os.fspath(path)) if isinstance(path, (str, os.PathLike)) else repr(path)
    try:
        src = Path(path)
        if name is None or name == "":
            name = src.name
        try:
            name = artifact_name(os.fspath(name) if isinstance(name, os.PathLike) else str(name))
        except ValueError as why:
            _warn(f"trackui: artifact {shown} not logged: name {repair(str(name))!r} {why}")
            return None
        size = src.stat().st_size
        record: dict[str, Any] = {"name": name, "size": size, "t": time.time()}
        if copy and size <= COPY_LIMIT_BYTES:
            record["sha256"] = copy_artifact(src, run_dir, name)
            record.update(path=f"{paths.ARTIFACT_DIR}/{name}", copied=True)
        else:
            where = repair(str(src.resolve()), path=True)
            record.update(path=where, copied=False, sha256=sha256(src))
        append_line(run_dir / paths.ARTIFACTS, record)
        return record
    except Exception as exc:
        _warn(f"trackui: artifact {repair(shown, path=True)} not logged: {exc}")
        return None


def check_image(key: Any, image: Any) -> None:
    """``TypeError`` at the call for what can never be an image, like ``log()``."""
    if not isinstance(key, str):
        raise TypeError(f"trackui.log_image: key {key!r} is {type(key).__name__}, not str")
    if not isinstance(image, (str, os.PathLike)) and not images.is_array(image):
        raise TypeError(
            f"trackui.log_image: image for {key!r} is {type(image).__name__}, "
            "not a path or an array of pixels"
        )


def log_image(run_dir: Path, gone: bool, key: str, image: Any, step: int) -> dict[str, Any] | None:
    key = repair(key)
    try:
        if gone:
            raise OSError(f"run directory {run_dir} is gone or the run has finished")
        record = images.save_image(run_dir, key, image, step, COPY_LIMIT_BYTES, time.time())
        append_line(run_dir / paths.ARTIFACTS, record)
        return record
    except Exception as exc:
        _warn(f"trackui: image {key!r} at step {step} not logged: {exc}")
        return None
