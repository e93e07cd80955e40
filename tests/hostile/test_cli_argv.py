"""Command-line arguments that are not UTF-8 (Python hands them over as lone
surrogates) never crash the CLI: paths are read with their bytes as ``\\xNN``
text, a run name or value that matches nothing is a one-line error or an
empty answer, and stored strings with lone surrogates are written out
without an exception."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trackui import cli_output
from trackui.cli import main

BAD = b"\xff\xfeoops\x80"


def run_bytes(*args: bytes | str) -> subprocess.CompletedProcess[bytes]:
    """``python -m trackui`` in a real process, arguments as raw bytes."""
    return subprocess.run(
        [sys.executable, "-m", "trackui", *args],
        capture_output=True,
        env={**os.environ, "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8"},
        timeout=120,
    )


def assert_one_line(proc: subprocess.CompletedProcess[bytes], args: object) -> str:
    err = proc.stderr.decode("utf-8")  # valid UTF-8, or this raises
    assert proc.returncode == 2, (args, err)
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(
    "args",
    [
        ["show", "-d", "{store}", BAD],
        ["diff", "-d", "{store}", "detect/yolo-sgd", BAD],
        ["ls", b"{tmp}/" + BAD],
        ["ls", "{store}", "--status", BAD],
        ["ls", "{store}", "--sort", b"median(" + BAD + b")"],
        ["show", "-d", b"{tmp}/" + BAD, "x"],
        ["import", b"{tmp}/" + BAD, "--store", "{tmp}/s"],
        [b"{tmp}/" + BAD],
    ],
    ids=[
        "show-run",
        "diff-run",
        "ls-source",
        "ls-status",
        "ls-sort",
        "show-store",
        "import-path",
        "tui-path",
    ],
)
def test_undecodable_arguments_are_one_line_errors(
    fixture_store: Path, tmp_path: Path, args: list[bytes | str]
) -> None:
    def fill(arg: bytes | str) -> bytes | str:
        if isinstance(arg, bytes):
            return arg.replace(b"{tmp}", os.fsencode(tmp_path))
        return arg.replace("{store}", str(fixture_store)).replace("{tmp}", str(tmp_path))

    argv = [fill(a) for a in args]
    err = assert_one_line(run_bytes(*argv), argv)
    assert "\\xff" in err or "status" in err or "summary" in err  # the bytes shown as text


def test_undecodable_values_that_match_nothing_list_nothing(fixture_store: Path) -> None:
    for args in (
        ["ls", str(fixture_store), "--json", "--where", b"name=" + BAD],
        ["ls", str(fixture_store), "--json", "--project", BAD],
        ["ls", str(fixture_store), "--json", "-c", BAD],
    ):
        proc = run_bytes(*args)
        assert proc.returncode == 0, proc.stderr.decode()
        runs = json.loads(proc.stdout)
        if "-c" in args:
            assert len(runs) == 5 and all(r["\\xff\\xfeoops\\x80"] is None for r in runs)
        else:
            assert runs == []


def test_surrogates_in_process_arguments(
    fixture_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = os.fsdecode(BAD)  # what sys.argv holds for those bytes
    assert main(["show", "-d", str(fixture_store), bad]) == 2
    err = capsys.readouterr().err
    assert "no run '\\xff\\xfeoops\\x80'" in err
    assert main(["ls", str(fixture_store), "--json", "--where", f"name={bad}"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_stored_lone_surrogates_never_crash_any_format(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The catalog repairs strings; the writers do not count on it."""
    name = "run-\udcff-\ud800"
    table = cli_output.Table(["name", "value"], [[name, "1"]], title=f"t{name}")
    for style in (None, "csv", "md", "wide"):
        cli_output.emit_table(table, style)
        out = capsys.readouterr().out
        out.encode("utf-8")
        assert "run-\ufffd-\ufffd" in out  # stored text is not a path: U+FFFD
    monkeypatch.setenv("TRACKUI_FORCE_RICH", "1")
    cli_output.emit_table(table, None)
    assert "run-\ufffd-\ufffd" in capsys.readouterr().out
    cli_output.emit_json({"name": name, name: [name]})
    out = capsys.readouterr().out
    out.encode("utf-8")
    assert "\\udcff" in out and json.loads(out)["name"] == name  # exact, escaped


def test_a_store_path_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    """``$TRACKUI_DIR`` from a Latin-1 world: named in one line, never a traceback."""
    store = os.fsencode(tmp_path) + b"/st" + BAD
    os.makedirs(store)
    for args in (["ls"], ["show", "x"], ["reindex"], ["import", str(tmp_path)]):
        proc = subprocess.run(
            [sys.executable, "-m", "trackui", *args],
            capture_output=True,
            env={**os.environb, b"TRACKUI_DIR": store, b"LC_ALL": b"C.UTF-8"},
            timeout=120,
        )
        err = assert_one_line(proc, args)
        assert "st\\xff\\xfeoops\\x80" in err
