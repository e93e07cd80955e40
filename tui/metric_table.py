"""The summary table of the Compare screen: last and best of each metric per
run, the best run marked (only for metrics whose direction is known), deltas
against the baseline run; and the table base it shares with the params diff.

The base lays a grid of items (metric stats, params) × runs out either way:
runs as columns (label columns pinned on the left), or runs as rows (the run
column pinned) when the runs do not fit side by side. Every run is labelled
with its number and marker (``3+ seed3``), as in the chart's legend. Numbers
are never cut: a column is as wide as its widest formatted value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from trackui.store import fmt, primary
from trackui.store.models import MetricComparison, MetricComparisonRow

from .names import fit
from .safe import literal

ARROWS = {"min": "↓", "max": "↑"}
BEST_MARK = "★ "
BASELINE_MARK = " ◆"
#: Item labels (metric keys, param keys) longer than this lose their middle in
#: a header; the full key is on the detail line.
MAX_LABEL = 28
#: Up to this many runs stay columns even when they overflow the width.
FEW_RUNS = 3
#: Digits of the values in the summary (deltas keep as many).
DIGITS = 4


def delta_text(value: float, base: float) -> str:
    """``+0.012`` / ``-5.3e-05`` / ``±0``: a value against the baseline's, true
    to the digits shown (``fmt.delta``)."""
    text = fmt.delta(value, base, digits=DIGITS)
    return "±0" if text == "0" else text


class RunColumnsTable(DataTable[Text]):
    """Items × runs, runs as columns or as rows; the baseline run is marked ``◆``."""

    LABEL_COLUMNS: ClassVar[int] = 1

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(
            id=id,
            classes=classes,
            cursor_type="cell",
            zebra_stripes=True,
            fixed_columns=self.LABEL_COLUMNS,
        )
        self.run_ids: list[str] = []
        self.baseline: str | None = None
        self.labels: dict[str, Text] = {}
        #: runs as rows (one row per run, one column per item)
        self.runs_as_rows = False
        #: True once ``t`` chose the layout; until then runs become rows by
        #: themselves when their columns do not fit the table's width
        self.orientation_chosen = False
        self._columns_width = 0  # cells the runs-as-columns layout needs

    def on_mount(self) -> None:
        # Cell styles come from the theme when the cells are made: remake them.
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: object) -> None:
        self.redraw()

    def redraw(self) -> None:
        """Make the cells again from the data last shown."""

    def set_runs_as_rows(self, value: bool, *, chosen: bool = True) -> None:
        self.orientation_chosen = self.orientation_chosen or chosen
        if value != self.runs_as_rows:
            self.runs_as_rows = value
            self.redraw()

    def _auto_rows(self) -> bool:
        width = self.scrollable_content_region.width
        if self.orientation_chosen or not width or not self._columns_width:
            return self.runs_as_rows
        # A few runs scroll sideways fine beside their pinned labels; more
        # become rows, so every run is one line and scrolling is vertical.
        return self._columns_width > width and len(self.run_ids) > FEW_RUNS

    def on_resize(self) -> None:
        if self._auto_rows() != self.runs_as_rows:
            self.runs_as_rows = not self.runs_as_rows
            self.redraw()

    def run_at_cursor(self) -> str | None:
        """The run id of the cursor's column (its row, with runs as rows)."""
        if not self.row_count:
            return None
        if self.runs_as_rows:
            index = self.cursor_row
        else:
            index = self.cursor_column - self.LABEL_COLUMNS
        return self.run_ids[index] if 0 <= index < len(self.run_ids) else None

    def item_index_at_cursor(self) -> int | None:
        """Which item (row of the runs-as-columns layout) the cursor is on."""
        if not self.row_count:
            return None
        if self.runs_as_rows:
            index = self.cursor_column - 1
            return index if index >= 0 else None
        return self.cursor_row

    def run_header(self, run_id: str) -> Text:
        label = self.labels.get(run_id, Text(run_id)).copy()
        if run_id == self.baseline:
            label.append(BASELINE_MARK, style="bold")
        return label

    def fill_grid(
        self,
        label_headers: Sequence[str],
        items: Sequence[tuple[str, Sequence[Text], Sequence[Text]]],
        item_header: Sequence[Text],
    ) -> None:
        """``items``: (key, label cells, one cell per run). With runs as
        columns the label cells head each row; with runs as rows each item is
        a column headed by ``item_header[i]``."""
        columns = [(f"\0{h}", Text(h)) for h in label_headers]
        columns += [(run_id, self.run_header(run_id)) for run_id in self.run_ids]
        rows = [(key, [*labels, *cells]) for key, labels, cells in items]
        self._columns_width = sum(w + 2 * self.cell_padding for w in self._widths(columns, rows))
        self.runs_as_rows = self._auto_rows()
        if not self.runs_as_rows:
            self.fill(columns, rows, fixed=self.LABEL_COLUMNS)
            return
        columns = [("\0run", Text("run"))]
        columns += [(key, item_header[i]) for i, (key, _, _) in enumerate(items)]
        rows = [
            (run_id, [self.run_header(run_id), *(cells[r] for _, _, cells in items)])
            for r, run_id in enumerate(self.run_ids)
        ]
        self.fill(columns, rows, fixed=1)

    def fill(
        self,
        columns: Sequence[tuple[str, Text]],
        rows: Sequence[tuple[str, Sequence[Text]]],
        fixed: int | None = None,
    ) -> None:
        """Show these columns and rows, each column as wide as its widest cell
        (so no value is ever cut). When the columns (and their widths) and
        the rows are the same ones, cells are updated in place, so a live
        refresh moves neither the cursor nor the scroll position."""
        widths = self._widths(columns, rows)
        shape = [(key, label, width) for (key, label), width in zip(columns, widths)]
        current = [(c.key.value, c.label, c.width) for c in self.ordered_columns]
        same_rows = [r.key.value for r in self.ordered_rows] == [key for key, _ in rows]
        if shape == current and same_rows:
            for row_key, cells in rows:
                for (column_key, _), cell in zip(columns, cells):
                    self.update_cell(row_key, column_key, cell)
            return
        # Widths are set here, not measured later: a table refilled while the
        # screen is painting would otherwise draw with the old widths.
        coordinate = self.cursor_coordinate
        self.clear(columns=True)
        if fixed is not None:
            self.fixed_columns = fixed
        for (key, label), width in zip(columns, widths):
            self.add_column(label, width=width, key=key)
        for key, cells in rows:
            self.add_row(*cells, key=key)
        if self.row_count:
            self.cursor_coordinate = Coordinate(
                min(coordinate.row, self.row_count - 1),
                min(coordinate.column, len(self.columns) - 1),
            )

    @staticmethod
    def _widths(
        columns: Sequence[tuple[str, Text]], rows: Sequence[tuple[str, Sequence[Text]]]
    ) -> list[int]:
        """Each column as wide as its widest cell or header: nothing is cut."""
        return [
            max(1, label.cell_len, *(cells[i].cell_len for _, cells in rows))
            for i, (_, label) in enumerate(columns)
        ]


