"""``trackui STORE`` up to the app's first frame loads neither the foreign
readers, nor the ssh client, nor NumPy, nor (the catalog opened in a child) DuckDB: each module imported before the
first chart is launch time (benchmarks/bench_launch.py), and none of these
is needed to browse a native store."""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from trackui.cli import build_parser

from .conftest import FIXTURES, copy_store

PROBE = """
import sys
from trackui.tui import app

def run(self, *args, **kwargs):
    print(",".join(sorted(sys.modules)))

app.TrackuiApp.run = run
from trackui.cli import main
sys.exit(main(sys.argv[1:]))
"""

LEFT_OUT = (
    "numpy",
    "trackui.cli_groups",  # the other commands' parsers are not built
    "trackui.cli_sql",
    "trackui.cli_tidy",
    "trackui.store.importers",
    "trackui.store.sources.foreign",
    "trackui.store.remote.box",
    "trackui.store.remote.client",
    "trackui.store.remote.helper",
    "trackui.tui.column_picker",  # opened by a key, not on the way to the list
    "textual.widgets._selection_list",
)


def loaded_at_start(*argv: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True
    )
    lines = out.stdout.splitlines()
    assert len(lines) == 1, out.stdout + out.stderr
    return set(lines[0].split(","))


def test_opening_a_native_store_loads_no_reader_client_or_numpy(tmp_path: Path) -> None:
    loaded = loaded_at_start(str(copy_store(tmp_path / "store")))
    assert "trackui.tui.app" in loaded and "trackui.store.child_store" in loaded
    # the catalog was opened by a child process (store/child_store.py): this
    # one reached the app's first frame without importing DuckDB
    assert not [m for m in loaded if m.split(".")[0] in ("duckdb", "_duckdb")]
    assert "trackui.store.remote.spec" in loaded  # host:path was told from a path
    assert not [m for m in loaded if m.split(".")[0] == "numpy"]
    assert not [m for m in loaded for out in LEFT_OUT[1:] if m == out or m.startswith(out + ".")]


def test_the_remote_names_still_resolve() -> None:
    from trackui.store import remote
    from trackui.store.remote import RemoteBox, box, parse, spec

    assert RemoteBox is box.RemoteBox and parse is spec.parse
    for name in remote.__all__:
        assert getattr(remote, name) is not None


@pytest.mark.parametrize(
    "argv",
    [["tui"], ["tui", "a", "b:c"], ["tui", "--last"], ["tui", "--", "-odd"]],
)
def test_the_tui_alone_parses_as_the_whole_command_line(argv: list[str]) -> None:
    assert build_parser(tui_only=True).parse_args(argv) == build_parser().parse_args(argv)


@pytest.mark.parametrize("argv", [["tui", "--help"], ["tui", "--bogus"]])
def test_the_tui_alone_helps_and_refuses_as_the_whole_command_line(argv: list[str]) -> None:
    said = []
    for parser in (build_parser(tui_only=True), build_parser()):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            with pytest.raises(SystemExit) as stop:
                parser.parse_args(argv)
        said.append((stop.value.code, out.getvalue(), err.getvalue()))
    assert said[0] == said[1]
    assert said[0][1] or said[0][2]


DETECTING = (
    "trackui.store.importers.mlflow",  # each importer's detect(): MLflow's loads NumPy
    "trackui.store.importers._mlflow_sqlite",
    "trackui.store.importers._mlflow_columns",
    "trackui.store.importers.ultralytics",
)


def test_a_folder_read_before_is_opened_without_detecting_its_kinds_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``trackui FOLDER`` of other tools' runs: the first launch detects what
    the folder holds (every importer loaded) and makes its read-through
    store; a later one finds that store and opens it as it is."""
    import shutil

    from .conftest import FIXTURES

    folder = tmp_path / "runs"
    shutil.copytree(FIXTURES / "wandb", folder)
    monkeypatch.setenv("TRACKUI_CACHE_DIR", str(tmp_path / "cache"))
    first = loaded_at_start(str(folder))
    assert "trackui.tui.app" in first and all(m in first for m in DETECTING)
    again = loaded_at_start(str(folder))
    assert "trackui.tui.app" in again and not [m for m in DETECTING if m in again]
    from trackui.cli_resolve import source

    assert source(folder).root == source(folder).root  # the same store both times
    assert len(list((tmp_path / "cache" / "sources").iterdir())) == 1


def test_a_folder_of_no_runs_is_still_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trackui.cli_resolve import UsageError, source

    monkeypatch.setenv("TRACKUI_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("no runs here")
    with pytest.raises(UsageError):
        source(folder)
    assert not (tmp_path / "cache" / "sources").exists()


FPS_PROBE = """
import importlib.abc, importlib.util, sys


class Hook(importlib.abc.MetaPathFinder):  # the app's run replaced as it loads: Textual
    def find_spec(self, name, path, target=None):  # is imported by trackui, not before
        if name != "trackui.tui.app":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)

            def run(self, *args, **kwargs):
                from textual import constants, screen

                print(constants.MAX_FPS, round(1 / screen.UPDATE_PERIOD))

            module.TrackuiApp.run = run

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, Hook())
from trackui.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize(("env", "fps"), [({}, "120 120"), ({"TEXTUAL_FPS": "30"}, "30 30")])
def test_the_app_draws_up_to_120_frames_a_second_unless_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], fps: str
) -> None:
    """A change that lands just after a frame waits for the next one: 8 ms
    at 120 frames a second, not Textual's 17 at 60; TEXTUAL_FPS wins."""
    monkeypatch.delenv("TEXTUAL_FPS", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    store = copy_store(tmp_path / "store")
    out = subprocess.run(
        [sys.executable, "-c", FPS_PROBE, str(store)], capture_output=True, text=True, check=True
    )
    assert out.stdout.split("\n")[0] == fps


def test_the_run_screen_loads_without_plotext() -> None:
    """``enter`` waits for the Run screen's modules; plotext (a third of
    them) is imported by the app's warm-up after them, or by the first chart."""
    code = (
        "import sys; import trackui.tui.run_screen; print('plotext' in sys.modules); "
        "from trackui.tui.chart import new_figure; new_figure(); print('plotext' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_a_folder_read_through_before_opens_without_the_importers(tmp_path: Path) -> None:
    """The first ``trackui FOLDER`` of a W&B folder detects its kind (the
    importers); the next knows the folder from its read-through store and
    reaches the first frame without loading any importer."""
    folder = tmp_path / "wandb"
    shutil.copytree(FIXTURES / "wandb", folder)
    first = loaded_at_start(str(folder))
    assert "trackui.store.importers" in first  # detected
    again = loaded_at_start(str(folder))
    assert "trackui.tui.app" in again
    assert not [m for m in again if m.startswith("trackui.store.importers")]
