"""How the Compare screen loads: one store call per thread worker, one
message per call, each tagged with a token so an answer to an older request
is dropped. Mixed into ``CompareScreen`` (its handlers turn the messages into
widgets); the screen provides ``store``, ``run_ids``, ``runs``, ``metric``,
``chart`` and ``show_all_params``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import work
from textual.message import Message
from textual.worker import get_current_worker

from trackui.store.compare_series import series_of_runs
from trackui.store.models import MetricComparison, ParamDiff, Series

if TYPE_CHECKING:
    from trackui.store.queries import Store


class CompareLoading:
    """The loads of the Compare screen and the messages they post."""

    class MetricsCompared(Message):
        def __init__(self, token: int, comparison: MetricComparison) -> None:
            super().__init__()
            self.token = token
            self.comparison = comparison

    class ParamsDiffed(Message):
        def __init__(self, token: int, diff: ParamDiff) -> None:
            super().__init__()
            self.token = token
            self.diff = diff

    class SeriesLoaded(Message):
        def __init__(self, token: int, key: str, series: list[tuple[str, str, Series]]) -> None:
            super().__init__()
            self.token = token
            self.key = key
            self.series = series

    _tokens: dict[str, int]
    run_ids: list[str]
    runs: Any
    metric: str | None
    show_all_params: bool

    @property
    def store(self) -> Store:
        raise NotImplementedError

    @property
    def chart(self) -> Any:
        raise NotImplementedError

    # -- loading: one store call per worker, one message per call ------------

    def _next_token(self, kind: str) -> int:
        self._tokens[kind] += 1
        return self._tokens[kind]

    def reload_metrics(self) -> None:
        self.load_metrics(self.store, self._next_token("metrics"), list(self.run_ids))

    def reload_params(self) -> None:
        self.load_params(
            self.store, self._next_token("params"), list(self.run_ids), not self.show_all_params
        )

    def reload_series(self) -> None:
        if self.metric is None or not self.runs:
            return
        runs = [(r.id, r.name) for r in self.runs]
        chart = self.chart
        self.load_series(
            self.store, self._next_token("series"), self.metric, runs, chart.x_axis, chart.buckets
        )

    @work(thread=True, exclusive=True, group="compare-metrics", exit_on_error=False)
    def load_metrics(self, store: Store, token: int, run_ids: list[str]) -> None:
        comparison = store.compare_metrics(run_ids)
        if not get_current_worker().is_cancelled:
            self.post_message(self.MetricsCompared(token, comparison))

    @work(thread=True, exclusive=True, group="compare-params", exit_on_error=False)
    def load_params(self, store: Store, token: int, run_ids: list[str], only_changed: bool) -> None:
        diff = store.diff_params(run_ids, only_changed=only_changed)
        if not get_current_worker().is_cancelled:
            self.post_message(self.ParamsDiffed(token, diff))

    @work(thread=True, exclusive=True, group="compare-series", exit_on_error=False)
    def load_series(
        self,
        store: Store,
        token: int,
        key: str,
        runs: list[tuple[str, str]],
        x_axis: str,
        buckets: int,
    ) -> None:
        # One query for all runs, downsampled in SQL (a metric as the x-axis
        # goes run by run); one message, so the chart draws all runs at once.
        worker = get_current_worker()
        data = series_of_runs(store, [r for r, _ in runs], key, buckets=buckets, x_axis=x_axis)
        series = [(run_id, name, s) for (run_id, name), s in zip(runs, data)]
        if not worker.is_cancelled:
            self.post_message(self.SeriesLoaded(token, key, series))
