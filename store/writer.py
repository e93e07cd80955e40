"""The writing side of a run: what ``trackui.init`` returns.

Standard library only, and cheap: this is imported into training code.
Every ``log()`` is one ``os.write`` of one JSON line, handed to the OS before
it returns (so ``kill -9`` loses nothing already logged). Once a run is
going, an I/O failure warns once, counts what was dropped, and never raises
into training.
"""

from __future__ import annotations

import atexit
import getpass
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from . import paths
from .runfiles import append_line, atomic_write_json

DEFAULT_HEARTBEAT_S = 5.0
#: Files larger than this are recorded by reference instead of copied.
COPY_LIMIT_BYTES = int(os.environ.get("TRACKUI_ARTIFACT_COPY_LIMIT", str(256 * 1024 * 1024)))

_dumps = json.dumps
_write = os.write
_now = time.time


def heartbeat_interval() -> float:
    """Seconds between heartbeats; ``TRACKUI_HEARTBEAT_INTERVAL`` shortens it in tests."""
    try:
        return max(0.05, float(os.environ.get("TRACKUI_HEARTBEAT_INTERVAL", DEFAULT_HEARTBEAT_S)))
    except ValueError:
        return DEFAULT_HEARTBEAT_S


class TrackuiWarning(UserWarning):
    pass


class _Document(MutableMapping):
    """A dict that rewrites its JSON file atomically on every change
    (``run.config``, ``run.summary``), with wandb-style attribute access."""

    def __init__(self, run: Run, filename: str, initial: Mapping[str, Any] | None = None):
        object.__setattr__(self, "_run", run)
        object.__setattr__(self, "_file", filename)
        object.__setattr__(self, "_data", dict(initial or {}))

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = value
        self._save()

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._save()

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"

    def update(self, other: Any = (), /, **kwargs: Any) -> None:  # one write, not one per key
        if other is not None and not isinstance(other, Mapping) and hasattr(other, "__dict__"):
            other = vars(other)  # argparse.Namespace
        self._data.update(other or (), **kwargs)
        self._save()

    def as_dict(self) -> dict[str, Any]:
        return dict(self._data)

    def _save(self) -> None:
        self._run._save_document(self._file, self._data)


class Config(_Document):
    pass


class Summary(_Document):
    pass


