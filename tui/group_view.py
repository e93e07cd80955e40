"""Group mode of the Compare screen: seed groups instead of single runs.

``A`` (for *aggregate*; ``g``/``G`` are taken by the run list and vi) turns
it on and off. The runs are grouped by ``store.groups`` (their ``group``
field, else their config without seeds, names and output paths); the chart
then draws each group's mean per step with its min–max band in the group's
colour and marker, the legend lists the groups with their n, and the summary
shows per metric and group the mean ± std of the runs' last and best values
with n. Groups are aggregated by step, whatever the x-axis (a mean over
wall-clock time across runs would mix different points of training). A mean
is smoothed like any run's line when the chart's smoothing is on; the band
is drawn as logged.

``K`` picks the params to group by instead (``--group-by`` of the CLI).

The screen mixes in ``GroupMode`` (before its loading mixin) and offers
``group_bindings``; ``GroupMode.reload_series`` hands the screen's series
loads over to ``reload_groups`` while ``grouped`` is on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.coordinate import Coordinate
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, SelectionList, Static
from textual.worker import get_current_worker

from trackui.store import groups as store_groups
from trackui.store.models import Series

from .chart import Band, MetricChart
from .names import cells, fit
from .palette import RunStyle, depth_of, style_for
from .picker import key_label
from .safe import clean, literal

if TYPE_CHECKING:
    from trackui.store.queries import Store

GROUP_KEY = "A"
PICK_KEY = "K"
#: a group's id where the chart and the legend want a run id
GROUP_ID = "group:{}"
#: cells a group's label gets in a table header and in the legend
LABEL_WIDTH = 28
ARROWS = {"min": "↓", "max": "↑"}
BEST_MARK = "★ "


def group_bindings(screen: str = "compare") -> list[Binding]:
    """``A``: automatic groups on/off; ``K``: group by params the user picks."""
    return [
        # Not in the footer: it is full at 120 columns already (`?` lists it).
        Binding(GROUP_KEY, "toggle_groups", "Seed groups", show=False, id=f"{screen}.groups"),
        Binding(PICK_KEY, "pick_group_keys", "Group by…", show=False, id=f"{screen}.group-by"),
    ]


class GroupKeysPicker(ModalScreen["tuple[str, ...] | None"]):
    """The params to group by, among those whose values differ: space picks,
    enter applies (nothing picked: automatic groups), esc cancels. Dismissed
    with the keys picked (``()`` for automatic), or None when cancelled."""

    DEFAULT_CSS = """
    GroupKeysPicker {
        align: center middle;
    }
    GroupKeysPicker > SelectionList {
        width: 60;
        max-width: 90%;
        height: auto;
        max-height: 80%;
        border: round $accent;
        background: $surface;
    }
    """

    BINDINGS: ClassVar = [
        Binding("escape", "cancel", "Cancel", id="compare.group-by.cancel"),
    ]

    class _Keys(SelectionList[str]):
        BINDINGS: ClassVar = [Binding("enter", "apply", "Apply", id="compare.group-by.apply")]

        def action_apply(self) -> None:
            self.screen.dismiss(tuple(self.selected))  # type: ignore[arg-type]

    def __init__(self, keys: Sequence[str], chosen: Sequence[str] = ()) -> None:
        super().__init__()
        self.keys = list(keys)
        self.chosen = list(chosen)

    def compose(self):  # type: ignore[no-untyped-def]
        options = [(key_label(k), k, k in self.chosen) for k in self.keys]
        keys = self._Keys(*options, id="group-keys")
        keys.border_title = "Group by (space: pick, enter: apply, esc: cancel)"
        yield keys

    def action_cancel(self) -> None:
        self.dismiss(None)


class GroupKeysLoaded(Message):
    def __init__(self, keys: list[str]) -> None:
        super().__init__()
        self.keys = keys


class GroupsLoaded(Message):
    """Groups, their summary and the current metric per group, in one answer."""

    def __init__(self, token: int, key: str | None, view: store_groups.GroupedComparison) -> None:
        super().__init__()
        self.token = token
        self.key = key
        self.view = view


def group_series_for_chart(
    series: Sequence[store_groups.GroupSeries],
) -> tuple[list[tuple[str, str, Series]], dict[str, Band]]:
    """What ``MetricChart.set_series`` takes: each group's mean as a series,
    and its min–max as the band under it."""
    lines = []
    bands = {}
    for i, gs in enumerate(series):
        group_id = GROUP_ID.format(i)
        x = gs.x
        mean = Series(group_id, gs.key, "step", x, gs.mean, gs.steps, gs.total, gs.downsampled)
        lines.append((group_id, f"{gs.label} (n={gs.runs})", mean))
        bands[group_id] = Band(x, gs.min, gs.max)
    return lines, bands


def group_tag(style: RunStyle) -> str:
    """``G1⣿``: the group's number and marker (runs are ``1⣿`` in the params)."""
    return f"G{style.tag}"


