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
