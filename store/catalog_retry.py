"""A batch of runs whose write fails is retried, so one bad run never costs
the list: the batch again with the failing run's metrics parsed in Python
(DuckDB's reader named it), then run by run; a run that still fails is
listed ``unreadable`` with the reason, and read again once its files change.
A batch's metric bytes past ``TXN_BYTES`` end its transaction after the run
that passes them; the rest goes in the next.

A mixin of ``Catalog``: it uses ``_transaction``, ``_sync_prefix``,
``_reload_keeping_beats``, ``_ingest``, ``_tmp``, ``_state``, ``_bad``,
``_signature``, ``_delete_run`` and ``_insert_run``; ``cold_batches`` uses
its ``_sync_isolated`` and ``_flush``.
"""

from __future__ import annotations

import json
from typing import Any

from .catalog_db import is_damage
from .catalog_schema import RunState
from .catalog_sync import Batch
from .fmt import repair
from .ingest_small import COMBINED
from .run_dirs import RunDir


class Retries:
    def _sync_isolated(self, runs: list[RunDir]) -> tuple[int, int]:
        """Sync runs in one batch; when that fails, again with the failing
        run's metrics parsed in Python, then run by run (see the docstring)."""
        try:
            return self._sync_retried(runs)
        finally:
            self._ingest.combine = True

    def _sync_retried(self, runs: list[RunDir]) -> tuple[int, int]:
        from . import catalog  # (``catalog`` imports this module)

        cap = catalog.TXN_BYTES
        python_only: set[str] = set()
        changed = points = 0
        done: list[str] = []  # runs committed, their statuses not derived yet
        while True:
            try:
                c, p, taken = self._transaction(
                    lambda cur: self._sync_prefix(cur, runs, python_only, cap)  # noqa: B023
                )
            except Exception as exc:
                self._reload_keeping_beats(done)
                if is_damage(exc):
                    raise
                failed = self._ingest.current
                self._ingest.current = None
                if failed == COMBINED and self._ingest.combine:
                    self._ingest.combine = False  # again, each run's small chunks on their own
                    continue
                if failed is None or failed in python_only or len(runs) == 1:
                    break
                python_only.add(failed)
                continue
            done += [run.key for run in runs[:taken]]
            changed, points, runs = changed + c, points + p, runs[taken:]
            if not runs:
                return changed, points
        for run in runs:
            for only in (python_only, python_only | {run.key}):
                try:
                    c, p = self._transaction(lambda cur: self._sync_batch(cur, [run], only))  # noqa: B023
                except Exception as exc:
                    self._reload_keeping_beats(done)
                    self._ingest.current = None
                    if is_damage(exc):
                        raise
                    error: Exception | None = exc
                    continue
                changed, points, error = changed + c, points + p, None
                done.append(run.key)
                break
            if error is not None:
                self._mark_unreadable(run, error)
                changed += 1
        return changed, points

    def _sync_batch(self, cur: Any, runs: list[RunDir], python_only: set[str]) -> tuple[int, int]:
        changed, points, _ = self._sync_prefix(cur, runs, python_only, None)
        return changed, points

    def _flush(self, cur: Any, batch: Batch) -> None:
        from . import catalog  # (``catalog`` imports this module; tests set its sizes)

        batch.new.write(cur, self._tmp.name)  # the points join their runs rows
        batch.points += self._ingest.ingest(
            cur, batch.chunks, small_bytes=catalog.SMALL_CHUNK_BYTES, python_only=batch.python_only
        )
        batch.chunks, batch.pending = [], 0
        for key, notes in self._ingest.notes.items():
            if key in self._state:
                cur.execute(
                    "UPDATE runs SET read_notes = ? WHERE run_id = ?",
                    ["; ".join(sorted(notes))] + [key],
                )
        self._ingest.notes.clear()

    def _mark_unreadable(self, run: RunDir, exc: BaseException) -> None:
        """List a run no retry could read, with why; tried again once its files change."""
        reason = f"{type(exc).__name__}: {repair(str(exc))}".splitlines()[0][:300]
        self._bad[run.key] = self._signature(run)

        def work(cur: Any) -> None:
            self._delete_run(cur, run.key)
            self._insert_run(cur, run)
            cur.execute(
                "UPDATE runs SET problems = ? WHERE run_id = ?",
                [json.dumps({"run": reason}), run.key],
            )

        self._transaction(work)
        self._state[run.key] = RunState(dir=run.shown, problems={"run": reason})
