"""A ``host:path`` source of a session: a remote box's runs, read through a
local mirror (``mirror.py``) by the same readers as local runs.

Before each refresh ``prepare()`` brings the mirror up to date (one
``changes()`` round trip, then only the bytes that changed). The mirror is
then a trackui store (its run directories are scanned beside the catalog's
own, ``native_root``) or a folder of another tool's runs (read by a
``ForeignSource`` over it, named by the spec as typed). A box that cannot be
reached leaves its mirror as it was: its runs stay listed, the source says
``unreachable`` (since when, and ssh's one line) and the refresh goes on;
the connection's backoff decides when it is tried again.
"""

from __future__ import annotations

import hashlib
import posixpath
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import paths
from ..fmt import printable
from ..importers._tfevents import is_event_file
from ..opener import UnsafeFile
from ..sources.foreign import ForeignSource, interesting
from .box import RemoteBox
from .errors import RemoteError
from .mirror import Mirror
from .spec import RemoteSpec, parse
from .sqlite_mirror import is_database

#: In a session root: the mirrors of its remote sources (hidden: not scanned as runs).
MIRRORS = ".mirror"
#: A trackui run's files the mirror holds (never artifacts, checkpoints, images).
RUN_FILES = frozenset(
    {
        paths.META,
        paths.CONFIG,
        paths.SUMMARY,
        paths.METRICS,
        paths.EVENTS,
        paths.ARTIFACTS,
        paths.HEARTBEAT,
        paths.CONSOLE,
        paths.CODE_DIFF,
        paths.SOURCE,
        paths.SYSTEM,
    }
)
NATIVE = "trackui"
#: Seconds ssh gets to connect; a box slower than that is unreachable for now.
CONNECT_TIMEOUT = 5.0
#: Seconds one request may take once connected.
REQUEST_TIMEOUT = 30.0


def single_file(path: str) -> tuple[str, str] | None:
    """``(folder, name)`` when a remote path names one file a reader reads on
    its own (an event file, a SQLite database: ``mlflow.db``, a Trackio
    project), told by its name as a local one is by its content; else None."""
    folder, name = posixpath.split(path.rstrip("/") if path not in ("", "/") else path)
    if not name or not (is_event_file(name) or is_database(name)):
        return None
    return folder or ".", name


