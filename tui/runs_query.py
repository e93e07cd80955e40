"""What the run list asks the store for: the query (filter, sort, grouping,
columns), one page of the answer, how a page is fetched (grouped, the
projects' lists one after another), and the messages its workers post."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

from trackui.store.filters import FilterError
from trackui.store.models import RunSummary

if TYPE_CHECKING:
    from trackui.store.queries import Store

#: rows from the end of what is loaded at which the next page is fetched
PAGE_MARGIN = 20


def page_margin(page_size: int) -> int:
    return max(1, min(PAGE_MARGIN, page_size // 5))


@dataclass(frozen=True)
class RunsQuery:
    """What the run list asks the store for: filter, sort, grouping, columns."""

    where: str = ""
    sort: str | None = None  # a column spec; None: newest first
    descending: bool = True
    grouped: bool = False
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunsPage:
    """One page of the run list, as the store answered it."""

    runs: tuple[RunSummary, ...]
    total: int
    offset: int
    #: (project, runs matching) in display order, when grouped
    groups: tuple[tuple[str, int], ...] = ()
    #: the state of each source the store reads (``Store.sources()``): which
    #: boxes are open, and which of them do not answer
    sources: tuple[Any, ...] = ()


def fetch_runs(store: Store, query: RunsQuery, offset: int, limit: int) -> RunsPage:
    """One page of the run list. Grouped, the list is the projects' lists one
    after another, and the page is cut from that concatenation."""
    where = query.where or None
    sources = tuple(store.sources())
    order: dict[str, Any] = {"sort": query.sort or "created"}
    if query.sort:
        order["descending"] = query.descending
    if not query.grouped:
        runs, total = store.page_runs(
            where=where, limit=limit, offset=offset, columns=query.columns, **order
        )
        return RunsPage(tuple(runs), total, offset, sources=sources)
    groups = [(p, store.count_runs(project=p, where=where)) for p in store.projects()]
    groups = [(p, n) for p, n in groups if n]
    runs: list[RunSummary] = []
    start = 0
    for project, count in groups:
        lo, hi = max(start, offset), min(start + count, offset + limit)
        if lo < hi:
            runs += store.list_runs(
                project=project,
                where=where,
                limit=hi - lo,
                offset=lo - start,
                columns=query.columns,
                **order,
            )
        start += count
    return RunsPage(tuple(runs), start, offset, tuple(groups), sources)


class RunsLoaded(Message):
    """A page of runs for ``query``: ``reason`` is "replace", "more" or "live"."""

    def __init__(self, query: RunsQuery, serial: int, page: RunsPage, reason: str) -> None:
        super().__init__()
        self.query = query
        self.serial = serial
        self.page = page
        self.reason = reason


class FilterRejected(Message):
    def __init__(self, query: RunsQuery, serial: int, error: FilterError) -> None:
        super().__init__()
        self.query = query
        self.serial = serial
        self.error = error


class PrimaryColumnsChosen(Message):
    """(column spec, short header) of each project's primary metric at its best."""

    def __init__(self, labels: tuple[tuple[str, str], ...]) -> None:
        super().__init__()
        self.labels = labels


class ColumnChoicesLoaded(Message):
    def __init__(self, choices: list[str]) -> None:
        super().__init__()
        self.choices = choices
