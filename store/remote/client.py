"""The laptop's side of a remote source: one long-lived ``ssh`` per box.

``Connection`` runs ``ssh -o BatchMode=yes … HOST python3 -I -c BOOTSTRAP``
with the user's own ssh (their ``~/.ssh/config``, agent, ProxyJump and
ControlMaster apply), sends the helper's source over its stdin, then speaks
the framed protocol of helper.py, one request at a time (a lock makes it
safe to share between threads). It counts the bytes it writes and reads,
and keeps a ``State``: connected, or unreachable since when and why (one
line). A dropped connection is retried with backoff: until the next attempt
is due, requests fail at once with ``Unreachable`` instead of waiting.

Why not ``python3 -`` itself: Python reads a program from stdin up to the end
of the stream before running it, so the pipe could carry nothing else. The
bootstrap is a one-line ``-c`` program that reads a length, then that many
bytes of (compressed) helper source, and runs it; stdin stays open for
requests. The source goes once per connection (its size is ``helper_bytes``).

``RemoteBox`` is one source root on a box, with the operations of the local
opener (``list``, ``stat``, ``exists``, ``read``, ``read_range``,
``read_lines``) plus ``walk``, ``changes`` and ``sqlite_rows``, so the same
readers run on the bytes that came back. Its errors are the opener's:
FileNotFoundError, UnsafeFile, FileTooLarge; and RemoteError (Unreachable)
for the box itself.
"""

from __future__ import annotations

import errno
import json
import os
import select
import shlex
import subprocess
import sys
import threading
import time
import zlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..fmt import printable
from . import helper as proto
from .errors import Unreachable, describe_exit, refused

#: Read by ``python3 -I -c`` on the box: a length line, then the helper's
#: source, zlib-compressed. Double quotes only, so any remote shell takes it
#: in '…'. ``-I`` (isolated): a ``zlib.py`` or ``json.py`` in the home
#: directory, or PYTHONPATH, cannot stand in for the standard library.
BOOTSTRAP = (
    "import sys,zlib;i=sys.stdin.buffer;"
    'exec(compile(zlib.decompress(i.read(int(i.readline()))),"trackui-helper","exec"))'
)
HELPER_SOURCE = Path(proto.__file__).read_bytes()
#: Responses above this are refused (the stream is then out of step and dropped).
MAX_RESPONSE = 256 * 1024 * 1024
#: Backoff between reconnection attempts: first and longest wait, in seconds.
BACKOFF = (1.0, 60.0)


@dataclass(frozen=True)
class State:
    """``status`` is ``connecting``, ``connected``, ``unreachable`` or
    ``closed``; ``since`` the wall-clock time it became so; ``error`` the one
    line that says why a box is unreachable."""

    status: str
    since: float
    error: str = ""

    @property
    def connected(self) -> bool:
        return self.status == "connected"


@dataclass(frozen=True)
class Hello:
    """What the helper said when it started."""

    protocol: int
    python: str
    hostname: str
    pid: int
    max_read: int
    #: The box's clock minus ours (seconds), estimated at the handshake.
    clock_offset: float


def ssh_argv(
    host: str,
    *,
    ssh_command: Sequence[str] = ("ssh",),
    ssh_options: Sequence[str] = (),
    python: str = "python3",
    connect_timeout: float = 10.0,
) -> list[str]:
    """The command line that starts the helper on ``host``. BatchMode comes
    first so nothing can turn it off (ssh keeps the first value it reads);
    the user's options come before our defaults so theirs win."""
    defaults = [
        "-o",
        f"ConnectTimeout={max(1, round(connect_timeout))}",
        "-o",
        "ServerAliveInterval=15",
        "-o",
        "ServerAliveCountMax=3",
    ]
    remote = f"{shlex.quote(python)} -I -c {shlex.quote(BOOTSTRAP)}"
    return [
        *ssh_command,
        "-o",
        "BatchMode=yes",
        *ssh_options,
        *defaults,
        "-T",
        "--",
        host,
        remote,
    ]


def local_argv(python: str = sys.executable) -> list[str]:
    """The helper started on this machine over plain pipes (tests, benchmarks)."""
    return [python, "-I", "-c", BOOTSTRAP]


