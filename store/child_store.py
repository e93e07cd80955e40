"""The catalog opened in a child process while the app starts.

``trackui`` spends its first tenth of a second importing Textual and its
screens, and as long again importing DuckDB and opening the catalog. One
thread cannot overlap the two (both hold the GIL), but a second process can:
``ChildStore.start`` forks before the app's imports, and the child imports
DuckDB, opens the catalog (``Store(root, refresh=False)``) and answers the
app's first reads — the first page, the run under the cursor — over a pipe,
on the other core.

The app sees a ``ChildStore``: the read-only calls in ``SERVED`` go to the
child; anything else (a refresh, a tag, the catalog itself) first makes the
store local: the child closes the catalog and exits, and this process opens
it (DuckDB lets one process hold it), then every call is a plain ``Store``
call. The app does that once the start is over (its first refresh), so the
way to the first chart never waits for DuckDB's import.

The child only reads, and never outlives the app: it exits when the pipe
closes. Where it cannot start or answer (no ``fork``, the catalog does not
open, the store reads remote boxes that must be reached first, the child
died), the store is opened here as before, and a call is never lost: one the
child did not answer is made again on the local store.
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
import threading
from pathlib import Path
from typing import Any

#: the read-only calls the child answers
SERVED = frozenset(
    {
        "list_runs",
        "page_runs",
        "count_runs",
        "run_summaries",
        "resolve",
        "get_run",
        "metric_summaries",
        "metric_keys",
        "column_choices",
        "projects",
        "history",
        "series",
        "sources",
    }
)
_HEADER = struct.Struct("!Q")


class ChildGone(Exception):
    """The child did not answer (it died, or its pipe closed)."""


def _send(fd: int, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _recv(fd: int) -> Any:
    def exactly(n: int) -> bytes:
        parts, left = [], n
        while left:
            part = os.read(fd, min(left, 1 << 20))
            if not part:
                raise ChildGone("the pipe closed")
            parts.append(part)
            left -= len(part)
        return b"".join(parts)

    (size,) = _HEADER.unpack(exactly(_HEADER.size))
    return pickle.loads(exactly(size))


def _picklable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _serve(root: Path, requests: int, answers: int) -> None:
    """The child: open the store, say so, answer calls until the pipe closes."""
    try:
        from .queries import Store

        store = Store(root, refresh=False)
    except BaseException as exc:  # the parent opens it itself and reports it
        _send(answers, ("failed", f"{type(exc).__name__}: {exc}"))
        return
    try:
        remote = any(getattr(s, "is_remote", False) for s in store.catalog.sources)
        _send(answers, ("open", str(store.catalog.path), remote))
        while True:
            request = _recv(requests)
            if request is None:
                return
            name, args, kwargs = request
            try:
                result = ("ok", getattr(store, name)(*args, **kwargs))
            except Exception as exc:
                result = ("raised", _picklable(exc))
            _send(answers, result)
    except ChildGone:
        return
    finally:
        store.close()


class ChildStore:
    """The app's store while the child holds the catalog; ``local`` after."""

    def __init__(self, root: Path, pid: int, requests: int, answers: int) -> None:
        self.root = root
        self._pid = pid
        self._requests, self._answers = requests, answers
        self._lock = threading.RLock()
        self._local: Any = None
        self._open = False
        self._closed = False
        #: the catalog's path, as the child opened it
        self.catalog_path: Path | None = None

    @classmethod
    def start(cls, root: Path) -> ChildStore | None:
        """Fork the child (before any thread or DuckDB exists here); None
        where this platform cannot."""
        if not hasattr(os, "fork") or "duckdb" in sys.modules:
            return None
        to_child, from_parent = os.pipe()
        to_parent, from_child = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            for fd in (to_child, from_parent, to_parent, from_child):
                os.close(fd)
            return None
        if pid == 0:  # the child: never back into the caller's code
            code = 0
            try:
                os.close(from_parent)
                os.close(to_parent)
                _serve(Path(root), to_child, from_child)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(to_child)
        os.close(from_child)
        return cls(Path(root), pid, from_parent, to_parent)

    def ready(self) -> bool:
        """Wait for the child's catalog: True when it is open and the child
        can serve this store (no remote box to reach first); otherwise the
        child is stopped and the caller opens the store itself."""
        try:
            hello = _recv(self._answers)
        except (ChildGone, OSError, pickle.UnpicklingError, EOFError):
            hello = ("failed", "")
        if hello[0] == "open" and not hello[2]:
            self.catalog_path = Path(hello[1])
            self._open = True
            return True
        self._stop()
        return False

    # -- calls ----------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or "_local" not in self.__dict__:
            raise AttributeError(name)  # copy, pickle, a half-built object: not a store's
        if self._local is None and name in SERVED:
            return lambda *args, **kwargs: self._call(name, args, kwargs)
        return getattr(self.local(), name)

    def _call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with self._lock:
            if self._open:
                try:
                    _send(self._requests, (name, args, kwargs))
                    kind, value = _recv(self._answers)
                except (ChildGone, OSError, pickle.PickleError, EOFError, TypeError):
                    self._stop()  # made again below, on the store opened here
                else:
                    if kind == "raised":
                        raise value
                    return value
        return getattr(self.local(), name)(*args, **kwargs)

    def local(self) -> Any:
        """The store opened in this process (the child stopped first)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the store is closed")
            if self._local is None:
                self._stop()
                from .queries import Store

                self._local = Store(self.root, refresh=False)
            return self._local

    @property
    def is_local(self) -> bool:
        return self._local is not None

    # -- the child's end ------------------------------------------------------

    def _stop(self) -> None:
        """Close the pipe and wait for the child: its catalog is closed after."""
        with self._lock:
            self._open = False
            if self._pid == 0:
                return
            for fd in (self._requests, self._answers):
                try:
                    os.close(fd)
                except OSError:
                    pass
            try:
                os.waitpid(self._pid, 0)
            except ChildProcessError:
                pass
            self._pid = 0

    def close(self) -> None:
        """Stop the child, close the local store; again: nothing."""
        with self._lock:
            self._closed = True
            self._stop()
            local, self._local = self._local, None
            if local is not None:
                local.close()

    def __enter__(self) -> ChildStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
