"""The lines under the run list: the detail line (the cursor run's whole
name and id, and what the cursor column is) and the status line (how many
runs, reading, boxes, sort, grouping, filter, marks). Text only; the Runs
screen puts them on screen."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text

from trackui.store.models import RunSummary

from . import names
from .boxes import open_boxes, unreachable
from .runs_query import RunsQuery
from .runs_table import GROUP_PREFIX
from .safe import clean


def detail_text(
    run: RunSummary | None,
    key: str | None,
    spec: str | None,
    short_labels: Mapping[str, str],
    room: int,
) -> Text:
    """The cursor run's whole name (the column may show it shortened), its id
    where it fits, or the project of a header row; then, for a column shown
    by a short header, what it is."""
    text = Text(no_wrap=False)
    if run is not None:
        # Two lines at most: the id only where it fits beside the name.
        ref = names.fit(clean(f"{run.project}/{run.name}"), 2 * room)
        text.append(ref, style="bold")
        if names.cells(ref) + 2 + len(run.id) <= room:
            text.append(f"  {run.id}", style="dim")
    elif key and key.startswith(GROUP_PREFIX):
        text.append(clean(key[len(GROUP_PREFIX) :]), style="bold")
    if spec in short_labels:
        text.append(f"  · {short_labels[spec]} = {clean(spec)}", style="dim")
    return text


def status_text(
    query: RunsQuery,
    *,
    shown: int,
    total: int,
    reading: tuple[int, int] | None,
    sources: Sequence[Any],
    marked: int,
) -> Text:
    text = Text()
    noun = "run" if total == 1 else "runs"
    text.append(f"{total} {noun}" if shown >= total else f"{shown} of {total} {noun}")
    if reading:
        text.append(f" · reading the store: {reading[0]:,} of {reading[1]:,} runs")
    down = len(unreachable(sources))
    boxes = len(open_boxes(sources))
    if boxes > 1:
        text.append(f" · {boxes} boxes" + (f", {down} unreachable" if down else ""))
    elif down:
        text.append(" · unreachable", style="bold")
    if query.sort:
        text.append(f" · sorted by {clean(query.sort)} {'▼' if query.descending else '▲'}")
    if query.grouped:
        text.append(" · grouped by project")
    if query.where:
        text.append(" · filter: ")
        text.append(clean(query.where), style="bold")
    if marked:
        text.append(f" · {marked} marked", style="bold")
    return text
