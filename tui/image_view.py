"""Pictures in the terminal, through textual-image (``pip install
'trackui[images]'``): Kitty graphics or Sixel where the terminal is known to
show them, coloured half blocks everywhere else (plain SSH, tmux, screen,
16 colours: each cell is ``▀`` with the top pixel as foreground and the
bottom one as background).

textual-image asks the terminal about itself when it is first imported, by
writing an escape sequence and reading the answer from stdin. Once Textual
runs, stdin is Textual's, so that question is never asked here: the library
is imported with a stand-in stdout that is no terminal, and the protocol is
chosen from the environment instead. ``TRACKUI_IMAGES=halfcell|sixel|kitty``
overrides the choice.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

PROTOCOLS = ("halfcell", "sixel", "kitty")
#: Terminals known to show Sixel graphics (by $TERM or $TERM_PROGRAM).
SIXEL_TERMS = ("foot", "foot-extra", "mlterm", "yaft-256color", "contour")
SIXEL_PROGRAMS = ("WezTerm", "mintty", "iTerm.app")
INSTALL_HINT = "images need the images extra: pip install 'trackui[images]'"


def available() -> bool:
    """Are textual-image and Pillow installed (found, not imported)?"""
    return all(importlib.util.find_spec(m) is not None for m in ("textual_image", "PIL"))


def choose_protocol(
    env: dict[str, str] | os._Environ[str] | None = None, headless: bool = False
) -> str:
    """Which way to draw: an explicit ``TRACKUI_IMAGES``, else Kitty graphics
    in Kitty, Sixel in terminals known for it, half blocks otherwise and
    always inside tmux or screen (they pass neither through by default)."""
    env = os.environ if env is None else env
    wanted = env.get("TRACKUI_IMAGES", "").strip().lower()
    if wanted in PROTOCOLS:
        return wanted
    term = env.get("TERM", "")
    if headless or env.get("TMUX") or env.get("STY") or term.startswith(("screen", "tmux")):
        return "halfcell"
    if term == "xterm-kitty" or env.get("KITTY_WINDOW_ID"):
        return "kitty"
    if term in SIXEL_TERMS or "sixel" in term or env.get("TERM_PROGRAM") in SIXEL_PROGRAMS:
        return "sixel"
    return "halfcell"


class _NoTerminal:
    """stdout as textual-image sees it while it is imported: no terminal to ask."""

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def _cell_pixels() -> tuple[int, int]:
    """Pixel size of a terminal cell from the window size ioctl (asks nothing
    on stdin); 10 x 20 when the terminal does not say."""
    try:
        import fcntl
        import struct
        import termios

        fd = sys.__stdout__.fileno() if sys.__stdout__ else 1
        rows, cols, xpix, ypix = struct.unpack(
            "HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
        )
        if rows and cols and xpix and ypix:
            return xpix // cols, ypix // rows
    except Exception:  # noqa: BLE001 - not a terminal, or not POSIX
        pass
    return 10, 20


_loaded: dict[str, Any] = {}


def _library() -> dict[str, Any]:
    """textual-image's widgets and renderables, imported without a terminal query."""
    if _loaded:
        return _loaded
    cell = _cell_pixels()
    real = sys.__stdout__
    try:
        sys.__stdout__ = _NoTerminal()  # type: ignore[assignment]
        from textual_image import _terminal

        if not hasattr(_terminal.get_cell_size, "_result"):
            _terminal.get_cell_size._result = _terminal.CellSize(*cell)  # type: ignore[attr-defined]
        from textual_image import widget
        from textual_image.renderable.halfcell import Image as HalfcellRenderable
    finally:
        sys.__stdout__ = real  # type: ignore[assignment]
    _loaded.update(
        widget=widget, halfcell=HalfcellRenderable, cell=tuple(_terminal.get_cell_size())
    )
    return _loaded


def halfcell(image: Any, width: int | None = None, height: int | None = None) -> Any:
    """The half-block renderable of textual-image for a path or PIL image,
    ``width`` x ``height`` cells (``None``: the library's own sizing)."""
    return _library()["halfcell"](image, width, height)


def load(path: str, protocol: str) -> Any:
    """A PIL image of ``path``, read once (a widget redraws from it), made no
    larger than half blocks can show when those are used."""
    from PIL import Image as PILImage

    with PILImage.open(path) as opened:
        opened.load()
        picture = opened.convert("RGBA" if opened.mode in ("RGBA", "LA", "P") else "RGB")
    if protocol == "halfcell":
        picture.thumbnail((1024, 1024))
    return picture


def fit(px_width: int, px_height: int, cols: int, rows: int) -> tuple[int, int]:
    """Cells (width, height) for a ``px_width`` x ``px_height`` picture in a
    ``cols`` x ``rows`` box: aspect kept for this terminal's cell shape, and
    at most one column per pixel of the picture (what half blocks can show;
    graphics get the same size, so a picture looks alike either way)."""
    if px_width <= 0 or px_height <= 0 or cols <= 0 or rows <= 0:
        return max(cols, 1), max(rows, 1)
    cell_w, cell_h = _library()["cell"]
    scale = min(cols * cell_w / px_width, rows * cell_h / px_height, cell_w)
    width = max(1, min(cols, round(px_width * scale / cell_w)))
    height = max(1, min(rows, round(px_height * scale / cell_h)))
    return width, height


def image_widget(picture: Any, protocol: str, **kwargs: Any) -> Any:
    """The textual-image widget for ``protocol`` showing ``picture``."""
    widget = _library()["widget"]
    cls = {
        "halfcell": widget.HalfcellImage,
        "sixel": widget.SixelImage,
        "kitty": widget.TGPImage,
    }[protocol]
    return cls(picture, **kwargs)
