"""Nothing a run wrote drives the terminal through the CLI: every output
format of ls / show / diff / import, and the error lines, scanned for ESC,
C0/C1 controls, BEL, OSC 52, bidi overrides and zero-width characters, with
hostile run names, projects, params, tags and metric keys. ``--json`` keeps
the exact values, with those characters escaped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from trackui.cli import main

from .cli_helpers import CLEAR, FORBIDDEN, HOSTILE, OSC52, TITLE, write_run

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures"


@pytest.fixture
def hostile_store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    write_run(root, "20261126-000000000-aaaaaa", HOSTILE[2], HOSTILE[0], value=0.5)
    write_run(root, "20261126-000000001-bbbbbb", HOSTILE[3], HOSTILE[1], value=0.25)
    return root


def scan(text: str, what: str) -> None:
    bad = FORBIDDEN.search(text)
    assert bad is None, (
        f"{what}: {bad.group()!r} reached the output: {text[max(0, bad.start() - 40) : bad.end() + 40]!r}"
    )


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


FORMATS = [(), ("--csv",), ("--md",), ("--json",), ("--wide",)]


@pytest.mark.parametrize("rich", [False, True], ids=["piped", "terminal"])
@pytest.mark.parametrize("style", FORMATS, ids=["table", "csv", "md", "json", "wide"])
def test_ls_never_prints_escapes(
    hostile_store: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    style: tuple[str, ...],
    rich: bool,
) -> None:
    if rich:
        monkeypatch.setenv("TRACKUI_FORCE_RICH", "1")
        monkeypatch.setenv("COLUMNS", "200")
    columns = [arg for h in HOSTILE for arg in ("-c", f"param:{h}")]
    stats = [arg for h in HOSTILE[:3] for arg in ("-c", f"max({h})")]
    code, out, err = run_cli(capsys, "ls", str(hostile_store), *columns, *stats, *style)
    assert code == 0, err
    scan(out, f"ls {style}")
    scan(err, f"ls {style} (stderr)")
    assert "clear\\x1b[2J" in out or "clear\\u001b[2J" in out  # made visible, not dropped
    if style == ("--json",):
        runs = json.loads(out)
        assert {r["name"] for r in runs} == {HOSTILE[0], HOSTILE[1]}  # exact values
        assert sorted(runs[0]["tags"]) == sorted(HOSTILE[:4])


@pytest.mark.parametrize("rich", [False, True], ids=["piped", "terminal"])
@pytest.mark.parametrize("style", [(), ("--md",), ("--json",)], ids=["table", "md", "json"])
def test_show_never_prints_escapes(
    hostile_store: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    style: tuple[str, ...],
    rich: bool,
) -> None:
    if rich:
        monkeypatch.setenv("TRACKUI_FORCE_RICH", "1")
    code, out, err = run_cli(capsys, "show", "-d", str(hostile_store), "20261126-000000000", *style)
    assert code == 0, err
    scan(out, f"show {style}")
    if style == ("--json",):
        detail = json.loads(out)
        assert detail["name"] == HOSTILE[0]
        assert set(detail["params"]) >= set(HOSTILE)
        assert set(detail["metrics"]) == set(HOSTILE)
    else:
        assert "\\u202e" in out  # the bidi override is shown, not obeyed


@pytest.mark.parametrize("rich", [False, True], ids=["piped", "terminal"])
@pytest.mark.parametrize(
    "style", [(), ("--csv",), ("--md",), ("--json",)], ids=["table", "csv", "md", "json"]
)
def test_diff_never_prints_escapes(
    hostile_store: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    style: tuple[str, ...],
    rich: bool,
) -> None:
    if rich:
        monkeypatch.setenv("TRACKUI_FORCE_RICH", "1")
        monkeypatch.setenv("COLUMNS", "80")
    code, out, err = run_cli(
        capsys, "diff", "-d", str(hostile_store), "20261126-000000000", "20261126-000000001", *style
    )
    assert code == 0, err
    scan(out, f"diff {style}")
    if style == ("--json",):
        assert [r["name"] for r in json.loads(out)["runs"]] == HOSTILE[:2]


def run_any(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``main`` as the shell sees it: argparse's own errors exit via SystemExit."""
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_errors_never_print_escapes(
    hostile_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for args in (
        ["show", "-d", str(hostile_store), HOSTILE[0][:5] + OSC52],
        ["ls", str(hostile_store), "--where", f"({CLEAR}"],
        ["ls", str(hostile_store), "--status", OSC52],
        ["ls", str(hostile_store), "--sort", f"median({TITLE})"],
        ["ls", str(hostile_store), "--limit", CLEAR],
        ["ls", str(hostile_store), f"--{OSC52}"],
        ["ls", str(hostile_store / f"x{CLEAR}")],
        ["diff", "-d", str(hostile_store), "20261126-000000000", f"{HOSTILE[4]}"],
    ):
        code, out, err = run_any(capsys, *args)
        assert code == 2, args
        assert len(err.strip().splitlines()) == 1, err
        scan(out + err, f"error of {args[0]} {args[-1]!r}")


def test_import_summary_never_prints_escapes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs" / "detect"
    good = runs / f"exp{TITLE}ok"
    shutil.copytree(FIXTURES / "ultralytics" / "runs" / "detect" / "exp_a", good)
    bad = runs / f"exp{OSC52}bad{CLEAR}"
    bad.mkdir()
    (bad / "args.yaml").write_text("lr0: [unclosed\n  : : :\n")
    (bad / "results.csv").write_bytes(b"epoch,metrics/mAP50(B)\n\x1b]0;t\x07,\x9b2J\n")
    code, out, err = run_cli(
        capsys, "import", str(tmp_path / "runs"), "--store", str(tmp_path / "s")
    )
    assert code == 0, err
    assert "imported" in out
    scan(out, "import summary")
    scan(err, "import summary (stderr)")
    code, out, err = run_cli(capsys, "ls", str(tmp_path / "runs"))
    assert code == 0, err
    scan(out + err, "ls of a foreign folder")
