"""How the CLI writes what it found: a rich table on a terminal, tab-separated
text when piped, CSV or Markdown when asked, JSON for ``--json``.

Every human-readable format goes through one sanitizer (``fmt.printable``), so
nothing a run wrote (names, params, tags, metric keys, file names) can drive
the terminal; ``--json`` keeps exact values with every control character
escaped (``fmt.json_text``). Widths are terminal cells (``tui.names.cells``).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from trackui.store import fmt

#: What a rich table adds per column (a border and one space each side) and once.
COLUMN_OVERHEAD = 3
TABLE_OVERHEAD = 1

STATUS_STYLE = {
    "running": "bold cyan",
    "finished": "green",
    "failed": "bold red",
    "killed": "yellow",
    "crashed": "red",
    "unreadable": "magenta",
}


def cell(text: object) -> str:
    """User text for one table cell: ``fmt.printable``, and a newline (which
    ``printable`` keeps for multi-line views) shown as ``\\n`` so a value
    cannot start a fake row."""
    return fmt.printable(fmt.repair(str(text))).replace("\n", "\\n")


def line(text: object) -> str:
    """User text for one line of a message (errors, summaries)."""
    return cell(text)


def is_terminal() -> bool:
    return sys.stdout.isatty() or os.environ.get("TRACKUI_FORCE_RICH") == "1"


def terminal_width() -> int:
    return console().width


def console(stderr: bool = False, width: int | None = None) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width)


# -- JSON -------------------------------------------------------------------------


def _json_safe(value: Any) -> Any:
    """Non-finite floats as the strings ``NaN``/``Infinity``/``-Infinity``
    (JSON has no literal for them); keys as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def emit_json(obj: Any) -> None:
    sys.stdout.write(fmt.json_text(_json_safe(obj), indent=1, default=str) + "\n")


# -- tables -----------------------------------------------------------------------


@dataclass
class Table:
    """Rows of text cells, already formatted; ``numeric`` columns are
    right-aligned and never wrapped (a number is shown whole or not at all)."""

    headers: list[str]
    rows: list[list[str]]
    title: str | None = None
    numeric: frozenset[int] = frozenset()
    status_col: int | None = None
    #: columns kept on every part when a wide table is split (the row labels)
    pinned: int = 1

    def widths(self) -> list[int]:
        from trackui.tui.names import cells

        out = [cells(cell(h)) for h in self.headers]
        for row in self.rows:
            for i, value in enumerate(row):
                shown = fmt.status(value) if i == self.status_col else value
                out[i] = max(out[i], cells(cell(shown)))
        return out

    def select(self, keep: Sequence[int]) -> Table:
        index = {old: new for new, old in enumerate(keep)}
        return Table(
            [self.headers[i] for i in keep],
            [[row[i] for i in keep] for row in self.rows],
            self.title,
            frozenset(index[i] for i in self.numeric if i in index),
            index.get(self.status_col) if self.status_col is not None else None,
            min(self.pinned, len(keep)),
        )


def table_width(widths: Sequence[int]) -> int:
    return sum(widths) + COLUMN_OVERHEAD * len(widths) + TABLE_OVERHEAD


def emit_table(table: Table, style: str | None) -> None:
    """CSV or Markdown when asked; else a rich table on a terminal, plain
    tab-separated text when piped."""
    if style == "csv":
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([cell(h) for h in table.headers])
        writer.writerows([[cell(c) for c in row] for row in table.rows])
        return
    if style == "md":
        if table.title:
            sys.stdout.write(f"\n**{_md(table.title)}**\n\n")
        sys.stdout.write("| " + " | ".join(_md(h) for h in table.headers) + " |\n")
        sys.stdout.write("|" + "|".join("---" for _ in table.headers) + "|\n")
        for row in table.rows:
            sys.stdout.write("| " + " | ".join(_md(c) for c in row) + " |\n")
        return
    if not is_terminal():  # piped: every column, one line per row
        if table.title:
            sys.stdout.write(f"# {cell(table.title)}\n")
        sys.stdout.write("\t".join(cell(h) for h in table.headers) + "\n")
        for row in table.rows:
            sys.stdout.write("\t".join(cell(c) for c in row) + "\n")
        return
    if style == "wide":
        _print_rich(table, max(terminal_width(), table_width(table.widths())))
        return
    for part in split_to_width(table, terminal_width()):
        _print_rich(part)


def split_to_width(table: Table, width: int) -> list[Table]:
    """A table too wide for the terminal as several tables, each with the
    pinned columns and as many of the others as fit, so no cell is cut.
    Text columns of a single part may still fold; numbers never do."""
    widths = table.widths()
    if table_width(widths) <= width or len(widths) <= table.pinned + 1:
        return [table]
    pinned = list(range(table.pinned))
    parts: list[list[int]] = []
    current: list[int] = []
    for i in range(table.pinned, len(widths)):
        if current and table_width([widths[j] for j in pinned + current + [i]]) > width:
            parts.append(current)
            current = []
        current.append(i)
    parts.append(current)
    return [table.select(pinned + part) for part in parts]


def _print_rich(table: Table, width: int | None = None) -> None:
    from rich.table import Table as RichTable
    from rich.text import Text

    widths = table.widths()
    out = RichTable(
        title=Text(cell(table.title)) if table.title else None,
        title_justify="left",
        header_style="bold",
    )
    for i, header in enumerate(table.headers):
        if i in table.numeric:
            out.add_column(Text(cell(header)), justify="right", no_wrap=True, min_width=widths[i])
        else:
            out.add_column(Text(cell(header)), overflow="fold")
    for row in table.rows:
        cells = [Text(cell(c)) for c in row]
        if table.status_col is not None:
            word = row[table.status_col]
            cells[table.status_col] = Text(cell(fmt.status(word)), style=STATUS_STYLE.get(word, ""))
        out.add_row(*cells)
    if width is None and table_width(widths) > terminal_width():
        # Nothing left to split: let long text fold, keep numbers whole.
        width = max(terminal_width(), table_width([widths[i] for i in table.numeric]) + 20)
    console(width=width).print(out)


def _md(text: object) -> str:
    return cell(text).replace("|", "\\|")


# -- messages ---------------------------------------------------------------------

EMPTY_STORE_HINT = """\
No runs in {where} yet. Log one from a training script:
    import trackui
    run = trackui.init(project="demo", config={{"lr": 0.01}}); run.log({{"loss": 0.5}})
or try `trackui demo` for a store of example runs."""


def empty_store_hint(where: str) -> str:
    return EMPTY_STORE_HINT.format(where=line(where))
