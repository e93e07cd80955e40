"""The image viewer: half-block rendering checked cell by cell, the screen
opening, stepping through a key's images and closing, and what it says
without the images extra."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from textual.app import App
from textual.widgets import Static

from trackui.store import images
from trackui.store.models import Artifact
from trackui.tui import image_view
from trackui.tui.image_screen import ImageItem, ImageScreen, image_items

from .helpers import screen_text, settle

pytestmark = pytest.mark.anyio

needs_extra = pytest.mark.skipif(
    not image_view.available(),
    reason="needs the images extra (textual-image, Pillow); the test extra installs it, so CI runs this",
)

# 4 x 4 pixels, every one a different colour
PIXELS = [
    [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)],
    [(0, 0, 0), (255, 255, 0), (0, 255, 255), (255, 0, 255)],
    [(10, 20, 30), (40, 50, 60), (70, 80, 90), (100, 110, 120)],
    [(130, 140, 150), (160, 170, 180), (190, 200, 210), (220, 230, 240)],
]


def write_png(path: Path, pixels: list) -> Path:
    blob, _, _ = images.array_png(pixels)  # the shim's own encoder
    path.write_bytes(blob)
    return path


@needs_extra
def test_half_blocks_of_a_known_image_cell_by_cell(tmp_path):
    path = write_png(tmp_path / "known.png", PIXELS)
    renderable = image_view.halfcell(str(path), 4, 2)  # 4 x 2 cells = 4 x 4 pixels
    console = Console(file=io.StringIO(), width=20, color_system="truecolor", legacy_windows=False)
    lines = console.render_lines(renderable, console.options.update(width=4, height=2), pad=False)
    assert len(lines) == 2
    for row, line in enumerate(lines):
        cells = [seg for seg in line if seg.text]
        assert [seg.text for seg in cells] == ["▀"] * 4
        for col, seg in enumerate(cells):
            top, bottom = PIXELS[2 * row][col], PIXELS[2 * row + 1][col]
            assert tuple(seg.style.color.triplet) == top, (row, col)
            assert tuple(seg.style.bgcolor.triplet) == bottom, (row, col)


def test_protocol_choice():
    assert image_view.choose_protocol({"TERM": "xterm-kitty"}) == "kitty"
    assert image_view.choose_protocol({"TERM": "xterm-kitty", "TMUX": "/tmp/x"}) == "halfcell"
    assert image_view.choose_protocol({"TERM": "foot"}) == "sixel"
    assert image_view.choose_protocol({"TERM": "xterm-256color", "TERM_PROGRAM": "WezTerm"}) == (
        "sixel"
    )
    assert image_view.choose_protocol({"TERM": "xterm-256color"}) == "halfcell"
    assert image_view.choose_protocol({"TERM": "screen-256color"}) == "halfcell"
    assert image_view.choose_protocol({"TERM": "xterm", "TRACKUI_IMAGES": "sixel"}) == "sixel"
    assert image_view.choose_protocol({"TERM": "xterm-kitty"}, headless=True) == "halfcell"


def test_image_items_from_artifacts(tmp_path):
    arts = [
        Artifact("weights/best.pt", "artifacts/weights/best.pt", 1, None, True),
        Artifact("media/samples/10.png", "artifacts/media/samples/10.png", 1, None, True),
        Artifact("media/samples/2.png", "artifacts/media/samples/2.png", 1, None, True),
        Artifact("results.png", "/abs/results.png", 1, None, False),
    ]
    items = image_items(arts, tmp_path)
    assert [(i.key, i.step) for i in items] == [
        ("results.png", None),
        ("samples", 2),
        ("samples", 10),
    ]
    assert items[0].path == "/abs/results.png"
    assert items[1].path == str(tmp_path / "artifacts/media/samples/2.png")


class ImageApp(App[None]):
    def __init__(self, items: list[ImageItem], index: int = 0) -> None:
        super().__init__()
        self.items, self.start = items, index

    def on_mount(self) -> None:
        self.push_screen(ImageScreen(self.items, self.start))


def samples(tmp_path: Path) -> list[ImageItem]:
    items = []
    for step, colour in ((0, (255, 0, 0)), (5, (0, 255, 0)), (10, (0, 0, 255))):
        path = write_png(tmp_path / f"{step}.png", [[colour] * 8] * 8)
        items.append(ImageItem("samples", step, str(path), f"media/samples/{step}.png"))
    items.append(ImageItem("other", 1, str(write_png(tmp_path / "o.png", PIXELS)), "o"))
    return items


def title(app: App) -> str:
    return str(app.screen.query_one("#image-title", Static).content)


@needs_extra
async def test_viewer_opens_steps_and_closes(tmp_path):
    from textual_image.widget import HalfcellImage

    app = ImageApp(samples(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ImageScreen)
        assert "samples" in title(app) and "step 0" in title(app) and "(1/3" in title(app)
        widget = screen.query_one(HalfcellImage)
        red = widget.render_line(widget.size.height // 2)  # a row through the middle
        assert any(seg.text == "▀" and seg.style.color.triplet == (255, 0, 0) for seg in red)
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert "step 5" in title(app) and "(2/3" in title(app)
        assert len(screen.query(HalfcellImage)) == 1
        green = screen.query_one(HalfcellImage).render_line(widget.size.height // 2)
        assert any(seg.text == "▀" and seg.style.color.triplet == (0, 255, 0) for seg in green)
        await pilot.press("right_square_bracket", "right_square_bracket")  # stops at the last
        await settle(pilot)
        assert "step 10" in title(app)
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert "step 5" in title(app)
        assert "samples" in screen_text(screen)
        await pilot.press("j", "j")  # every image of the run, key after key
        await settle(pilot)
        assert "other" in title(app) and "image 4 of 4" in title(app)
        await pilot.press("k")
        await settle(pilot)
        assert "samples" in title(app) and "step 10" in title(app)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ImageScreen)


@pytest.mark.parametrize("depth", [0, 12])
async def test_without_the_extra_one_line_and_the_path(tmp_path, monkeypatch, depth):
    """The path shows whole where it fits; a longer one loses its middle,
    never its file name (a temp path's length varies by machine)."""
    monkeypatch.setattr(image_view, "available", lambda: False)
    folder = tmp_path / "/".join(["a-long-folder-name"] * depth) if depth else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    items = samples(folder)
    app = ImageApp(items)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app.screen)
        assert image_view.INSTALL_HINT in text
        (line,) = [row.strip() for row in text.splitlines() if row.strip().endswith("0.png")]
        if len(items[0].path) <= 78:
            assert line == items[0].path
        else:
            assert "…" in line and line.endswith("/0.png") and line.startswith("/")
        await pilot.press("q")
        await pilot.pause()
        assert not isinstance(app.screen, ImageScreen)