class _Tee:
    """Writes to the real stream and to the run's console.log; never raises
    because of the copy."""

    def __init__(self, stream: Any, run: Run):
        self._stream = stream
        self._run = run

    def write(self, text: str) -> int:
        self._run._console_write(text)
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


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
    ):
        project = "default" if project is None else str(project)
        root = Path(dir).expanduser() if dir is not None else paths.default_root()
        created = _now()
        self.id = paths.new_run_id(created)
        self.project = project
        self.name = str(name) if name is not None else self.id
        self.dir = root / paths.safe_segment(project) / self.id
        self.dir.mkdir(parents=True, exist_ok=False)
        self.created = created
        self._step = 0
        self._known_keys: set[str] = set()
        self._dropped = 0
        self._warned = False
        self._broken = False
        self._torn = False
        self._finished = False
        self._lock = threading.Lock()
        self._interval = heartbeat_interval()

        if config is not None and not isinstance(config, Mapping) and hasattr(config, "__dict__"):
            config = vars(config)
        self.config = Config(self, paths.CONFIG, config or {})
        self.summary = Summary(self, paths.SUMMARY)

        git = _git_info()
        meta = {
            "format": paths.FORMAT_VERSION,
            "id": self.id,
            "project": project,
            "name": self.name,
            "group": group,
            "tags": [str(t) for t in (tags or [])],
            "notes": notes,
            "created": created,
            "host": socket.gethostname(),
            "user": _user(),
            "pid": os.getpid(),
            "argv": list(sys.argv),
            "cwd": os.getcwd(),
            "python": sys.version.split()[0],
            "executable": sys.executable,
            "heartbeat_interval": self._interval,
            "git": {k: v for k, v in git.items() if k != "diff"} if git else None,
        }
        self._meta = meta
        atomic_write_json(self.dir / paths.META, meta)
        atomic_write_json(self.dir / paths.CONFIG, self.config.as_dict())
        if git and git.get("diff"):
            (self.dir / paths.CODE_DIFF).write_text(git["diff"])
        (self.dir / paths.HEARTBEAT).touch()
        append_line(self.dir / paths.EVENTS, {"event": "start", "t": created, "pid": os.getpid()})
        self._metrics_path = str(self.dir / paths.METRICS)
        self._fd = os.open(self._metrics_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

        self._stop = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name="trackui-heartbeat", daemon=True)
        self._heartbeat.start()

        self._console_fd: int | None = None
        self._streams: tuple[Any, Any] | None = None
        if console:
            self._console_fd = os.open(
                self.dir / paths.CONSOLE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644
            )
            self._streams = (sys.stdout, sys.stderr)
            sys.stdout = _Tee(sys.stdout, self)
            sys.stderr = _Tee(sys.stderr, self)

        self._prev_handlers: dict[int, Any] = {}
        if handle_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM,):
                try:
                    self._prev_handlers[sig] = signal.signal(sig, self._on_signal)
                except (ValueError, OSError):
                    pass
        self._prev_excepthook = sys.excepthook
        sys.excepthook = self._on_uncaught
        atexit.register(self._on_exit)

    # -- logging ---------------------------------------------------------

    def log(self, data: Mapping[str, Any], step: int | None = None, commit: Any = None) -> None:
        """Append one row of numbers. ``step`` auto-increments when omitted;
        explicit steps may repeat or jump. Non-numbers raise ``TypeError``
        naming the key; I/O failures never raise."""
        if step is None:
            step = self._step
        elif type(step) is not int:
            step = _as_step(step)
        row: dict[str, Any] = {"_step": step, "_t": _now()}
        known = self._known_keys
        for key, value in data.items():
            if key not in known:
                _check_key(key)
                known.add(key)
            kind = type(value)
            if kind is float:
                row[key] = value
            elif kind is int:
                row[key] = _int_value(key, value)
            else:
                _add_value(row, key, value)
        self._step = step + 1
        if self._broken:
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

    def _drop(self, points: int, exc: BaseException | None = None) -> None:
        self._dropped += points
        if not self._warned:
            self._warned = True
            why = f": {exc}" if exc else ""
            _warn(f"trackui: run {self.id} cannot write to {self.dir}{why}; points are being dropped")

    @property
    def dropped(self) -> int:
        """How many points could not be written."""
        return self._dropped

    @property
    def step(self) -> int:
        return self._step

    def log_artifact(
        self, path: str | os.PathLike[str], name: str | None = None, copy: bool = True
    ) -> dict[str, Any] | None:
        """Copy a file into the run (or record a reference for a huge file or
        ``copy=False``), with its size and sha256. Warns instead of raising."""
        try:
            src = Path(path)
            name = name or src.name
            size = src.stat().st_size
            record: dict[str, Any] = {"name": name, "size": size, "t": _now()}
            if copy and size <= COPY_LIMIT_BYTES:
                dest = self.dir / paths.ARTIFACT_DIR / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                tmp = dest.with_name(f".{dest.name}.tmp")
                record["sha256"] = _copy_hashing(src, tmp)
                os.replace(tmp, dest)
                record.update(path=f"{paths.ARTIFACT_DIR}/{name}", copied=True)
            else:
                record.update(path=str(src.resolve()), copied=False, sha256=_sha256(src))
            append_line(self.dir / "artifacts.jsonl", record)
            return record
        except OSError as exc:
            _warn(f"trackui: artifact {os.fspath(path)!r} not logged: {exc}")
            return None

    # -- ending ----------------------------------------------------------

    def finish(
        self,
        status: str | None = None,
        exit_code: int | None = None,
        *,
        signal_name: str | None = None,
        exception: BaseException | None = None,
    ) -> None:
        """End the run: ``finished`` unless told otherwise. Idempotent."""
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
            event["exception"] = {
                "type": type(exception).__name__,
                "message": str(exception),
                "traceback": "".join(
                    traceback.format_exception(type(exception), exception, exception.__traceback__)
                )[-8000:],
            }
        if self._dropped:
            event["dropped"] = self._dropped
        self._stop.set()
        self._restore_streams()
        try:
            if self.summary:
                atomic_write_json(self.dir / paths.SUMMARY, self.summary.as_dict())
            append_line(self.dir / paths.EVENTS, event)
            os.utime(self.dir / paths.HEARTBEAT)
        except OSError as exc:
            _warn(f"trackui: could not record the end of run {self.id}: {exc}")
        for fd in (self._fd, self._console_fd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._broken = True  # later log() calls are dropped, counted, never raised
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
        heartbeat = self.dir / paths.HEARTBEAT
        while not self._stop.wait(self._interval):
            try:
                os.utime(heartbeat)
            except OSError as exc:
                self._broken = True
                self._drop(0, exc)

    def _console_write(self, text: str) -> None:
        fd = self._console_fd
        if fd is None or not text:
            return
        try:
            os.write(fd, text.encode("utf-8", "replace"))
        except (OSError, ValueError):
            self._console_fd = None

    def _restore_streams(self) -> None:
        if self._streams is not None:
            if isinstance(sys.stdout, _Tee) and sys.stdout._run is self:
                sys.stdout = self._streams[0]
            if isinstance(sys.stderr, _Tee) and sys.stderr._run is self:
                sys.stderr = self._streams[1]
            self._streams = None

    def _save_document(self, filename: str, data: dict[str, Any]) -> None:
        try:
            atomic_write_json(self.dir / filename, data)
        except OSError as exc:
            self._drop(0, exc)

    def __repr__(self) -> str:
        return f"<trackui.Run {self.project}/{self.name} id={self.id}>"


# -- value checks (off the fast path) ---------------------------------------


def _check_key(key: Any) -> None:
    if not isinstance(key, str):
        raise TypeError(f"trackui.log: key {key!r} is {type(key).__name__}, not str")
    if not key or key.startswith("_"):
        raise TypeError(f"trackui.log: key {key!r} is reserved (empty or starting with '_')")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise TypeError(f"trackui.log: key {key!r} is not valid unicode") from None


def _int_value(key: str, value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        raise TypeError(f"trackui.log: value for {key!r} is an int too large for a float") from None


def _add_value(row: dict[str, Any], key: str, value: Any) -> None:
    """Slow path: bools, numpy/torch scalars (``.item()``), nested dicts."""
    if isinstance(value, bool):
        row[key] = float(value)
        return
    if isinstance(value, (int, float)):
        row[key] = _int_value(key, int(value)) if isinstance(value, int) else float(value)
        return
    if isinstance(value, Mapping):
        for sub, inner in value.items():
            _check_key(sub)
            _add_value(row, f"{key}/{sub}", inner)
        return
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (str, bytes)):
        try:
            scalar = item()
        except Exception:
            scalar = None  # e.g. a tensor with more than one element
        if isinstance(scalar, (int, float)):
            _add_value(row, key, scalar)
            return
    raise TypeError(
        f"trackui.log: value for {key!r} is {type(value).__name__}, not a number"
    )


def _as_step(step: Any) -> int:
    if isinstance(step, bool):
        raise TypeError("trackui.log: step must be an int, not bool")
    if isinstance(step, int):
        return int(step)
    item = getattr(step, "item", None)
    if callable(item):
        value = item()
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    if isinstance(step, float) and step.is_integer():
        return int(step)
    raise TypeError(f"trackui.log: step must be an int, not {type(step).__name__}")


def _warn(message: str) -> None:
    try:
        warnings.warn(message, TrackuiWarning, stacklevel=3)
    except Exception:
        pass


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:
        return None


def _copy_hashing(src: Path, dest: Path) -> str:
    digest = hashlib.sha256()
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        while chunk := fin.read(1 << 20):
            digest.update(chunk)
            fout.write(chunk)
    shutil.copystat(src, dest)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            timeout=5,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def strip_credentials(url: str) -> str:
    """``https://user:token@host/x.git`` -> ``https://host/x.git``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme and "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return url


def _git_info() -> dict[str, Any] | None:
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return None
    branch = (_git("rev-parse", "--abbrev-ref", "HEAD") or "").strip() or None
    status = _git("status", "--porcelain", "--untracked-files=no") or ""
    remote = (_git("remote", "get-url", "origin") or "").strip()
    dirty = bool(status.strip())
    return {
        "commit": commit.strip(),
        "branch": branch,
        "dirty": dirty,
        "remote": strip_credentials(remote) if remote else None,
        "diff": _git("diff", "HEAD") if dirty else None,
    }


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
