"""The trackui app, kept thin: wiring, global keys, the live refresh timer,
the command palette, and the one place worker errors become notifications.

Screens start their store calls in thread workers; a worker's state messages
go only to the screen that started it, so each screen forwards them with
``self.app.report_worker_error(event.worker)`` from ``on_worker_state_changed``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from textual import events, work
from textual.app import App, ScreenStackError
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerFailed, WorkerState, get_current_worker

from trackui.store.catalog_schema import RefreshStats

from .config import TuiConfig
from .messages import StoreRefreshed
from .read_ahead import ReadAhead, Result, RunReadAhead, read_run
from .runs_screen import RunsScreen
from .safe import clean

if TYPE_CHECKING:
    from trackui.store.queries import Store

#: runs the command palette offers to open
PALETTE_RUNS = 2000
#: Seconds after start at which the first page counts as shown anyway.
START_DELAY = 1.0
#: The start-up work that can wait (the full refresh) waits for this many seconds without a key press and with no
#: worker running, so the way from the list to the first chart keeps the CPU.
START_IDLE_S = 1.0
#: ... but no longer than this after the first page.
START_LATEST_S = 5.0
#: worker groups that do not keep the start from being idle
BACKGROUND = ("warm-up", "read-ahead", "refresh")
#: the clock the idle wait reads (tests move it)
monotonic = time.monotonic


class CatalogRefreshed(Message):
    """The refresh worker finished (internal to the app)."""

    def __init__(self, stats: RefreshStats, sources: tuple[Any, ...] = ()) -> None:
        super().__init__()
        self.stats = stats
        #: each source's (box, location, state, error): a box that went down or
        #: came back changes the run list even when no run did
        self.sources = sources


class CatalogProgress(Message):
    """A batch of a big refresh was committed (internal to the app)."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done = done
        self.total = total


def _palette_entries(
    store: Store, run_ids: Sequence[str]
) -> tuple[list[tuple[str, str]], list[str]]:
    runs = [(r.id, r.ref) for r in store.list_runs(limit=PALETTE_RUNS)]
    return runs, store.metric_keys(run_ids) if run_ids else []


def _warm_up() -> None:
    """Import what opening a run needs (a worker thread: the event loop goes on)."""
    try:
        from . import run_screen  # noqa: F401
    except ImportError:
        return  # open_run says so when it is asked
    # then plotext, which the first chart needs: enter does not wait for it
    from .chart import new_figure

    new_figure()


def _read_ahead(app: TrackuiApp, run_id: str, generation: int) -> None:
    """Read the run under the cursor (``read_ahead``; a worker thread, beside
    ``_warm_up``: the read mostly waits for the catalog)."""
    try:
        result: Result | None = read_run(app.store, run_id, with_series=True)
    except Exception:  # the Run screen reads it again, and says why if it fails
        result = None
    app.post_message(RunReadAhead(run_id, generation, result))


def _screen_run_ids(screen: Screen) -> list[str]:
    ids = getattr(screen, "run_ids", None)
    if ids:
        return list(ids)
    one = getattr(screen, "run_id", None)
    return [one] if isinstance(one, str) else []