class FileBox(RemoteBox):
    """A box whose source is one file: the root is its folder, listed one
    level deep; ``connect`` also checks the file is there."""

    def __init__(
        self, host: str, folder: str, name: str, *, path: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(host, folder, depth=1, **kwargs)
        self.name = name
        #: ``host:path`` as typed (``path``), for its one-line errors
        self.location = f"{host}:{path if path is not None else posixpath.join(folder, name)}"

    def connect(self):  # noqa: ANN201 - RemoteBox.connect's Hello
        try:
            hello = super().connect()
        except RemoteError as exc:
            if str(exc).endswith(": no such directory"):  # its folder is not there
                raise RemoteError(f"{self.location}: no such file") from None
            raise
        try:
            st = self.stat(self.name)
        except UnsafeFile as exc:
            raise RemoteError(f"{self.location}: {exc}") from None
        if st is None:
            raise RemoteError(f"{self.location}: no such file")
        return hello


def native_file(rel: str) -> bool:
    """``<project>/<run>/<run file>``."""
    parts = rel.split("/")
    return len(parts) == 3 and parts[2] in RUN_FILES


class RemoteSource:
    """One ``host:path`` among a session's sources (see the module docstring)."""

    is_remote = True

    def __init__(
        self,
        spec: RemoteSpec,
        location: str,
        top: Path,
        remote: RemoteBox,
        *,
        kind: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spec = spec
        self.box = spec.box
        self.location = location
        self.remote = remote
        self.clock = clock
        #: The file's name when the source is one file (``gpu1:~/mlflow.db``).
        self.single: str | None = getattr(remote, "name", None)
        self.mirror = Mirror(remote, top, self._wanted, only=self.single)
        self.files = self.mirror.files
        self._kind = kind
        self.foreign: ForeignSource | None = None
        self.on_progress: Any = None
        #: The catalog's ``progress``, told after each batch of a first read
        #: (as a local source tells it): the run list fills in batch by batch.
        self.on_batch: Any = None
        #: "ok", "reading" (never read yet) or "unreachable"
        self.status = "reading"
        self.since: float | None = None
        self.error: str | None = None
        self._heard: float | None = None
        #: Bytes that crossed the wire for this source: from the box, to it.
        self.bytes_read = 0
        self.bytes_sent = 0

    @classmethod
    def named(
        cls,
        text: str,
        root: Path,
        *,
        kind: str | None = None,
        clock: Callable[[], float] = time.time,
        connections: dict[str, Any] | None = None,
        ssh_command: list[str] | None = None,
    ) -> RemoteSource:
        """The source ``text`` (``gpu1:~/runs``) of the session root ``root``;
        sources on one box share one connection through ``connections``."""
        from ..sources.session import ssh_command as configured_ssh

        spec = parse(text)
        if spec is None:
            raise ValueError(f"{text}: not a host:path source")
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        top = Path(root) / MIRRORS / f"{paths.safe_segment(spec.box)[:40]}-{digest}"
        shared = (connections or {}).get(spec.destination)
        options: dict[str, Any] = {
            "ssh_command": ssh_command or configured_ssh(),
            "connect_timeout": CONNECT_TIMEOUT,
            "request_timeout": REQUEST_TIMEOUT,
            "connection": shared,
        }
        one = single_file(spec.path)
        if one is not None:
            remote: RemoteBox = FileBox(spec.destination, one[0], one[1], path=spec.path, **options)
        else:
            remote = RemoteBox(spec.destination, spec.path, **options)
        if connections is not None:
            connections[spec.destination] = remote.connection
        return cls(spec, text, top, remote, kind=kind, clock=clock)

    # -- what it is --------------------------------------------------------------

    @property
    def kind(self) -> str | None:
        if self._kind is None:
            self.mirror.load()  # what an earlier session found there
        return self._kind or (self.mirror.kind or None)

    @property
    def native(self) -> bool:
        return self.kind == NATIVE

    @property
    def native_root(self) -> Path | None:
        return self.files if self.native and self.files.is_dir() else None

    def _wanted(self, rel: str) -> bool:
        if self.single is not None:
            return rel == self.single
        if self.native:
            return native_file(rel)
        return native_file(rel) or interesting(rel)

    # -- before the catalog's refresh ----------------------------------------------

    def prepare(self) -> None:
        """Bring the mirror up to date; never raises for the box's sake."""
        conn = self.remote.connection
        got, sent = conn.bytes_received, conn.bytes_sent
        try:
            self.mirror.sync()
            if self.single is not None and self.remote.entry(self.single) is None:
                raise RemoteError(f"{self.remote.location}: no such file")
            self._tell_kind()
        except Exception as exc:  # noqa: BLE001 - a box's trouble never leaves refresh
            if not isinstance(exc, (RemoteError, OSError, UnsafeFile)):
                exc = RemoteError(f"{self.box}: {type(exc).__name__}: {exc}")
            if self.single is not None and str(exc).endswith(": no such directory"):
                exc = RemoteError(f"{self.remote.location}: no such file")  # nor its folder
            state = self.remote.state
            if self.status != "unreachable":
                self.since = state.since if state.status == "unreachable" else time.time()
            self.status = "unreachable"
            self.error = printable(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        else:
            self.status, self.since, self.error = "ok", None, None
            self._heard = self.clock()
        finally:
            self.bytes_read += conn.bytes_received - got
            self.bytes_sent += conn.bytes_sent - sent

    def _tell_kind(self) -> None:
        """Once files are there: a trackui store, or another tool's runs."""
        if self._kind is None and self.mirror.kind is None and self.mirror.held:
            from ..importers import detect_kinds
            from ..sources.session import looks_native

            if self.single is None and looks_native(self.files):
                self.mirror.set_kind(NATIVE)
            else:  # what is shown; the reader still reads every kind it finds
                kinds = detect_kinds(self._read_root)
                self.mirror.set_kind(kinds[0] if kinds else "")
            self.mirror.save()
        if not self.native and self.mirror.held and self.foreign is None:
            self.foreign = ForeignSource(
                self._read_root,
                kind=self._kind,
                box=self.box,
                location=self.location,
                clock=self.clock,
            )

    @property
    def _read_root(self) -> Path:
        """What the reader reads: the mirror, or the one file in it."""
        return self.files / self.single if self.single is not None else self.files

    @property
    def heard(self) -> float | None:
        """When the box last answered: in this process, else when an earlier
        one last wrote the mirror's table (None: never)."""
        if self._heard is not None:
            return self._heard
        stamp = self.mirror.written()
        return None if stamp is None else stamp

    # -- the catalog's source protocol -----------------------------------------------

    @property
    def problems(self) -> list[str]:
        return self.mirror.problems + (self.foreign.problems if self.foreign else [])

    @property
    def runs(self) -> dict[str, Any]:
        return self.foreign.runs if self.foreign is not None else {}

    def heartbeat(self, run_id: str) -> float | None:
        return self.foreign.heartbeat(run_id) if self.foreign is not None else None

    def forget(self) -> None:
        if self.foreign is not None:
            self.foreign.forget()

    def refresh(self, catalog: Any) -> tuple[int, int]:
        if self.foreign is None and not self.native and self.mirror.held:
            self._tell_kind()  # a mirror from an earlier session, box unreachable now
        if self.foreign is None:
            return 0, 0
        self.foreign.on_progress = self.on_progress
        self.foreign.on_batch = self.on_batch
        return self.foreign.refresh(catalog)

    def close(self) -> None:
        self.remote.close()
