"""What ``trackui SPEC…`` opens, without a box: specs, session roots, the
last set, config.toml's ``sources`` and ``ssh``."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from trackui.store.queries import Store
from trackui.store.sources.session import (
    SourceError,
    configured_sources,
    last_specs,
    looks_native,
    parse_specs,
    remember_last,
    session_root,
    ssh_command,
)

from ..conftest import FIXTURES, copy_store


def test_a_local_path_wins_over_host_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gpu1:runs").mkdir()
    (local,) = parse_specs(["gpu1:runs"])
    assert (local.box, local.is_remote) == ("local", False)
    (remote,) = parse_specs(["gpu2:runs"])
    assert (remote.box, remote.location, remote.is_remote) == ("gpu2", "gpu2:runs", True)
    with pytest.raises(SourceError, match=r"^no such directory: missing/dir$"):
        parse_specs(["missing/dir"])
    with pytest.raises(SourceError, match="not supported"):
        parse_specs(["ssh://gpu1/runs"])


def test_one_store_is_itself_several_are_a_session(tmp_path: Path) -> None:
    a = copy_store(tmp_path / "a")
    b = copy_store(tmp_path / "b")
    assert session_root([str(a)]) == a
    both = session_root([str(a), str(b)])
    assert both != a and both == session_root([str(a), str(b)])
    doc = json.loads((both / ".sources.json").read_text())
    assert [(e["box"], e["location"], e["kind"]) for e in doc["sources"]] == [
        ("local", str(a), "trackui"),
        ("local", str(b), "trackui"),
    ]
    with Store(both) as store:
        runs = store.list_runs()
        # The same runs in two stores: each listed once per store, under its location.
        assert len(runs) == 10 and len({r.id for r in runs}) == 10
        assert {r.location for r in runs} == {str(a), str(b)}
        assert len(store.list_runs(where="box:local")) == 10
        assert [s.runs for s in store.sources()] == [5, 5]


def test_last_and_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert last_specs() is None
    remember_last(["gpu1:~/runs", "./local"])
    assert last_specs() == ["gpu1:~/runs", "./local"]
    assert configured_sources() == []
    assert ssh_command() == ["ssh"]
    config = Path(os.environ["TRACKUI_CONFIG_DIR"])
    config.mkdir(parents=True)
    (config / "config.toml").write_text(
        'sources = ["gpu1:~/runs", "gpu2:/data/runs"]\nssh = "ssh -F /etc/x config"\n'
    )
    assert configured_sources() == ["gpu1:~/runs", "gpu2:/data/runs"]
    assert ssh_command() == ["ssh", "-F", "/etc/x", "config"]
    monkeypatch.setenv("TRACKUI_SSH", "ssh -F '/tmp/a b/ssh_config'")
    assert ssh_command() == ["ssh", "-F", "/tmp/a b/ssh_config"]


def test_other_tools_config_files_do_not_make_a_folder_a_store(tmp_path: Path) -> None:
    """An output folder of Hugging Face runs holds ``<run>/checkpoint-N/config.json``,
    two levels down like a trackui run's files: it is read as HF runs, not as a
    store of runs named ``checkpoint-N``."""
    hf = tmp_path / "hf"
    shutil.copytree(FIXTURES / "hf" / "nlp", hf)
    assert not looks_native(hf)
    with Store(session_root([str(hf)])) as store:
        names = {run.name for run in store.list_runs()}
    assert names == {"bert-sst2", "gpt2-killed"}
    # a store's runs still count, also one whose meta.json was lost
    native = tmp_path / "store" / "proj" / "run1"
    native.mkdir(parents=True)
    (native / "metrics.jsonl").write_text("")
    assert looks_native(tmp_path / "store")