def group_label(group: store_groups.RunGroup, style: RunStyle, width: int = LABEL_WIDTH) -> Text:
    """``G1⣿ lr=0.01 n=3`` in the group's colour."""
    text = Text(f"{group_tag(style)} ", style=f"bold {style.colour}")
    text.append_text(literal(fit(clean(group.label), width), style=f"bold {style.colour}"))
    text.append(f" n={group.n}", style=style.colour)
    return text


class GroupLegend(VerticalScroll, can_focus=False):
    """The groups of the chart, one per line, with their n."""

    DEFAULT_CSS = """
    GroupLegend {
        height: 1fr;
        width: 28;
        border: round $primary-darken-2;
        border-title-color: $text-muted;
        scrollbar-size-vertical: 1;
    }
    GroupLegend > Static {
        width: auto;
    }
    """

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(id="group-legend-lines")

    def show(
        self,
        groups: Sequence[store_groups.RunGroup],
        styles: Sequence[RunStyle],
        series: Sequence[store_groups.GroupSeries] = (),
        max_width: int = 40,
    ) -> Text:
        """One line per group; where the current metric's n varies by step
        (runs logged different steps) the range follows, e.g. ``1–3/step``."""
        label_width = min(LABEL_WIDTH, max((cells(clean(g.label)) for g in groups), default=4))
        text = Text(no_wrap=True, overflow="crop")
        for i, (group, style) in enumerate(zip(groups, styles)):
            if i:
                text.append("\n")
            text.append_text(group_label(group, style, label_width))
            gs = series[i] if i < len(series) else None
            if gs is not None and gs.n and min(gs.n) != max(gs.n):
                text.append(f" {min(gs.n)}–{max(gs.n)}/step", style="dim")
        text.append("\nline mean, band min–max", style="dim")
        self.query_one("#group-legend-lines", Static).update(text)
        widest = max(cells(line) for line in text.plain.split("\n"))
        self.styles.width = min(max_width, max(16, widest + 3))
        self.border_title = f"{len(groups)} group{'s' if len(groups) != 1 else ''}"
        return text