@needs_extra
async def test_a_missing_or_broken_file_is_one_line(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    items = [
        ImageItem("gone", 1, str(tmp_path / "nothing.png"), "media/gone/1.png"),
        ImageItem("gone", 2, str(tmp_path / "broken.png"), "media/gone/2.png"),
    ]
    app = ImageApp(items)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "not found on this machine" in screen_text(app.screen)
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert "cannot show this image" in screen_text(app.screen)


@needs_extra
async def test_ultralytics_plots_are_listed_and_viewable(tmp_path, monkeypatch):
    """The importer lists the plots by reference; each opens in the viewer."""
    import shutil

    from textual_image.widget import HalfcellImage

    from trackui.store.importers import import_path
    from trackui.store.queries import Store

    fixtures = Path(__file__).resolve().parents[2] / "fixtures"
    shutil.copytree(fixtures / "ultralytics", tmp_path / "yolo")
    import_path(tmp_path / "store", tmp_path / "yolo", kind="ultralytics")
    with Store(tmp_path / "store") as store:
        detail = store.get_run(store.resolve("detect/exp_a"))
        crashed = store.get_run(store.resolve("detect/exp_c_crashed"))
    items = image_items(detail.artifacts, detail.dir)
    assert [i.name for i in items] == ["BoxF1_curve.png", "results.png"]  # not weights/*.pt
    assert [i.name for i in image_items(crashed.artifacts, crashed.dir)] == ["train_batch0.jpg"]
    app = ImageApp(items + image_items(crashed.artifacts, crashed.dir))
    # cells of 10 x 20 pixels, whatever terminal runs the tests
    monkeypatch.setitem(image_view._library(), "cell", (10, 20))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "BoxF1_curve.png" in title(app)
        widget = app.screen.query_one(HalfcellImage)
        # 2250 x 1500 pixels in the 80 x 21 box (title, path, footer above and
        # below), 10 x 20 pixel cells: full height, 21 * 2 * 1.5 columns wide
        assert (widget.size.width, widget.size.height) == (63, 21)
        assert "▀" in screen_text(app.screen)
        await pilot.press("j", "j")  # the JPEG of another run
        await settle(pilot)
        assert "train_batch0.jpg" in title(app)
        assert len(app.screen.query(HalfcellImage)) == 1


@needs_extra
@pytest.mark.parametrize(
    ("protocol", "widget_name"), [("sixel", "SixelImage"), ("kitty", "TGPImage")]
)
async def test_graphics_protocols_when_asked_for(tmp_path, monkeypatch, protocol, widget_name):
    """TRACKUI_IMAGES picks the protocol even headless; the widget is textual-image's."""
    import textual_image.widget

    monkeypatch.setenv("TRACKUI_IMAGES", protocol)
    monkeypatch.setitem(image_view._library(), "cell", (10, 20))
    app = ImageApp(samples(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        (widget,) = app.screen.query(".image")
        assert type(widget) is getattr(textual_image.widget, widget_name)
        assert (widget.size.width, widget.size.height) == (8, 4)  # as half blocks would be
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert "step 5" in title(app) and len(app.screen.query(".image")) == 1


def test_fit_keeps_the_aspect_and_never_exceeds_a_column_per_pixel(monkeypatch):
    monkeypatch.setitem(image_view._library(), "cell", (10, 20))
    assert image_view.fit(2400, 1200, 80, 21) == (80, 20)  # width-bound
    assert image_view.fit(1200, 2400, 80, 21) == (21, 21)  # height-bound
    assert image_view.fit(4, 4, 80, 21) == (4, 2)  # tiny: one column per pixel
    assert image_view.fit(1, 1, 80, 21) == (1, 1)


@needs_extra
async def test_enter_on_an_image_in_the_artifacts_tab_opens_the_viewer(tmp_path, monkeypatch):
    """The Run screen's Artifacts tab: enter on a logged image opens the viewer
    on it, [ ] step, esc comes back; an Ultralytics plot (by reference) opens
    too; enter on a file that is no image stays on the Run screen."""
    import shutil

    import trackui
    from trackui.store.importers import import_path
    from trackui.store.queries import Store
    from trackui.tui.run_screen import RunScreen

    from .helpers import RunApp

    monkeypatch.setenv("TRACKUI_SYSTEM_INTERVAL", "0")
    root = tmp_path / "store"
    with trackui.init(project="img", name="pics", dir=root, console=False) as run:
        (tmp_path / "best.pt").write_bytes(b"w")
        run.log_artifact(tmp_path / "best.pt")
        for step in (0, 5, 10):
            run.log_image("samples", [[(step * 20, 0, 0)] * 4] * 4, step=step)
    fixtures = Path(__file__).resolve().parents[2] / "fixtures"
    shutil.copytree(fixtures / "ultralytics", tmp_path / "yolo")
    import_path(root, tmp_path / "yolo", kind="ultralytics")
    with Store(root) as store:
        for name, row, want in (("img/pics", 2, "step 5"), ("detect/exp_a", 0, "BoxF1_curve")):
            app = RunApp(store, store.resolve(name), tab="artifacts")
            async with app.run_test(size=(100, 30)) as pilot:
                await settle(pilot)
                assert isinstance(app.screen, RunScreen)
                for _ in range(row):
                    await pilot.press("down")
                await pilot.press("enter")
                await settle(pilot)
                assert isinstance(app.screen, ImageScreen), name
                assert want in title(app)
                if name == "img/pics":
                    await pilot.press("right_square_bracket")
                    await settle(pilot)
                    assert "step 10" in title(app) and "(3/3" in title(app)
                await pilot.press("escape")
                await settle(pilot)
                assert isinstance(app.screen, RunScreen)
                await pilot.press("up", "up", "up", "enter")  # the first row
                await settle(pilot)
                first_is_image = name == "detect/exp_a"  # BoxF1_curve.png; best.pt for pics
                assert isinstance(app.screen, ImageScreen) is first_is_image
