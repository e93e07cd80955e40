"""The Run screen's tabs as they are switched (``TabSwitching``, a mixin of
``RunScreen``): a tab's pane is built the first time it is shown, held out
of any frame until it is filled, then shown alone, its widget focused. A
digit (``action_show_tab``) or a click on the tab bar switches.
"""

from __future__ import annotations

from typing import Any

from textual.containers import Vertical

from .footer import Footer
from .run_tabs import TAB_FOCUS, TABS, tab_body
from .tab_bar import TabBar


def pane(tab: str, run_id: str) -> Vertical:
    """A tab's pane (id: the tab's), holding its widgets."""
    return Vertical(*tab_body(tab, run_id), id=tab, classes="tab-pane")


class TabSwitching:
    """Building, switching and focusing the Run screen's tabs. The screen
    keeps ``built`` (tabs whose widgets exist), ``_mounting`` (those still
    mounting), ``_batches`` and ``run_id``, and fills a tab (``_fill_tab``)."""

    built: set[str]
    _mounting: dict[str, Any]
    _batches: int
    run_id: str
    detail: Any
    grid_shown: bool

    def build_tab(self, tab: str) -> None:
        """Mount the widgets of ``tab`` if they are not there yet; they are
        filled from the run as loaded once mounted (``_tab_built``), and shown
        by ``action_show_tab``."""
        if tab in self.built or tab not in TABS:
            return
        self.built.add(tab)
        built = pane(tab, self.run_id)
        # No frame from here until the tab is filled (``_tab_built``): its
        # first layout shows it filled, not empty and then filled.
        self.app._begin_batch()
        self._batches += 1
        self._mounting[tab] = self.mount(built, before=self.query_one(Footer))
        # Callbacks run in order: what is queued after this one finds the tab mounted.
        self.call_later(self._tab_built, tab)

    async def _tab_built(self, tab: str) -> None:
        try:
            mounted = self._mounting.get(tab)
            if mounted is not None:
                await mounted
                del self._mounting[tab]
            if self.detail is not None:
                self._fill_tab(tab, self.detail)
        finally:
            self._end_batches(1)

    def _end_batches(self, count: int) -> None:
        count = min(count, self._batches)
        self._batches -= count
        for _ in range(count):
            self.app._end_batch()

    def on_unmount(self) -> None:
        self._end_batches(self._batches)  # a tab still mounting when the screen went

    def ready(self, tab: str) -> bool:
        """Whether the widgets of ``tab`` are built and mounted."""
        return tab in self.built and tab not in self._mounting

    def on_tab_bar_chosen(self, event: TabBar.Chosen) -> None:
        self.action_show_tab(event.tab)

    async def _tab_changed(self) -> None:
        tab = self.active_tab
        mounted = self._mounting.get(tab)
        if mounted is not None:
            await mounted
        self.refresh_bindings()
        self._focus_tab()

    def _focus_tab(self) -> None:
        tab = self.active_tab
        pane = self.query_one(f"#{tab}")
        focused = self.focused
        if focused is not None and pane in focused.ancestors:
            return  # already there (``/`` focused the params filter)
        selector = TAB_FOCUS.get(tab)
        if tab == "metrics" and self.grid_shown:
            selector = "#metric-grid"
        if selector is not None:
            self.query_one(selector).focus()

    @property
    def active_tab(self) -> str:
        return self.query_one("#run-tabs", TabBar).active

    def action_show_tab(self, tab: str) -> None:
        if tab not in TABS:
            return
        bar = self.query_one("#run-tabs", TabBar)
        if bar.active == tab:
            return
        bar.active = tab
        self.build_tab(tab)
        for pane in self.query(".tab-pane"):
            pane.display = pane.id == tab
        self.call_later(self._tab_changed)  # after the tab is mounted and filled
