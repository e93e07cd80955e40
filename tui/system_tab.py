"""The Run screen's System tab: small charts of the sampled system series
(``system.jsonl``, or a W&B / MLflow run's recorded ones), W&B LEET's system
panel in the terminal.

One chart per quantity, one line per GPU: GPU utilisation, memory, temperature
and power, then host CPU, process CPU, process RSS and host memory, then any
other series a tool recorded (under its own name). Units are in the titles;
bytes are drawn in GB (1024³, as ``fmt.size`` counts). The x-axis is the time
since the run started. A page at a time, as the Metrics grid (``[``/``]``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from trackui.store import fmt
from trackui.store.models import MetricSummary, Series
from trackui.store.system_lines import PREFIX, is_system

from .chart import MetricChart
from .metric_grid import MetricGrid
from .palette import style_for

GB = 1024**3
X_AXIS = "relative"
#: one line, fit for 80 columns, when the run has no system series
NO_READINGS = "no system readings: sample with trackui.init(system_interval=10) (0: off)"

_GPU = re.compile(r"^system/gpu(\d+)\.(util|mem_used|temp|power)$")
#: per-GPU quantity -> (title, unit scale)
_GPU_PANELS = {
    "util": ("GPU util %", 1.0),
    "mem_used": ("GPU memory GB", GB),
    "temp": ("GPU temp °C", 1.0),
    "power": ("GPU power W", 1.0),
}
_HOST_PANELS = {
    "system/host.cpu": ("host CPU %", 1.0),
    "system/proc.cpu": ("process CPU % of a core", 1.0),
    "system/proc.rss": ("process RSS GB", GB),
    "system/host.mem_used": ("host memory GB", GB),
}


@dataclass(frozen=True)
class Panel:
    """One small chart: its title and its lines, (label, series key) each."""

    title: str
    lines: tuple[tuple[str, str], ...]
    scale: float = 1.0


def panels(summaries: Sequence[MetricSummary]) -> list[Panel]:
    """The charts for a run's system series, in the order shown."""
    keys = sorted(m.key for m in summaries if is_system(m.key))
    gpu_lines: dict[str, list[tuple[int, str]]] = {q: [] for q in _GPU_PANELS}
    rest = []
    for key in keys:
        match = _GPU.match(key)
        if match:
            gpu_lines[match.group(2)].append((int(match.group(1)), key))
        elif key not in _HOST_PANELS and not re.match(r"^system/gpu\d+\.mem_total$", key):
            rest.append(key)
    out = []
    totals = {m.key: m.max for m in summaries if m.key.endswith(".mem_total")}
    for quantity, (title, scale) in _GPU_PANELS.items():
        lines = sorted(gpu_lines[quantity])
        if not lines:
            continue
        if quantity == "mem_used":
            total = max(
                (v for i, _ in lines if (v := totals.get(f"system/gpu{i}.mem_total")) is not None),
                default=None,
            )
            if total is not None:
                title += f" (of {fmt.size(int(total))})"
        if len(lines) > 1:  # which line is which GPU: its marker in the title
            title += " · " + " ".join(
                f"gpu{i}{style_for(n).glyph}" for n, (i, _) in enumerate(lines)
            )
        out.append(Panel(title, tuple((f"gpu{i}", key) for i, key in lines), scale))
    for key, (title, scale) in _HOST_PANELS.items():
        if key in keys:
            out.append(Panel(title, ((key[len(PREFIX) :].split(".")[0], key),), scale))
    for key in rest:
        out.append(Panel(key[len(PREFIX) :], ((key[len(PREFIX) :], key),)))
    return out


def scaled(series: Series, scale: float) -> Series:
    if scale == 1.0:
        return series
    return replace(series, y=tuple(v / scale for v in series.y))


class SystemLoaded(Message):
    def __init__(self, series: dict[str, Series], generation: int) -> None:
        super().__init__()
        self.series = series
        self.generation = generation


class SystemGrid(MetricGrid):
    """The System tab's page of small charts (the Metrics grid's layout)."""


class SystemTab(Vertical):
    """The note and the grid of system charts of one run."""

    DEFAULT_CSS = """
    SystemTab { height: 1fr; }
    SystemTab #system-note { height: 1; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, run_id: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.run_id = run_id
        self.panels: dict[str, Panel] = {}
        self._summaries: tuple[MetricSummary, ...] = ()
        self._generation = 0

    def compose(self) -> ComposeResult:
        yield Static(Content(""), id="system-note")
        yield SystemGrid(id="system-grid")

    @property
    def grid(self) -> SystemGrid:
        return self.query_one(SystemGrid)

    def set_summaries(self, summaries: Sequence[MetricSummary]) -> None:
        """The run's summaries (re)loaded: lay out the charts, reload what moved."""
        mine = tuple(m for m in summaries if is_system(m.key))
        if mine == self._summaries and self.panels:
            return
        self._summaries = mine
        self.panels = {p.title: p for p in panels(mine)}
        self.grid.set_keys(list(self.panels))  # posts DataWanted when charts are shown
        self._note()

    def step_page(self, step: int) -> None:
        self.grid.step_page(step)
        self._note()

    def _note(self) -> None:
        grid = self.grid
        if not grid.keys:
            text = NO_READINGS
        else:
            start = grid.page * grid.capacity
            end = start + len(grid.shown_keys)
            text = f"system {start + 1}–{end} of {len(grid.keys)} charts"
            if grid.pages > 1:
                text += f" · page {grid.page + 1}/{grid.pages} · [ ] pages"
        self.query_one("#system-note", Static).update(Content(text))

    @on(MetricGrid.DataWanted)
    def _grid_wants_data(self, event: MetricGrid.DataWanted) -> None:
        event.stop()  # not the Metrics tab's grid
        self._load()

    @on(MetricChart.DataWanted)
    def _chart_wants_data(self, event: MetricChart.DataWanted) -> None:
        event.stop()
        self._load()

    def _load(self) -> None:
        shown = [self.panels[t] for t in self.grid.shown_keys if t in self.panels]
        self._note()
        if not shown:
            return
        keys = [key for p in shown for _, key in p.lines]
        self._generation += 1
        self.load(self._generation, keys, self.grid.charts[0].buckets)

    @work(thread=True, exclusive=True, group="run-system", exit_on_error=False)
    def load(self, generation: int, keys: list[str], buckets: int) -> None:
        store = self.app.store  # type: ignore[attr-defined]
        series = {k: store.series(self.run_id, k, buckets=buckets, x_axis=X_AXIS) for k in keys}
        if not get_current_worker().is_cancelled:
            self.post_message(SystemLoaded(series, generation))

    def on_system_loaded(self, message: SystemLoaded) -> None:
        message.stop()
        if message.generation != self._generation:
            return
        grid = self.grid
        for chart, title in zip(grid.charts, grid.shown_keys):
            panel = self.panels.get(title)
            if panel is None or any(key not in message.series for _, key in panel.lines):
                continue
            chart.set_reactive(MetricChart.x_axis, X_AXIS)
            chart.set_series(
                title,
                [
                    (f"{self.run_id}:{key}", label, scaled(message.series[key], panel.scale))
                    for label, key in panel.lines
                ],
            )