def stat_label(row: MetricComparisonRow) -> str:
    """``best ↓`` for a metric with a known direction; otherwise the extreme
    the store picked, named plainly (``min``/``max``), with no claim of best."""
    if primary.direction(row.key) is None:
        return "min" if row.direction == "min" else "max"
    return f"best {ARROWS[row.direction]}"


class MetricTable(RunColumnsTable):
    """Two rows per metric (last, best), one column per run (or the transpose)."""

    LABEL_COLUMNS = 2
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "metric-table--best",
        "metric-table--better",
        "metric-table--worse",
        "metric-table--missing",
    }

    DEFAULT_CSS = """
    MetricTable > .metric-table--best {
        color: $accent;
        text-style: bold;
    }
    MetricTable > .metric-table--better {
        color: $success;
    }
    MetricTable > .metric-table--worse {
        color: $error;
    }
    MetricTable > .metric-table--missing {
        text-style: dim;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.comparison: MetricComparison | None = None

    def metric_at_cursor(self) -> str | None:
        index = self.item_index_at_cursor()
        if self.comparison is None or index is None:
            return None
        rows = self.comparison.rows
        return rows[index // 2].key if 0 <= index // 2 < len(rows) else None

    def show(
        self, comparison: MetricComparison, baseline: str | None, labels: dict[str, Text]
    ) -> None:
        self.comparison = _results_first(comparison)
        self.run_ids = [r.id for r in comparison.runs]
        self.baseline = baseline if baseline in self.run_ids else None
        self.labels = labels
        self.redraw()

    def redraw(self) -> None:
        if self.comparison is None:
            return
        base = self.run_ids.index(self.baseline) if self.baseline is not None else None
        items: list[tuple[str, list[Text], list[Text]]] = []
        headers: list[Text] = []
        for row in self.comparison.rows:
            last = self._cells(row, row.last, base, is_best=False)
            best = self._cells(row, row.best, base, is_best=True)
            stat = stat_label(row)
            items.append(
                (f"{row.key}\0last", [literal(fit(row.key, MAX_LABEL)), Text("last")], last)
            )
            items.append((f"{row.key}\0best", [Text(""), Text(stat)], best))
            short = fit(row.key, MAX_LABEL)
            headers.append(literal(f"{short} last"))
            headers.append(literal(f"{short} {stat}"))
        self.fill_grid(["metric", "stat"], items, headers)

    def _cells(
        self,
        row: MetricComparisonRow,
        values: tuple[float | None, ...],
        base: int | None,
        *,
        is_best: bool,
    ) -> list[Text]:
        def style(name: str) -> Style:
            return self.get_component_rich_style(f"metric-table--{name}", partial=True)

        directional = primary.direction(row.key) is not None
        base_value = values[base] if base is not None else None
        cells = []
        for i, value in enumerate(values):
            if value is None:
                cells.append(Text("—", style=style("missing")))
                continue
            cell = Text()
            text = fmt.number_fit(value, None, digits=DIGITS)
            if is_best and directional and row.best_run == i:
                cell.append(BEST_MARK + text, style("best"))
            else:
                cell.append(text)
            if i != base and base_value is not None:
                delta = value - base_value
                lower = row.direction == "min"
                if directional and delta != 0 and delta == delta:
                    tone = style("better") if (delta < 0) == lower else style("worse")
                else:
                    tone = Style()
                shown = delta_text(value, base_value)
                if shown:
                    cell.append(" ")
                    cell.append(shown, tone)
            cells.append(cell)
        return cells


def _results_first(comparison: MetricComparison) -> MetricComparison:
    """The rows a comparison is read for first: the primary metric, then the
    metrics with a direction, then counters, schedules and the rest, each
    group in the store's order."""
    keys = [row.key for row in comparison.rows]
    project = comparison.runs[0].project if comparison.runs else None
    main = primary.choose(keys, project)

    def rank(item: tuple[int, MetricComparisonRow]) -> tuple[int, int]:
        index, row = item
        if row.key == main:
            return (0, index)
        return (1 if primary.direction(row.key) is not None else 2, index)

    rows = tuple(row for _, row in sorted(enumerate(comparison.rows), key=rank))
    return comparison if rows == comparison.rows else replace(comparison, rows=rows)