class TrackuiCommands(Provider):
    """ctrl+p: open a run, compare, tag or trash the marked runs, show a metric."""

    async def startup(self) -> None:
        self.runs: list[tuple[str, str]] = []
        self.metrics: list[str] = []
        app = self.app
        if not isinstance(app, TrackuiApp):
            return
        wants_metrics = callable(getattr(self.screen, "action_show_metric", None))
        ids = _screen_run_ids(self.screen) if wants_metrics else []
        worker = app.run_worker(
            partial(_palette_entries, app.store, ids),
            thread=True,
            group="palette",
            exclusive=True,
            exit_on_error=False,
        )
        try:
            self.runs, self.metrics = await worker.wait()
        except WorkerFailed:
            pass  # the app's handler has already said why

    def _commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        app = self.app
        assert isinstance(app, TrackuiApp)
        screen = self.screen
        out: list[tuple[str, Callable[[], Any], str]] = []
        compare = getattr(screen, "action_compare", None)
        if callable(compare):
            out.append(("Compare marked runs", compare, "Open the compare screen"))
        from .tidy_actions import tidy_commands

        out.extend(tidy_commands(screen))  # tag / trash the marked runs (run list only)
        show_metric = getattr(screen, "action_show_metric", None)
        if callable(show_metric):
            for key in self.metrics:
                out.append((f"Metric: {clean(key)}", partial(show_metric, key), "Show this metric"))
        for run_id, ref in self.runs:
            out.append((f"Open run {clean(ref)}", partial(app.open_run, run_id), run_id))
        return out

    async def discover(self) -> Hits:
        for text, command, help_text in self._commands()[:20]:
            yield DiscoveryHit(Content(text), command, text=text, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, command, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                # Content, not markup: run names are shown as typed.
                yield Hit(score, Content(text), command, text=text, help=help_text)


class TrackuiApp(App[None]):
    CSS_PATH = "trackui.tcss"
    TITLE = "trackui"
    COMMANDS = App.COMMANDS | {TrackuiCommands}
    BINDINGS = [
        Binding("question_mark", "help", "Help", tooltip="Show all keys", id="app.help"),
        Binding("q", "leave", "Quit", tooltip="Back, or quit on the run list", id="app.leave"),
        Binding("escape", "back", "Back", show=False, id="app.back"),
        Binding(
            "ctrl+p", "command_palette", "Commands", show=False, priority=True, id="app.palette"
        ),
        Binding("ctrl+q", "quit", "Quit now", show=False, priority=True, id="app.quit"),
    ]

    def __init__(
        self,
        store: Store,
        *,
        config: TuiConfig | None = None,
        clock: Callable[[], float] = time.time,
        live_interval: float = 2.0,
        refresh_on_start: bool = False,
    ) -> None:
        super().__init__()
        self.refresh_on_start = refresh_on_start
        self.store = store
        self.config = config if config is not None else TuiConfig()
        self.clock = clock
        self.live_interval = live_interval
        self.animation_level = "full" if self.config.animations else "none"
        self._force_broadcast = False
        self._start_pending = False  # the refresh on start waits for the first page
        self._warmed = False
        #: the run under the list's cursor, read before enter opens it
        self.read_ahead = ReadAhead()
        #: the start is over: the first page shown, then the user idle (``_start_when_idle``)
        self.start_over = False
        self._first_page_at: float | None = None
        self._last_key_at = 0.0
        #: (runs read, runs to read) while a big refresh fills the catalog.
        self.reading: tuple[int, int] | None = None
        self._source_states: tuple[Any, ...] = ()
        self._problems = list(self.config.problems)
        if self.config.theme:
            if self.config.theme in self.available_themes:
                self.theme = self.config.theme
            else:
                self._problems.append(f"unknown theme {self.config.theme!r}")

    def get_default_screen(self) -> Screen:
        return RunsScreen()

    def on_mount(self) -> None:
        if self.config.keys:
            self.set_keymap(self.config.keys)
        for problem in self._problems:
            self.notify(clean(problem), title="Config", severity="warning", markup=False)
        if self.live_interval > 0:
            self.set_interval(self.live_interval, self._live_tick, name="live refresh")
        if self.refresh_on_start:
            # The run list paints from the catalog as it is; the full refresh
            # (every file of every run: seconds for a cold catalog of a big
            # store) runs behind it and the screens reload when it lands.
            # With runs to show it starts once the first page is on screen
            # (``first_page_shown``; at the latest after ``START_DELAY``), so
            # its thread does not slow the first paint; an empty catalog has
            # nothing to paint and starts reading at once.
            if self.store.count_runs() == 0:
                self.notify("Reading the store…", timeout=3)
                self.refresh_store(force=True)
            else:
                self._start_pending = True
                self.set_timer(START_DELAY, self.first_page_shown)

    def first_page_shown(self, run_id: str | None = None) -> None:
        """The run list painted its first page, its cursor on ``run_id``:
        import the run screen and read that run while the user reads the
        list; the deferred refresh waits until the user is idle
        (``_start_when_idle``)."""
        self._start_warm_up(run_id)
        if self._first_page_at is None:
            self._first_page_at = monotonic()
            self.set_timer(START_IDLE_S, self._start_when_idle, name="start when idle")

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self._last_key_at = monotonic()  # the user is not idle
        await super().on_event(event)

    def _start_when_idle(self) -> None:
        """The start is over once the first page is shown and then
        ``START_IDLE_S`` passed without a key press, a running worker or a
        screen still ``starting`` (the Run screen until its first chart), at
        the latest ``START_LATEST_S`` after the first page: then the deferred
        refresh runs, so that it does not take the CPU from the way to the
        first chart (``enter``, ``3``)."""
        if self.start_over or self._first_page_at is None:
            return
        try:
            screen = self.screen
        except ScreenStackError:
            return  # the app is closing
        now = monotonic()
        busy = getattr(screen, "starting", False) or any(
            w.is_running and w.group not in BACKGROUND for w in self.workers
        )
        wait = max(START_IDLE_S - (now - self._last_key_at), 0.1 if busy else 0.0)
        if wait > 0 and now - self._first_page_at < START_LATEST_S:
            self.set_timer(wait, self._start_when_idle, name="start when idle")
            return
        self.start_over = True
        if self._start_pending:
            self._start_pending = False
            self.refresh_store(force=True)

    def _start_warm_up(self, run_id: str | None = None) -> None:
        if not self._warmed:
            # The list is up: import the run screen (and plotext) and read the
            # run under the cursor, in threads, so enter waits for neither.
            self._warmed = True
            self.run_worker(_warm_up, thread=True, group="warm-up", exit_on_error=False)
            if run_id is not None:
                generation = self.read_ahead.start(run_id)
                self.run_worker(
                    partial(_read_ahead, self, run_id, generation),
                    thread=True,
                    group="read-ahead",
                    exit_on_error=False,
                )

    def on_run_read_ahead(self, message: RunReadAhead) -> None:
        self.read_ahead.done(message)

    # -- live refresh ----------------------------------------------------------

    def _live_tick(self) -> None:
        if self._start_pending:
            return  # the start-up refresh, still waiting for an idle moment, reads it all
        busy = any(w.group == "refresh" and w.is_running for w in self.workers)
        if not busy:
            self.load_changes()

    def refresh_store(self, *, force: bool = False) -> None:
        """Read what the runs appended; with ``force`` the screens reload even
        when nothing changed."""
        self._force_broadcast = self._force_broadcast or force
        self.load_changes(full=force)

    @work(thread=True, exclusive=True, group="refresh", exit_on_error=False)
    def load_changes(self, full: bool = False) -> None:
        worker = get_current_worker()

        def progress(done: int, total: int) -> None:
            if not worker.is_cancelled:
                self.post_message(CatalogProgress(done, total))

        stats = self.store.refresh(full=full, progress=progress)
        sources = tuple((s.box, s.location, s.state, s.error) for s in self.store.sources())
        if not worker.is_cancelled:
            self.post_message(CatalogRefreshed(stats, sources))

    def on_catalog_progress(self, message: CatalogProgress) -> None:
        """A cold catalog commits in batches: the screens show each as it lands."""
        self.reading = (message.done, message.total)
        self.read_ahead.invalidate()
        stats = RefreshStats(message.done, message.done, 0, 0.0)
        for screen in self.screen_stack:
            screen.post_message(StoreRefreshed(stats))

    def on_catalog_refreshed(self, message: CatalogRefreshed) -> None:
        self.reading = None
        self._start_warm_up()
        force, self._force_broadcast = self._force_broadcast, False
        stats = message.stats
        moved, self._source_states = message.sources != self._source_states, message.sources
        if force or moved or stats.runs_changed or stats.points:
            self.read_ahead.invalidate()
            for screen in self.screen_stack:
                screen.post_message(StoreRefreshed(stats))

    # -- errors ----------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.report_worker_error(event.worker)

    def report_worker_error(self, worker: Worker[Any]) -> None:
        """A failed worker becomes a notification; the app keeps running."""
        if worker.state != WorkerState.ERROR or worker.error is None:
            return
        error = worker.error
        what = worker.group if worker.group != "default" else worker.name
        self.notify(
            clean(f"{type(error).__name__}: {error}"),
            title=f"Could not {clean(what)}" if what else "Error",
            severity="error",
            markup=False,
        )

    # -- navigation ------------------------------------------------------------

    def action_help(self) -> None:
        from .help_screen import HelpScreen  # not needed before ? is pressed

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_back(self) -> None:
        """Esc: back to the screen below; on the run list it never quits."""
        if len(self.screen_stack) > 1:
            self.pop_screen()

    def action_leave(self) -> None:
        if len(self.screen_stack) > 1:
            self.pop_screen()
        else:
            self.exit()

    def open_run(self, run_id: str) -> None:
        try:
            from .run_screen import RunScreen
        except ImportError:
            self.notify("The run screen is not available", severity="warning")
            return
        self.push_screen(RunScreen(run_id))

    def open_compare(self, run_ids: Sequence[str]) -> None:
        try:
            from .compare_screen import CompareScreen
        except ImportError:
            self.notify("The compare screen is not available", severity="warning")
            return
        self.push_screen(CompareScreen(list(run_ids)))


def make_app(
    store: Store,
    *,
    config: TuiConfig | None = None,
    clock: Callable[[], float] = time.time,
    live_interval: float = 2.0,
    refresh_on_start: bool = False,
) -> TrackuiApp:
    """The one way to build the app, for the CLI and the tests alike.
    ``refresh_on_start``: the store was opened without a refresh; the app
    paints first and refreshes in a worker."""
    return TrackuiApp(
        store,
        config=config if config is not None else TuiConfig.load(),
        clock=clock,
        live_interval=live_interval,
        refresh_on_start=refresh_on_start,
    )
