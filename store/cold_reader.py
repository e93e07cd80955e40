"""New runs of a cold catalog read in a second process, on the second core.

Reading a batch of new runs is Python (open, parse, coerce each file) and
holds the GIL; writing the batch before it is DuckDB plus Python staging. In
threads of one process the two take turns at the GIL; here the reading runs
in a child process, which reads batch after batch of the runs it is given
with the very code the catalog uses (``RunSync._sync_run_files`` through the
same bounded opener, over a cursor that refuses to write) and sends each
batch back pickled, while the parent writes the batch before.

The child is ``python -m trackui.store.cold_reader`` (not a fork: the parent
holds a DuckDB connection; not multiprocessing's spawn: that runs the
caller's main script again in the child). It never touches the catalog; a
child that fails, dies or sends what the parent does not expect costs only
time: the parent reads from that batch on itself (``cold_batches``).

Protocol: the parent writes one pickled request (the openers' roots and
caps, the batches of runs, the first ``run_no``, the bytes that cut a
batch); the child answers one pickled message per batch read:
``("batch", first key, its run_no, runs read, runs changed, Batch,
{key: RunState})``,
or ``("error", text)`` and exits. A batch whose metric bytes pass the cap
ends after the run that passes it, the rest being the next batch, as the
parent's own reading cuts it.
"""

from __future__ import annotations

import gc
import os
import pickle
import subprocess
import sys
from typing import IO, Any

from .catalog_schema import RunState
from .catalog_sync import Batch, RunSync
from .opener import Opener
from .run_dirs import RunDir

_PROTOCOL = 5


class _NoCursor:
    """A read ahead writes nothing: a statement there is a bug."""

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a run read ahead tried to write to the catalog")

    executemany = execute


NO_CURSOR = _NoCursor()


def opener_spec(opener: Any) -> list[tuple[str, int, int, int]]:
    """The roots and caps of the catalog's opener (a ``RootsOpener``), main first."""
    openers = [opener.main, *(o for _, o in getattr(opener, "_others", []))]
    return [(o.root, o.max_file, o.max_line, o.max_chunk) for o in openers]


def _opener_of(spec: list[tuple[str, int, int, int]]) -> Any:
    from .sources.native import RootsOpener

    (root, max_file, max_line, max_chunk), *others = spec
    opener = RootsOpener(Opener(root, max_file=max_file, max_line=max_line, max_chunk=max_chunk))
    for root, max_file, max_line, max_chunk in others:
        opener.add(root)
        for _, added in opener._others:
            if added.root == os.path.abspath(root):
                added.max_file, added.max_line = max_file, max_line
                added.max_chunk = max_chunk
    return opener


class _Reader(RunSync):
    """What ``RunSync`` needs to read new runs, and nothing of the catalog."""

    def __init__(self, opener: Any):
        self.opener = opener
        self._state: dict[str, RunState] = {}
        self._bad: dict[str, tuple[Any, ...]] = {}


def read_batch(reader: Any, part: list[RunDir], next_no: int, cap: int) -> tuple[Batch, int, int]:
    """Read runs of ``part`` (all new to the catalog) into one batch, up to
    the run whose metric bytes pass ``cap``. Returns (batch, changed, taken)."""
    batch = Batch(set())
    batch.new.next_no = next_no
    changed = taken = 0
    with reader.opener.holding():  # a run's files opened under its held directory
        for run in part:
            changed += bool(reader._sync_run(NO_CURSOR, run, batch))
            taken += 1
            if batch.pending > cap:
                break
    return batch, changed, taken


def _serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    request = pickle.load(stdin)
    reader = _Reader(_opener_of(request["openers"]))
    parts: list[list[RunDir]] = [list(p) for p in request["parts"]]
    next_no, cap = request["next_no"], request["cap"]
    # Each batch's objects are all alive until sent: collections in between
    # would find nothing to free (a second of 5 at 10 k runs).
    gc.disable()
    i = 0
    while i < len(parts):
        part, first_no = parts[i], next_no
        batch, changed, taken = read_batch(reader, part, next_no, cap)
        if taken < len(part):
            parts[i : i + 1] = [part[:taken], part[taken:]]
        next_no = batch.new.next_no
        states = {run.key: reader._state.pop(run.key) for run in part[:taken]}
        message = ("batch", part[0].key, first_no, taken, changed, batch, states)
        pickle.dump(message, stdout, protocol=_PROTOCOL)
        stdout.flush()
        del batch, states, message
        gc.collect()  # what a hostile run's exceptions left in cycles
        i += 1


def main() -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # Nothing else may write to the pipe the parent reads pickles from.
    sys.stdout = sys.stderr
    try:
        _serve(stdin, stdout)
    except BrokenPipeError:
        return  # the parent stopped listening
    except BaseException as exc:
        try:
            pickle.dump(("error", f"{type(exc).__name__}: {exc}"), stdout, protocol=_PROTOCOL)
            stdout.flush()
        except OSError:
            pass


def child_command() -> list[str]:
    """How the child is started (a test starts one that fails)."""
    return [sys.executable, "-m", "trackui.store.cold_reader"]


class ReaderProcess:
    """The parent's end: the child started with the batches to read; ``take``
    returns the next batch read, or raises (the caller reads in-process)."""

    def __init__(
        self,
        opener: Any,
        parts: list[list[RunDir]],
        next_no: int,
        cap: int,
    ):
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            child_command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        request = {
            "openers": opener_spec(opener),
            "parts": parts,
            "next_no": next_no,
            "cap": cap,
        }
        assert self._proc.stdin is not None
        try:
            pickle.dump(request, self._proc.stdin, protocol=_PROTOCOL)
            self._proc.stdin.close()
        except OSError:
            self.close()
            raise

    def take(self, part: list[RunDir], next_no: int) -> tuple[Batch, int, int, dict[str, RunState]]:
        """The batch read from ``part``, its first run numbered ``next_no``:
        (batch, runs changed, runs read, their states)."""
        if self._proc is None or self._proc.stdout is None:
            raise RuntimeError("the reading process is gone")
        collecting = gc.isenabled()
        gc.disable()  # unpickling a batch's many small objects set off collections
        try:
            message = pickle.load(self._proc.stdout)
        finally:
            if collecting:
                gc.enable()
        if message[0] != "batch":
            raise RuntimeError(f"the reading process failed: {message[1]}")
        _, first, first_no, taken, changed, batch, states = message
        if (first, first_no) != (part[0].key, next_no) or not 0 < taken <= len(part):
            raise RuntimeError("the reading process read other runs than asked")
        return batch, changed, taken, states

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        if proc.stdout is not None:
            proc.stdout.close()
        proc.wait()


if __name__ == "__main__":
    main()
