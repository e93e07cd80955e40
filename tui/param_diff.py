"""The params diff of the Compare screen: one row per key, one column per run,
cells that differ from the baseline run's value highlighted."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text

from trackui.store import fmt
from trackui.store.models import MISSING, ParamDiff

from .metric_table import MAX_LABEL, RunColumnsTable
from .names import fit
from .safe import literal

#: Longer values are cut so one huge param (a list, a path) cannot push every
#: other run off the screen; the Run screen shows it whole.
MAX_CELL = 40
MISSING_TEXT = "—"


def same_value(a: Any, b: Any) -> bool:
    """Whether two param values are the same, the way the catalog's diff sees
    them (JSON text: ``1`` and ``True`` differ; a missing key differs from
    any value)."""
    if a is MISSING or b is MISSING:
        return a is b
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def param_text(value: Any) -> str:
    """A param as shown in a cell: numbers whole (``fmt.value``: true digits,
    exponent kept, never cut); long text loses its middle, counted in cells."""
    text = fmt.value(value)
    if isinstance(value, (bool, int, float)):
        return text
    return fit(text, MAX_CELL)


class ParamDiffTable(RunColumnsTable):
    """Params of several runs side by side."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "param-diff--changed",
        "param-diff--missing",
    }

    DEFAULT_CSS = """
    ParamDiffTable > .param-diff--changed {
        color: $warning;
        text-style: bold;
    }
    ParamDiffTable > .param-diff--missing {
        text-style: dim;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.diff: ParamDiff | None = None
        #: (key, run id) of every cell whose value differs from the baseline run's
        self.highlighted: frozenset[tuple[str, str]] = frozenset()

    def show(self, diff: ParamDiff, baseline: str | None, labels: dict[str, Text]) -> None:
        self.diff = diff
        self.run_ids = [r.id for r in diff.runs]
        self.baseline = baseline if baseline in self.run_ids else None
        self.labels = labels
        self.redraw()

    def redraw(self) -> None:
        if self.diff is None:
            return
        base = self.run_ids.index(self.baseline) if self.baseline is not None else None
        changed = self.get_component_rich_style("param-diff--changed", partial=True)
        missing = self.get_component_rich_style("param-diff--missing", partial=True)
        highlighted: set[tuple[str, str]] = set()
        items: list[tuple[str, list[Text], list[Text]]] = []
        headers: list[Text] = []
        for row in self.diff.rows:
            cells: list[Text] = []
            for i, value in enumerate(row.values):
                differs = base is not None and i != base and not same_value(value, row.values[base])
                if differs:
                    highlighted.add((row.key, self.run_ids[i]))
                style = changed if differs else Style()
                if value is MISSING:
                    cells.append(Text(MISSING_TEXT, style=missing + style))
                else:
                    cell = literal(param_text(value))
                    cell.stylize(style)
                    cells.append(cell)
            items.append((row.key, [literal(fit(row.key, MAX_LABEL))], cells))
            headers.append(literal(fit(row.key, MAX_LABEL)))
        self.highlighted = frozenset(highlighted)
        self.fill_grid(["param"], items, headers)

    def key_at_cursor(self) -> str | None:
        index = self.item_index_at_cursor()
        if self.diff is None or index is None or not 0 <= index < len(self.diff.rows):
            return None
        return self.diff.rows[index].key

    def title(self, show_all: bool) -> str:
        if self.diff is None:
            return "Params"
        differ = sum(1 for r in self.diff.rows if r.differs)
        total = self.diff.total_keys
        if show_all:
            return f"Params: all {total}, {differ} differ (a: only differing)"
        return f"Params: {differ} of {total} differ (a: show all)"
