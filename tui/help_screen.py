"""`?`: every key of the screen below and of the app, with what it does."""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from .scrolling import ViScroll


@dataclass(frozen=True)
class KeyHelp:
    """One line of the help screen: a key (or keys) and what it does."""

    section: str
    keys: tuple[str, ...]
    description: str


def _section(node: object, screen: Screen, app: object) -> str:
    if node is app:
        return "Everywhere"
    titled = getattr(node, "HELP_SECTION", None)
    if titled:
        return str(titled)
    name = type(node).__name__
    return name.removesuffix("Screen") if node is screen else name


def describe_bindings(screen: Screen) -> list[KeyHelp]:
    """The bindings active on ``screen`` (its focused widget, the screen, the
    app), the keys of one action on one line; the app's own bindings (those
    with an id) lead their section and name the action."""
    app = screen.app
    groups: dict[tuple[str, str], _Group] = {}
    for active in screen.active_bindings.values():
        binding = active.binding
        description = binding.tooltip or binding.description
        if binding.system or not description:
            continue
        section = _section(active.node, screen, app)
        group = groups.setdefault((section, binding.action), _Group(section, description))
        group.add(app.get_key_display(binding), description, ours=binding.id is not None)
    this_screen = _section(screen, screen, app)

    def rank(group: _Group) -> tuple[int, int]:
        where = 0 if group.section == this_screen else 2 if group.section == "Everywhere" else 1
        return where, 0 if group.ours else 1

    return [g.entry() for g in sorted(groups.values(), key=rank)]


class _Group:
    def __init__(self, section: str, description: str) -> None:
        self.section = section
        self.description = description
        self.ours = False
        self.keys: list[str] = []

    def add(self, key: str, description: str, *, ours: bool) -> None:
        if key in self.keys:
            return
        if ours and not self.ours:
            self.ours, self.description = True, description
            self.keys.insert(0, key)
        else:
            self.keys.append(key)

    def entry(self) -> KeyHelp:
        return KeyHelp(self.section, tuple(self.keys), self.description)


class HelpScreen(ModalScreen[None]):
    """The keys of the screen it was opened on, then the app's own."""

    HELP_SECTION = "Help"
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close help", id="help.close"),
    ]

    def __init__(self, screen: Screen) -> None:
        super().__init__()
        self.title_text = f"Keys: {_section(screen, screen, screen.app)}"
        self.entries = describe_bindings(screen)
        self.notes = str(getattr(screen, "HELP", "") or "")

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Static(Text(self.title_text, style="bold"), id="help-title")
            with ViScroll(id="help-body"):
                yield Static(self.key_table(), id="help-keys")
                if self.notes:
                    yield Static(Text(self.notes), id="help-notes")
            yield Static(
                Text("j/k, PgUp/PgDn, gg/G scroll · esc, q or ? closes", style="dim"),
                id="help-hint",
            )

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def key_table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column("keys", no_wrap=True, style="bold")
        table.add_column("action")
        section = None
        for entry in self.entries:
            if entry.section != section:
                if section is not None:
                    table.add_row("", "")
                table.add_row(Text(entry.section, style="underline"), "")
                section = entry.section
            table.add_row(Text(", ".join(entry.keys)), Text(entry.description))
        return table
