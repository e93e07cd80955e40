"""The Console tab of the Run screen: the tail of the run's ``console.log``,
read in a worker; a finished run's whole file once, a running run's
appended bytes at each refresh (``read_console``), shown in a ``ViLog``
with a note of how many lines and whether it follows the run.

A mixin of ``RunScreen`` (it needs ``detail``, ``_next`` and ``_generation``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import work
from textual.content import Content
from textual.widgets import Static
from textual.worker import get_current_worker

from trackui.store import paths

from .run_details import read_console
from .run_tabs import ConsoleRead
from .scrolling import ViLog


class ConsoleTab:
    """Load and show the console tail."""

    detail: Any
    _generation: dict[str, int]
    #: where the next read of a running run's console starts (None: from the start)
    _console_offset: int | None = None

    @work(thread=True, exclusive=True, group="run-console", exit_on_error=False)
    def load_console(self, generation: int, path: str, offset: int | None, whole: bool) -> None:
        lines, new_offset, reset = read_console(path, offset, whole=whole)
        if not get_current_worker().is_cancelled:
            self.post_message(ConsoleRead(lines, new_offset, reset, generation))  # type: ignore[attr-defined]

    def _load_console(self) -> None:
        if self.detail is None:
            return
        path = self.detail.console_path or str(Path(self.detail.dir) / paths.CONSOLE)
        whole = self.detail.run.status != "running"
        generation = self._next("console")  # type: ignore[attr-defined]
        self.load_console(generation, path, self._console_offset, whole)

    def on_console_read(self, message: ConsoleRead) -> None:
        if message.generation != self._generation["console"]:
            return
        log = self.query_one("#console-log", ViLog)  # type: ignore[attr-defined]
        if message.reset:
            log.clear()
        self._console_offset = message.offset
        if message.lines:
            log.write_lines(message.lines)
        if log.line_count:
            following = self.detail is not None and self.detail.run.status == "running"
            note = f"{log.line_count} lines{' · following' if following else ''}"
        else:
            note = "no console output captured"
        self.query_one("#console-note", Static).update(Content(note))  # type: ignore[attr-defined]
