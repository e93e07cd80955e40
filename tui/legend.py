"""How the Compare screen names its runs: the legend of the chart, one line
per run beside the plot (never over it), numbered and marked as the chart
draws the run (``▶ 3+ seed3 ◆``); the same number and marker heading each
run in the tables (``run_labels``); and the detail line with the focused
run's full name (``detail_text``). Names are shortened to their width in
cells by ``names.distinct`` (the prefix all runs share goes first), so runs
stay told apart."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from trackui.store.fmt import printable
from trackui.store.models import RunSummary

from .names import cells, distinct
from .palette import RunStyle
from .safe import literal

#: cells a run's name gets in a table header (its number and marker come first)
HEADER_NAME = 18
FOCUS_MARK = "▶"
BASELINE_MARK = "◆"
#: cells a legend line spends besides the name: focus mark, number, marker, spaces, baseline
_CHROME = 7


def run_box(run: RunSummary) -> str:
    return getattr(run, "box", None) or "local"


def several_boxes(runs: Sequence[RunSummary]) -> bool:
    """Whether ``runs`` come from more than one box (then their box is shown)."""
    return len({run_box(r) for r in runs}) > 1


def shown_name(run: RunSummary, boxes: bool) -> str:
    """A run's name as the legend and the tables show it: ``train@gpu2``
    when the runs compared come from several boxes (a name may be on both)."""
    return f"{run.name}@{run_box(run)}" if boxes else run.name


def run_labels(runs: Sequence[RunSummary], styles: Sequence[RunStyle]) -> dict[str, Text]:
    """Each run as the tables label it: ``3+ seed3`` in its colour, names
    shortened together (``names.distinct``) so they stay told apart."""
    boxes = several_boxes(runs)
    names = distinct([shown_name(r, boxes) for r in runs], HEADER_NAME)
    return {
        run.id: literal(f"{style.tag} {name}", style=f"bold {style.colour}")
        for run, style, name in zip(runs, styles, names)
    }


def detail_text(
    run: RunSummary | None,
    style: RunStyle | None,
    count: int,
    *,
    baseline: str | None,
    key: str | None,
    boxes: bool = False,
) -> Text:
    """The detail line: the focused run's number, marker and whole name (the
    legend and the tables may shorten it), its box when the runs come from
    several (``boxes``), and the key under the cursor."""
    if run is not None and style is not None:
        text = Text(FOCUS_MARK + " ", style="bold")
        text.append(style.tag, style=f"bold {style.colour}")
        text.append(" ")
        text.append_text(literal(run.name, style=f"bold {style.colour}"))
        if boxes:
            text.append("  on ", style="dim")
            text.append_text(literal(run_box(run), style="bold"))
        if run.id == baseline:
            text.append(f"  {BASELINE_MARK} baseline", style="bold")
    else:
        text = Text(f"Compare {count} runs", style="bold")
        text.append("  f: focus a run · z: zoom pane · t: turn table", style="dim")
    if key is not None:
        text.append("  · ", style="dim")
        text.append_text(literal(key, style="italic"))
    return text


def legend_names(names: Sequence[str], width: int) -> list[str]:
    """The names as the legend shows them in ``width`` cells in all."""
    return distinct(list(names), max(4, width - _CHROME))


def legend_text(
    runs: Sequence[tuple[str, str, RunStyle]],
    width: int,
    *,
    focused: str | None = None,
    baseline: str | None = None,
) -> Text:
    """``runs``: (run id, name, style). One line per run, at most ``width`` cells."""
    names = legend_names([name for _, name, _ in runs], width)
    number_width = len(str(len(runs)))
    text = Text(no_wrap=True, overflow="crop")
    for i, ((run_id, _, style), name) in enumerate(zip(runs, names)):
        if i:
            text.append("\n")
        is_focus = run_id == focused
        text.append(FOCUS_MARK if is_focus else " ", style="bold")
        text.append(f"{style.number:>{number_width}}", style=f"bold {style.colour}")
        text.append(style.glyph, style=f"bold {style.colour}")
        text.append(" ")
        text.append(name, style=f"{'bold ' if is_focus else ''}{style.colour}")
        if run_id == baseline:
            text.append(" " + BASELINE_MARK, style="bold")
    return text


def needed_width(runs: Sequence[tuple[str, str, RunStyle]]) -> int:
    """Cells the legend needs to show every name whole."""
    return max((cells(printable(name)) for _, name, _ in runs), default=0) + _CHROME


class RunLegend(VerticalScroll, can_focus=False):
    """The runs of the chart, one per line, scrolled to keep the focused run in view."""

    DEFAULT_CSS = """
    RunLegend {
        height: 1fr;
        width: 24;
        border: round $primary-darken-2;
        border-title-color: $text-muted;
        padding: 0 0 0 0;
        scrollbar-size-vertical: 1;
    }
    RunLegend > Static {
        width: auto;
    }
    """

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(id="legend-lines")

    def show(
        self,
        runs: Sequence[tuple[str, str, RunStyle]],
        width: int,
        *,
        focused: str | None,
        baseline: str | None,
    ) -> Text:
        """Show ``runs`` in ``width`` cells (border and scrollbar included)."""
        text = legend_text(runs, max(4, width - 3), focused=focused, baseline=baseline)
        self.query_one("#legend-lines", Static).update(text)
        self.border_title = f"{len(runs)} runs"
        ids = [run_id for run_id, _, _ in runs]
        if focused in ids:
            line = ids.index(focused)
            self.call_after_refresh(self._scroll_to_line, line)
        return text

    def _scroll_to_line(self, line: int) -> None:
        height = self.scrollable_content_region.height
        if not self.scroll_y <= line < self.scroll_y + height:
            self.scroll_to(y=max(0, line - height // 2), animate=False)
