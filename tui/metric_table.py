"""The summary table of the Compare screen: last and best of each metric per
run, the best run marked, deltas against the baseline run; and the table
base it shares with the params diff (label columns, then one column per run)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from trackui.store import fmt
from trackui.store.models import MetricComparison, MetricComparisonRow

from .safe import literal

ARROWS = {"min": "↓", "max": "↑"}
BEST_MARK = "★ "
BASELINE_MARK = " ◆"
#: A run name longer than this is cut in the column header (the legend has it whole).
MAX_COLUMN_WIDTH = 40


def delta_text(value: float, base: float) -> str:
    """``+0.012`` / ``-0.3`` / ``±0``: a value against the baseline's."""
    delta = value - base
    if delta == 0:
        return "±0"
    text = fmt.number(delta)
    return text if text.startswith("-") or delta != delta else "+" + text


class RunColumnsTable(DataTable[Text]):
    """Label columns that stay put on the left, then one column per run that
    scroll horizontally; the baseline run's header is marked ``◆``."""

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

    def on_mount(self) -> None:
        # Cell styles come from the theme when the cells are made: remake them.
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: object) -> None:
        self.redraw()

    def redraw(self) -> None:
        """Make the cells again from the data last shown."""

    def run_at_cursor(self) -> str | None:
        """The run id of the column the cursor is on (None on a label column)."""
        if not self.row_count:
            return None
        index = self.cursor_column - self.LABEL_COLUMNS
        return self.run_ids[index] if 0 <= index < len(self.run_ids) else None

    def run_header(self, run_id: str) -> Text:
        label = self.labels.get(run_id, Text(run_id)).copy()
        if run_id == self.baseline:
            label.append(BASELINE_MARK, style="bold")
        return label

    def fill(
        self, columns: Sequence[tuple[str, Text]], rows: Sequence[tuple[str, Sequence[Text]]]
    ) -> None:
        """Show these columns and rows. When the columns (and their widths) and
        the rows are the same ones, cells are updated in place, so a live
        refresh moves neither the cursor nor the scroll position."""
        widths = []
        for i, (_, label) in enumerate(columns):
            width = max([label.cell_len, *(cells[i].cell_len for _, cells in rows)])
            widths.append(max(1, min(width, MAX_COLUMN_WIDTH)))
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
        for (key, label), width in zip(columns, widths):
            self.add_column(label, width=width, key=key)
        for key, cells in rows:
            self.add_row(*cells, key=key)
        if self.row_count:
            self.cursor_coordinate = Coordinate(
                min(coordinate.row, self.row_count - 1),
                min(coordinate.column, len(self.columns) - 1),
            )


class MetricTable(RunColumnsTable):
    """Two rows per metric (last, best), one column per run."""

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
        if self.comparison is None or not self.row_count:
            return None
        rows = self.comparison.rows
        index = self.cursor_row // 2
        return rows[index].key if 0 <= index < len(rows) else None

    def show(
        self, comparison: MetricComparison, baseline: str | None, labels: dict[str, Text]
    ) -> None:
        self.comparison = comparison
        self.run_ids = [r.id for r in comparison.runs]
        self.baseline = baseline if baseline in self.run_ids else None
        self.labels = labels
        self.redraw()

    def redraw(self) -> None:
        if self.comparison is None:
            return
        base = self.run_ids.index(self.baseline) if self.baseline is not None else None
        rows: list[tuple[str, list[Text]]] = []
        for row in self.comparison.rows:
            last = self._cells(row, row.last, base, is_best=False)
            best = self._cells(row, row.best, base, is_best=True)
            rows.append((f"{row.key}\0last", [literal(row.key), Text("last"), *last]))
            rows.append(
                (f"{row.key}\0best", [Text(""), Text(f"best {ARROWS[row.direction]}"), *best])
            )
        columns = [("\0metric", Text("metric")), ("\0stat", Text(""))]
        columns += [(run_id, self.run_header(run_id)) for run_id in self.run_ids]
        self.fill(columns, rows)

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

        base_value = values[base] if base is not None else None
        cells = []
        for i, value in enumerate(values):
            if value is None:
                cells.append(Text("—", style=style("missing")))
                continue
            cell = Text()
            if is_best and row.best_run == i:
                cell.append(BEST_MARK + fmt.number(value), style("best"))
            else:
                cell.append(fmt.number(value))
            if i != base and base_value is not None:
                delta = value - base_value
                lower = row.direction == "min"
                if delta != 0 and delta == delta:
                    tone = style("better") if (delta < 0) == lower else style("worse")
                else:
                    tone = Style()
                cell.append(" ")
                cell.append(delta_text(value, base_value), tone)
            cells.append(cell)
        return cells
