"""Number fidelity on the Compare screen: every numeric cell of the summary
and of the params diff, values from 1e-300 to 1e300, negatives, deltas
against the baseline: parsing the text shown gives the stored value to the
precision shown, and no cell is cut (a column is never narrower than its
widest cell, so ``5.000e-0`` or ``-5.3`` can never appear for 5e-05 or
-5.3e-05)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.cells import cell_len

from trackui.store.queries import Store
from trackui.tui.compare_screen import CompareScreen
from trackui.tui.metric_table import RunColumnsTable

from ..conftest import FIXED_NOW
from .compare_runs import write_run
from .helpers import build, settle

pytestmark = pytest.mark.anyio

NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?|[+-]?inf|nan")
#: per run, the value of each metric and param: tiny, huge, negative, awkward
VALUES = [
    [1e-300, -1e-300, 1.2345678e300, -9.87654321e-7, 5e-05, 0.5166, 123456789.123, -0.0034],
    [3e-300, 2.5e-299, -1.2345678e300, -9.8765e-7, 5.3e-05, 0.51664, 123456789.5, 0.0034],
    [1e300, -7.77e-200, 1.2345679e300, 1e-7, 4.7e-05, 0.5, -1e9, 1 / 3],
]


def significant(text: str) -> int:
    mantissa = text.split("e", 1)[0].lstrip("+-")
    digits = mantissa.replace(".", "").lstrip("0")
    if "." not in mantissa:
        digits = digits.rstrip("0") or digits
    return max(1, len(digits))


def true_to_shown_precision(text: str, stored: float) -> bool:
    """Whether ``text`` is ``stored`` rounded to the digits ``text`` shows."""
    shown = float(text)
    digits = significant(text)
    return float(f"{stored:.{digits - 1}e}") == shown or shown == stored


def numeric_cells(table: RunColumnsTable) -> list[tuple[str, str, str]]:
    """(row key, run id, cell text) for every cell of a run."""
    out = []
    for row in table.ordered_rows:
        for column in table.ordered_columns:
            run_id = row.key.value if table.runs_as_rows else column.key.value
            item = column.key.value if table.runs_as_rows else row.key.value
            if run_id in table.run_ids and item != "\0run":
                cell = table.get_cell(row.key, column.key)
                assert cell_len(cell.plain) <= column.width, (cell.plain, column.width)
                out.append((str(item), str(run_id), cell.plain))
    return out


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_every_number_in_summary_and_params_is_true(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    root = tmp_path / "numbers"
    ids = []
    for r, values in enumerate(VALUES):
        config = {f"p{j}": v for j, v in enumerate(values)}
        rows = [{f"m{j}": v for j, v in enumerate(values)}]
        run_id = f"20261127-10000{r}000-n{r:05d}"
        ids.append(write_run(root, "num", run_id, f"run-{r}", config, rows, 1795700000.0 + r))
    with Store(root, clock=lambda: FIXED_NOW) as store:
        app = build(store)
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            screen = CompareScreen(ids)
            await app.push_screen(screen)
            await settle(pilot)
            base = ids.index(screen.baseline)
            checked = 0
            for table in (screen.summary_table, screen.params_table):
                for item, run_id, text in numeric_cells(table):
                    j = int(item.split("\0")[0][1:])
                    stored = VALUES[ids.index(run_id)][j]
                    tokens = text.removeprefix("★ ").split()
                    assert NUMBER.fullmatch(tokens[0]), text
                    assert true_to_shown_precision(tokens[0], stored), (text, stored)
                    checked += 1
                    if len(tokens) > 1:  # the delta against the baseline
                        delta = stored - VALUES[base][j]
                        assert run_id != ids[base]
                        if tokens[1] == "±0":
                            assert delta == 0
                        else:
                            assert NUMBER.fullmatch(tokens[1]), text
                            assert tokens[1][0] in "+-"
                            assert true_to_shown_precision(tokens[1], delta), (text, delta)
                        checked += 1
                    else:
                        assert table is screen.params_table or run_id == ids[base], text
            # 8 metrics × 2 rows × 3 runs (+ 2 deltas each) and 8 params × 3 runs
            assert checked == 8 * 2 * (3 + 2) + 8 * 3


def test_the_summary_reads_the_primary_metric_first_counters_last() -> None:
    from trackui.store.models import MetricComparison, MetricComparisonRow
    from trackui.tui.metric_table import _results_first

    def row(key: str) -> MetricComparisonRow:
        return MetricComparisonRow(key=key, direction="max", last=(1.0,), best=(1.0,), best_run=0)

    keys = ["epoch", "lr/pg0", "metrics/mAP50(B)", "metrics/mAP50-95(B)", "time", "train/box_loss"]
    ordered = _results_first(MetricComparison(runs=(), rows=tuple(row(k) for k in keys)))
    assert [r.key for r in ordered.rows] == [
        "metrics/mAP50-95(B)",
        "metrics/mAP50(B)",
        "train/box_loss",
        "epoch",
        "lr/pg0",
        "time",
    ]
