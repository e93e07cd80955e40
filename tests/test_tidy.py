"""Keeping a store tidy: rm / restore (the store's trash), tag, rename, and
cache ls / prune; each checked through the catalog, as ls and sql see it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import trackui
from trackui.cli import main
from trackui.store import paths

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def ls(capsys: pytest.CaptureFixture[str], store: Path, *extra: str) -> dict[str, dict]:
    code, out, err = run_cli(capsys, "ls", str(store), "--json", *extra)
    assert code == 0, err
    return {r["name"]: r for r in json.loads(out)}


def meta_of(store: Path, name: str) -> tuple[Path, dict]:
    for meta in store.glob(f"*/*/{paths.META}"):
        doc = json.loads(meta.read_text())
        if doc.get("name") == name:
            return meta, doc
    raise AssertionError(f"no run {name}")


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = run_cli(capsys, *args)
    assert code == 2 and out == "", (code, out, err)
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


# -- rm / restore -----------------------------------------------------------------------------


def test_rm_moves_a_run_to_the_trash_and_restore_brings_it_back(
    fixture_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = ls(capsys, fixture_store, "-c", "lr0", "-c", "max(metrics/mAP50-95(B))")
    meta, _ = meta_of(fixture_store, "yolo-adamw")
    run_dir = meta.parent
    code, out, err = run_cli(capsys, "rm", "yolo-adamw", "-d", str(fixture_store))
    assert code == 0, err
    assert "trashed detect/yolo-adamw" in out and ".trash" in err
    trashed = fixture_store / ".trash" / "detect" / run_dir.name
    assert trashed.is_dir() and not run_dir.exists()
    assert set(ls(capsys, fixture_store)) == set(before) - {"yolo-adamw"}
    code, out, _ = run_cli(
        capsys,
        "sql",
        "SELECT count(*) AS n FROM params WHERE run = '" + run_dir.name + "'",
        str(fixture_store),
        "--json",
    )
    assert json.loads(out) == [{"n": 0}]

    code, out, _ = run_cli(capsys, "restore", "--list", "--json", "-d", str(fixture_store))
    listed = json.loads(out)
    assert [(t["id"], t["project"], t["name"]) for t in listed] == [
        (run_dir.name, "detect", "yolo-adamw")
    ]
    code, out, err = run_cli(capsys, "restore", "yolo-adamw", "-d", str(fixture_store))
    assert code == 0, err
    assert run_dir.is_dir() and not trashed.exists()
    after = ls(capsys, fixture_store, "-c", "lr0", "-c", "max(metrics/mAP50-95(B))")
    assert after == before
    code, out, _ = run_cli(capsys, "restore", "--list", "--json", "-d", str(fixture_store))
    assert json.loads(out) == []


def test_rm_refuses_a_running_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "live"
    run = trackui.init(project="p", name="training", dir=root, console=False, system_interval=0)
    try:
        run.log({"loss": 1.0})
        err = refused(capsys, "rm", "training", "-d", str(root))
        assert "running" in err
        assert ls(capsys, root)["training"]["status"] == "running"
    finally:
        run.finish()
    code, _, err = run_cli(capsys, "rm", "training", "-d", str(root))
    assert code == 0, err
    assert ls(capsys, root) == {}


def test_restore_refuses_when_the_place_is_taken(
    fixture_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    meta, _ = meta_of(fixture_store, "yolo-sgd")
    assert run_cli(capsys, "rm", "yolo-sgd", "-d", str(fixture_store))[0] == 0
    shutil.copytree(fixture_store / ".trash" / "detect" / meta.parent.name, meta.parent)
    err = refused(capsys, "restore", "yolo-sgd", "-d", str(fixture_store))
    assert "exists" in err
    assert (fixture_store / ".trash" / "detect" / meta.parent.name).is_dir()


# -- tag / rename -------------------------------------------------------------------------------


def test_tag_adds_and_removes_and_the_tags_filter(
    fixture_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    meta, doc = meta_of(fixture_store, "yolo-sgd")
    assert doc["tags"] == ["baseline", "sgd"]
    inode = meta.stat().st_ino
    code, out, err = run_cli(
        capsys, "tag", "yolo-sgd", "yolo-adamw", "+paper", "-baseline", "-d", str(fixture_store)
    )
    assert code == 0, err
    assert out.splitlines() == ["detect/yolo-sgd: sgd, paper", "detect/yolo-adamw: adamw, paper"]
    _, new = meta_of(fixture_store, "yolo-sgd")
    assert new == {**doc, "tags": ["sgd", "paper"]}  # every other field kept
    assert meta.stat().st_ino != inode  # replaced by rename, not rewritten in place
    assert not list(meta.parent.glob(".meta.json.*"))  # no temp file left
    assert set(ls(capsys, fixture_store, "--where", "tag:paper")) == {"yolo-sgd", "yolo-adamw"}
    assert ls(capsys, fixture_store, "--where", "tag:baseline") == {}
    # A tag that looks like an option, through --add / --remove.
    code, out, _ = run_cli(capsys, "tag", "-d", str(fixture_store), "yolo-oom", "--add=-x", "+y")
    assert code == 0 and out == "detect/yolo-oom: -x, y\n"
    code, out, _ = run_cli(capsys, "tag", "yolo-oom", "--remove=-x", "-d", str(fixture_store))
    assert out == "detect/yolo-oom: y\n"
    assert ls(capsys, fixture_store)["yolo-oom"]["tags"] == ["y"]


def test_rename_keeps_the_id_and_every_other_field(
    fixture_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    meta, doc = meta_of(fixture_store, "resnet-kill")
    code, out, err = run_cli(
        capsys, "rename", "resnet-kill", "resnet 50 · 早停", "-d", str(fixture_store)
    )
    assert code == 0, err
    assert json.loads(meta.read_text()) == {**doc, "name": "resnet 50 · 早停"}
    runs = ls(capsys, fixture_store)
    assert "resnet-kill" not in runs
    assert runs["resnet 50 · 早停"]["id"] == doc["id"] == meta.parent.name
    code, out, _ = run_cli(
        capsys, "show", "cls/resnet 50 · 早停", "-d", str(fixture_store), "--json"
    )
    assert code == 0 and json.loads(out)["id"] == doc["id"]


@pytest.mark.parametrize(
    "args, words",
    [
        (["rm", "nope"], "no run 'nope'"),
        (["rm", "yolo-sgd", "yolo-sgd"], "twice"),
        (["restore", "nope"], "no run 'nope' in the trash"),
        (["restore"], "--list"),
        (["tag", "yolo-sgd"], "nothing to change"),
        (["tag", "+x"], "name one or more runs"),
        (["tag", "yolo-sgd", "+"], "empty tag"),
        (["tag", "yolo-sgd", "+a\x1bb"], "control character"),
        (["rename", "yolo-sgd", "  "], "empty name"),
        (["rename", "yolo-sgd", "a\nb"], "control character"),
        (["rename", "nope", "x"], "no run 'nope'"),
        (["rm"], "required"),
    ],
)
def test_errors_are_one_line_exit_2(
    fixture_store: Path, capsys: pytest.CaptureFixture[str], args: list[str], words: str
) -> None:
    err = refused(capsys, *args, "-d", str(fixture_store))
    assert words in err
    assert len(ls(capsys, fixture_store)) == 5


def test_a_meta_json_that_is_not_json_is_left_alone(
    fixture_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    meta, _ = meta_of(fixture_store, "yolo-oom")
    ls(capsys, fixture_store)
    meta.write_bytes(meta.read_bytes() + b"\xff")  # now invalid UTF-8 and trailing garbage
    before = meta.read_bytes()
    err = refused(capsys, "tag", meta.parent.name, "+x", "-d", str(fixture_store))
    assert "meta.json" in err
    assert meta.read_bytes() == before


def test_runs_of_other_tools_are_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    code, _, err = run_cli(capsys, "import", str(FIXTURES / "ultralytics"), "--store", str(store))
    assert code == 0, err
    folder = shutil.copytree(FIXTURES / "ultralytics", tmp_path / "yolo")
    for source in (store, folder):  # imported, and read through
        runs = ls(capsys, source)
        name = next(iter(runs))
        for args in (["rm", name], ["tag", name, "+x"], ["rename", name, "other"]):
            err = refused(capsys, *args, "-d", str(source))
            assert "is a run of ultralytics" in err
        assert ls(capsys, source) == runs


# -- cache ------------------------------------------------------------------------------------------


def test_cache_ls_and_prune_the_catalogs_of_stores_that_are_gone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = shutil.copytree(FIXTURES / "store", tmp_path / "kept")
    gone = shutil.copytree(FIXTURES / "store", tmp_path / "gone")
    ls(capsys, kept)
    ls(capsys, gone)
    shutil.rmtree(gone)
    code, out, _ = run_cli(capsys, "cache", "ls", "--json")
    entries = {e["store"]: e for e in json.loads(out)}
    assert entries[str(kept)]["state"] == "present" and entries[str(kept)]["runs"] == 5
    assert entries[str(gone)]["state"] == "gone"
    gone_file = Path(entries[str(gone)]["path"])
    assert gone_file == paths.catalog_path(gone) and gone_file.exists()

    code, out, err = run_cli(capsys, "cache", "prune", "--dry-run")
    assert code == 0 and "would remove" in out and gone_file.exists()
    code, out, err = run_cli(capsys, "cache", "prune")
    assert code == 0 and str(gone) in out
    assert not gone_file.exists() and paths.catalog_path(kept).exists()
    code, out, _ = run_cli(capsys, "cache", "ls", "--json")
    assert [e["store"] for e in json.loads(out)] == [str(kept)]


def test_prune_keeps_a_catalog_another_process_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = shutil.copytree(FIXTURES / "store", tmp_path / "held")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from trackui.store.catalog import open_catalog; "
            f"c = open_catalog({str(store)!r}); print('ready', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        shutil.rmtree(store)
        code, out, _ = run_cli(capsys, "cache", "ls", "--json")
        (entry,) = json.loads(out)
        assert entry["state"] == "in use"
        code, out, _ = run_cli(capsys, "cache", "prune", "--older-than", "0")
        assert code == 0 and out == ""
        assert Path(entry["path"]).exists()
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)
    code, out, _ = run_cli(capsys, "cache", "prune")
    assert "removed catalog" in out and not Path(entry["path"]).exists()


def test_cache_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert "ls or prune" in refused(capsys, "cache")
    assert "must be 0 or more" in refused(capsys, "cache", "prune", "--older-than", "-1")


def test_prune_read_through_catalogs_of_folders_that_are_gone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = shutil.copytree(FIXTURES / "ultralytics", tmp_path / "yolo")
    assert len(ls(capsys, folder)) > 0  # a catalog over the folder, nothing copied
    code, out, _ = run_cli(capsys, "cache", "ls", "--json")
    entries = json.loads(out)
    assert {e["kind"] for e in entries} == {"catalog", "source"}
    assert all(e["store"] == str(folder) and e["state"] == "present" for e in entries)
    code, out, _ = run_cli(capsys, "cache", "prune")
    assert code == 0 and out == ""
    shutil.rmtree(folder)
    code, out, _ = run_cli(capsys, "cache", "prune")
    assert code == 0 and "removed source" in out and "removed catalog" in out
    assert all(not Path(e["path"]).exists() for e in entries)
    code, out, _ = run_cli(capsys, "cache", "ls", "--json")
    assert json.loads(out) == []


def test_prune_imported_copies_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trackui.store.importers import import_path, private_store_for

    folder = shutil.copytree(FIXTURES / "ultralytics", tmp_path / "yolo")
    copy_root = private_store_for(folder)  # what older versions made for `trackui FOLDER`
    import_path(copy_root, folder)
    assert len(ls(capsys, copy_root)) > 0
    code, out, _ = run_cli(capsys, "cache", "ls", "--json")
    (copy,) = [e for e in json.loads(out) if e["kind"] == "imported"]
    assert copy["state"] == "present" and copy["store"].startswith(str(folder))
    shutil.rmtree(folder)
    code, out, _ = run_cli(capsys, "cache", "prune")
    assert code == 0 and out == "" and Path(copy["path"]).is_dir()
    code, out, _ = run_cli(capsys, "cache", "prune", "--imported")
    assert code == 0 and not Path(copy["path"]).exists()
    assert "removed imported" in out and "removed catalog" in out
    code, out, _ = run_cli(capsys, "cache", "ls", "--json")
    assert json.loads(out) == []


def test_store_level_changes_report_what_they_left_alone(tmp_path: Path) -> None:
    from trackui.store import tidy
    from trackui.store.queries import Store

    root = tmp_path / "mixed"
    done = trackui.init(project="p", name="done", dir=root, console=False, system_interval=0)
    done.finish()
    live = trackui.init(project="p", name="live", dir=root, console=False, system_interval=0)
    try:
        with Store(root) as store:
            ids = {r.name: r.id for r in store.list_runs()}
            tagged = tidy.tag_runs(store, [ids["live"], ids["done"]], ["x"], [])
            assert tagged == tidy.Outcome((ids["live"], ids["done"]), ())
            out = tidy.trash_runs(store, [ids["live"], ids["done"], "gone-id"])
            assert out.done == (ids["done"],)
            assert len(out.refused) == 2 and "p/live: it is running" in out.refused[0]
            store.refresh()
            assert [(r.name, r.tags) for r in store.list_runs()] == [("live", ("x",))]
    finally:
        live.finish()
