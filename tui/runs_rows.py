"""The Runs screen's rows: its runs (``self.runs``) put in the table, the
names shortened together to the width the terminal leaves them, and the
lines under the table (the cursor run's detail, the boxes, the status).

A mixin of ``RunsScreen`` (runs_screen.py), as the filter bar is
(runs_filter.py): it reads the screen's state and widgets.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from trackui.store.models import RunSummary

from . import names
from .boxes import BoxesLine, several_boxes
from .runs_lines import detail_text, status_text
from .runs_query import RunsQuery
from .runs_table import (
    GROUP_PREFIX,
    NAME_INDEX,
    Row,
    RunsTable,
    build_rows,
    column_spec,
    column_widths,
    columns_for,
    name_width,
    shorten_names,
    status_styles,
)
from .safe import clean


class RunRows:
    """Build, append, merge or rebuild the table's rows; the lines under it."""

    query_state: RunsQuery
    runs: list[RunSummary]
    total: int
    groups: dict[str, int]
    sources: tuple
    marked: dict[str, None]
    short_labels: dict[str, str]
    _shown_names: dict[str, str]
    _last_rows: list[Row] | None
    app: Any
    size: Any

    def _take_sources(self, sources: tuple) -> bool:
        """Keep the sources' states a page brought; whether the box column
        came or went with them (the table is then built anew)."""
        before = several_boxes(self.sources)
        self.sources = sources
        return several_boxes(sources) != before

    @property
    def boxes(self) -> bool:
        """Runs of more than one box are open: the box column is shown
        (unless the user chose ``box`` among the columns already)."""
        return several_boxes(self.sources) and "box" not in self.query_state.columns

    def _columns(self) -> list[tuple[str, Text]]:
        q = self.query_state
        return columns_for(q.columns, q.sort, q.descending, self.short_labels, boxes=self.boxes)

    def _show(self, *, rebuild: bool = False, appended: int = 0) -> None:
        """Put ``self.runs`` in the table. The names are shortened together to
        the width the terminal leaves them; when that width or any name already
        shown changes, the table is rebuilt or merged, else the ``appended``
        runs' rows are added (and only they are built: paging stays linear)."""
        table = self.query_one(RunsTable)  # type: ignore[attr-defined]
        columns = self._columns()
        cached = (
            appended and self._last_rows is not None and len(self._last_rows) == table.row_count
        )
        if cached:
            before_page = self.runs[-appended - 1].project if len(self.runs) > appended else None
            new = self._rows(self.runs[-appended:], before_page)
            rows = [*(self._last_rows or []), *new]
        else:
            rows = self._rows(self.runs)
        full = [clean(run.name) for run in self.runs]
        longest = max((names.cells(n) for n in full), default=4)
        available = (table.size.width or self.app.size.width) - 1  # the scrollbar
        widths = column_widths(columns, rows)
        headers = (c[NAME_INDEX].cell_len for k, c in rows if k.startswith(GROUP_PREFIX))
        width = max(name_width(available, widths, longest), *headers, 4)  # "12 runs" whole
        widths[NAME_INDEX] = width
        shown = dict(zip((r.id for r in self.runs), names.distinct(full, width)))
        self._shown_names, before = shown, self._shown_names
        unchanged = cached and all(shown.get(k) == v for k, v in before.items())
        if unchanged and widths == table.widths and not rebuild:
            shorten_names(new, shown)
            table.append(new)
            self._last_rows = rows
            return
        if cached:  # the cached rows may hold stale marks: build them all anew
            rows = self._rows(self.runs)
        shorten_names(rows, shown)
        self._last_rows = rows
        if rebuild or widths != table.widths:
            table.rebuild(columns, rows, widths)
        else:
            table.merge(rows)

    def _rows(
        self, runs: list[RunSummary] | tuple[RunSummary, ...], previous: str | None = None
    ) -> list[Row]:
        """The rows of ``runs`` (with project headers when grouped; ``previous``
        is the project of the run above them), names whole."""
        return build_rows(
            runs,
            self.query_state.columns,
            grouped=self.query_state.grouped,
            groups=self.groups,
            marked=self.marked,
            now=self.app.clock(),  # type: ignore[attr-defined]
            styles=status_styles(self.app.get_css_variables()),
            boxes=self.boxes,
            previous=previous,
        )

    def _update_detail(self) -> None:
        """The line under the table: the cursor run's whole name and what the
        cursor column is (``runs_lines.detail_text``)."""
        table = self.query_one(RunsTable)  # type: ignore[attr-defined]
        key = table.current_key
        run = next((r for r in self.runs if r.id == key), None) if key else None
        room = (self.size.width or self.app.size.width) - 2
        spec = column_spec(table.current_column or "")
        text = detail_text(run, key, spec, self.short_labels, room)
        self.query_one("#run-detail", Static).update(text)  # type: ignore[attr-defined]

    def _update_boxes(self) -> None:
        room = (self.size.width or self.app.size.width) - 2
        self.query_one(BoxesLine).show(self.sources, room, self.app.clock())  # type: ignore[attr-defined]

    def _update_status(self) -> None:
        text = status_text(
            self.query_state,
            shown=len(self.runs),
            total=self.total,
            reading=getattr(self.app, "reading", None),
            sources=self.sources,
            marked=len(self.marked),
        )
        self.query_one("#runs-status", Static).update(text)  # type: ignore[attr-defined]