class Connection:
    """One helper process behind ``argv`` (normally ``ssh … HOST …``)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        name: str,
        connect_timeout: float = 10.0,
        request_timeout: float = 60.0,
        backoff: tuple[float, float] = BACKOFF,
        clock: Any = time.monotonic,
    ) -> None:
        self.argv = list(argv)
        self.name = name
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.backoff = backoff
        #: What the backoff is measured on (a test moves it; waits use real time).
        self.clock = clock
        self.bytes_sent = 0
        self.bytes_received = 0
        self.helper_bytes = 0
        #: Connection attempts made so far (a request that fails fast makes none).
        self.attempts = 0
        self.hello: Hello | None = None
        self._state = State("connecting", time.time())
        self._lock = threading.RLock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: deque[str] = deque(maxlen=40)
        self._drainer: threading.Thread | None = None
        self._buf = bytearray()
        self._seq = 0
        self._delay = backoff[0]
        self._next_attempt = 0.0

    @property
    def state(self) -> State:
        return self._state

    @property
    def next_attempt(self) -> float:
        """When (on ``clock``) an unreachable box will be tried again."""
        return self._next_attempt

    # -- connecting ----------------------------------------------------------

    def connect(self) -> Hello:
        """Start the helper now (backoff or not); Unreachable with one line."""
        with self._lock:
            if self._proc is None:
                self._start()
            assert self.hello is not None
            return self.hello

    def _ensure(self) -> None:
        if self._proc is not None:
            return
        if self._state.status == "unreachable" and self.clock() < self._next_attempt:
            raise Unreachable(self._state.error)
        self._start()

    def _start(self) -> None:
        self.attempts += 1
        self._buf.clear()
        self._stderr = deque(maxlen=40)  # a dying process's reader keeps the old one
        try:
            proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
                # No controlling terminal: ssh can never prompt on the TUI's tty.
                start_new_session=True,
            )
        except OSError as exc:
            self._fail(f"{self.name}: cannot run {self.argv[0]}: {exc.strerror or exc}")
        self._proc = proc
        self._drainer = threading.Thread(
            target=_drain, args=(proc, self._stderr), daemon=True, name=f"ssh {self.name} stderr"
        )
        self._drainer.start()
        code = zlib.compress(HELPER_SOURCE, 9)
        boot = f"{len(code)}\n".encode() + code
        sent_before = self.bytes_sent
        try:
            self._write(boot)
            self.helper_bytes = self.bytes_sent - sent_before
            # ssh's own ConnectTimeout covers the TCP connect; the rest (DNS,
            # key exchange, starting Python) gets a fixed margin on top.
            timeout = self.connect_timeout + 10.0
            self._skip_to_marker((time.monotonic() + timeout, timeout))
            header, _ = self._exchange({"op": "hello"}, timeout)
            answered = time.time()
        except (OSError, EOFError, TimeoutError, ValueError) as exc:
            self._fail(self._explain(exc))
        if not header.get("ok") or header.get("protocol") != proto.PROTOCOL:
            self._fail(f"{self.name}: the helper did not start: {header.get('error', header)}")
        self.hello = Hello(
            protocol=header["protocol"],
            python=str(header.get("python", "")),
            hostname=str(header.get("hostname", "")),
            pid=int(header.get("pid", 0)),
            max_read=int(header.get("max_read", proto.MAX_READ)),
            # The box stamped its clock just before answering: off by one
            # trip's latency at most.
            clock_offset=header.get("clock_ns", 0) / 1e9 - answered,
        )
        self._delay = self.backoff[0]
        self._state = State("connected", time.time())

    def _fail(self, line: str) -> None:
        """Drop the process, become unreachable with ``line``, raise it."""
        self._stop()
        now = self.clock()
        self._next_attempt = now + self._delay
        self._delay = min(self._delay * 2, self.backoff[1])
        line = printable(line)
        since = self._state.since if self._state.status == "unreachable" else time.time()
        self._state = State("unreachable", since, line)
        raise Unreachable(line)

    def _stop(self, grace: float = 0.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def _explain(self, exc: BaseException) -> str:
        """The one line that says why the helper stopped answering."""
        proc = self._proc
        code = None
        if proc is not None and not isinstance(exc, TimeoutError):
            try:  # it is exiting: give it a moment to say why
                code = proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                code = None
            if self._drainer is not None:  # ssh's last lines on stderr
                self._drainer.join(timeout=2.0)
        if isinstance(exc, TimeoutError):
            return f"{self.name}: no answer within {exc.args[0]:.0f} s"
        return describe_exit(self.name, list(self._stderr), code, str(exc))

    def close(self) -> None:
        """Close stdin (the helper exits), wait a little, then kill."""
        with self._lock:
            self._stop(grace=2.0)
            self._state = State("closed", time.time())

    def reconnect(self) -> Hello:
        """Drop any process and connect again now, ignoring the backoff."""
        with self._lock:
            self._stop()
            self._start()
            assert self.hello is not None
            return self.hello

    # -- requests ------------------------------------------------------------

    def request(self, op: str, body: bytes = b"", **args: Any) -> tuple[dict[str, Any], bytes]:
        """One request, its answer ``(header, body)``. Unreachable when the
        box cannot be asked; a refused request raises what ``refused`` maps
        its kind to, with the helper's one line."""
        with self._lock:
            self._ensure()
            try:
                header, body = self._exchange({"op": op, **args}, self.request_timeout, body)
            except (OSError, EOFError, TimeoutError, ValueError) as exc:
                self._fail(self._explain(exc))
        if not header.get("ok"):
            raise refused(header, self.name)
        return header, body

    def _exchange(
        self, req: dict[str, Any], timeout: float, body: bytes = b""
    ) -> tuple[dict[str, Any], bytes]:
        """Send ``req`` (and ``body``, compressed where that pays), read its
        answer; TimeoutError after ``timeout`` seconds."""
        deadline = (time.monotonic() + timeout, timeout)
        self._seq += 1
        req["id"] = self._seq
        body = proto.squeeze(req, body)
        self._write(proto.pack(req, body))
        head_len, body_len = proto.FRAME.unpack(self._read(proto.FRAME.size, deadline))
        if head_len > MAX_RESPONSE or body_len > MAX_RESPONSE:
            raise ValueError(f"a response of {head_len} + {body_len} bytes")
        header = json.loads(self._read(head_len, deadline))
        body = self._read(body_len, deadline) if body_len else b""
        if not isinstance(header, dict) or header.get("id") != self._seq:
            raise ValueError("a response out of step with its request")
        if header.get("z"):
            body = _inflate(body)
        return header, body

    def _skip_to_marker(self, deadline: tuple[float, float]) -> None:
        """Drop what came before the helper's MARKER: text a login script
        (``.bashrc``) printed on stdout must not be read as a frame."""
        while True:
            found = self._buf.find(proto.MARKER)
            if found >= 0:
                del self._buf[: found + len(proto.MARKER)]
                return
            if len(self._buf) > 1024 * 1024:
                raise ValueError("no helper answered (1 MiB of other output on stdout)")
            self._fill(len(self._buf) + 1, deadline)

    def _write(self, data: bytes) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        view = memoryview(data)
        while view:
            n = self._proc.stdin.write(view)
            if n is None:
                raise OSError(errno.EAGAIN, "the helper's stdin is full")
            self.bytes_sent += n
            view = view[n:]

    def _read(self, n: int, deadline: tuple[float, float]) -> bytes:
        self._fill(n, deadline)
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def _fill(self, n: int, deadline: tuple[float, float]) -> None:
        """Read until ``n`` bytes are buffered; TimeoutError, EOFError."""
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while len(self._buf) < n:
            left = deadline[0] - time.monotonic()
            if left <= 0:
                raise TimeoutError(deadline[1])
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(fd, max(n - len(self._buf), 256 * 1024))
            if not chunk:
                raise EOFError("the connection closed")
            self.bytes_received += len(chunk)
            self._buf += chunk


def _drain(proc: subprocess.Popen[bytes], lines: deque[str]) -> None:
    """Keep the last lines ssh (or the helper) wrote on stderr."""
    assert proc.stderr is not None
    with proc.stderr:
        for raw in proc.stderr:
            lines.append(raw.decode("utf-8", "replace").rstrip())


def _inflate(body: bytes) -> bytes:
    unpacker = zlib.decompressobj()
    out = unpacker.decompress(body, MAX_RESPONSE)
    if unpacker.unconsumed_tail:
        raise ValueError(f"a compressed response over {MAX_RESPONSE} bytes")
    return out
