"""TUI settings from config.toml and the environment, and the per-store
memory of chosen columns."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from trackui.tui.config import ColumnMemory, TuiConfig, config_dir


def write_config(text: str) -> Path:
    directory = config_dir()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.toml").write_text(text)
    return directory


def test_defaults_without_a_file() -> None:
    config = TuiConfig.load()
    assert config == TuiConfig()
    assert config.animations is False and config.page_size == 200 and config.problems == ()


def test_config_dir_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert config_dir() == tmp_path / "config"
    monkeypatch.delenv("TRACKUI_CONFIG_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_dir() == tmp_path / "xdg" / "trackui"


def test_values_from_the_file() -> None:
    write_config(
        'theme = "nord"\nanimations = true\npage_size = 50\n'
        'columns = ["lr0", "max(loss)"]\n[keys]\n"runs.mark" = "m"\n'
    )
    config = TuiConfig.load()
    assert config.theme == "nord"
    assert config.animations is True
    assert config.page_size == 50
    assert config.columns == ("lr0", "max(loss)")
    assert config.keys == {"runs.mark": "m"}
    assert config.problems == ()


@pytest.mark.parametrize(
    "text", ['primary = "val/acc"\n', '[primary]\ndetect = "mAP"\n"*" = "loss"\n']
)
def test_primary_in_either_form_is_no_problem(text: str) -> None:
    write_config(text)
    assert TuiConfig.load().problems == ()


def test_the_environment_wins_for_the_theme(monkeypatch: pytest.MonkeyPatch) -> None:
    write_config('theme = "nord"\n')
    monkeypatch.setenv("TRACKUI_THEME", "gruvbox")
    assert TuiConfig.load().theme == "gruvbox"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("theme = [", "config.toml"),
        ("page_size = 'many'", "page_size should be an integer"),
        ("page_size = true", "page_size should be an integer"),
        ("page_size = 3", "page_size below 10"),
        ("columns = 'lr0'", "columns should be a list"),
        ("keys = 3", "[keys] should map"),
        ("primary = 3", "primary should be a metric key"),
        ("[primary]\ndetect = 1", "primary should be a metric key"),
    ],
)
def test_a_bad_file_gives_defaults_and_says_why(text: str, problem: str) -> None:
    write_config(text)
    config = TuiConfig.load()
    assert any(problem in p for p in config.problems), config.problems
    assert config.page_size in (200, 10)


def test_columns_are_remembered_per_store(tmp_path: Path) -> None:
    memory = ColumnMemory()
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    assert memory.load(a) is None
    memory.save(a, ["lr0", "last(loss)"])
    memory.save(b, [])
    assert ColumnMemory().load(a) == ["lr0", "last(loss)"]
    assert ColumnMemory().load(b) == []  # chosen: none, unlike never chosen
    link = tmp_path / "link"
    os.symlink(a, link)
    assert ColumnMemory().load(link) == ["lr0", "last(loss)"]  # keyed by the real path


def test_a_corrupt_memory_file_is_forgotten_not_fatal(tmp_path: Path) -> None:
    memory = ColumnMemory()
    memory.path.parent.mkdir(parents=True, exist_ok=True)
    memory.path.write_text("{not json")
    assert memory.load(tmp_path) is None
    memory.save(tmp_path, ["lr0"])
    assert memory.load(tmp_path) == ["lr0"]
