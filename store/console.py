"""Console capture: the training process's stdout and stderr copied to the
run's ``console.log`` as they are written.

Standard library only (imported into training code). The copy never raises
into the program: a failed write is counted (``dropped`` bytes), warned about
once, and the next write tries again, so capture is never switched off for
the rest of a run by one bad moment.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any


class _Tee:
    """Writes to the real stream and to the capture; never raises because of the copy."""

    def __init__(self, stream: Any, capture: ConsoleCapture):
        self._stream = stream
        self._capture = capture

    def write(self, text: str) -> int:
        self._capture.write(text)
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class ConsoleCapture:
    """Tees ``sys.stdout`` and ``sys.stderr`` into the descriptor ``fd``."""

    def __init__(self, fd: int, label: str, warning: type[Warning] = UserWarning):
        self.fd: int | None = fd
        self.dropped = 0  # bytes that could not be copied
        self._label = label
        self._warning = warning
        self._warned = False
        self._streams = (sys.stdout, sys.stderr)
        sys.stdout = _Tee(sys.stdout, self)
        sys.stderr = _Tee(sys.stderr, self)

    def write(self, text: str) -> None:
        fd = self.fd
        if fd is None or not text:
            return
        try:
            data = text.encode("utf-8", "replace")
        except Exception:
            return  # not text: the real stream will say so
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(f"short write ({written} of {len(data)} bytes)")
        except (OSError, ValueError) as exc:
            self.dropped += len(data)
            if not self._warned:
                self._warned = True
                try:
                    warnings.warn(
                        f"trackui: {self._label}: cannot write console.log: {exc}; "
                        "output is still shown, and copied again once writing works",
                        self._warning,
                        stacklevel=3,
                    )
                except Exception:
                    pass

    def stop(self) -> None:
        """Put the real streams back (unless someone replaced ours since) and close."""
        if isinstance(sys.stdout, _Tee) and sys.stdout._capture is self:
            sys.stdout = self._streams[0]
        if isinstance(sys.stderr, _Tee) and sys.stderr._capture is self:
            sys.stderr = self._streams[1]
        fd, self.fd = self.fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
