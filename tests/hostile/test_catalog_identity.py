"""A run's identity is not only its directory's name: a native run directory
copied into another project is a second run, listed beside the original with
its own points, live and after a reindex. The original keeps its id; the
copy's id is its directory relative to the store (``<project>/<id>``), which
``show`` and every query take."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from trackui.store.queries import Store

from .catalog_helpers import write_run

RUN = "20260101-000000000-orig"


def counts(store: Store) -> dict[str, int]:
    return {r.id: len(store.history(r.id, "m0")) for r in store.list_runs()}


def test_copied_run_is_a_second_run_live_and_after_reindex(tmp_path: Path) -> None:
    root = tmp_path / "store"
    write_run(root, RUN, project="a", points=1000)
    with Store(root) as store:
        assert counts(store) == {RUN: 1000}
        shutil.copytree(root / "a" / RUN, root / "b" / RUN)
        store.refresh()
        assert counts(store) == {RUN: 1000, f"b/{RUN}": 1000}
        store.reindex()
        assert counts(store) == {RUN: 1000, f"b/{RUN}": 1000}
        assert store.resolve(RUN[:20]) == RUN  # an id prefix still finds the original
        assert store.resolve(f"b/{RUN}") == f"b/{RUN}"
        copy = store.get_run(f"b/{RUN}")
        assert copy.run.project == "a"  # as its meta.json says
        assert copy.dir.endswith(f"b/{RUN}") and copy.rel_dir == f"b/{RUN}"
    with Store(root) as store:  # a fresh catalog keys them the same way
        assert counts(store) == {RUN: 1000, f"b/{RUN}": 1000}


def test_original_keeps_its_id_whichever_project_sorts_first(tmp_path: Path) -> None:
    root = tmp_path / "store"
    write_run(root, RUN, project="z", points=3)
    shutil.copytree(root / "z" / RUN, root / "a" / RUN)
    with Store(root) as store:
        assert counts(store) == {RUN: 3, f"a/{RUN}": 3}
        assert store.get_run(RUN).dir.endswith(f"z/{RUN}")


def test_copy_within_a_project_under_another_name(tmp_path: Path) -> None:
    root = tmp_path / "store"
    write_run(root, RUN, project="a", points=4)
    shutil.copytree(root / "a" / RUN, root / "a" / f"{RUN}-copy")
    with Store(root) as store:
        assert counts(store) == {RUN: 4, f"{RUN}-copy": 4}


def test_removing_the_original_leaves_the_copy(tmp_path: Path) -> None:
    root = tmp_path / "store"
    write_run(root, RUN, project="a", points=5)
    shutil.copytree(root / "a" / RUN, root / "b" / RUN)
    with Store(root) as store:
        assert counts(store) == {RUN: 5, f"b/{RUN}": 5}
        shutil.rmtree(root / "a" / RUN)
        store.refresh()
        assert sum(counts(store).values()) == 5 and len(counts(store)) == 1


@pytest.mark.parametrize("ref", ["show", "json"])
def test_cli_show_addresses_the_copy(
    tmp_path: Path, ref: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from trackui.cli import main

    root = tmp_path / "store"
    write_run(root, RUN, project="a", points=2)
    shutil.copytree(root / "a" / RUN, root / "b" / RUN)
    monkeypatch.setenv("TRACKUI_DIR", str(root))
    args = ["show", f"b/{RUN}"] + (["--json"] if ref == "json" else [])
    assert main(args) == 0
    assert f"b/{RUN}" in capsys.readouterr().out