class GroupTable(DataTable[Text]):
    """Per metric two rows (last, best), one column per group: mean ± std,
    with ``n=`` where fewer of the group's runs logged the metric."""

    BINDINGS: ClassVar = []

    class MetricChosen(Message):
        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="cell", zebra_stripes=True, fixed_columns=2)
        self.comparison: store_groups.GroupComparison | None = None
        self.row_keys: list[str] = []

    def show(self, comparison: store_groups.GroupComparison, styles: Sequence[RunStyle]) -> None:
        self.comparison = comparison
        groups = comparison.grouping.groups
        coordinate = self.cursor_coordinate
        self.clear(columns=True)
        self.add_column(Text("metric"), key="\0metric")
        self.add_column(Text(""), key="\0stat")
        for i, (group, style) in enumerate(zip(groups, styles)):
            self.add_column(group_label(group, style), key=GROUP_ID.format(i))
        self.row_keys = []
        for row in comparison.rows:
            arrow = ARROWS.get(row.direction or "", "")
            self.add_row(
                literal(row.key),
                Text("last"),
                *[self._cell(s, g.n) for s, g in zip(row.last, groups)],
                key=f"{row.key}\0last",
            )
            self.row_keys.append(row.key)
            if row.best is not None:
                self.add_row(
                    Text(""),
                    Text(f"best {arrow}"),
                    *[
                        self._cell(s, g.n, star=i == row.best_group)
                        for i, (s, g) in enumerate(zip(row.best, groups))
                    ],
                    key=f"{row.key}\0best",
                )
                self.row_keys.append(row.key)
        if self.row_count:
            self.cursor_coordinate = Coordinate(
                min(coordinate.row, self.row_count - 1),
                min(coordinate.column, len(self.columns) - 1),
            )

    @staticmethod
    def _cell(stat: store_groups.Stat | None, group_n: int, *, star: bool = False) -> Text:
        if stat is None:
            return Text("—", style="dim")
        text = Text(BEST_MARK if star else "", style="bold")
        text.append(stat.text(), style="bold" if star else "")
        if stat.n != group_n:
            text.append(f" n={stat.n}", style="dim")
        return text

    def metric_at_cursor(self) -> str | None:
        row = self.cursor_row
        return self.row_keys[row] if 0 <= row < len(self.row_keys) else None

    def on_data_table_cell_selected(self, event: DataTable.CellSelected) -> None:
        event.stop()
        key = self.metric_at_cursor()
        if key is not None:
            self.post_message(self.MetricChosen(key))


