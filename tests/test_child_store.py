"""``ChildStore``: the catalog opened in a forked child while the app starts.

Each case runs in a fresh Python process, as ``trackui`` does: the child is
forked before DuckDB is imported, and this test process (which has DuckDB
loaded) only checks what came out."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trackui.store.queries import Store

from .conftest import copy_store

pytestmark = pytest.mark.skipif(
    not hasattr(os, "fork"), reason="needs os.fork (POSIX); runs on Linux and macOS"
)

PRELUDE = """
import json, os, pickle, signal, sys
from pathlib import Path
from trackui.store.child_store import ChildStore
root = Path(sys.argv[1])
out = {}
child = ChildStore.start(root)
out["forked"] = child is not None
out["ready"] = child.ready() if child is not None else False
"""


def run(code: str, root: Path, *args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", PRELUDE + code + "\nprint(json.dumps(out))", str(root), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_the_childs_answers_equal_the_stores_own(tmp_path: Path) -> None:
    root = copy_store(tmp_path / "store")
    with Store(root):  # the catalog built once, as a launch finds it
        pass
    dump = tmp_path / "answers.pickle"
    out = run(
        """
runs, total = child.page_runs(limit=50, sort="created")
run_id = runs[0].id
detail = child.get_run(run_id)
key = detail.metrics[0].key
answers = {
    "page": (runs, total),
    "count": child.count_runs(),
    "projects": child.projects(),
    "detail": detail,
    "series": child.series(run_id, key, buckets=100, x_axis="step"),
    "keys": child.metric_keys([r.id for r in runs]),
    "sources": child.sources(),
}
pickle.dump((run_id, key, answers), open(sys.argv[2], "wb"))
out["duckdb_here"] = "duckdb" in sys.modules
out["local"] = child.is_local
child.close()
""",
        root,
        str(dump),
    )
    assert out == {"forked": True, "ready": True, "duckdb_here": False, "local": False}
    run_id, key, answers = pickle.loads(dump.read_bytes())
    with Store(root, refresh=False) as store:
        runs, total = store.page_runs(limit=50, sort="created")
        assert answers["page"] == (runs, total) and total > 1
        assert answers["count"] == store.count_runs()
        assert answers["projects"] == store.projects()
        assert answers["detail"] == store.get_run(run_id)
        series = store.series(run_id, key, buckets=100, x_axis="step")
        assert answers["series"].y == series.y and answers["series"].x == series.x
        assert answers["keys"] == store.metric_keys([r.id for r in runs])
        assert answers["sources"] == store.sources()


def test_errors_keep_their_type(tmp_path: Path) -> None:
    out = run(
        """
from trackui.store.filters import FilterError
from trackui.store.run_list import RunNotFound
for name, call in [
    ("resolve", lambda: child.resolve("no-such-run")),
    ("filter", lambda: child.page_runs(where="lr >", limit=5)),
]:
    try:
        call()
    except (RunNotFound, FilterError) as exc:
        out[name] = type(exc).__name__
out["still_child"] = not child.is_local
child.close()
""",
        copy_store(tmp_path / "store"),
    )
    assert out["ready"]
    assert out["resolve"] == "RunNotFound" and out["filter"] == "FilterError"
    assert out["still_child"]  # an error is an answer: the child goes on


def test_any_other_call_makes_the_store_local_first(tmp_path: Path) -> None:
    root = copy_store(tmp_path / "store")
    with Store(root):  # built: the refresh below finds nothing new
        pass
    out = run(
        """
pid = child._pid
before = child.count_runs()
out["duckdb_before"] = "duckdb" in sys.modules
stats = child.refresh(full=True)  # not served: the child closes, this process opens
out["local"] = child.is_local
out["duckdb_after"] = "duckdb" in sys.modules
try:
    os.waitpid(pid, os.WNOHANG)
    out["reaped"] = False
except ChildProcessError:
    out["reaped"] = True
out["same_count"] = child.count_runs() == before
out["catalog_here"] = child.catalog.path == child.catalog_path
child.close()
child.close()  # again: nothing
try:
    child.count_runs()
except RuntimeError:
    out["closed"] = True
""",
        root,
    )
    assert out == {
        "forked": True,
        "ready": True,
        "duckdb_before": False,
        "local": True,
        "duckdb_after": True,
        "reaped": True,
        "same_count": True,
        "catalog_here": True,
        "closed": True,  # not opened again behind the caller's back
    }


def test_a_call_the_dead_child_did_not_answer_is_made_here(tmp_path: Path) -> None:
    root = copy_store(tmp_path / "store")
    with Store(root) as store:
        count = store.count_runs()
    out = run(
        """
os.kill(child._pid, signal.SIGKILL)
out["count"] = child.count_runs()
out["local"] = child.is_local
child.close()
""",
        root,
    )
    assert out["ready"] and out["local"]
    assert out["count"] == count


def test_a_store_that_does_not_open_is_left_to_this_process(tmp_path: Path) -> None:
    out = run(
        """
out["pid"] = child._pid
""",
        tmp_path / "missing",
    )
    assert out == {"forked": True, "ready": False, "pid": 0}  # stopped and reaped


def test_a_store_with_remote_boxes_is_left_to_this_process(tmp_path: Path) -> None:
    """Its boxes are reached before the app opens (``_first_contact``), here."""
    from trackui.cli_resolve import session

    root = session(["gpu-box-that-is-never-reached:/data/runs"]).root
    out = run('out["pid"] = child._pid', root)
    assert out == {"forked": True, "ready": False, "pid": 0}


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="reads /proc (Linux)")
def test_the_child_ends_with_the_app_even_unclosed(tmp_path: Path) -> None:
    """The pipe closes with the app; the child sees it and exits (``run``
    itself would wait for it otherwise: the child holds its stdout)."""
    out = run(
        """
out["pid"] = child._pid
print(json.dumps(out), flush=True)
os._exit(0)  # the app gone without closing anything
""",
        copy_store(tmp_path / "store"),
    )
    pid = out["pid"]
    deadline = time.monotonic() + 90
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/stat").read_text().split()[2]
        if status == "Z":  # exited; its parent (gone) left it to init
            break
        time.sleep(0.05)
    stat = Path(f"/proc/{pid}/stat")
    assert not stat.exists() or stat.read_text().split()[2] == "Z"
