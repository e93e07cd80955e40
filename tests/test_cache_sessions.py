"""`trackui cache ls|prune` over sessions of several sources and remote
mirrors: what each stands for, its size on disk and its last use; prune
removes a session whose sources are all gone (with its mirrors and its
catalog), a mirror its session no longer reads, and, with --older-than,
catalogs and sessions not used for that long."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from trackui.cli import main
from trackui.store import cache, paths
from trackui.store.queries import Store
from trackui.store.remote.source import MIRRORS
from trackui.store.sources.session import session_root

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DAY = 86400.0


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def cache_ls(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    code, out, err = run_cli(capsys, "cache", "ls", "--json")
    assert code == 0, err
    return json.loads(out)


def of_kind(entries: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in entries if e["kind"] == kind]


def age(path: Path, days: float) -> None:
    then = time.time() - days * DAY
    os.utime(path, (then, then))


def test_the_mirror_folder_name_is_the_one_remote_sources_use() -> None:
    assert cache.MIRRORS == MIRRORS


def test_a_session_of_two_stores_goes_when_both_are_gone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = shutil.copytree(FIXTURES / "store", tmp_path / "a")
    b = shutil.copytree(FIXTURES / "store", tmp_path / "b")
    root = session_root([str(a), str(b)])
    with Store(root) as store:
        assert store.count_runs() > 0
    entries = cache_ls(capsys)
    (session,) = of_kind(entries, "session")
    assert session["store"] == f"{a}, {b}" and session["state"] == "present"
    assert Path(session["path"]) == root and session["bytes"] > 0 and session["used"] > 0
    (catalog,) = [e for e in of_kind(entries, "catalog") if e["store"] == session["store"]]
    assert Path(catalog["path"]) == paths.catalog_path(root) and catalog["runs"] > 0

    shutil.rmtree(a)  # one of its sources is left: it stays
    code, out, _ = run_cli(capsys, "cache", "prune")
    assert code == 0 and out == "" and root.is_dir()
    shutil.rmtree(b)
    code, out, _ = run_cli(capsys, "cache", "prune", "--dry-run")
    assert code == 0 and f"would remove session {root}" in out and root.is_dir()
    code, out, _ = run_cli(capsys, "cache", "prune")
    assert code == 0 and "removed session" in out and "removed catalog" in out
    assert not root.exists() and not Path(catalog["path"]).exists()
    assert cache_ls(capsys) == []


def make_mirror(root: Path, name: str) -> Path:
    """A mirror as a remote source leaves it: fetched run files, a stub (the
    box's size, no content) for a checkpoint, and its table of what is held."""
    top = root / MIRRORS / name
    run = top / "files" / "proj" / "20260101-000000000-abcd"
    run.mkdir(parents=True)
    (run / "metrics.jsonl").write_text('{"_step": 0, "loss": 1.0}\n' * 2000)
    with open(run / "best.pt", "wb") as fh:
        fh.truncate(64 * 1024 * 1024)  # sparse: no blocks on disk
    (top / "state.json").write_text('{"kind": "trackui", "files": {}}')
    return top


def test_remote_mirrors_are_listed_with_their_source_and_size_on_disk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = session_root(["gpu1:~/runs"])  # no connection: only the session's list
    digest = hashlib.sha256(b"gpu1:~/runs").hexdigest()[:16]
    mirror = make_mirror(root, f"gpu1-{digest}")
    orphan = make_mirror(root, "gpu1-0123456789abcdef")  # a source the session no longer reads
    entries = cache_ls(capsys)
    (session,) = of_kind(entries, "session")
    assert session["store"] == "gpu1:~/runs" and session["state"] == "remote"
    mirrors = {Path(e["path"]): e for e in of_kind(entries, "mirror")}
    assert set(mirrors) == {mirror, orphan}
    assert mirrors[mirror]["store"] == "gpu1:~/runs" and mirrors[mirror]["state"] == "present"
    assert mirrors[orphan]["store"] is None and mirrors[orphan]["state"] == "gone"
    # the stub's 64 MiB are the box's, not this disk's
    assert 0 < mirrors[mirror]["bytes"] < 8 * 1024 * 1024
    assert mirrors[mirror]["used"] == pytest.approx((mirror / "state.json").stat().st_mtime)

    code, out, _ = run_cli(capsys, "cache", "ls")
    assert code == 0 and "gpu1:~/runs" in out and "mirror" in out and "remote" in out

    code, out, _ = run_cli(capsys, "cache", "prune")
    assert code == 0 and out.splitlines() == [f"removed mirror {orphan} (read by no source)"]
    assert mirror.is_dir() and root.is_dir() and not orphan.exists()

    # not used for ten days: with --older-than 5 the session goes, mirrors too
    age(root / ".sources.json", 10)
    age(mirror / "state.json", 10)
    code, out, _ = run_cli(capsys, "cache", "prune", "--older-than", "5")
    assert code == 0 and "removed mirror" in out and "removed session" in out
    assert not root.exists()


def test_last_use_is_when_the_tui_last_opened_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store_root = shutil.copytree(FIXTURES / "store", tmp_path / "old")
    with Store(store_root):
        pass
    catalog = paths.catalog_path(store_root)
    for path in catalog.parent.glob(catalog.name + "*"):
        age(path, 30)
    (entry,) = cache_ls(capsys)
    assert entry["used"] < time.time() - 29 * DAY

    import trackui.tui.app as tui_app

    class NoApp:
        def run(self) -> None:
            pass

    monkeypatch.setattr(tui_app, "make_app", lambda *a, **k: NoApp())
    code, _, err = run_cli(capsys, str(store_root))  # `trackui STORE`: the TUI opens it
    assert code == 0, err
    (entry,) = cache_ls(capsys)
    assert entry["used"] > time.time() - 60
    assert entry["modified"] < time.time() - 29 * DAY  # the catalog itself was not written
    code, out, _ = run_cli(capsys, "cache", "prune", "--older-than", "7")
    assert code == 0 and out == "" and catalog.exists()

    age(Path(str(catalog) + cache.USED_SUFFIX), 30)
    code, out, _ = run_cli(capsys, "cache", "prune", "--older-than", "7")
    assert code == 0 and "removed catalog" in out
    assert not catalog.exists() and not Path(str(catalog) + cache.USED_SUFFIX).exists()
