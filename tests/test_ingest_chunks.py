"""A metrics file read in several chunks in one refresh is one series with one summary."""

from __future__ import annotations

import json

import trackui
from trackui.store.catalog import open_catalog
from trackui.store.opener import Opener


def test_a_file_read_in_several_chunks_has_one_summary_row(tmp_path, monkeypatch):
    root = tmp_path / "store"
    run = trackui.init(project="p", name="chunks", dir=root, console=False)
    run.finish()
    n = 30_000
    with open(run.dir / "metrics.jsonl", "a") as fh:
        fh.write("".join(json.dumps({"_step": i, "loss": 1.0 / (1 + i)}) + "\n" for i in range(n)))
    # Chunks of 256 KB (the default is 64 MB): the same path a file of
    # hundreds of megabytes takes, at a size a test can afford.
    original = Opener.__init__

    def small_chunks(self, *args, **kwargs):
        kwargs["max_chunk"] = 256 * 1024
        kwargs["max_line"] = 64 * 1024
        original(self, *args, **kwargs)

    monkeypatch.setattr(Opener, "__init__", small_chunks)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with open_catalog(root) as catalog:
        cur = catalog.cursor()
        rows = cur.execute(
            "SELECT count, first, last, min, max, step_min, step_max, last_step FROM summaries WHERE key = 'loss'"
        ).fetchall()
        points = cur.execute("SELECT count(*) FROM metrics").fetchall()[0][0]
    assert points == n
    assert rows == [(n, 1.0, 1.0 / n, 1.0 / n, 1.0, n - 1, 0, n - 1)]
