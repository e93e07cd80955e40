"""Every option of every subcommand given a malformed value: one line on
stderr naming the thing, exit status 2, no traceback. Walked in-process
(argparse's own errors arrive as SystemExit(2)) and a sample in a real
process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from trackui.cli import main

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures"


def run_any(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    try:
        code = main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def places(fixture_store: Path, tmp_path: Path) -> dict[str, str]:
    """Paths the cases below name: a store, a second copy of it, a plain
    file, a folder of files that are no runs, an empty folder."""
    second = tmp_path / "second"
    shutil.copytree(fixture_store, second)
    (tmp_path / "notes.txt").write_text("not a store\n")
    junk = tmp_path / "junk"
    (junk / "sub").mkdir(parents=True)
    (junk / "sub" / "data.bin").write_bytes(b"\0" * 10)
    (tmp_path / "empty").mkdir()
    return {
        "store": str(fixture_store),
        "second": str(second),
        "file": str(tmp_path / "notes.txt"),
        "junk": str(junk),
        "empty": str(tmp_path / "empty"),
        "missing": str(tmp_path / "missing"),
        "dvclive": str(FIXTURES / "dvclive"),
    }


CASES: list[tuple[str, list[str], str]] = [
    # ls: every option
    ("ls-status", ["ls", "{store}", "--status", "bogus"], "unknown status"),
    ("ls-status-empty", ["ls", "{store}", "--status", ""], "unknown status"),
    ("ls-status-list", ["ls", "{store}", "-s", "finished,nope"], "unknown status"),
    ("ls-sort-func", ["ls", "{store}", "--sort", "median(x)"], "unknown summary 'median'"),
    ("ls-sort-empty", ["ls", "{store}", "--sort", ""], "--sort: empty column"),
    ("ls-sort-dash", ["ls", "{store}", "--sort", "-"], "--sort: empty column"),
    ("ls-sort-nokey", ["ls", "{store}", "--sort", "max()"], "needs a metric key"),
    ("ls-column-empty", ["ls", "{store}", "-c", ""], "empty column"),
    ("ls-column-blank", ["ls", "{store}", "-c", "  "], "empty column"),
    ("ls-column-func", ["ls", "{store}", "-c", "avg(loss)"], "unknown summary 'avg'"),
    ("ls-column-param", ["ls", "{store}", "-c", "param:"], "param: needs a key"),
    ("ls-where-op", ["ls", "{store}", "--where", "lr0<<"], "bad filter"),
    ("ls-where-paren", ["ls", "{store}", "--where", "(lr0<1"], "bad filter"),
    ("ls-where-field", ["ls", "{store}", "--where", "status:bogus"], "bad filter"),
    ("ls-where-value", ["ls", "{store}", "--where", "lr0<"], "bad filter"),
    ("ls-limit-word", ["ls", "{store}", "--limit", "x"], "invalid int"),
    ("ls-limit-neg", ["ls", "{store}", "--limit", "-1"], "--limit"),
    ("ls-limit-float", ["ls", "{store}", "-n", "1.5"], "invalid int"),
    ("ls-project-empty", ["ls", "{store}", "--project", ""], "--project"),
    ("ls-formats", ["ls", "{store}", "--json", "--csv"], "not allowed with"),
    ("ls-formats-md", ["ls", "{store}", "--md", "--json"], "not allowed with"),
    ("ls-unknown", ["ls", "{store}", "--bogus"], "unrecognized"),
    ("ls-source-file", ["ls", "{file}"], "is a file"),
    ("ls-source-junk", ["ls", "{junk}"], "holds no runs"),
    ("ls-source-missing", ["ls", "{missing}"], "no such store"),
    ("ls-store-file", ["ls", "-d", "{file}"], "is a file"),
    # show
    ("show-unknown", ["show", "-d", "{store}", "nope"], "no run 'nope'"),
    ("show-empty", ["show", "-d", "{store}", ""], "empty run name"),
    ("show-ambiguous", ["show", "-d", "{store}", "-d", "{second}", "yolo-sgd"], "ambiguous"),
    ("show-no-run", ["show", "-d", "{store}"], "required"),
    ("show-csv", ["show", "-d", "{store}", "yolo-sgd", "--csv"], "unrecognized"),
    ("show-formats", ["show", "-d", "{store}", "yolo-sgd", "--json", "--md"], "not allowed"),
    ("show-store-junk", ["show", "-d", "{junk}", "x"], "holds no runs"),
    ("show-store-missing", ["show", "-d", "{missing}", "x"], "no such store"),
    # diff
    ("diff-one", ["diff", "-d", "{store}", "yolo-sgd"], "at least two runs"),
    ("diff-twice", ["diff", "-d", "{store}", "yolo-sgd", "detect/yolo-sgd"], "named twice"),
    ("diff-unknown", ["diff", "-d", "{store}", "yolo-sgd", "nope"], "no run 'nope'"),
    (
        "diff-ambiguous",
        ["diff", "-d", "{store}", "-d", "{second}", "yolo-sgd", "yolo-adamw"],
        "ambiguous",
    ),
    ("diff-formats", ["diff", "-d", "{store}", "a", "b", "--csv", "--json"], "not allowed"),
    ("diff-store-file", ["diff", "-d", "{file}", "a", "b"], "is a file"),
    # reindex / import / demo / tui
    ("reindex-missing", ["reindex", "--store", "{missing}"], "no trackui store"),
    ("reindex-file", ["reindex", "--store", "{file}"], "no trackui store"),
    ("import-missing", ["import", "{missing}", "--store", "{empty}"], "no such file"),
    ("import-kind", ["import", "{store}", "--kind", "nosuch", "-d", "{empty}"], "unknown kind"),
    ("import-kind-empty", ["import", "{store}", "--kind", "", "-d", "{empty}"], "--kind"),
    ("import-project", ["import", "{store}", "-p", "", "-d", "{empty}"], "--project"),
    ("import-itself", ["import", "{store}", "--store", "{store}"], "into itself"),
    (
        "import-kind-mismatch",
        ["import", "{dvclive}", "--kind", "mlflow", "-d", "{empty}"],
        "no mlflow runs",
    ),
    ("import-nothing", ["import", "{junk}", "-d", "{empty}"], "no runs of a known kind"),
    ("demo-dir-file", ["demo", "--dir", "{file}", "--no-tui"], "notes.txt"),
    ("demo-dir-used", ["demo", "--dir", "{junk}", "--no-tui"], "not a demo store"),
    ("tui-file", ["{file}"], "is a file"),
    ("tui-junk", ["{junk}"], "holds no runs"),
    ("tui-missing", ["{missing}"], "no such store"),
    ("top-unknown", ["--bogus"], "unrecognized"),
]


@pytest.mark.parametrize("args, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_option_is_one_line_exit_2(
    places: dict[str, str], capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    argv = [a.format(**places) for a in args]
    code, out, err = run_any(capsys, argv)
    assert code == 2, (argv, out, err)
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert message in err, err


def test_an_empty_folder_is_a_store_with_no_runs(
    places: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_any(capsys, ["ls", places["empty"], "--json"])
    assert code == 0 and out.strip() == "[]", err


def test_errors_in_a_real_process(places: dict[str, str]) -> None:
    for args in (
        ["ls", places["store"], "--status", "bogus"],
        ["ls", places["store"], "--sort", "median(x)"],
        ["ls", places["store"], "-c", ""],
        ["ls", places["store"], "--where", "lr0<<"],
        ["ls", places["file"]],
        ["show", "-d", places["store"], "-d", places["second"], "yolo-sgd"],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "trackui", *args],
            capture_output=True,
            text=True,
            env={**os.environ},
            timeout=120,
        )
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "Traceback" not in proc.stderr
