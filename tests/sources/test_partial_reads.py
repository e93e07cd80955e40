"""A change that a file's cursor cannot follow reads again only the run
that owns the file (the reader for that one run directory), keeping every
other run's rows and cursors; a new run directory is read alone; a Hugging
Face run whose ``trainer_state.json`` was saved again keeps the points it
had and gains only its new ``log_history`` entries. Reads are counted
(``Progress.bytes_read``)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from trackui.store.queries import Store
from trackui.store.sources import bind

from ..importers.helpers import hashes, listing, materialized

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
NOW = 1_900_000_000.0


def aged(src: Path) -> Path:
    for path in sorted(src.rglob("*"), reverse=True):
        os.utime(path, (1_700_000_000, 1_700_000_000), follow_symlinks=False)
    return src


def open_store(tmp_path: Path, src: Path) -> Store:
    root = tmp_path / "store"
    bind(root, src)
    return Store(root, catalog_path=tmp_path / "cat.duckdb", clock=lambda: NOW, private=True)


def runs_by_name(store: Store) -> dict[str, tuple[str, int]]:
    """Each run's folder name -> (run id, run number)."""
    rows = store.catalog.query("SELECT source_path, run_id, run_no FROM runs ORDER BY 1")
    return {Path(path).name: (run_id, run_no) for path, run_id, run_no in rows}


def files_rows(store: Store, run_id: str) -> list[tuple]:
    return store.catalog.query(
        'SELECT name, ino, size, mtime_ns, "offset" FROM files WHERE run_id = ? ORDER BY name',
        [run_id],
    )


def tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_a_rewritten_file_reads_again_only_the_run_that_owns_it(tmp_path: Path) -> None:
    src = aged(shutil.copytree(FIXTURES / "lightning", tmp_path / "src"))
    logs = src / "proj_a" / "lightning_logs"
    with open_store(tmp_path, src) as store:
        source = store.catalog.sources[0]
        runs = runs_by_name(store)
        assert set(runs) == {"version_0", "version_1", "version_2"}
        others = {n: files_rows(store, runs[n][0]) for n in ("version_1", "version_2")}
        hparams = logs / "version_0" / "hparams.yaml"
        hparams.write_text(hparams.read_text().replace("lr: 0.001", "lr: 0.002"))
        before = source.progress.bytes_read
        store.refresh(full=False)
        read = source.progress.bytes_read - before
        # that run's files were read again, and no other run's
        assert 0 < read <= tree_bytes(logs / "version_0")
        assert runs_by_name(store) == runs  # same ids, same run numbers
        for name, rows in others.items():
            assert files_rows(store, runs[name][0]) == rows
        (lr,) = store.catalog.query(
            "SELECT value_json FROM params WHERE run_id = ? AND key = 'lr'", [runs["version_0"][0]]
        )[0]
        assert json.loads(lr) == 0.002
        # nothing changed since: nothing is read
        before = source.progress.bytes_read
        store.refresh(full=False)
        assert source.progress.bytes_read == before


def test_a_new_run_directory_is_read_alone(tmp_path: Path) -> None:
    src = aged(shutil.copytree(FIXTURES / "lightning", tmp_path / "src"))
    logs = src / "proj_a" / "lightning_logs"
    with open_store(tmp_path, src) as store:
        source = store.catalog.sources[0]
        runs = runs_by_name(store)
        points = store.catalog.query("SELECT count(*) FROM metrics")[0][0]
        shutil.copytree(logs / "version_0", logs / "version_3")
        before = source.progress.bytes_read
        store.refresh(full=False)
        read = source.progress.bytes_read - before
        assert 0 < read <= tree_bytes(logs / "version_3")
        now = runs_by_name(store)
        assert {n: now[n] for n in runs} == runs
        assert "version_3" in now
        added = store.catalog.query(
            "SELECT count(*) FROM metrics WHERE run_no = ?", [now["version_3"][1]]
        )[0][0]
        same = store.catalog.query(
            "SELECT count(*) FROM metrics WHERE run_no = ?", [now["version_0"][1]]
        )[0][0]
        assert added == same > 0
        assert store.catalog.query("SELECT count(*) FROM metrics")[0][0] == points + added


