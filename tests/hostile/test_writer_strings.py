"""Hostile strings given to the writer: lone surrogates (what Python makes of
undecodable bytes in a Latin-1 working directory, argument or file name, and
what careless code produces) in every field a run stores. Every file the
writer writes must hold valid UTF-8 once parsed: undecodable bytes of paths
and argv kept as ``\\xNN`` text, other lone surrogates as U+FFFD."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import trackui
from trackui.store import paths
from trackui.store.queries import Store


@pytest.fixture(autouse=True)
def _no_run_left_behind() -> Iterator[None]:
    yield
    run = trackui.run
    if run is not None and not run.finished:
        run.finish()


def strings_in(obj: Any) -> Iterator[str]:
    """Every str in a parsed JSON value, keys included."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield key
            yield from strings_in(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from strings_in(value)


def parsed_files(run_dir: Path) -> Iterator[tuple[str, Any]]:
    """(file name, parsed JSON value) of every JSON document and JSON line in a run."""
    for path in sorted(run_dir.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        text = data.decode("utf-8")  # raises on bytes that are not UTF-8
        if path.suffix == ".json":
            yield path.name, json.loads(text)
        elif path.suffix == ".jsonl":
            for line in text.splitlines():
                yield path.name, json.loads(line)


def assert_valid_utf8(run_dir: Path) -> None:
    for name, value in parsed_files(run_dir):
        for text in strings_in(value):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                pytest.fail(f"{name} holds a string that is not valid UTF-8: {text!r}")


def test_lone_surrogates_in_every_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    latin1_dir = os.fsdecode(bytes(tmp_path) + b"/caf\xe9")  # 'caf\udce9'
    os.mkdir(latin1_dir)
    monkeypatch.chdir(latin1_dir)
    monkeypatch.setattr(sys, "argv", ["train.py", "--data", os.fsdecode(b"d\xe9j\xe0.csv")])
    artifact = os.fsdecode(bytes(tmp_path) + b"/w\xe9ights.pt")
    with open(artifact, "wb") as fh:
        fh.write(b"weights")
    root = tmp_path / "store"
    run = trackui.init(
        project="proj\ud800",
        name="run\udce9",
        group="grp\udfff",
        tags=["tag\udc80", "ok"],
        notes="notes\ud834",
        config={"lr\udce9": 0.1, "opt": {"name\ud800": "s\udcffgd", "list": ["x\udc81", 1]}},
        dir=root,
        console=False,
    )
    run.log({"loss\udce9": 1.0, "acc": 0.5})
    run.log({"loss\udce9": 0.5, "nested": {"k\ud801": 2.0}})
    run.config["extra\udc82"] = "v\udc83"
    run.summary["best\udc84"] = "s\ud802"
    assert run.log_artifact(artifact) is not None
    assert run.log_artifact(artifact, name="named\udce9.pt") is not None
    try:
        raise RuntimeError("failed on " + artifact)
    except RuntimeError as exc:
        run.finish(exception=exc)

    assert_valid_utf8(run.dir)
    meta = json.loads((run.dir / paths.META).read_text())
    assert meta["project"] == "proj\ufffd"
    assert meta["name"] == "run\ufffd"
    assert (meta["group"], meta["tags"], meta["notes"]) == (
        "grp\ufffd",
        ["tag\ufffd", "ok"],
        "notes\ufffd",
    )
    # paths and argv keep the undecodable bytes recognisable
    assert meta["cwd"].endswith("/caf\\xe9")
    assert meta["argv"] == ["train.py", "--data", "d\\xe9j\\xe0.csv"]
    config = json.loads((run.dir / paths.CONFIG).read_text())
    assert config == {
        "lr\ufffd": 0.1,
        "opt": {"name\ufffd": "s\ufffdgd", "list": ["x\ufffd", 1]},
        "extra\ufffd": "v\ufffd",
    }
    assert json.loads((run.dir / paths.SUMMARY).read_text()) == {"best\ufffd": "s\ufffd"}
    rows = [json.loads(line) for line in (run.dir / paths.METRICS).read_text().splitlines()]
    assert [sorted(k for k in row if not k.startswith("_")) for row in rows] == [
        ["acc", "loss\ufffd"],
        ["loss\ufffd", "nested/k\ufffd"],
    ]
    names = [
        json.loads(line)["name"] for line in (run.dir / paths.ARTIFACTS).read_text().splitlines()
    ]
    assert names == ["w\\xe9ights.pt", "named\\xe9.pt"]
    assert (run.dir / paths.ARTIFACT_DIR / "w\\xe9ights.pt").read_bytes() == b"weights"
    finish = json.loads((run.dir / paths.EVENTS).read_text().splitlines()[-1])
    assert finish["exception"]["message"].endswith("/w\\xe9ights.pt")

    # the store stays browsable: the run is listed under its repaired names
    with Store(root) as store:
        (listed,) = store.list_runs()
        assert (listed.project, listed.name) == ("proj\ufffd", "run\ufffd")


def test_a_surrogate_key_is_repaired_every_time_not_only_the_first(tmp_path: Path) -> None:
    """Keys are checked once and remembered; a key that needed repair must be
    stored repaired on every later call too, and two keys that repair alike
    share one series."""
    run = trackui.init(project="p", dir=tmp_path / "store", console=False)
    first, second = "a" + chr(0xDCE9), "a" + chr(0xDCEA)  # both repair to "a\ufffd"
    for i in range(3):
        run.log({first: float(i), second: float(i), "b": 1})
    run.finish()
    rows = [json.loads(line) for line in (run.dir / paths.METRICS).read_text().splitlines()]
    assert [sorted(row) for row in rows] == [["_step", "_t", "a\ufffd", "b"]] * 3
    assert_valid_utf8(run.dir)


def test_git_output_that_is_not_utf8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A branch name and a diff with Latin-1 bytes (git hands bytes through)."""
    fake_git = tmp_path / "bin" / "git"
    fake_git.parent.mkdir()
    fake_git.write_bytes(
        b"#!/bin/sh\n"
        b'case "$*" in\n'
        b'  "rev-parse HEAD") echo 0123456789abcdef0123456789abcdef01234567 ;;\n'
        b'  "rev-parse --abbrev-ref HEAD") printf "caf\\351\\n" ;;\n'
        b'  "status --porcelain --untracked-files=no") echo " M x.py" ;;\n'
        b'  "remote get-url origin") printf "https://tok@example.com/r\\351.git\\n" ;;\n'
        b'  "diff HEAD") printf "+caf\\351\\n" ;;\n'
        b"  *) exit 1 ;;\n"
        b"esac\n"
    )
    fake_git.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_git.parent}{os.pathsep}{os.environ['PATH']}")
    run = trackui.init(project="p", dir=tmp_path / "store", console=False)
    run.finish()
    meta = json.loads((run.dir / paths.META).read_text())
    assert meta["git"]["branch"] == "caf\\xe9"
    assert meta["git"]["remote"] == "https://example.com/r\\xe9.git"
    assert (run.dir / paths.CODE_DIFF).read_text(encoding="utf-8") == "+caf\\xe9\n"
    assert_valid_utf8(run.dir)
