"""``trackui SOURCE…`` with several sources, ``--last``, the ``sources`` of
config.toml, ``box``/``location`` in ``--json``, and how ``ls``/``show``/
``diff`` report a box that does not answer (exit status as ``ls``/``rsync``
give one). Local sources only: the same over ssh is in
tests/e2e/test_remote_e2e.py."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import trackui
from trackui.cli import main
from trackui.cli_resolve import report_unreachable
from trackui.tui import app as app_module

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def log_run(root: Path, project: str, name: str, lr: float) -> None:
    with trackui.init(
        project=project, name=name, config={"lr": lr}, dir=root, console=False
    ) as run:
        run.log({"loss": lr}, step=0)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The store root each ``trackui …`` would have opened the TUI on."""
    roots: list[Path] = []

    class NoTui:
        def __init__(self, store: Any, **_: Any) -> None:
            self.store = store

        def run(self) -> None:
            roots.append(self.store.root)

    monkeypatch.setattr(app_module, "make_app", NoTui)
    return roots


def test_ls_json_carries_box_location_and_host(
    fixture_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other"
    log_run(other, "p", "solo", 0.5)
    code, out, err = run_cli(capsys, "ls", "--json", str(fixture_store), str(other))
    assert code == 0, err
    runs = json.loads(out)
    assert {r["box"] for r in runs} == {"local"}
    assert {r["location"] for r in runs} == {str(fixture_store), str(other)}
    assert all("host" in r for r in runs)
    code, out, _ = run_cli(capsys, "show", "-d", str(other), "solo", "--json")
    shown = json.loads(out)
    assert (shown["box"], shown["location"]) == ("local", str(other))


def test_several_sources_open_one_session_and_last_reopens_it(
    fixture_store: Path, tmp_path: Path, opened: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    log_run(other, "p", "solo", 0.5)
    assert main([str(fixture_store), str(other)]) == 0
    session = opened[-1]
    assert session not in (fixture_store, other)  # a catalog of its own, over both
    monkeypatch.chdir(tmp_path / "other")  # --last works from anywhere
    assert main(["--last"]) == 0
    assert opened[-1] == session
    # one store is opened as itself, as before, and becomes the last set
    assert main([str(fixture_store)]) == 0
    assert opened[-1] == fixture_store
    assert main(["--last"]) == 0
    assert opened[-1] == fixture_store


def test_last_with_nothing_opened_yet_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "--last")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "--last" in err


def test_no_argument_opens_the_default_store_plus_configured_sources(
    fixture_store: Path, tmp_path: Path, opened: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([]) == 0
    default = Path(os.environ["TRACKUI_DIR"])
    assert opened[-1] == default  # nothing configured: the default store, as before
    config = Path(os.environ["TRACKUI_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text(f"sources = [{json.dumps(str(fixture_store))}]\n")
    log_run(default, "mine", "home-run", 0.1)
    assert main([]) == 0
    assert opened[-1] != default
    # ls with no source lists the same set
    code, out, err = run_cli(capsys, "ls", "--json")
    assert code == 0, err
    names = {r["name"] for r in json.loads(out)}
    assert {"home-run", "yolo-sgd", "resnet-kill"} <= names


@pytest.mark.parametrize(
    "spec, said",
    [
        ("{tmp}/missing", "no such store or directory"),
        ("box1::module", "host::module"),
        ("rsync://box1/runs", "URLs are not supported"),
    ],
)
def test_a_bad_spec_is_one_line_and_exit_2(
    fixture_store: Path,
    tmp_path: Path,
    opened: list[Path],
    capsys: pytest.CaptureFixture[str],
    spec: str,
    said: str,
) -> None:
    spec = spec.format(tmp=tmp_path)
    for argv in ([str(fixture_store), spec], ["ls", str(fixture_store), spec]):
        code, out, err = run_cli(capsys, *argv)
        assert code == 2, (argv, err)
        assert out == "" and err.count("\n") == 1 and said in err, err
        assert "Traceback" not in err
    assert opened == []


def state(location: str, runs: int, error: str = "ssh: connect refused") -> Any:
    box = location.partition(":")[0]
    return SimpleNamespace(box=box, location=location, state="unreachable", error=error, runs=runs)


def test_unreachable_exit_status_and_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert report_unreachable([]) == 0
    # down, its runs listed as last read: 1, like rsync's partial transfer
    assert report_unreachable([state("gpu1:~/runs", 12)]) == 1
    err = capsys.readouterr().err
    assert err == "trackui: gpu1:~/runs: ssh: connect refused (its 12 runs listed as last read)\n"
    # a source that gave nothing at all (never read): 2, like ls of a missing path
    error = "gpu2: host not found: Could not resolve hostname gpu2"
    assert report_unreachable([state("gpu1:~/runs", 3), state("gpu2:/x", 0, error)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[1] == f"trackui: {error}"  # the box named once
