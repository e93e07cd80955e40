"""The writing side of a run: what ``trackui.init`` returns.

Standard library only, and cheap: this is imported into training code.
Every ``log()`` is one ``os.write`` of one JSON line, handed to the OS before
it returns (so ``kill -9`` loses nothing already logged). Once a run is
going, an I/O failure warns once, counts what was dropped, and never raises
into training; a failed write is tried again on the next call, so one bad
moment (a full disk, a removed heartbeat file) never stops tracking for good.

What is accepted (keys, values, config and summary documents) lives in
``writer_values``; directories, artifacts and host facts in ``writer_io``;
the copy of stdout/stderr to ``console.log`` in ``console``.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import paths, writer_artifacts
from .console import ConsoleCapture
from .fmt import repair
from .runfiles import append_line, atomic_write_json
from .system import SYSTEM_FILE, Sampler, interval_from_env
from .writer_io import (
    create_run_dir,
    describe,
    environment,
    git_info,
    heartbeat_interval,
    open_append,
    points_in,
    strip_credentials,
    touch,
)
from .writer_values import Config, Summary, add_value, as_step, check_key, int_value

__all__ = ["Config", "Run", "Summary", "TrackuiWarning", "current", "set_current"]
__all__ += ["strip_credentials"]

#: How often ``log()`` checks that ``metrics.jsonl`` is still linked into the
#: run (one ``fstat``; points written to a deleted file are counted as
#: dropped when found, and at once whenever ``dropped`` is read).
CHECK_S = 0.25

_dumps = json.dumps
_write = os.write
_now = time.time


class TrackuiWarning(UserWarning):
    pass


class Run:
    """One training run being tracked. Made by ``trackui.init``."""

    def __init__(
        self,
        project: str | None = None,
        name: str | None = None,
        config: Mapping[str, Any] | Any | None = None,
        tags: list[str] | tuple[str, ...] | None = None,
        notes: str | None = None,
        group: str | None = None,
        dir: str | os.PathLike[str] | None = None,
        console: bool = True,
        handle_signals: bool = True,
        system_interval: float | None = None,
    ):
        # Everything that can be refused is refused before a file is made.
        if system_interval is not None and (
            isinstance(system_interval, bool) or not isinstance(system_interval, (int, float))
        ):
            raise TypeError(
                f"trackui.init: system_interval is {type(system_interval).__name__}, "
                "not a number of seconds"
            )
        if config is not None and not isinstance(config, Mapping) and hasattr(config, "__dict__"):
            config = vars(config)
        config_data = Config.checked(config or {})
        project = "default" if project is None else repair(str(project))
        if isinstance(tags, str):
            tags = [tags]
        root = Path(dir).expanduser() if dir is not None else paths.default_root()
        created = _now()
        self.id = paths.new_run_id(created)
        self.project = project
        self.name = repair(str(name)) if name is not None else self.id
        project_dir = root / paths.safe_segment(project)
        self.dir = project_dir / self.id
        self.created = created
        self._step = 0
        self._known_keys: set[str] = set()  # keys stored as given
        self._renamed: dict[str, str] = {}  # keys repaired to valid UTF-8
        self._dropped = 0
        self._system_dropped = 0  # values of system.jsonl lines not written (sampler thread)
        self._warned = False
        self._gone = False  # the run directory was removed: drop, do not write
        self._torn = False
        self._finished = False
        self._lock = threading.Lock()
        # Re-entrant: a signal handler runs finish() in the main thread, maybe
        # while that thread is inside _check() or _save_document().
        self._check_lock = threading.RLock()
        self._doc_lock = threading.RLock()
        self._unsaved: set[str] = set()  # documents whose last write failed
        self._old_fds: list[int] = []
        self._interval = heartbeat_interval()
        self.config = Config(self, paths.CONFIG, config_data)
        self.summary = Summary(self, paths.SUMMARY)

        git = git_info()
        meta = {
            "format": paths.FORMAT_VERSION,
            "id": self.id,
            "project": project,
            "name": self.name,
            "group": repair(str(group)) if group is not None else None,
            "tags": [repair(str(t)) for t in (tags or [])],
            "notes": repair(str(notes)) if notes is not None else None,
            "created": created,
            **environment(),
            "heartbeat_interval": self._interval,
            "git": {k: v for k, v in git.items() if k != "diff"} if git else None,
        }
        self._meta = meta

        # SIGTERM is held from before the run directory appears until its
        # handler is in place: a stop in between is then recorded as killed
        # (delivered once the mask is restored), not left to look like a crash.
        guard = handle_signals and threading.current_thread() is threading.main_thread()
        held = _hold_sigterm() if guard else None
        try:
            self._fd, console_fd = create_run_dir(
                project_dir, self.id, meta, config_data, git.get("diff") if git else None, console
            )
            self._metrics_path = str(self.dir / paths.METRICS)
            self._confirmed = 0  # size of metrics.jsonl when last seen still linked
            self._check_at = 0.0

            self._stop = threading.Event()
            self._heartbeat = threading.Thread(
                target=self._beat, name="trackui-heartbeat", daemon=True
            )
            self._heartbeat.start()

            self._console = (
                ConsoleCapture(console_fd, f"run {self.id}", TrackuiWarning)
                if console_fd is not None
                else None
            )

            # System and GPU readings on their own thread and file: never on log()'s path.
            self._sampler: Sampler | None = None
            interval = interval_from_env(system_interval)
            if interval > 0:
                self._sampler = Sampler(
                    self.dir / SYSTEM_FILE, interval, on_error=self._system_not_written
                ).start()

            self._prev_handlers: dict[int, Any] = {}
            if guard:
                for sig in (signal.SIGTERM,):
                    try:
                        self._prev_handlers[sig] = signal.signal(sig, self._on_signal)
                    except (ValueError, OSError):
                        pass
            self._prev_excepthook = sys.excepthook
            sys.excepthook = self._on_uncaught
            atexit.register(self._on_exit)
        finally:
            if held is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)

    # -- logging ---------------------------------------------------------

    def log(self, data: Mapping[str, Any], step: int | None = None, commit: Any = None) -> None:
        """Append one row of numbers. ``step`` auto-increments when omitted;
        explicit steps may repeat or jump. Non-numbers raise ``TypeError``
        naming the key; I/O failures never raise."""
        if step is None:
            step = self._step
        elif type(step) is not int:
            step = as_step(step)
        now = _now()
        row: dict[str, Any] = {"_step": step, "_t": now}
        known = self._known_keys
        for key, value in data.items():
            if key not in known:
                key = self._stored_key(key)
            kind = type(value)
            if kind is float:
                row[key] = value
            elif kind is int:
                row[key] = int_value(key, value)
            else:
                add_value(row, key, value)
        self._step = step + 1
        if self._gone:
            self._drop(len(row) - 2)
            return
        line = _dumps(row)
        try:
            if self._torn:
                line = "\n" + line
            payload = (line + "\n").encode()
            written = _write(self._fd, payload)
            if written != len(payload):
                self._torn = True
                raise OSError(f"short write ({written} of {len(payload)} bytes)")
            self._torn = False
        except OSError as exc:
            self._drop(len(row) - 2, exc)
        if now >= self._check_at:
            self._check()

    def _stored_key(self, key: Any) -> str:
        """First sight of a key (or a key that needed repair): check it once."""
        stored = self._renamed.get(key) if isinstance(key, str) else None
        if stored is None:
            stored = check_key(key)
            if stored == key:
                self._known_keys.add(key)
            else:
                self._renamed[key] = stored
        return stored

    def _drop(self, points: int, exc: BaseException | None = None) -> None:
        self._dropped += points
        if not self._warned:
            self._warned = True
            why = f": {exc}" if exc else ""
            _warn(
                f"trackui: run {self.id} cannot write to {self.dir}{why}; points are being dropped"
            )

    def _check(self) -> None:
        """Is ``metrics.jsonl`` still linked into the run? Points that went into
        a deleted file since it was last seen are counted as dropped; the file
        is made again if the run directory is still there, else every later
        point is dropped at once."""
        with self._check_lock:
            self._check_at = _now() + CHECK_S
            if self._gone or self._finished:
                return
            try:
                st = os.fstat(self._fd)
            except OSError:
                return
            if st.st_nlink:
                self._confirmed = st.st_size
                return
            lost = points_in(self._fd, self._confirmed, st.st_size)
            self._confirmed = 0
            if os.path.isfile(self.dir / paths.META):
                try:
                    fd = open_append(self._metrics_path)
                except OSError:
                    fd = None
                if fd is not None:
                    # The old descriptor stays open until finish: a log() in
                    # another thread may be about to write to it.
                    self._old_fds.append(self._fd)
                    self._fd = fd
                    self._torn = False
                    self._drop(lost, OSError(f"{paths.METRICS} was deleted; made again"))
                    return
            self._gone = True
            self._drop(lost, FileNotFoundError(f"run directory {self.dir} is gone"))

    def _system_not_written(self, exc: BaseException, values: int) -> None:
        """The sampler thread could not write a line of readings: counted and
        warned about like any dropped point, never raised."""
        self._system_dropped += values
        if not self._warned:
            self._warned = True
            _warn(f"trackui: run {self.id} cannot write system readings to {self.dir}: {exc}")

    @property
    def dropped(self) -> int:
        """How many points could not be written (checked now, not at the next
        heartbeat); system readings included."""
        if not self._finished:
            self._check()
        return self._dropped + self._system_dropped

    @property
    def console_dropped(self) -> int:
        """Bytes of console output that could not be copied to console.log."""
        return self._console.dropped if self._console is not None else 0

    @property
    def step(self) -> int:
        return self._step

    def log_artifact(
        self, path: str | os.PathLike[str], name: str | None = None, copy: bool = True
    ) -> dict[str, Any] | None:
        """Copy a file into the run's ``artifacts/`` (or record a reference for a
        huge file or ``copy=False``), with its size and sha256. ``name`` is a
        relative path inside ``artifacts/``; an absolute name, ``..``, NUL or a
        control character is refused. Warns instead of raising."""
        return writer_artifacts.log_artifact(self.dir, path, name, copy)

    def log_image(self, key: str, image: Any, step: int | None = None) -> dict[str, Any] | None:
        """Log an image under ``key`` at ``step`` (default: the latest
        ``log()`` step): a path to a PNG/JPEG/GIF/WebP/BMP file, copied as
        it is, or pixels (H x W, H x W x 3, H x W x 4 nested lists or
        anything with ``.tolist()``; 0-255 integers or 0-1 floats), written
        as PNG. Stored as the artifact ``media/<key>/<step>.<ext>``. A wrong
        type raises ``TypeError`` at the call; bad content warns and is dropped."""
        writer_artifacts.check_image(key, image)
        step = max(self._step - 1, 0) if step is None else as_step(step)
        return writer_artifacts.log_image(self.dir, self._gone, key, image, step)

    # -- ending ----------------------------------------------------------

    def finish(
        self,
        status: str | None = None,
        exit_code: int | None = None,
        *,
        signal_name: str | None = None,
        exception: BaseException | None = None,
    ) -> None:
        """End the run: ``finished`` unless told otherwise. Idempotent, and
        the finish is recorded even when the summary cannot be written."""
        self._check()
        with self._lock:
            if self._finished:
                return
            self._finished = True
        status = status or ("failed" if exception else "finished")
        event: dict[str, Any] = {"event": "finish", "t": _now(), "status": status}
        if exit_code is not None:
            event["exit_code"] = exit_code
        if signal_name:
            event["signal"] = signal_name
        if exception is not None:
            event["exception"] = describe(exception)
        self._stop.set()
        if self._sampler is not None:
            self._sampler.stop()
        if self._console is not None:
            self._console.stop()
        if self.summary:
            self._unsaved.add(paths.SUMMARY)
        self._save_unsaved()
        if self._dropped + self._system_dropped:
            event["dropped"] = self._dropped + self._system_dropped
        if self.console_dropped:
            event["console_dropped"] = self.console_dropped
        if not self._gone:
            try:
                append_line(self.dir / paths.EVENTS, event)
            except Exception as exc:
                _warn(f"trackui: could not record the end of run {self.id}: {exc}")
            try:
                os.utime(self.dir / paths.HEARTBEAT)
            except OSError:
                pass
        for fd in (self._fd, *self._old_fds):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._gone = True  # later log() calls are dropped, counted, never raised
        self._warned = True
        for sig, handler in self._prev_handlers.items():
            try:
                if signal.getsignal(sig) == self._on_signal:
                    signal.signal(sig, handler)
            except (ValueError, OSError):
                pass
        if sys.excepthook == self._on_uncaught:
            sys.excepthook = self._prev_excepthook
        try:
            atexit.unregister(self._on_exit)
        except Exception:
            pass
        _forget(self)

    @property
    def finished(self) -> bool:
        return self._finished

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None:
            self.finish()
        elif isinstance(exc, KeyboardInterrupt):
            self.finish("killed", signal_name="SIGINT")
        elif isinstance(exc, SystemExit):
            # sys.exit() inside the block: its code says how the run ended.
            code = exc.code
            if code is None or code == 0:
                self.finish("finished", exit_code=0)
            else:
                self.finish("failed", exit_code=code if isinstance(code, int) else 1)
        else:
            self.finish("failed", exception=exc)

    def _on_signal(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        self.finish("killed", signal_name=name)
        prev = self._prev_handlers.get(signum)
        if callable(prev):
            prev(signum, frame)
        else:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    def _on_uncaught(self, exc_type: Any, exc: BaseException, tb: Any) -> None:
        try:
            if isinstance(exc, KeyboardInterrupt):
                self.finish("killed", signal_name="SIGINT")
            else:
                self.finish("failed", exit_code=1, exception=exc)
        finally:
            self._prev_excepthook(exc_type, exc, tb)

    def _on_exit(self) -> None:
        self.finish("finished")

    # -- internals -------------------------------------------------------

    def _beat(self) -> None:
        """Touch the heartbeat (making it again if it was removed), check the
        metrics file and retry documents whose write failed. Nothing here
        decides whether points are written."""
        heartbeat = self.dir / paths.HEARTBEAT
        while not self._stop.wait(self._interval):
            try:
                self._check()
                if self._gone:
                    continue
                try:
                    os.utime(heartbeat)
                except FileNotFoundError:
                    if os.path.isfile(self.dir / paths.META):
                        touch(heartbeat)
                self._save_unsaved()
            except Exception:
                pass  # tried again at the next beat

    def _save_document(self, filename: str, data: dict[str, Any]) -> None:
        with self._doc_lock:
            if self._gone:
                self._unsaved.discard(filename)
                return
            try:
                atomic_write_json(self.dir / filename, data)
                self._unsaved.discard(filename)
            except OSError as exc:
                self._unsaved.add(filename)  # the next beat or finish() tries again
                self._drop(0, exc)

    def _save_unsaved(self) -> None:
        for filename in list(self._unsaved):
            doc = self.config if filename == paths.CONFIG else self.summary
            try:
                self._save_document(filename, doc.as_dict())
            except Exception:
                pass

    def __repr__(self) -> str:
        return f"<trackui.Run {self.project}/{self.name} id={self.id}>"


def _warn(message: str) -> None:
    try:
        warnings.warn(message, TrackuiWarning, stacklevel=3)
    except Exception:
        pass


# -- the current run (module-level API) ----------------------------------------

_current: Run | None = None


def current() -> Run | None:
    return _current


def set_current(run: Run) -> None:
    global _current
    _current = run


def _forget(run: Run) -> None:
    global _current
    if _current is run:
        _current = None


def _hold_sigterm() -> Any:
    """Block SIGTERM in this thread; the previous mask, or None where signal
    masks do not exist."""
    try:
        return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    except (AttributeError, OSError, ValueError):
        return None
