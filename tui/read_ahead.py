"""The run under the list's cursor, read while the user looks at the list.

Once the run list has painted its first page, the app's warm-up worker
imports the Run screen and reads the run the cursor is on (its detail and the
series its Metrics tab charts first, as ``read_run``). When ``enter`` opens
that run, the Run screen takes what was read instead of reading it again —
or, if the read is still on its way, waits for it rather than starting a
second one beside it (two reads in two threads take turns at the GIL with
the screen being built).

What was read is only good while the catalog is unchanged: any refresh that
lands (``invalidate``) drops it, and a screen still waiting is told to read
the run itself. Everything here runs on the app's thread: the worker's result
comes in as a message (``RunReadAhead``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from textual.message import Message

from trackui.store.models import MetricSummary, RunDetail, Series
from trackui.store.primary import choose
from trackui.store.system_lines import is_system

#: buckets asked for while the chart is not built: what a chart with no size asks
UNBUILT_BUCKETS = 100
#: what ``read_run`` gives: (detail, (key, series) or None)
Result = tuple[RunDetail, tuple[str, Series] | None]
#: a screen waiting for the read: called with the result, or None (read it yourself)
Waiter = Callable[[Result | None], None]


def metric_results(metrics: Sequence[MetricSummary]) -> list[MetricSummary]:
    """The metrics the Metrics tab shows: all but the sampled system series."""
    return [m for m in metrics if not is_system(m.key)]


def read_run(store: Any, run_id: str, *, with_series: bool = False) -> Result:
    """The run; with ``with_series`` (its first load) also the series its
    Metrics tab charts first, read as a chart not yet laid out asks. Both in
    one worker: the way to the first chart then waits for no event loop
    between the two reads (busy building the Run screen, it delayed the
    second by about 0.1 s)."""
    detail = store.get_run(run_id)
    keys = [m.key for m in metric_results(detail.metrics)] if with_series else []
    if not keys:
        return detail, None
    key = choose(keys, project=detail.run.project) or keys[0]
    return detail, (key, store.series(run_id, key, buckets=UNBUILT_BUCKETS, x_axis="step"))


class RunReadAhead(Message):
    """The warm-up worker read ``run_id`` (``result`` None: it failed)."""

    def __init__(self, run_id: str, generation: int, result: Result | None) -> None:
        super().__init__()
        self.run_id = run_id
        self.generation = generation
        self.result = result


class ReadAhead:
    """At most one run read ahead: pending, then read (or dropped)."""

    def __init__(self) -> None:
        self.generation = 0
        self.run_id: str | None = None
        self.pending = False
        self.result: Result | None = None
        self._waiters: list[Waiter] = []

    def start(self, run_id: str) -> int:
        """A read of ``run_id`` is starting; its generation, to hand back in ``done``."""
        self._drop()
        self.run_id, self.pending = run_id, True
        return self.generation

    def done(self, message: RunReadAhead) -> None:
        """The read finished: keep it for ``take``, and give it to whoever waits."""
        if message.generation != self.generation or message.run_id != self.run_id:
            return  # the catalog moved (or another run was asked for) meanwhile
        self.pending = False
        waiters, self._waiters = self._waiters, []
        if message.result is None or waiters:
            self.run_id, self.result = None, None  # failed, or taken by the first waiter
        else:
            self.result = message.result
        for i, waiter in enumerate(waiters):
            waiter(message.result if i == 0 else None)

    def take(self, run_id: str, waiter: Waiter) -> bool:
        """Give ``run_id`` to ``waiter``: now if it was read, later if it is
        being read. False: nothing for that run; the caller reads it."""
        if run_id != self.run_id:
            return False
        if self.pending:
            self._waiters.append(waiter)
            return True
        result, self.result, self.run_id = self.result, None, None
        if result is None:
            return False
        waiter(result)
        return True

    def invalidate(self) -> None:
        """The catalog changed: what was read, or is being read, is stale."""
        self._drop()

    def _drop(self) -> None:
        self.generation += 1
        self.run_id, self.pending, self.result = None, False, None
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter(None)
