"""Two remote boxes in one catalog, over loopback ssh: bytes and seconds.

    python benchmarks/bench_remote_catalog.py [--runs 1000]

Starts a private sshd on 127.0.0.1 (tests/remote/loopback.py), makes two
stores of ``--runs`` small finished runs each (meta.json, config.json, 50
points, events, heartbeat) behind the aliases ``box1`` and ``box2``, and opens
``session_root(["box1:…", "box2:…"])`` through ``Store`` as ``trackui
box1:… box2:…`` does. Bytes are what crossed ssh's pipes for each source
(``SourceState.bytes_read`` from the box, ``bytes_sent`` to it). Prints one
figure per line, with its budget from ../shared/DESIGN.md §8.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "remote"))

from loopback import LoopbackSshd, Unavailable  # noqa: E402


def make_store(root: Path, runs: int) -> None:
    old = time.time() - 86400
    for i in range(runs):
        run = root / "bench" / f"{root.name}-run{i:05d}"
        run.mkdir(parents=True)
        (run / "meta.json").write_text(
            json.dumps(
                {"id": f"{root.name}-{i:05d}", "name": f"run-{i}", "project": "bench", "format": 1}
            )
        )
        (run / "config.json").write_text(json.dumps({"lr": 0.001 * (i % 7 + 1), "batch": 64}))
        (run / "metrics.jsonl").write_text(
            "".join(json.dumps({"_step": s, "loss": 1 / (s + 1)}) + "\n" for s in range(50))
        )
        (run / "heartbeat").write_text("")
        (run / "events.jsonl").write_text(
            json.dumps({"event": "start", "t": old - 60})
            + "\n"
            + json.dumps({"event": "finish", "t": old, "status": "finished"})
            + "\n"
        )
        for name in ("meta.json", "config.json", "metrics.jsonl", "heartbeat", "events.jsonl"):
            os.utime(run / name, (old, old))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="trackui-bench-remote-catalog-"))
    os.environ["TRACKUI_CACHE_DIR"] = str(work / "cache")
    os.environ["TRACKUI_CONFIG_DIR"] = str(work / "config")
    try:
        try:
            sshd = LoopbackSshd(work / "sshd")
        except Unavailable as exc:
            print(f"skipped: {exc}")
            return
        sshd.start()
        try:
            run(sshd, work, args.runs)
        finally:
            sshd.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(sshd: LoopbackSshd, work: Path, runs: int) -> None:
    from trackui.store.queries import Store
    from trackui.store.sources.session import session_root

    config = sshd.client_config(work / "ssh_config", {"box1": {}, "box2": {}})
    os.environ["TRACKUI_SSH"] = f"{shutil.which('ssh')} -F {config}"
    for box in ("box1", "box2"):
        make_store(work / box, runs)
    root = session_root([f"box1:{work / 'box1'}", f"box2:{work / 'box2'}"])

    def wire(store: Store) -> dict[str, tuple[int, int]]:
        return {s.box: (s.bytes_read, s.bytes_sent) for s in store.sources()}

    def report(name: str, store: Store, before: dict[str, tuple[int, int]]) -> None:
        for box, (got, sent) in wire(store).items():
            got0, sent0 = before.get(box, (0, 0))
            print(f"{name}_{box}_bytes_received {got - got0}")
            print(f"{name}_{box}_bytes_sent {sent - sent0}")

    start = time.perf_counter()
    with Store(root) as store:
        listed = store.list_runs(limit=50)
        first = time.perf_counter() - start
        total = store.count_runs()
        print(f"first_read_runs {total}  (2 boxes x {runs})")
        print(f"first_read_s {first:.2f}  (cold: connect, list, fetch, ingest; no budget)")
        report("first_read", store, {})
        assert len(listed) == 50 and total == 2 * runs, total

        store.refresh(full=False)  # settle: the first refresh after a full read
        before = wire(store)
        start = time.perf_counter()
        store.refresh(full=False)
        print(f"idle_refresh_s {time.perf_counter() - start:.3f}")
        for box, (got, sent) in wire(store).items():
            moved = got - before[box][0] + sent - before[box][1]
            print(f"idle_refresh_{box}_bytes {moved}  (budget 2048)")

        metrics = work / "box1" / "bench" / "box1-run00000" / "metrics.jsonl"
        size = metrics.stat().st_size
        with metrics.open("a") as fh:
            for s in range(50, 150):
                fh.write(json.dumps({"_step": s, "loss": 1 / (s + 1)}) + "\n")
        print(f"refresh_100_points_appended_bytes {metrics.stat().st_size - size}")
        before = wire(store)
        box1 = next(s for s in store.catalog.sources if s.box == "box1")
        fetched = box1.mirror.fetched
        start = time.perf_counter()
        store.refresh(full=False)
        print(f"refresh_100_points_s {time.perf_counter() - start:.3f}")
        print(f"refresh_100_points_box1_fetched_bytes {box1.mirror.fetched - fetched}")
        report("refresh_100_points", store, before)

    # Warm: a new process on the same session (catalog and mirrors on disk).
    # The run list paints from the catalog; the boxes are asked after (the
    # TUI refreshes in a worker), so a slow or gone box never delays it.
    start = time.perf_counter()
    with Store(root, refresh=False) as store:
        shown = store.list_runs(limit=50)
        paint = time.perf_counter() - start
        assert len(shown) == 50
        print(f"warm_first_paint_s {paint:.2f}  (budget 2.0: open the catalog, list runs)")
        start = time.perf_counter()
        store.refresh(full=False)
        print(
            f"warm_first_refresh_s {time.perf_counter() - start:.2f}  "
            "(then: ssh to both boxes, helper start, listings diffed, nothing fetched)"
        )
        report("warm_first_refresh", store, {})
    mirror = sum(p.stat().st_size for p in (root / ".mirror").rglob("*") if p.is_file())
    print(f"mirror_disk_bytes {mirror}  (2 x {runs} runs)")


if __name__ == "__main__":
    main()
