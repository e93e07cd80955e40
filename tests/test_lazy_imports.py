"""A native store's catalog starts without the foreign readers: they load
only when a store names a foreign source (what ``trackui`` opens first is a
native store, and every module it imports is launch time)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import copy_store

PROBE = """
import sys
from trackui.store.queries import Store
with Store(sys.argv[1]) as store:
    store.refresh()
    runs = store.list_runs()
print(len(runs))
print(",".join(sorted(m for m in sys.modules if m.startswith("trackui.store"))))
"""


def _loaded(root: Path) -> tuple[int, set[str]]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(root)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return int(out[0]), set(out[1].split(","))


def test_a_native_store_lists_its_runs_without_loading_foreign_readers(tmp_path: Path) -> None:
    count, loaded = _loaded(copy_store(tmp_path / "store"))
    assert count == 5
    assert "trackui.store.sources" in loaded  # the check does see the sources layer
    assert not {m for m in loaded if m.startswith("trackui.store.importers")}
    assert "trackui.store.sources.foreign" not in loaded


def test_the_lazy_names_still_resolve() -> None:
    from trackui.store import sources

    assert sources.ForeignSource.__name__ == "ForeignSource"
    assert sources.Cursor.__name__ == "Cursor" and callable(sources.run_key)


COUNT_LOOKUPS = """
import sys

class Count:
    seen = 0

    def find_spec(self, name, path=None, target=None):
        if name == "pandas":
            Count.seen += 1
        return None

sys.meta_path.insert(0, Count())
from trackui.store import catalog_db  # noqa: F401
import duckdb

con = duckdb.connect()
con.execute("SELECT count(*) FROM (SELECT unnest(?::VARCHAR[]))", [[str(i) for i in range(200)]]).fetchall()
print(Count.seen)
"""


def test_binding_a_list_does_not_look_for_pandas_per_item() -> None:
    """DuckDB's client looks for pandas for each item of a bound list when it
    is not installed (0.2 ms an item); the catalog marks it absent once."""
    import importlib.util

    if importlib.util.find_spec("pandas") is not None:
        import pytest

        pytest.skip("pandas is installed here, so DuckDB finds it at once (CI has none)")
    out = subprocess.run(
        [sys.executable, "-c", COUNT_LOOKUPS], capture_output=True, text=True, check=True
    )
    assert int(out.stdout) <= 1
