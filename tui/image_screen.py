"""``ImageScreen``: one image of a run, full screen; ``[``/``]`` step through
the images of its key by step, ``j``/``k`` go through all the run's images
(key after key), ``esc``/``q`` go back.

Images are drawn by textual-image (``tui/image_view.py``): Kitty or Sixel
graphics where the terminal shows them, half blocks elsewhere. Without the
``images`` extra the screen says so in one line and shows the file's path.
The file is read in a thread worker; only the handler touches widgets.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from trackui.store import images
from trackui.store.models import Artifact

from . import image_view
from .footer import Footer
from .names import fit
from .safe import literal


@dataclass(frozen=True)
class ImageItem:
    """An image among a run's artifacts: ``key`` and ``step`` of a logged one
    (``media/<key>/<step>.<ext>``), else its name and no step."""

    key: str
    step: int | None
    path: str  # where the file is on this machine
    name: str


def image_items(artifacts: Sequence[Artifact], run_dir: str | os.PathLike[str]) -> list[ImageItem]:
    """The images among ``artifacts`` (logged ones by key and step, others by
    extension, such as the plots Ultralytics writes), one per name (the last
    record wins), ordered by key then step."""
    found: dict[str, ImageItem] = {}
    for art in artifacts:
        logged = images.media_info(art.name)
        if logged is None and not images.is_image_name(art.name):
            continue
        path = art.path if os.path.isabs(art.path) else os.path.join(os.fspath(run_dir), art.path)
        key, step = logged if logged is not None else (art.name, None)
        found[art.name] = ImageItem(key, step, path, art.name)
    return sorted(found.values(), key=lambda i: (i.key, i.step if i.step is not None else -1))


class ImageLoaded(Message):
    def __init__(self, index: int, picture: Any, error: str | None) -> None:
        super().__init__()
        self.index = index
        self.picture = picture
        self.error = error


class PathLine(Static):
    """A file's path on one line: shortened in the middle to the width it
    has, so the file name at its end stays in view."""

    path = ""

    def show(self, path: str) -> None:
        self.path = path
        self.refresh()

    def render(self) -> Any:
        return literal(fit(self.path, self.content_size.width or len(self.path)))


class ImageScreen(Screen[None]):
    """One image; ``[``/``]`` the previous/next step of the same key."""

    BINDINGS = [
        Binding("escape,q", "back", "Back", id="image.back"),
        Binding("left_square_bracket", "step(-1)", "Prev step", key_display="[", id="image.prev"),
        Binding("right_square_bracket", "step(1)", "Next step", key_display="]", id="image.next"),
        Binding("j,down", "other(1)", "Next image", key_display="j", id="image.next-image"),
        Binding("k,up", "other(-1)", "Prev image", key_display="k", id="image.prev-image"),
    ]

    DEFAULT_CSS = """
    ImageScreen #image-title { height: 1; padding: 0 1; background: $panel; }
    ImageScreen #image-path { height: 1; padding: 0 1; color: $text-muted; }
    ImageScreen #image-box { height: 1fr; align: center middle; }
    ImageScreen #image-note { width: auto; height: auto; padding: 1 2; }
    """

    def __init__(self, items: Sequence[ImageItem], index: int = 0) -> None:
        super().__init__()
        self.items = list(items)
        self.index = max(0, min(index, len(self.items) - 1))
        self.protocol = "halfcell"
        self.picture: Any = None

    def compose(self) -> ComposeResult:
        yield Static(id="image-title")
        yield PathLine(id="image-path")
        with Container(id="image-box"):
            yield Static(id="image-note")
        yield Footer()

    def on_mount(self) -> None:
        self.protocol = image_view.choose_protocol(headless=self.app.is_headless)
        self._show()

    @property
    def item(self) -> ImageItem:
        return self.items[self.index]

    def siblings(self) -> list[int]:
        """Indexes of the images of this key, in step order."""
        key = self.item.key
        return [i for i, it in enumerate(self.items) if it.key == key]

    def _show(self) -> None:
        if not self.items:
            self._note("no images")
            return
        item, same = self.item, self.siblings()
        title = literal(item.key, "bold")
        if item.step is not None:
            title.append(f"  step {item.step}")
        if len(same) > 1:
            title.append(f"  ({same.index(self.index) + 1}/{len(same)}, [ ] step)")
        if len(self.items) > len(same):
            title.append(f"  image {self.index + 1} of {len(self.items)}", "dim")
        self.query_one("#image-title", Static).update(title)
        self.query_one("#image-path", PathLine).show(item.path)
        if not image_view.available():
            self._note(image_view.INSTALL_HINT)
            return
        self._note("loading…")
        self.load_image(self.index, item.path, self.protocol)

    def _note(self, text: str) -> None:
        self.query(".image").remove()
        note = self.query_one("#image-note", Static)
        note.display = True
        note.update(literal(text))

    @work(thread=True, exclusive=True, group="image", exit_on_error=False)
    def load_image(self, index: int, path: str, protocol: str) -> None:
        try:
            if not Path(path).is_file():
                raise OSError("not found on this machine")
            picture, error = image_view.load(path, protocol), None
        except Exception as exc:  # noqa: BLE001 - one bad file is one line on screen
            picture, error = None, f"cannot show this image: {exc}"
        self.post_message(ImageLoaded(index, picture, error))

    def on_image_loaded(self, message: ImageLoaded) -> None:
        if message.index != self.index:
            return  # the user has stepped on meanwhile
        if message.error is not None:
            self._note(message.error)
            return
        self.picture = message.picture
        self.query(".image").remove()
        self.query_one("#image-note", Static).display = False
        widget = image_view.image_widget(message.picture, self.protocol, classes="image")
        self._fit(widget)
        self.query_one("#image-box", Container).mount(widget)

    def on_resize(self) -> None:
        for widget in self.query(".image"):
            self._fit(widget)

    def _fit(self, widget: Any) -> None:
        """Size the image in cells: as large as the box allows, aspect kept,
        never beyond the picture's own pixels."""
        if self.picture is None:
            return
        box = self.query_one("#image-box", Container).size
        width, height = image_view.fit(
            self.picture.width, self.picture.height, box.width, box.height
        )
        widget.styles.width, widget.styles.height = width, height

    def action_step(self, delta: int) -> None:
        same = self.siblings()
        at = same.index(self.index) + delta
        if 0 <= at < len(same):
            self.index = same[at]
            self._show()
        else:
            self.app.bell()

    def action_other(self, delta: int) -> None:
        at = self.index + delta
        if 0 <= at < len(self.items):
            self.index = at
            self._show()
        else:
            self.app.bell()

    def action_back(self) -> None:
        self.app.pop_screen()
