"""Each run's status, derived from its finish event and heartbeat (see
``status.derive``) after every refresh; many changes (a cold catalog) go in
as one statement.

A mixin of ``Catalog``: it uses ``_state``, ``sources``, ``_host`` and ``_tmp``.
"""

from __future__ import annotations

from typing import Any

from .bulk_rows import stage_columns
from .catalog_sync import problems_of
from .status import derive

#: Status changes written one statement each; more go in one statement.
FEW_UPDATES = 8
_STATUS_COLUMNS = (
    ("status", "VARCHAR"),
    ("status_reason", "VARCHAR"),
    ("heartbeat_mtime", "DOUBLE"),
    ("run_id", "VARCHAR"),
)


class Statuses:
    def _derive_statuses(self, cur: Any, now: float) -> None:
        rows = cur.execute(
            """SELECT run_id, finish_status, finish_reason, heartbeat_interval, host, pid,
                      status, status_reason, heartbeat_mtime, problems
               FROM runs WHERE finish_status IS NULL OR status IS NULL
                  OR status IS DISTINCT FROM finish_status"""
        ).fetchall()
        updates = []
        for run_id, fstatus, freason, interval, host, pid, old, old_reason, old_hb, bad in rows:
            hb = (
                self._state[run_id].heartbeat_mtime
                if run_id in self._state
                else next((s.heartbeat(run_id) for s in self.sources if run_id in s.runs), None)
            )
            problems = problems_of(bad)
            status, reason = derive(
                finish_status=fstatus,
                finish_reason=freason,
                heartbeat_mtime=hb,
                heartbeat_interval=interval,
                host=host,
                pid=None if self._remote_run(run_id) else pid,  # another box's pid
                now=self._as_of(run_id, now),  # a box away: as last heard from
                this_host=self._host,
                unreadable="; ".join(f"{k}: {v}" for k, v in problems.items()) or None,
            )
            if (status, reason, hb) != (old, old_reason, old_hb):
                updates.append((status, reason, hb, run_id))
        if len(updates) <= FEW_UPDATES:
            for update in updates:
                cur.execute(
                    "UPDATE runs SET status = ?, status_reason = ?, heartbeat_mtime = ? "
                    "WHERE run_id = ?",
                    list(update),
                )
            return
        # Many (a cold catalog: every run): one statement, not one per run.
        stage_columns(cur, self._tmp.name, "new_statuses", dict(_STATUS_COLUMNS), updates)
        cur.execute(
            "UPDATE runs SET status = n.status, status_reason = n.status_reason, "
            "heartbeat_mtime = n.heartbeat_mtime FROM new_statuses n WHERE runs.run_id = n.run_id"
        )
        cur.execute("DROP TABLE new_statuses")
