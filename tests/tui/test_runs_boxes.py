"""The run list across boxes: a ``box`` column only while runs of more than
one box are open, a line for each box that does not answer (since when, the
ssh error) that goes once the box answers, the app going on meanwhile, and
compare naming each run's box.

The store here is the fixture store with each run's box and the sources'
states given by the test (``BoxedStore``), so these tests need no ssh; the
same screens over a real loopback sshd are in tests/e2e/test_remote_e2e.py.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from trackui.store.models import SourceState
from trackui.store.queries import Store
from trackui.tui.boxes import since_text
from trackui.tui.compare_screen import CompareScreen
from trackui.tui.filter_help import FILTER_EXAMPLES

from ..conftest import FIXED_NOW, FIXTURES, copy_store
from ..remote.loopback import LoopbackSshd, Unavailable
from .helpers import build, screen_text, until
from .test_runs_screen import column, current_name, labels, press, running, status_line

pytestmark = pytest.mark.anyio

#: which box each fixture project's runs are on
BOXES = {"detect": "gpu1", "cls": "gpu2"}
REFUSED = "ssh: connect to host 10.0.0.2 port 22: Connection refused"


def state(box: str, **kw: Any) -> SourceState:
    values: dict[str, Any] = dict(
        location=f"{box}:~/runs",
        box=box,
        kind=None,
        state="ok",
        since=None,
        error=None,
        runs=3,
        bytes_read=0,
    )
    values.update(kw)
    return SourceState(**values)


class BoxedStore(Store):
    """The fixture store, its runs put on boxes by project, its sources'
    states set by the test (``states``), every other call the real one."""

    states: list[SourceState]

    def sources(self) -> list[SourceState]:  # type: ignore[override]
        return list(self.states)

    def _boxed(self, runs: Any) -> Any:
        return [
            dataclasses.replace(
                r, box=BOXES.get(r.project, "local"), location=f"{BOXES.get(r.project)}:~/runs"
            )
            for r in runs
        ]

    def list_runs(self, *args: Any, **kwargs: Any) -> Any:
        return self._boxed(super().list_runs(*args, **kwargs))

    def page_runs(self, *args: Any, **kwargs: Any) -> Any:
        runs, total = super().page_runs(*args, **kwargs)  # type: ignore[misc]
        return self._boxed(runs), total

    def diff_params(self, *args: Any, **kwargs: Any) -> Any:
        diff = super().diff_params(*args, **kwargs)
        return dataclasses.replace(diff, runs=tuple(self._boxed(diff.runs)))

    def compare_metrics(self, *args: Any, **kwargs: Any) -> Any:
        # Compare loads its runs from both calls, in either order; a real
        # store gives the same box from each.
        comparison = super().compare_metrics(*args, **kwargs)
        return dataclasses.replace(comparison, runs=tuple(self._boxed(comparison.runs)))


@pytest.fixture
def boxed(fixture_store: Any) -> Any:
    with BoxedStore(fixture_store, clock=lambda: FIXED_NOW) as s:
        s.states = [state("gpu1"), state("gpu2")]
        yield s


def boxes_line(app: Any) -> str:
    widget = app.screen.query_one("#runs-boxes", Static)
    return str(widget.render()) if widget.display else ""


async def test_no_box_column_with_one_box(store: Store) -> None:
    app = build(store)
    async with running(app) as pilot:
        assert "box" not in labels(app)
        assert boxes_line(app) == ""
        assert "boxes" not in status_line(app)
        await press(pilot, "r")
        assert "box" not in labels(app)


async def test_two_boxes_show_a_box_column_beside_the_names(boxed: BoxedStore) -> None:
    app = build(boxed)
    async with running(app, size=(80, 24)) as pilot:
        assert "box" in labels(app)
        by_name = dict(zip(column(app, "name"), column(app, "box")))
        assert by_name["yolo-sgd"] == "gpu1" and by_name["resnet-kill"] == "gpu2"
        assert "2 boxes" in status_line(app)
        # at 80 columns the box is on screen, beside the pinned name
        assert "gpu1" in screen_text(app.screen) and "gpu2" in screen_text(app.screen)
        # one box left the set: the column goes at the next refresh
        boxed.states = [state("gpu1")]
        await press(pilot, "r")
        assert "box" not in labels(app)


async def test_an_unreachable_box_gets_a_line_that_goes_when_it_answers(
    boxed: BoxedStore,
) -> None:
    app = build(boxed)
    async with running(app, size=(80, 24)) as pilot:
        assert boxes_line(app) == ""
        since = FIXED_NOW - 600
        boxed.states = [
            state("gpu1"),
            state("gpu2", state="unreachable", since=since, error=REFUSED, runs=2),
        ]
        await press(pilot, "r")
        line = boxes_line(app)
        assert f"gpu2 unreachable since {since_text(since, FIXED_NOW)}" in line
        assert "Connection refused" in line or "…" in line  # the error, shortened to fit
        assert "2 runs as last read" in line
        assert "1 unreachable" in status_line(app)
        shown = screen_text(app.screen)
        assert "gpu2 unreachable" in shown
        # the app keeps working: the runs of the box that is down stay, open one
        assert "resnet-kill" in column(app, "name")
        await press(pilot, "/")
        await pilot.press(*"project:cls", "enter")
        await press(pilot)
        assert set(column(app, "name")) == {"resnet-kill", "resnet-crash"}
        boxed.states = [state("gpu1"), state("gpu2")]
        await press(pilot, "r")
        assert boxes_line(app) == ""
        assert "unreachable" not in screen_text(app.screen)


async def test_a_box_going_down_without_new_points_still_redraws(boxed: BoxedStore) -> None:
    """The app tells the screens when a source's state moved, even when the
    refresh read nothing new (an idle refresh of a box that just died)."""
    app = build(boxed)
    async with running(app) as pilot:
        boxed.states = [state("gpu1"), state("gpu2", state="unreachable", error=REFUSED)]
        app.refresh_store()  # not forced: only the state moved
        # the refresh's message, then the run list's reload
        await until(pilot, lambda: boxes_line(app), "the boxes line")
        assert "gpu2 unreachable" in boxes_line(app)


async def test_compare_across_boxes_names_the_box(boxed: BoxedStore) -> None:
    app = build(boxed)
    async with running(app, size=(120, 40)) as pilot:
        names = column(app, "name")
        for name in ("yolo-sgd", "resnet-kill"):  # mark one run of each box
            while current_name(app) != name:
                await press(
                    pilot, "j" if names.index(current_name(app)) < names.index(name) else "k"
                )
            await press(pilot, "space")
        await press(pilot, "c")
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        # the params diff lands, then the tables draw its labels
        await until(pilot, lambda: "@gpu2" in screen_text(screen), "the compare labels")
        text = screen_text(screen)
        assert "yolo-sgd@gpu1" in text or "sgd@gpu1" in text
        assert "@gpu2" in text
        await press(pilot, "f")  # focus the first run: its box on the detail line
        detail = str(screen.query_one("#compare-detail", Static).render())
        assert "on gpu1" in detail or "on gpu2" in detail


def test_the_filter_help_names_box() -> None:
    assert any(example.startswith("box:") for example, _ in FILTER_EXAMPLES)


# -- over a real loopback sshd: the box: filter on runs of two boxes ---------------


@pytest.fixture
def two_boxes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A session over ``box1:`` (a trackui store) and ``box2:`` (Ultralytics
    runs), both aliases of a loopback sshd; skipped where sshd cannot run."""
    from trackui.store.sources.session import session_root

    try:
        sshd = LoopbackSshd(tmp_path / "sshd")
    except Unavailable as exc:
        pytest.skip(str(exc))
    sshd.start()
    try:
        config = sshd.client_config(tmp_path / "ssh_config", {"box1": {}, "box2": {}})
        monkeypatch.setenv("TRACKUI_SSH", f"{shutil.which('ssh')} -F {config}")
        store = copy_store(tmp_path / "box1")
        folder = tmp_path / "box2"
        shutil.copytree(FIXTURES / "ultralytics" / "runs", folder)
        root = session_root([f"box1:{store}", f"box2:{folder}"])
        with Store(root, clock=lambda: FIXED_NOW) as s:
            yield s
    finally:
        sshd.stop()


@pytest.mark.e2e
async def test_box_filter_and_column_over_ssh(two_boxes: Store) -> None:
    app = build(two_boxes)
    async with running(app, size=(80, 24)) as pilot:
        assert set(column(app, "box")) == {"box1", "box2"}
        await press(pilot, "/")
        await pilot.press(*"box:box2", "enter")
        await press(pilot)
        assert set(column(app, "box")) == {"box2"}
        assert "exp_b" in column(app, "name") and "yolo-sgd" not in column(app, "name")
        await press(pilot, "escape")  # clears the filter
        assert set(column(app, "box")) == {"box1", "box2"}
        assert boxes_line(app) == ""
