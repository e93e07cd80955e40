"""Tagging the marked runs and moving them to the trash, from the run list.

Reached through the command palette (``tidy_commands`` lists the entries
on a screen that marks runs). The marked runs are changed, or the run
under the cursor when none is marked. The work is ``store.tidy``'s, in a
thread worker: meta.json rewritten atomically, run directories moved to
``<store>/.trash`` (``trackui restore`` brings them back); what it left
alone (runs of other tools, a running run for the trash) is said in a
notification, and the list is refreshed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Static

from trackui.store import tidy

from .runs_table import GROUP_PREFIX, RunsTable
from .safe import clean


def parse_tags(text: str) -> tuple[list[str], list[str]]:
    """``+x -y z`` as (tags to add, tags to remove); a bare word adds. A
    ``TidyError`` for an empty tag or one with a control character."""
    add: list[str] = []
    remove: list[str] = []
    for word in text.split():
        if word.startswith("-"):
            remove.append(tidy.check_text("tag", word[1:]))
        else:
            add.append(tidy.check_text("tag", word[1:] if word.startswith("+") else word))
    if not add and not remove:
        raise tidy.TidyError("no tags given (+tag adds, -tag removes)")
    return add, remove


class TagPrompt(ModalScreen[str | None]):
    """One line of ``+tag -tag``; dismisses with the text, or None."""

    DEFAULT_CSS = """
    TagPrompt { align: center middle; }
    TagPrompt > Vertical {
        width: 60; max-width: 90%; height: auto;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="tidy.tag.cancel"),
    ]

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"Tags of {self.count} run{'s' if self.count != 1 else ''}"
            yield Static(Content("+tag adds, -tag removes; enter applies, esc cancels"))
            yield Input(placeholder="+paper -baseline", id="tidy-tags")

    @on(Input.Submitted, "#tidy-tags")
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmTrash(ModalScreen[bool]):
    """``y`` moves the runs to the trash; ``n`` or escape does not."""

    DEFAULT_CSS = """
    ConfirmTrash { align: center middle; }
    ConfirmTrash > Vertical {
        width: 64; max-width: 90%; height: auto;
        border: round $warning; background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="tidy.trash.yes"),
        Binding("n", "answer(False)", "No", id="tidy.trash.no"),
        Binding("escape", "cancel", "No", show=False, id="tidy.trash.cancel"),
    ]

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self.names = names

    def compose(self) -> ComposeResult:
        shown = ", ".join(clean(n) for n in self.names[:5])
        more = f" and {len(self.names) - 5} more" if len(self.names) > 5 else ""
        with Vertical() as box:
            box.border_title = "Move to the trash"
            yield Static(Content(f"{shown}{more}"))
            yield Static(
                Content(
                    "y moves them to the store's .trash (trackui restore brings them back); n keeps them"
                )
            )

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    def action_cancel(self) -> None:
        self.dismiss(False)


def chosen_runs(screen: Screen[Any]) -> list[str]:
    """The marked runs, else the run under the cursor (not a project header)."""
    marked = list(getattr(screen, "marked", None) or [])
    if marked:
        return marked
    try:
        key = screen.query_one(RunsTable).current_key
    except Exception:  # no run table on this screen
        return []
    return [key] if key and not key.startswith(GROUP_PREFIX) else []


def tidy_commands(screen: Screen[Any]) -> list[tuple[str, Callable[[], Any], str]]:
    """Palette entries (text, action, help) for a screen that marks runs."""
    if not hasattr(screen, "marked"):
        return []
    return [
        ("Tag marked runs…", partial(tag_runs, screen), "Add (+tag) and remove (-tag) tags"),
        (
            "Move marked runs to the trash…",
            partial(trash_runs, screen),
            "trackui restore brings them back",
        ),
    ]


def tag_runs(screen: Screen[Any]) -> None:
    ids = chosen_runs(screen)
    if not ids:
        screen.notify("Mark runs with space, or put the cursor on one", timeout=3)
        return

    def chosen(text: str | None) -> None:
        if not text or not text.strip():
            return
        try:
            add, remove = parse_tags(text)
        except tidy.TidyError as exc:
            screen.notify(clean(str(exc)), severity="warning", markup=False)
            return
        _start(screen, "Tagged", partial(tidy.tag_runs, screen.app.store, ids, add, remove))  # type: ignore[attr-defined]

    screen.app.push_screen(TagPrompt(len(ids)), chosen)


def trash_runs(screen: Screen[Any]) -> None:
    ids = chosen_runs(screen)
    if not ids:
        screen.notify("Mark runs with space, or put the cursor on one", timeout=3)
        return
    store = screen.app.store  # type: ignore[attr-defined]
    listed = {r.id: f"{r.project}/{r.name}" for r in getattr(screen, "runs", None) or []}
    names = [listed.get(i, i) for i in ids]

    def answered(yes: bool | None) -> None:
        if yes:
            _start(screen, "Moved to the trash", partial(tidy.trash_runs, store, ids), forget=True)

    screen.app.push_screen(ConfirmTrash(names), answered)


def _start(
    screen: Screen[Any], verb: str, work: Callable[[], tidy.Outcome], *, forget: bool = False
) -> None:
    app = screen.app

    def run() -> None:
        outcome = work()
        app.call_from_thread(_finished, screen, verb, outcome, forget)

    app.run_worker(run, thread=True, group="tidy", exit_on_error=False)


def _finished(screen: Screen[Any], verb: str, outcome: tidy.Outcome, forget: bool) -> None:
    app = screen.app
    if outcome.done:
        count = len(outcome.done)
        app.notify(f"{verb}: {count} run{'s' if count != 1 else ''}", timeout=4)
    if outcome.refused:
        app.notify(
            clean("\n".join(outcome.refused[:5])),
            title="Left alone",
            severity="warning",
            markup=False,
            timeout=8,
        )
    marked = getattr(screen, "marked", None)
    if forget and isinstance(marked, dict):
        for run_id in outcome.done:
            marked.pop(run_id, None)
    refresh = getattr(app, "refresh_store", None)
    if refresh is not None:
        refresh(force=True)
