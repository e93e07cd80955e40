"""The catalog's sources besides its own run directories (``store/sources``):
remote mirrors brought up to date before a refresh, other trackui stores
scanned beside the root, and each run's box and location.

A mixin of ``Catalog``: it uses ``root``, ``sources``, ``opener`` and ``_state``.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any


class SourceRuns:
    def _prepare_sources(self) -> None:
        """Remote sources bring their mirrors up to date (a box that does not
        answer is marked unreachable; its mirror stays as it was)."""
        boxes = [s.prepare for s in self.sources if getattr(s, "prepare", None) is not None]
        if len(boxes) == 1:
            boxes[0]()
        elif boxes:  # side by side: one slow box does not hold up the others
            with ThreadPoolExecutor(max_workers=min(8, len(boxes))) as pool:
                for future in [pool.submit(prepare) for prepare in boxes]:
                    future.result()
        for source in self.sources:
            root = getattr(source, "native_root", None)
            if root is not None:
                self.opener.add(root)

    def _native_roots(self) -> list[Path]:
        """Other trackui stores whose run directories are scanned beside the root's."""
        roots = [getattr(s, "native_root", None) for s in self.sources]
        return [r for r in roots if r is not None]

    def _note_new_runs(self, changed: int) -> None:
        """Runs ``changed`` in the run directories may be new ones, whose box
        and location ``_label_runs`` fills in."""
        if changed:
            self._unlabelled = True

    def _label_runs(self, cur: Any) -> None:
        """Each new run's box and location (see ``RunSummary``), in one
        statement; none when no run can have been inserted since the last
        time (``_note_new_runs``, or a source that inserted runs or does not
        say; the catalog clears ``_unlabelled`` once the labels are committed)."""
        if not getattr(self, "_unlabelled", True) and not any(
            getattr(s, "inserted", True) for s in self.sources
        ):
            return
        natives = [
            (str(s.native_root) + os.sep, s.box, str(s.location))
            for s in self.sources
            if getattr(s, "native_root", None) is not None
        ]
        meta = "json_extract_string(TRY_CAST(meta_json AS JSON), '$.{}')"
        under = " ".join("WHEN starts_with(dir, ?) THEN ?" for _ in natives)
        cur.execute(
            f"UPDATE runs SET "
            f"box = CASE WHEN rel_dir IS NULL THEN coalesce({meta.format('box')}, 'local') "
            f"{under} ELSE 'local' END, "
            f"location = CASE WHEN rel_dir IS NULL THEN {meta.format('location')} "
            f"{under} ELSE ? END WHERE box IS NULL",
            [x for root, box, _ in natives for x in (root, box)]
            + [x for root, _, location in natives for x in (root, location)]
            + [str(self.root)],
        )

    def _remote_run(self, run_id: str) -> bool:
        """Whether a run was read from another box (its pid means nothing here)."""
        return self._box_of(run_id) is not None

    def _box_of(self, run_id: str) -> Any:
        """The remote source a run was read from, None for a local run."""
        remotes = [s for s in self.sources if getattr(s, "is_remote", False)]
        if not remotes:
            return None
        state = self._state.get(run_id)
        if state is not None:
            for source in remotes:
                if state.dir.startswith(str(source.files) + os.sep):
                    return source
            return None
        return next((s for s in remotes if run_id in s.runs), None)

    def _as_of(self, run_id: str, now: float) -> float:
        """When a run's status is judged: now, or for a run of a box that
        cannot be reached, when it was last heard from (its heartbeat has
        not gone stale: nobody could look)."""
        source = self._box_of(run_id)
        if source is None or source.status != "unreachable":
            return now
        return min(now, source.heard or now)
