"""A refresh that finds nothing new costs a stat per folder, not per file
(store/quiet_runs.py, store/run_dirs.py), and still sees every change a
user makes, on a reopen and on a live refresh, including one made in the
same clock tick as the look before it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trackui.store import catalog_sync, run_dirs, tidy
from trackui.store.catalog import ROTATION
from trackui.store.queries import Store

#: Where the settled runs' files were last changed: an hour ago.
SETTLED = time.time() - 3600


def write_run(
    root: Path,
    project: str,
    name: str,
    *,
    finished: bool = True,
    imported: bool = False,
    steps: int = 3,
) -> Path:
    """A format-1 run directory (docs/format.md) named ``name``."""
    run = root / project / name
    run.mkdir(parents=True)
    meta = {
        "format": 1,
        "id": name,
        "project": project,
        "name": name,
        "tags": [],
        "created": SETTLED,
        "host": socket.gethostname(),
        "pid": os.getpid() if not finished else 1,
        "heartbeat_interval": 5.0,
    }
    (run / "meta.json").write_text(json.dumps(meta))
    (run / "config.json").write_text(json.dumps({"lr": 0.1}))
    (run / "summary.json").write_text(json.dumps({"best": 1.0}))
    (run / "metrics.jsonl").write_text(
        "".join(
            f'{{"_step": {s}, "_t": {SETTLED + s}, "loss": {1 / (s + 1)}}}\n' for s in range(steps)
        )
    )
    events = [{"event": "start", "t": SETTLED}]
    if finished:
        events.append({"event": "finish", "t": SETTLED + steps, "status": "finished"})
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (run / "heartbeat").touch()
    if imported:
        (run / "source.json").write_text(json.dumps({"kind": "csv", "path": "/elsewhere"}))
    return run


def settle(root: Path, when: float = SETTLED) -> None:
    """Every file and folder under ``root`` last changed at ``when`` (folders
    after their files: setting a file's times leaves its folder's alone)."""
    for folder, _, files in os.walk(root, topdown=False):
        for name in files:
            os.utime(os.path.join(folder, name), (when, when))
        os.utime(folder, (when, when))


def store_of(tmp_path: Path, projects: dict[str, list[str]], **kinds: Any) -> Path:
    root = tmp_path / "store"
    root.mkdir()
    for project, names in projects.items():
        for name in names:
            write_run(root, project, name, **kinds.get(name, {}))
    settle(root)
    return root


def quiet_store(root: Path) -> Store:
    """The store open, its finished runs read and then found quiet once."""
    store = Store(root)
    store.refresh()
    return store


def stamped(store: Store) -> int:
    return store.catalog.query("SELECT count(*) FROM files WHERE name = '.'")[0][0]


class Calls:
    """System calls of the ``os`` module made while installed, by kind."""

    KINDS = ("stat", "lstat", "scandir", "listdir", "open")

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.counts = dict.fromkeys(self.KINDS, 0)
        for kind in self.KINDS:
            real = getattr(os, kind)
            monkeypatch.setattr(os, kind, self._counted(kind, real))

    def _counted(self, kind: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.counts[kind] += 1
            return real(*args, **kwargs)

        return call

    def take(self) -> dict[str, int]:
        out, self.counts = self.counts, dict.fromkeys(self.KINDS, 0)
        return out


def test_a_refresh_that_finds_nothing_new_stats_each_folder_not_each_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    projects = {f"p{i}": [f"p{i}-run{j}" for j in range(6)] for i in range(3)}
    root = store_of(tmp_path, projects)
    runs, folders = 18, 1 + 3  # the store root and its projects
    files = sum(len(os.listdir(d)) for d in root.glob("*/*"))
    assert files == runs * 6
    with quiet_store(root) as store:
        assert stamped(store) == runs
    run_names = [name for names in projects.values() for name in names]
    with Store(root, refresh=False) as store:
        transactions = []
        real = store.catalog._transaction
        monkeypatch.setattr(
            store.catalog, "_transaction", lambda work: transactions.append(1) or real(work)
        )
        calls = Calls(monkeypatch)
        assert store.refresh().runs_changed == 0  # a reopen: nothing listed yet in this process
        reopen = calls.take()
        # Each folder listed once; each run: its directory and meta.json,
        # stat-ed relative to their project folder, opened once.
        assert reopen["scandir"] + reopen["listdir"] == folders
        assert reopen["stat"] + reopen["lstat"] == folders + 2 * runs
        assert reopen["open"] == len(projects)
        transactions.clear()  # the first refresh of a process derives statuses
        assert store.refresh().runs_changed == 0  # again: no folder is listed again
        again = calls.take()
        assert again["scandir"] + again["listdir"] == 0 and again["open"] == len(projects)
        assert again["stat"] + again["lstat"] == folders + 2 * runs
        assert transactions == []  # and not one catalog statement
        turn = (store.catalog._round + 1) % ROTATION
        in_turn = sum(zlib.crc32(run.encode()) % ROTATION == turn for run in run_names)
        assert store.refresh(full=False).runs_changed == 0  # the live tick: finished runs in turn
        live = calls.take()
        assert live["scandir"] + live["listdir"] == 0 and live["open"] <= len(projects)
        assert live["stat"] + live["lstat"] == folders + 2 * in_turn
        assert transactions == []
    assert reopen["stat"] + reopen["lstat"] < files


def names(store: Store) -> set[str]:
    return {r[0] for r in store.catalog.query("SELECT name FROM runs")}


def points(store: Store, run_id: str) -> int:
    return store.catalog.query(
        "SELECT count(*) FROM metrics WHERE run_no = (SELECT run_no FROM runs WHERE run_id = ?)",
        [run_id],
    )[0][0]


def _new_run(root: Path) -> Callable[[Store], bool]:
    write_run(root, "p", "new")
    return lambda s: "new" in names(s)


def _removed_run(root: Path) -> Callable[[Store], bool]:
    shutil.rmtree(root / "p" / "b")
    return lambda s: "b" not in names(s) and "a" in names(s)


def _renamed_run(root: Path) -> Callable[[Store], bool]:
    os.rename(root / "p" / "b", root / "p" / "b2")
    ids = lambda s: {r[0] for r in s.catalog.query("SELECT run_id FROM runs")}  # noqa: E731
    return lambda s: "b2" in ids(s) and "b" not in ids(s)


def _renamed_project(root: Path) -> Callable[[Store], bool]:
    os.rename(root / "q", root / "q2")
    rel = lambda s: s.catalog.query("SELECT rel_dir FROM runs WHERE run_id = 'd'")  # noqa: E731
    return lambda s: rel(s) == [("q2/d",)]


def _removed_project(root: Path) -> Callable[[Store], bool]:
    shutil.rmtree(root / "q")
    return lambda s: "d" not in names(s) and "a" in names(s)


def _appended_to_running(root: Path) -> Callable[[Store], bool]:
    with open(root / "p" / "live" / "metrics.jsonl", "a") as fh:
        fh.write(f'{{"_step": 3, "_t": {SETTLED + 3}, "loss": 0.1}}\n')
    return lambda s: points(s, "live") == 4


def _tagged(root: Path) -> Callable[[Store], bool]:
    tidy.retag(root, root / "p" / "a", ["best"], [])
    tags = lambda s: s.catalog.query("SELECT tags FROM runs WHERE run_id = 'a'")  # noqa: E731
    return lambda s: tags(s) == [(["best"],)]


def _renamed_by_trackui(root: Path) -> Callable[[Store], bool]:
    tidy.rename(root, root / "p" / "a", "renamed")
    return lambda s: "renamed" in names(s)


def _meta_edited_in_place(root: Path) -> Callable[[Store], bool]:
    folder = os.lstat(root / "p" / "a").st_mtime_ns
    meta = root / "p" / "a" / "meta.json"
    doc = json.loads(meta.read_text())
    doc["name"] = "edited"
    with open(meta, "r+") as fh:  # as an editor writing in place: same file
        fh.write(json.dumps(doc))
        fh.truncate()
    assert os.lstat(root / "p" / "a").st_mtime_ns == folder  # the folder shows nothing
    return lambda s: "edited" in names(s)


def _appended_to_imported(root: Path) -> Callable[[Store], bool]:
    folder = os.lstat(root / "p" / "imp").st_mtime_ns
    with open(root / "p" / "imp" / "metrics.jsonl", "a") as fh:  # as a re-import does
        fh.write(f'{{"_step": 3, "_t": {SETTLED + 3}, "loss": 0.1}}\n')
    assert os.lstat(root / "p" / "imp").st_mtime_ns == folder
    return lambda s: points(s, "imp") == 4


CHANGES = {
    "new run": _new_run,
    "removed run": _removed_run,
    "renamed run": _renamed_run,
    "renamed project": _renamed_project,
    "removed project": _removed_project,
    "lines appended to a running run": _appended_to_running,
    "trackui tag": _tagged,
    "trackui rename": _renamed_by_trackui,
    "meta.json edited in place": _meta_edited_in_place,
    "an import appended to its run": _appended_to_imported,
}


@pytest.mark.parametrize("how", ["reopen", "live"])
@pytest.mark.parametrize("change", list(CHANGES))
def test_every_change_is_seen(tmp_path: Path, change: str, how: str) -> None:
    root = store_of(
        tmp_path,
        {"p": ["a", "b", "c", "imp", "live"], "q": ["d"]},
        imp={"imported": True},
        live={"finished": False},
    )
    os.utime(root / "p" / "live" / "heartbeat")  # beating now
    store = quiet_store(root)
    try:
        assert stamped(store) == 5  # every finished run found quiet: the cheap way is taken
        seen = CHANGES[change](root)
        assert not seen(store)
        if how == "reopen":
            store.close()
            store = Store(root)
            assert seen(store)
        else:
            # A finished run is looked at once in ROTATION live refreshes.
            for _ in range(ROTATION):
                store.refresh(full=False)
                if seen(store):
                    break
            assert seen(store)
    finally:
        store.close()


class Clock:
    """``time`` as a module sees it, stopped at ``ns``."""

    def __init__(self, ns: int) -> None:
        self.ns = ns

    def time_ns(self) -> int:
        return self.ns


@pytest.mark.parametrize("tick", ["same tick", "long after"])
def test_a_project_listed_in_the_tick_of_its_last_change_is_listed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tick: str
) -> None:
    root = store_of(tmp_path, {"p": ["a"]})
    changed = os.lstat(root / "p").st_mtime_ns
    after = 1_000_000 if tick == "same tick" else 10_000_000_000
    monkeypatch.setattr(run_dirs, "time", Clock(changed + after))
    with Store(root) as store:
        write_run(root, "p", "b")
        settle(root / "p" / "b")
        os.utime(root / "p", ns=(changed, changed))  # b made in the same clock tick as a
        store.refresh(full=False)
        # Listed 1 ms after its change, the folder is read again: b is found.
        # Listed 10 s after, its mtime proves its names (a change this late
        # could not leave it as it was): the emulated change is not seen.
        assert ("b" in names(store)) == (tick == "same tick")


@pytest.mark.parametrize("tick", ["same tick", "long after"])
def test_a_run_looked_at_in_the_tick_of_its_last_change_is_looked_at_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tick: str
) -> None:
    root = store_of(tmp_path, {"p": ["a"]})
    run = root / "p" / "a"
    changed = os.lstat(run).st_mtime_ns
    after = 1_000_000 if tick == "same tick" else 10_000_000_000
    monkeypatch.setattr(catalog_sync, "time", Clock(changed + after))
    with quiet_store(root) as store:
        assert stamped(store) == (tick == "long after")
        # metrics.jsonl replaced by rename (as an importer rewrites a run's
        # past), in the tick of the look: the directory's mtime as it was.
        tmp = run / ".metrics.jsonl.tmp"
        tmp.write_text((run / "metrics.jsonl").read_text() + '{"_step": 3, "loss": 0.1}\n')
        os.utime(tmp, ns=(changed, changed))
        os.replace(tmp, run / "metrics.jsonl")
        os.utime(run, ns=(changed, changed))
        store.refresh()
        assert (points(store, "a") == 4) == (tick == "same tick")


def test_a_finished_run_looked_at_file_by_file_is_not_opened_when_nothing_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = store_of(tmp_path, {"p": ["a"]})
    changed = os.lstat(root / "p" / "a").st_mtime_ns
    # Each look in the tick of the run's last change: it never turns quiet.
    monkeypatch.setattr(catalog_sync, "time", Clock(changed + 1_000_000))
    with quiet_store(root) as store:
        assert stamped(store) == 0
        checked = []
        real = store.catalog.opener.stat
        monkeypatch.setattr(store.catalog.opener, "stat", lambda p: checked.append(p) or real(p))
        calls = Calls(monkeypatch)
        assert store.refresh().runs_changed == 0
        # Each file one lstat, the run directory not opened, no checked stat.
        assert checked == [] and calls.take()["open"] == 0
        with open(root / "p" / "a" / "metrics.jsonl", "a") as fh:
            fh.write('{"_step": 3, "loss": 0.1}\n')
        store.refresh()
        assert points(store, "a") == 4
        assert checked == [str(root / "p" / "a" / "metrics.jsonl")]  # a change: through the opener


class Mirror:
    """A remote box's source as the catalog sees it: a native store (the
    mirror) whose files are appended to as the box's were."""

    is_remote = True
    box = "box1"
    status = "ok"
    heard = None
    inserted = False

    def __init__(self, files: Path) -> None:
        self.files = self.native_root = files
        self.location = f"box1:{files}"
        self.runs: dict[str, Any] = {}

    def refresh(self, catalog: Any) -> tuple[int, int]:
        return 0, 0

    def heartbeat(self, run_id: str) -> None:
        return None

    def forget(self) -> None:
        pass


@pytest.mark.parametrize("how", ["reopen", "live"])
def test_a_mirrored_finished_run_appended_to_in_place_is_seen(tmp_path: Path, how: str) -> None:
    root = store_of(tmp_path, {"p": ["a"]})
    (tmp_path / "box").mkdir()
    mirror = store_of(tmp_path / "box", {"m": ["far"]})

    def opened() -> Store:
        store = Store(root, refresh=False)
        store.catalog.sources.append(Mirror(mirror))
        store.refresh()
        return store

    store = opened()
    try:
        store.refresh()
        assert stamped(store) == 2  # both quiet
        with open(mirror / "m" / "far" / "metrics.jsonl", "a") as fh:  # as the mirror appends
            fh.write('{"_step": 3, "loss": 0.1}\n')
        if how == "reopen":
            store.close()
            store = opened()
        else:
            for _ in range(ROTATION):
                store.refresh(full=False)
                if points(store, "far") == 4:
                    break
        assert points(store, "far") == 4
    finally:
        store.close()
