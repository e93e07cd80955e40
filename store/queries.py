"""The query API over a catalog. Every answer is a frozen dataclass; the work
(sorting, filtering, downsampling, diffing) is done in SQL."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import paths
from .catalog import Catalog, RefreshStats
from .directions import direction_of
from .models import (
    MISSING,
    Artifact,
    MetricComparison,
    MetricComparisonRow,
    MetricSummary,
    ParamDiff,
    ParamDiffRow,
    Point,
    RunDetail,
    Series,
    SourceState,
)
from .run_list import BUILTIN_COLUMNS, STATS, Column, RunList, RunNotFound

__all__ = ["BUILTIN_COLUMNS", "STATS", "X_AXES", "Column", "RunNotFound", "Store", "open_store"]

X_AXES = ("step", "relative", "wall")


class Store(RunList):
    """A store root and its catalog: what the CLI and the TUI talk to."""

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        catalog_path: str | os.PathLike[str] | None = None,
        clock: Callable[[], float] = time.time,
        private: bool = False,
        refresh: bool = True,
    ):
        self.root = Path(root).expanduser() if root is not None else paths.default_root()
        self.catalog = Catalog(self.root, catalog_path, clock=clock, private=private)
        self.clock = clock
        if refresh:
            self.refresh()

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def refresh(
        self, *, full: bool = True, progress: Callable[[int, int], None] | None = None
    ) -> RefreshStats:
        """Bring the catalog up to date; ``full=False`` is the cheaper live
        refresh, ``progress(done, total)`` hears of each committed batch of a
        big one (see ``Catalog.refresh``)."""
        return self.catalog.refresh(full=full, progress=progress)

    def reindex(self) -> RefreshStats:
        return self.catalog.reindex()

    def sources(self) -> list[SourceState]:
        """Each source the catalog reads besides its own run directories
        (empty for a single store), with its state and the bytes read."""
        from .sources.session import source_states

        return source_states(self.catalog)

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        args = params if isinstance(params, dict) else list(params)
        return self.catalog.query(sql, args)

    def resolve(self, ref: str) -> str:
        """A run id from an id, a unique id prefix, or ``project/name``."""
        ref = ref.strip()
        if not ref:
            raise RunNotFound("empty run reference")
        exact = self._rows("SELECT run_id FROM runs WHERE run_id = ?", [ref])
        if exact:
            return exact[0][0]
        named = self._rows(
            "SELECT run_id FROM runs WHERE project || '/' || name = ? ORDER BY created DESC", [ref]
        )
        if len(named) == 1:
            return named[0][0]
        if len(named) > 1:
            ids = ", ".join(r[0] for r in named[:5])
            raise RunNotFound(f"run {ref!r} is ambiguous: {len(named)} runs have that name ({ids})")
        prefixed = self._rows(
            "SELECT run_id FROM runs WHERE starts_with(run_id, ?) ORDER BY run_id LIMIT 6", [ref]
        )
        if len(prefixed) == 1:
            return prefixed[0][0]
        if prefixed:
            raise RunNotFound(f"run {ref!r} is ambiguous: more than one run id starts with it")
        raise RunNotFound(f"no run {ref!r} in {self.root}")

    def get_run(self, ref: str) -> RunDetail:
        run_id = self.resolve(ref)
        (run,) = self.run_summaries([run_id])
        (row,) = self._rows(
            """SELECT dir, meta_json, notes, exit_code, signal, exc_type, exc_message,
                      exc_traceback, dropped, source_kind, source_path, source_id, parent_id,
                      has_console, has_diff, rel_dir, read_notes
               FROM runs WHERE run_id = ?""",
            [run_id],
        )
        params = tuple(
            (key, json.loads(value))
            for key, value in self._rows(
                "SELECT key, value_json FROM params WHERE run_id = ? ORDER BY key", [run_id]
            )
        )
        summary = {
            key: json.loads(value)
            for key, value in self._rows(
                "SELECT key, value_json FROM summary_overrides WHERE run_id = ? ORDER BY key",
                [run_id],
            )
        }
        artifacts = tuple(
            Artifact(name, path, size, sha, bool(copied))
            for name, path, size, sha, copied in self._rows(
                "SELECT name, path, size, sha256, copied FROM artifacts WHERE run_id = ? ORDER BY seq",
                [run_id],
            )
        )
        run_dir = row[0]
        return RunDetail(
            run=run,
            dir=run_dir,
            params=params,
            metrics=tuple(self.metric_summaries(run_id)),
            summary=summary,
            artifacts=artifacts,
            meta=json.loads(row[1]) if row[1] else {},
            notes=row[2],
            exit_code=row[3],
            signal=row[4],
            exception_type=row[5],
            exception_message=row[6],
            exception_traceback=row[7],
            dropped=row[8],
            source_kind=row[9],
            source_path=row[10],
            source_id=row[11],
            parent_id=row[12],
            console_path=os.path.join(run_dir, paths.CONSOLE) if row[13] else None,
            diff_path=os.path.join(run_dir, paths.CODE_DIFF) if row[14] else None,
            rel_dir=row[15],
            read_notes=row[16],
            box=run.box,
            location=run.location,
        )

    def metric_summaries(self, run_id: str) -> list[MetricSummary]:
        return [
            MetricSummary(*row)
            for row in self._rows(
                """SELECT key, first, last, min, max, count, step_min, step_max, last_step, last_t
                   FROM summaries WHERE run_id = ? ORDER BY key""",
                [run_id],
            )
        ]

    def metric_keys(self, run_ids: Sequence[str]) -> list[str]:
        """Metric keys logged by any of these runs, sorted."""
        if not run_ids:
            return []
        marks = ", ".join("?" for _ in run_ids)
        return [
            r[0]
            for r in self._rows(
                f"SELECT DISTINCT key FROM summaries WHERE run_id IN ({marks}) ORDER BY key",
                list(run_ids),
            )
        ]

    def column_choices(self) -> list[str]:
        """Every column the run list can show: built-ins, params, metric summaries."""
        params = [r[0] for r in self._rows("SELECT DISTINCT key FROM params ORDER BY key")]
        keys = [r[0] for r in self._rows("SELECT DISTINCT key FROM summaries ORDER BY key")]
        stats = [f"{s}({k})" for k in keys for s in ("last", "min", "max")]
        return [*BUILTIN_COLUMNS, *params, *stats]

    def projects(self) -> list[str]:
        return [r[0] for r in self._rows("SELECT DISTINCT project FROM runs ORDER BY project")]

    # -- series --------------------------------------------------------------

    def _series_ids(self, run_id: str, key: str) -> tuple[int, int, float, int] | None:
        """(run_no, key_no, created, points) of a logged series, or None."""
        rows = self._rows(
            """SELECT r.run_no, k.key_no, coalesce(r.created, 0), s.count
               FROM runs r JOIN summaries s ON s.run_id = r.run_id AND s.key = $key
                    JOIN metric_keys k ON k.key = $key
               WHERE r.run_id = $run""",
            {"run": run_id, "key": key},
        )
        return rows[0] if rows else None

    def history(self, run_id: str, key: str) -> list[Point]:
        """Every point of one metric in the order it was logged."""
        ids = self._series_ids(run_id, key)
        if ids is None:
            return []
        run_no, key_no, _, _ = ids
        # The ids go in as literals: row groups are then skipped by their statistics.
        return [
            Point(*row)
            for row in self._rows(
                f"""SELECT seq, step, t, value FROM metrics
                    WHERE run_no = {int(run_no)} AND key_no = {int(key_no)} ORDER BY seq"""
            )
        ]

    def series(
        self, run_id: str, key: str, *, buckets: int | None = 200, x_axis: str = "step"
    ) -> Series:
        """A metric for a chart: raw when it has at most ``2*buckets`` points,
        else the min and the max point of each of ``buckets`` equal x-ranges."""
        if x_axis not in X_AXES:
            raise ValueError(f"x axis must be one of {', '.join(X_AXES)}")
        ids = self._series_ids(run_id, key)
        if ids is None:
            return Series(run_id, key, x_axis, (), (), (), 0, False)
        run_no, key_no, created, total_n = ids
        x_expr = {
            "step": "CAST(step AS DOUBLE)",
            "wall": "t",
            "relative": f"t - {float(created)!r}",
        }[x_axis]
        where = f"run_no = {int(run_no)} AND key_no = {int(key_no)}"
        downsample = buckets is not None and total_n > 2 * buckets
        if not downsample:
            rows = self._rows(
                f"SELECT {x_expr} AS x, value, step FROM metrics WHERE {where} ORDER BY x, seq"
            )
        else:
            rows = self._rows(
                f"""WITH pts AS (
                      SELECT {x_expr} AS x, value, step, seq FROM metrics
                      WHERE {where} AND NOT isnan(value)
                    ), bounds AS (SELECT min(x) AS lo, max(x) AS hi FROM pts),
                    bucketed AS (
                      SELECT pts.*, least(CAST(floor((x - lo) / nullif(hi - lo, 0) * $n) AS BIGINT),
                                          $n - 1) AS b
                      FROM pts, bounds
                    ), agg AS (
                      SELECT arg_min(struct_pack(x := x, v := value, s := step, q := seq), value) AS lo_pt,
                             arg_max(struct_pack(x := x, v := value, s := step, q := seq), value) AS hi_pt
                      FROM bucketed GROUP BY b
                    ), both_pts AS (
                      SELECT lo_pt AS p FROM agg UNION SELECT hi_pt FROM agg
                    )
                    SELECT p.x, p.v, p.s FROM both_pts ORDER BY p.x, p.q""",
                {"n": buckets},
            )
        return Series(
            run_id,
            key,
            x_axis,
            tuple(r[0] for r in rows),
            tuple(r[1] for r in rows),
            tuple(r[2] for r in rows),
            total_n,
            downsample,
        )

    # -- comparison ----------------------------------------------------------

    def diff_params(self, run_ids: Sequence[str], *, only_changed: bool = True) -> ParamDiff:
        """Params of several runs side by side; by default only the keys whose
        values differ (a key one run lacks differs)."""
        runs = self.run_summaries(run_ids)
        n = len(run_ids)
        marks = ", ".join("?" for _ in run_ids)
        rows = self._rows(
            f"""SELECT key, count(DISTINCT value_json) > 1 OR count(*) < ? AS differs,
                       map(list(run_id), list(value_json)) AS vals
                FROM params WHERE run_id IN ({marks}) GROUP BY key ORDER BY key""",
            [n, *run_ids],
        )
        out = []
        for key, differs, vals in rows:
            if only_changed and not differs:
                continue
            values = tuple(json.loads(vals[r]) if r in vals else MISSING for r in run_ids)
            out.append(ParamDiffRow(key, values, bool(differs)))
        return ParamDiff(tuple(runs), tuple(out), len(rows))

    def compare_metrics(
        self,
        run_ids: Sequence[str],
        *,
        keys: Sequence[str] | None = None,
        directions: dict[str, str] | None = None,
    ) -> MetricComparison:
        """Last and best value of each metric per run, and which run is best
        (lower is better for loss/error-like names unless overridden)."""
        runs = self.run_summaries(run_ids)
        marks = ", ".join("?" for _ in run_ids)
        rows = self._rows(
            f"SELECT run_id, key, last, min, max FROM summaries WHERE run_id IN ({marks})",
            list(run_ids),
        )
        by_key: dict[str, dict[str, tuple[Any, Any, Any]]] = {}
        for run_id, key, last, lo, hi in rows:
            by_key.setdefault(key, {})[run_id] = (last, lo, hi)
        wanted = list(keys) if keys is not None else sorted(by_key)
        out = []
        for key in wanted:
            per_run = by_key.get(key, {})
            direction = direction_of(key, directions)
            lasts = tuple(per_run[r][0] if r in per_run else None for r in run_ids)
            bests = tuple(
                (per_run[r][1] if direction == "min" else per_run[r][2]) if r in per_run else None
                for r in run_ids
            )
            candidates = [
                (b, i) for i, b in enumerate(bests) if b is not None and not math.isnan(b)
            ]
            best_run = None
            if candidates:
                pick = min if direction == "min" else max
                best_run = pick(candidates, key=lambda c: c[0])[1]
            out.append(MetricComparisonRow(key, direction, lasts, bests, best_run))
        return MetricComparison(tuple(runs), tuple(out))


def open_store(root: str | os.PathLike[str] | None = None, **kwargs: Any) -> Store:
    return Store(root, **kwargs)