def test_a_deleted_run_directory_goes_and_the_others_stay(tmp_path: Path) -> None:
    src = aged(shutil.copytree(FIXTURES / "lightning", tmp_path / "src"))
    logs = src / "proj_a" / "lightning_logs"
    with open_store(tmp_path, src) as store:
        runs = runs_by_name(store)
        shutil.rmtree(logs / "version_2")
        store.refresh(full=False)
        now = runs_by_name(store)
        assert now == {n: runs[n] for n in ("version_0", "version_1")}
        assert files_rows(store, runs["version_2"][0]) == []


def test_a_saved_trainer_state_adds_only_its_new_log_history_entries(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(
        FIXTURES / "hf" / "nlp" / "gpt2-killed",
        src / "gpt2",
        ignore=shutil.ignore_patterns("runs"),  # the state alone (no TensorBoard writer)
    )
    shutil.copytree(FIXTURES / "hf" / "nlp" / "bert-sst2", src / "bert")
    aged(src)
    with open_store(tmp_path, src) as store:
        source = store.catalog.sources[0]
        runs = runs_by_name(store)
        rid, run_no = runs["gpt2"]
        had = store.catalog.query(
            "SELECT key, step, value, seq FROM metrics m JOIN metric_keys k USING (key_no) "
            "WHERE run_no = ? ORDER BY seq, key",
            [run_no],
        )
        state = json.loads((src / "gpt2" / "checkpoint-40" / "trainer_state.json").read_text())
        new = [
            {"epoch": 1.25, "grad_norm": 1.0, "learning_rate": 2.5e-05, "loss": 0.45, "step": 50},
            {"epoch": 1.5, "grad_norm": 0.9, "learning_rate": 2e-05, "loss": 0.42, "step": 60},
        ]
        state["log_history"] += new
        state["global_step"] = 60
        (src / "gpt2" / "checkpoint-60").mkdir()
        saved = src / "gpt2" / "checkpoint-60" / "trainer_state.json"
        saved.write_text(json.dumps(state, indent=2))
        bert = files_rows(store, runs["bert"][0])
        before = source.progress.bytes_read
        stats = store.refresh(full=False)
        read = source.progress.bytes_read - before
        assert read <= tree_bytes(src / "gpt2")  # that run alone
        assert stats.points == sum(len(e) - 1 for e in new)  # the new entries' values
        now = store.catalog.query(
            "SELECT key, step, value, seq FROM metrics m JOIN metric_keys k USING (key_no) "
            "WHERE run_no = ? ORDER BY seq, key",
            [run_no],
        )
        assert now[: len(had)] == had  # the points it had stay as they were
        assert sorted((k, s, v) for k, s, v, _ in now[len(had) :]) == sorted(
            (k, e["step"], float(v)) for e in new for k, v in e.items() if k != "step"
        )
        assert runs_by_name(store)["gpt2"] == (rid, run_no)
        assert files_rows(store, runs["bert"][0]) == bert


def test_partial_reads_write_nothing_into_the_source(tmp_path: Path) -> None:
    src = aged(shutil.copytree(FIXTURES / "lightning", tmp_path / "src"))
    logs = src / "proj_a" / "lightning_logs"
    with open_store(tmp_path, src) as store:
        shutil.copytree(logs / "version_0", logs / "version_3")
        hparams = logs / "version_1" / "hparams.yaml"
        hparams.write_text(hparams.read_text() + "extra: 1\n")
        before = (listing(src), hashes(src))
        store.refresh(full=False)
        store.refresh(full=False)
        assert (listing(src), hashes(src)) == before


def catalog_view(store: Store) -> list[tuple]:
    """What a user sees of each run, by its id: name, project, status, params
    and every metric's count, last value and last step."""
    runs = store.catalog.query(
        "SELECT run_id, name, project, source_id, status FROM runs ORDER BY run_id"
    )
    params = store.catalog.query(
        "SELECT run_id, key, value_json FROM params ORDER BY run_id, key, value_json"
    )
    summaries = store.catalog.query(
        "SELECT run_id, key, count, last, last_step FROM summaries ORDER BY run_id, key"
    )
    return [*runs, *params, *summaries]


@pytest.mark.parametrize(
    "fixture",
    [
        "tensorboard",
        "tensorboard-layouts",
        "mlflow",
        "dvclive",
        "ultralytics",
        "trackio",
        "wandb",
        "wandb-resumed",
        "lightning",
        "hf",
    ],
)
def test_a_run_read_again_alone_reads_as_a_whole_read_gives_it(
    tmp_path: Path, fixture: str
) -> None:
    """Every file of one run put back as a new file (another inode, same
    bytes): that run is read again by itself, and the catalog then holds
    what a first read of the whole folder gives, with every other run's
    number and cursors as they were."""
    src = aged(shutil.copytree(materialized(FIXTURES / fixture), tmp_path / "src"))
    with open_store(tmp_path / "a", src) as store:
        source = store.catalog.sources[0]
        first = catalog_view(store)
        # the run with the most files of its own
        owned: dict[str, list[str]] = {}
        for rel, c in source.cursors.items():
            if c.run in source.runs:
                owned.setdefault(c.run, []).append(rel)
        if not owned:  # runs in a database: the database is their file
            owned[""] = [rel for rel, c in source.cursors.items() if c.how == "sqlite_rows"]
        chosen = max(sorted(owned), key=lambda r: len(owned[r]))
        assert owned[chosen]
        numbers = {rid: no for rid, no in store.catalog.query("SELECT run_id, run_no FROM runs")}
        rest = {r: files_rows(store, r) for r in source.runs if r != chosen and chosen}
        for rel in owned[chosen]:
            path = src / rel
            copy = path.with_name(path.name + ".tmp-copy")
            shutil.copy2(path, copy)
            os.replace(copy, path)
        before = source.progress.bytes_read

        def whole(catalog: object) -> None:
            raise AssertionError("the whole source was read again")

        source._read_all = whole
        store.refresh(full=False)
        assert source.progress.bytes_read > before or not chosen
        assert catalog_view(store) == first
        now = {rid: no for rid, no in store.catalog.query("SELECT run_id, run_no FROM runs")}
        assert {r: now[r] for r in rest} == {r: numbers[r] for r in rest}
        assert {r: files_rows(store, r) for r in rest} == rest


def test_after_a_run_is_read_again_a_reopen_reads_nothing(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(FIXTURES / "hf" / "nlp" / "gpt2-killed", src / "gpt2")
    shutil.copytree(FIXTURES / "lightning", src / "pl")
    aged(src)
    root = tmp_path / "store"
    bind(root, src)
    catalog = tmp_path / "cat.duckdb"
    dupes = "SELECT run_id, name FROM files GROUP BY ALL HAVING count(*) > 1"
    with Store(root, catalog_path=catalog, clock=lambda: NOW) as store:
        hparams = src / "pl" / "proj_a" / "lightning_logs" / "version_0" / "hparams.yaml"
        hparams.write_text(hparams.read_text() + "extra: 1\n")
        state = json.loads((src / "gpt2" / "checkpoint-40" / "trainer_state.json").read_text())
        state["log_history"].append({"epoch": 1.25, "loss": 0.45, "step": 50})
        (src / "gpt2" / "checkpoint-60").mkdir()
        (src / "gpt2" / "checkpoint-60" / "trainer_state.json").write_text(json.dumps(state))
        shutil.copytree(src / "pl" / "proj_a" / "lightning_logs" / "version_1", src / "pl" / "v9")
        store.refresh(full=False)
        assert store.catalog.query(dupes) == []
        view = catalog_view(store)
    with Store(root, catalog_path=catalog, clock=lambda: NOW) as store:
        assert store.catalog.sources[0].progress.bytes_read == 0
        assert catalog_view(store) == view


def test_a_quiet_run_is_not_read_again_on_reopen_for_the_same_silence() -> None:
    """A run its reader still calls running that went quiet is read again
    once, not again on each reopen: its heartbeat goes through nanoseconds
    in the catalog, and a float that does not survive the trip is the same
    silence."""
    from trackui.store.sources.cursor import Cursor
    from trackui.store.sources.partial import PartialReads

    hb = next(
        h for h in (1_764_600_000.1 + k * 0.0123457 for k in range(1000)) if int(h * 1e9) / 1e9 != h
    )
    row = Cursor("", "run", "r1", spec={"hb": hb, "iv": 10.0, "fin": False, "quiet": hb})
    loaded = Cursor.from_row(*row.row())
    assert loaded.spec["hb"] != hb  # the trip moved it

    class Source(PartialReads):
        cursors: dict = {}
        runs = {"r1": loaded}

        def clock(self) -> float:
            return hb + 3600.0

    assert Source()._changes({}) == ({}, {})
    loaded.spec["quiet"] = hb - 100.0  # another silence: read again
    assert Source()._changes({}) == ({"r1": None}, {})