class GroupMode:
    """Group mode for the Compare screen (module doc). The screen provides
    ``store``, ``run_ids``, ``metric``, ``chart`` and the panes by id."""

    #: on: the chart and the summary show groups
    grouped: bool = False
    #: param keys to group on (None: automatic grouping)
    group_by: tuple[str, ...] | None = None
    #: the last groups shown
    group_view: store_groups.GroupedComparison | None = None
    _group_token: int = 0
    _told_step: bool = False

    # The screen's parts this mode uses.
    chart: MetricChart
    metric: str | None
    run_ids: list[str]

    @property
    def group_table(self) -> GroupTable:
        return self.query_one("#compare-group-summary", GroupTable)  # type: ignore[attr-defined,no-any-return]

    def action_toggle_groups(self) -> None:
        """Group the runs (seed groups) or show them one by one again."""
        self.grouped = not self.grouped
        self._told_step = False
        screen: Any = self
        self._mount_group_widgets()
        for selector, on_in_groups in (
            ("#compare-legend", False),
            ("#compare-group-legend", True),
            ("#compare-summary", False),
            ("#compare-group-summary", True),
        ):
            try:
                screen.query_one(selector).display = on_in_groups == self.grouped
            except NoMatches:
                pass
        if self.grouped:
            # A run series still loading must not land on the group chart.
            next_token = getattr(screen, "_next_token", None)
            if callable(next_token):
                next_token("series")
            self.group_table.focus()
            self.reload_groups()
        else:
            self.group_view = None
            try:
                screen.query_one("#compare-summary").focus()
            except NoMatches:
                pass
            self._set_summary_title(None)
            screen.reload_metrics()  # the summary title and the run series come back

    def action_pick_group_keys(self) -> None:
        """Pick the params to group by (from those whose values differ)."""
        screen: Any = self
        self.load_group_keys(screen.store, list(self.run_ids))

    @work(thread=True, exclusive=True, group="compare-group-keys", exit_on_error=False)
    def load_group_keys(self, store: Store, run_ids: list[str]) -> None:
        keys = store_groups.differing_keys(store, run_ids)
        if not get_current_worker().is_cancelled:
            self.post_message(GroupKeysLoaded(keys))  # type: ignore[attr-defined]

    def on_group_keys_loaded(self, message: GroupKeysLoaded) -> None:
        screen: Any = self

        def chosen(keys: tuple[str, ...] | None) -> None:
            if keys is None:  # cancelled
                return
            self.group_by = keys or None  # nothing picked: automatic groups
            if self.grouped:
                self.reload_groups()
            else:
                self.action_toggle_groups()

        if not message.keys:
            screen.notify("no param differs between these runs")
            return
        screen.app.push_screen(GroupKeysPicker(message.keys, self.group_by or ()), chosen)

    def _mount_group_widgets(self) -> None:
        screen: Any = self
        if screen.query("#compare-group-summary"):
            return
        legend = screen.query_one("#compare-legend")
        legend.parent.mount(GroupLegend(id="compare-group-legend"), after=legend)
        summary = screen.query_one("#compare-summary")
        summary.parent.mount(GroupTable(id="compare-group-summary"), after=summary)

    def reload_series(self) -> None:
        """The screen's series load, or the groups' while ``grouped``."""
        if self.grouped:
            self.reload_groups()
            return
        super().reload_series()  # type: ignore[misc]

    def reload_groups(self) -> None:
        """Group, summarise and load the current metric per group."""
        screen: Any = self
        self._group_token += 1
        self.load_groups(
            screen.store,
            self._group_token,
            list(self.run_ids),
            self.metric,
            self.group_by,
            self.chart.buckets,
        )

    @work(thread=True, exclusive=True, group="compare-groups", exit_on_error=False)
    def load_groups(
        self,
        store: Store,
        token: int,
        run_ids: list[str],
        key: str | None,
        by: tuple[str, ...] | None,
        buckets: int,
    ) -> None:
        view = store_groups.compare_in_groups(store, run_ids, key, by=by, buckets=buckets)
        if not get_current_worker().is_cancelled:
            self.post_message(GroupsLoaded(token, key, view))  # type: ignore[attr-defined]

    def on_groups_loaded(self, message: GroupsLoaded) -> None:
        if message.token != self._group_token or not self.grouped:
            return
        view = message.view
        self.group_view = view
        groups = view.comparison.grouping.groups
        styles = self.group_styles(len(groups))
        screen: Any = self
        screen.query_one("#compare-group-legend", GroupLegend).show(
            groups, styles, view.series, max(16, screen.size.width // 3)
        )
        self.group_table.show(view.comparison, styles)
        self._set_summary_title(view)
        if message.key is None or message.key != self.metric:
            return
        lines, bands = group_series_for_chart(view.series)
        self.chart.set_series(message.key, lines, styles, bands=bands)
        if self.chart.x_axis != "step" and not self._told_step:
            self._told_step = True
            screen.notify("groups are drawn against step (means over time would mix runs)")

    def on_group_table_metric_chosen(self, message: GroupTable.MetricChosen) -> None:
        screen: Any = self
        if message.key in getattr(screen, "metric_keys", [message.key]):
            screen.metric = message.key

    def group_styles(self, count: int) -> list[RunStyle]:
        screen: Any = self
        depth = depth_of(screen.app.console.color_system, no_color=screen.app.no_color)
        return [style_for(i, depth) for i in range(count)]

    def _set_summary_title(self, view: store_groups.GroupedComparison | None) -> None:
        screen: Any = self
        try:
            title = screen.query_one("#compare-summary-title", Label)
        except NoMatches:
            return
        if view is None:
            return
        grouping = view.comparison.grouping
        n = len(grouping.groups)
        how = "by " + ", ".join(grouping.keys) if grouping.mode == "keys" else "seeds ignored"
        runs = sum(g.n for g in grouping.groups)
        title.update(
            f"{n} group{'s' if n != 1 else ''} of {runs} runs ({how}) · mean ± std"
            f" · {PICK_KEY} keys · {GROUP_KEY} runs"
        )
