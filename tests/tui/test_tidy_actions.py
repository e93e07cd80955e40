"""Tagging and trashing marked runs from the run list (tui/tidy_actions.py),
driven through Pilot: what the user types, then the run files and the rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trackui.store import tidy
from trackui.store.queries import Store
from trackui.tui import tidy_actions
from trackui.tui.runs_table import RunsTable
from trackui.tui.tidy_actions import ConfirmTrash, TagPrompt, parse_tags

from .helpers import build, ids_by_name, settle

pytestmark = pytest.mark.anyio


def names_listed(app: Any) -> list[str]:
    table = app.screen.query_one(RunsTable)
    return sorted(r.name for r in app.screen.runs if r.id in table.rows)


async def press(pilot: Any, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


def test_parse_tags() -> None:
    assert parse_tags("+paper -baseline best") == (["paper", "best"], ["baseline"])
    for bad in ("", "   ", "+", "- +x", "+a\x1bb"):
        with pytest.raises(tidy.TidyError):
            parse_tags(bad)


async def test_marked_runs_are_tagged(store: Store) -> None:
    ids = ids_by_name(store)
    app = build(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        screen.marked.update({ids["yolo-sgd"]: None, ids["yolo-adamw"]: None})
        tidy_actions.tag_runs(screen)
        await settle(pilot)
        assert isinstance(app.screen, TagPrompt)
        await pilot.click("#tidy-tags")
        await press(pilot, *"+paper -baseline", "enter")
        await settle(pilot)
        assert app.screen is screen
    for name in ("yolo-sgd", "yolo-adamw"):
        meta = json.loads((Path(store.root) / "detect" / ids[name] / "meta.json").read_text())
        assert "paper" in meta["tags"] and "baseline" not in meta["tags"]
    store.refresh()
    assert {r.name for r in store.list_runs(where="tag:paper")} == {"yolo-sgd", "yolo-adamw"}


async def test_the_run_under_the_cursor_goes_to_the_trash_after_y(store: Store) -> None:
    ids = ids_by_name(store)
    app = build(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        before = names_listed(app)
        current = screen.query_one(RunsTable).current_key
        tidy_actions.trash_runs(screen)
        await settle(pilot)
        assert isinstance(app.screen, ConfirmTrash)
        await press(pilot, "n")
        assert app.screen is screen and (Path(store.root) / ".trash").exists() is False
        tidy_actions.trash_runs(screen)
        await settle(pilot)
        await press(pilot, "y")
        await settle(pilot)
        gone = next(name for name, run_id in ids.items() if run_id == current)
        assert names_listed(app) == sorted(set(before) - {gone})
    assert [t.id for t in tidy.trashed(store.root)] == [current]


async def test_what_is_left_alone_is_said(store: Store) -> None:
    ids = ids_by_name(store)
    app = build(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        screen.marked.update({ids["yolo-sgd"]: None, "no-such-run": None})
        tidy_actions.trash_runs(screen)
        await settle(pilot)
        await press(pilot, "y")
        await settle(pilot)
        messages = [n.message for n in app._notifications]
        assert any("Moved to the trash: 1 run" in m for m in messages)
        assert any("no run no-such-run" in m for m in messages)
        assert ids["yolo-sgd"] not in screen.marked


async def test_the_palette_tags_the_marked_runs(store: Store) -> None:
    from textual.command import CommandPalette

    ids = ids_by_name(store)
    app = build(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        screen.marked.update({ids["yolo-oom"]: None})
        await press(pilot, "ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"tag marked runs")
        await settle(pilot)
        await press(pilot, "enter")
        assert isinstance(app.screen, TagPrompt)
        await press(pilot, *"+paper", "enter")
        await settle(pilot)
        assert app.screen is screen
    store.refresh()
    assert [r.name for r in store.list_runs(where="tag:paper")] == ["yolo-oom"]
