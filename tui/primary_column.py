"""The run list's column out of the box: each project's primary metric at its
best (``max(...)`` or ``min(...)`` by its direction), under a short header, so
the first screen answers "which run is best".

Only where nobody chose columns (``p`` or ``columns = [...]`` in config.toml);
a metric with no known direction gets no column (there is no "best" of it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.cells import cell_len

from trackui.store.primary import choose, direction, short_header

if TYPE_CHECKING:
    from trackui.store.queries import Store

#: runs per project whose metric keys are read to choose its primary metric
SAMPLE_RUNS = 50
#: at most this many projects' primary metrics become columns (most runs first)
MAX_COLUMNS = 3
#: short headers never take more cells than this
HEADER_WIDTH = 16


def primary_columns(store: Store) -> tuple[tuple[str, str], ...]:
    """(column spec, short header) of the best value of each project's primary
    metric, for the projects with the most runs; ``()`` when none has one."""
    counted = [(store.count_runs(project=p), p) for p in store.projects()]
    counted.sort(key=lambda item: (-item[0], item[1]))
    specs: dict[str, str] = {}
    for _count, project in counted:
        ids = [r.id for r in store.list_runs(project=project, limit=SAMPLE_RUNS)]
        key = choose(store.metric_keys(ids), project=project)
        if key is None:
            continue
        way = direction(key)
        if way is None:
            continue
        spec = f"{way}({key})"
        if spec not in specs:
            specs[spec] = short_header(key)
        if len(specs) >= MAX_COLUMNS:
            break
    headers = list(specs.values())
    out = []
    for spec, header in specs.items():
        # Two metrics with one short header (val/loss, train/loss): the full key.
        clash = headers.count(header) > 1 or cell_len(header) > HEADER_WIDTH
        out.append((spec, spec if clash else header))
    return tuple(out)
