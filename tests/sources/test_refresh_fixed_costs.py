"""A live refresh of a foreign source pays only for what changed, and still
sees every change: folders whose inode and mtime prove their names
unchanged are not read again (``listing.py``), though a file that grew in
one is; a folder changed too recently to prove anything is read again;
run and key ids are not asked for again (``ids.py``), nor kept from a
transaction that rolled back; new runs' box and location are written only
when a refresh inserted runs; a refresh with nothing to sync in the run
directories opens no transaction for them."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from trackui.store.catalog import CatalogError
from trackui.store.queries import Store
from trackui.store.sources import bind, follow
from trackui.store.sources.listing import RACY_NS, Listing

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
NOW = 1_900_000_000.0
OLD = 1_700_000_000


def aged(top: Path) -> Path:
    for path in sorted(top.rglob("*"), reverse=True):
        os.utime(path, (OLD, OLD), follow_symlinks=False)
    os.utime(top, (OLD, OLD))
    return top


def walked(top: Path) -> dict[str, tuple[int, int, int]]:
    """Every regular file, hidden folders and links skipped: read plainly."""
    out = {}
    for folder, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            if os.path.isfile(path) and not os.path.islink(path):
                rel = os.path.relpath(path, top).replace(os.sep, "/")
                out[rel] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return out


def tree(tmp_path: Path) -> Path:
    top = tmp_path / "top"
    for rel in ("a/x.txt", "a/sub/y.txt", "b/z.txt", ".hidden/w.txt", "b/.tmp-file"):
        (top / rel).parent.mkdir(parents=True, exist_ok=True)
        (top / rel).write_text(rel)
    os.symlink(top / "b", top / "link-to-b")
    os.symlink(top / "a" / "x.txt", top / "a" / "link.txt")
    return aged(top)


def test_unchanged_folders_are_not_read_again_but_their_files_are_checked(
    tmp_path: Path,
) -> None:
    top = tree(tmp_path)
    listing = Listing(str(top))
    assert listing.files() == walked(top)
    assert listing.scanned == 4  # top, a, a/sub, b
    assert listing.files() == walked(top) and listing.scanned == 0
    with open(top / "a" / "sub" / "y.txt", "a") as fh:  # grows in an unchanged folder
        fh.write("more")
    assert listing.files() == walked(top) and listing.scanned == 0
    (top / "b" / "new.txt").write_text("new")  # a new name: its folder read again
    got = listing.files()
    assert "b/new.txt" in got and got == walked(top) and listing.scanned == 1
    (top / "a" / "x.txt").unlink()
    (top / "a" / "sub" / "deeper").mkdir()
    (top / "a" / "sub" / "deeper" / "q.txt").write_text("q")
    got = listing.files()
    assert "a/x.txt" not in got and "a/sub/deeper/q.txt" in got
    assert got == walked(top)
    shutil.rmtree(top / "a" / "sub")
    os.symlink(top / "b", top / "a" / "sub")  # a folder swapped for a link: not followed
    assert listing.files() == walked(top)
    assert not any(rel.startswith("a/sub/") for rel in listing.files())


def test_a_folder_changed_too_recently_is_read_again_whatever_its_mtime(tmp_path: Path) -> None:
    """An entry made in the same clock tick as the listing before it may
    leave the folder's mtime as it was: a folder whose mtime is that recent
    is not trusted (here the tick is imitated by putting the mtime back)."""
    top = tmp_path / "top"
    (top / "run").mkdir(parents=True)
    (top / "run" / "one").write_text("1")
    listing = Listing(str(top))
    first = listing.files()
    assert set(first) == {"run/one"}
    mtime = os.stat(top / "run").st_mtime_ns
    assert mtime > time.time_ns() - RACY_NS  # fresh: not trusted
    (top / "run" / "two").write_text("2")
    os.utime(top / "run", ns=(mtime, mtime))
    assert set(listing.files()) == {"run/one", "run/two"}
    assert listing.scanned >= 1


def test_the_root_given_as_a_link_is_followed(tmp_path: Path) -> None:
    top = tree(tmp_path)
    link = tmp_path / "link"
    os.symlink(top, link)
    assert Listing(str(link)).files() == walked(top)


# -- a source's refresh --------------------------------------------------------------


class Statements:
    """The SQL a catalog runs, through every cursor it hands out."""

    def __init__(self, catalog: Any) -> None:
        self.sql: list[str] = []
        plain = catalog.cursor
        log = self.sql

        class Cur:
            def __init__(self, cur: Any) -> None:
                self._cur = cur

            def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
                log.append(" ".join(str(sql).split()))
                got = self._cur.execute(sql, *args, **kwargs)
                return self if got is self._cur else got

            def __getattr__(self, name: str) -> Any:
                return getattr(self._cur, name)

        catalog.cursor = lambda: Cur(plain())

    def take(self) -> list[str]:
        out = list(self.sql)
        self.sql.clear()
        return out


def mlflow_source(tmp_path: Path) -> tuple[Path, list[Path]]:
    """The MLflow fixture, aged, and its metric files."""
    src = shutil.copytree(FIXTURES / "mlflow" / "file" / "mlruns", tmp_path / "mlruns")
    metrics = sorted(p for p in src.glob("*/*/metrics/**/*") if p.is_file())
    assert metrics
    return aged(src), metrics


def run_dir_of(metric: Path) -> Path:
    return next(p for p in metric.parents if (p / "meta.yaml").is_file())


def key_of(metric: Path) -> str:
    return metric.relative_to(run_dir_of(metric) / "metrics").as_posix()


def store_for(tmp_path: Path, src: Path) -> Store:
    root = tmp_path / "store"
    bind(root, src)
    return Store(root, clock=lambda: NOW, private=True)


def last_line_step(path: Path) -> int:
    return int(path.read_text().splitlines()[-1].split()[2])


def counts(store: Store) -> dict[tuple[str, str], int]:
    rows = store.catalog.query(
        "SELECT r.run_id, k.key, count(*) FROM metrics m JOIN runs r USING (run_no) "
        "JOIN metric_keys k USING (key_no) GROUP BY ALL"
    )
    return {(r, k): n for r, k, n in rows}


def test_a_follow_refresh_asks_only_what_changed(tmp_path: Path) -> None:
    src, metrics = mlflow_source(tmp_path)
    with store_for(tmp_path, src) as store:
        source = store.catalog.sources[0]
        store.refresh(full=False)  # ids known from here on
        before = counts(store)
        log = Statements(store.catalog)
        stats = store.refresh(full=False)
        assert stats.points == 0
        assert source.listing.scanned == 0  # every folder proven unchanged
        assert not any("UPDATE runs SET box" in s for s in log.take())
        for _ in range(2):  # the first asks for the ids, the second not
            for path in metrics:
                with open(path, "a") as fh:
                    fh.write(f"{int(NOW * 1000)} 0.5 {last_line_step(path) + 1}\n")
            stats = store.refresh(full=False)
            assert stats.points == len(metrics)
            sql = log.take()
        assert source.listing.scanned == 0  # appends do not change a folder
        assert not any("run_no FROM runs" in s or "key_no FROM metric_keys" in s for s in sql)
        assert not any("UPDATE runs SET box" in s for s in sql)
        # one transaction for the points, one for the statuses: none for the
        # run directories, which had nothing to sync
        assert sum(s == "COMMIT" for s in sql) == 2
        after = counts(store)
        run_of = dict(store.catalog.query("SELECT source_path, run_id FROM runs"))
        gained = {(run_of[str(run_dir_of(p))], key_of(p)) for p in metrics}
        assert {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k)} == {
            k: 2 for k in gained
        }


def test_a_new_run_is_labelled_and_a_new_metric_file_followed(tmp_path: Path) -> None:
    src, metrics = mlflow_source(tmp_path)
    with store_for(tmp_path, src) as store:
        source = store.catalog.sources[0]
        store.refresh(full=False)
        log = Statements(store.catalog)
        run_dir = run_dir_of(metrics[0])
        (run_dir / "metrics" / "brand_new").write_text(f"{int(NOW * 1000)} 1.5 0\n")
        assert store.refresh(full=False).points == 1
        assert source.listing.scanned == 1  # the one folder that gained a name
        assert not any("UPDATE runs SET box" in s for s in log.take())
        (run_id,) = store.catalog.query(
            "SELECT run_id FROM runs WHERE source_path = ?", [str(run_dir)]
        )[0]
        assert [(p.step, p.value) for p in store.history(run_id, "brand_new")] == [(0, 1.5)]
        # a copy of a run is a new run: inserted, then labelled
        shutil.copytree(run_dir, run_dir.parent / ("f" * 32))
        store.refresh(full=False)
        assert any("UPDATE runs SET box" in s for s in log.take())
        rows = store.catalog.query("SELECT box, location FROM runs")
        assert rows and all(r == ("local", str(src)) for r in rows)


def test_a_new_native_run_beside_a_source_is_labelled(tmp_path: Path) -> None:
    src, _ = mlflow_source(tmp_path)
    with store_for(tmp_path, src) as store:
        store.refresh(full=False)
        run = next((FIXTURES / "store" / "detect").iterdir())
        shutil.copytree(run, tmp_path / "store" / "detect" / run.name)
        store.refresh(full=False)
        rows = store.catalog.query("SELECT box, location FROM runs WHERE rel_dir IS NOT NULL")
        assert rows == [("local", str(tmp_path / "store"))]


def test_ids_from_a_transaction_that_rolled_back_are_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, metrics = mlflow_source(tmp_path)
    with store_for(tmp_path, src) as store:
        source = store.catalog.sources[0]
        store.refresh(full=False)
        known = source.ids.copy()
        run_dir = run_dir_of(metrics[0])
        (run_dir / "metrics" / "fresh_key").write_text(f"{int(NOW * 1000)} 2.5 0\n")

        def fail(*args: Any) -> None:
            raise RuntimeError("disk full")

        monkeypatch.setattr(follow, "_save_cursors", fail)
        with pytest.raises((RuntimeError, CatalogError)):
            store.refresh(full=False)
        assert source.ids == known  # the new key's id went with the rollback
        monkeypatch.undo()
        # another key takes the id the rolled-back one had, in another refresh
        other = run_dir / "metrics" / "other_key"
        other.write_text(f"{int(NOW * 1000)} 3.5 0\n")
        store.refresh(full=False)
        (run_id,) = store.catalog.query(
            "SELECT run_id FROM runs WHERE source_path = ?", [str(run_dir)]
        )[0]
        assert [p.value for p in store.history(run_id, "other_key")] == [3.5]
        assert [p.value for p in store.history(run_id, "fresh_key")] == [2.5]
        keys = dict(store.catalog.query("SELECT key, key_no FROM metric_keys"))
        assert source.ids.keys["fresh_key"] == keys["fresh_key"]
        assert len(set(keys.values())) == len(keys)
