"""Messages shared by the screens (past tense: what happened)."""

from __future__ import annotations

from textual.message import Message

from trackui.store.catalog_schema import RefreshStats


class StoreRefreshed(Message):
    """The app refreshed the catalog; ``stats.runs_changed`` says whether anything moved."""

    def __init__(self, stats: RefreshStats) -> None:
        super().__init__()
        self.stats = stats
