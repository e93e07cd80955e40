"""Remote sources over ssh: bytes and seconds against ../shared/DESIGN.md §8.

    python benchmarks/bench_remote.py [--runs 1000] [--idle-seconds 10]

Starts a private sshd on 127.0.0.1 (tests/remote/loopback.py: its own keys,
a free port) and reads a store of ``--runs`` small runs (meta.json,
config.json, metrics.jsonl of 50 points, heartbeat) through ``RemoteBox``
over ``ssh``. Bytes are counted twice: what the client writes to and reads
from ssh's pipes (``*_app_bytes``), and what crosses the TCP connection
(``*_wire_bytes``, counted by a relay given to ssh as its ProxyCommand:
encryption, MACs and ssh's own packets included). Prints one figure per line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "remote"))

from loopback import LoopbackSshd, Unavailable  # noqa: E402

from trackui.store.remote import Connection, RemoteBox, ssh_argv  # noqa: E402

#: The relay ssh runs as its ProxyCommand: copies bytes both ways and keeps
#: the two totals in a small file the benchmark reads between steps.
RELAY = r"""
import os, selectors, socket, struct, sys
sock = socket.create_connection((sys.argv[1], int(sys.argv[2])))
out = os.open(sys.argv[3], os.O_RDWR | os.O_CREAT, 0o600)
up = down = 0
sel = selectors.DefaultSelector()
sel.register(0, selectors.EVENT_READ, "up")
sel.register(sock, selectors.EVENT_READ, "down")
while True:
    for key, _ in sel.select():
        if key.data == "up":
            data = os.read(0, 65536)
            if not data:
                sys.exit(0)
            sock.sendall(data)
            up += len(data)
        else:
            data = sock.recv(65536)
            if not data:
                sys.exit(0)
            os.write(1, data)
            down += len(data)
        os.pwrite(out, struct.pack("!QQ", up, down), 0)
"""


def wire(counter: Path) -> tuple[int, int]:
    import struct

    data = counter.read_bytes() if counter.exists() else b""
    return struct.unpack("!QQ", data) if len(data) == 16 else (0, 0)


def make_store(root: Path, runs: int, prefix: str = "run") -> None:
    for i in range(runs):
        run = root / "bench" / f"{prefix}{i:05d}"
        run.mkdir(parents=True)
        (run / "meta.json").write_text(
            json.dumps(
                {"id": f"{prefix}{i:05d}", "name": f"{prefix}-{i}", "project": "bench", "format": 1}
            )
        )
        (run / "config.json").write_text(json.dumps({"lr": 0.001 * (i % 7 + 1), "batch": 64}))
        (run / "metrics.jsonl").write_text(
            "".join(json.dumps({"_step": s, "loss": 1 / (s + 1)}) + "\n" for s in range(50))
        )
        (run / "heartbeat").write_text("")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        fields = fh.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument(
        "--paint-only",
        action="store_true",
        help="only the first paint of the TUI over two boxes (of --runs runs each)",
    )
    parser.add_argument("--warm-repeats", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="trackui-bench-remote-"))
    try:
        try:
            sshd = LoopbackSshd(work / "sshd")
        except Unavailable as exc:
            print(f"skipped: {exc}")
            return
        sshd.start()
        try:
            if not args.paint_only:
                run(sshd, work, args.runs, args.idle_seconds)
            first_paint_two_boxes(sshd, work / "paint", args.runs, args.warm_repeats)
        finally:
            sshd.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(sshd: LoopbackSshd, work: Path, runs: int, idle_seconds: float) -> None:
    store = work / "runs"
    make_store(store, runs)
    counter = work / "wire"
    relay = work / "relay.py"
    relay.write_text(RELAY)
    config = sshd.client_config(
        work / "ssh_config",
        {"box1": {"ProxyCommand": f"{sys.executable} {relay} %h %p {counter}"}},
    )
    argv = ssh_argv("box1", ssh_command=["ssh", "-F", str(config)])
    box = RemoteBox("box1", str(store), connection=Connection(argv, name="box1"))

    def counts() -> tuple[int, int, int, int]:
        up, down = wire(counter)
        return box.bytes_sent, box.bytes_received, up, down

    def report(name: str, before: tuple[int, int, int, int]) -> None:
        after = counts()
        sent, received, up, down = (a - b for a, b in zip(after, before))
        print(f"{name}_app_bytes_sent {sent}")
        print(f"{name}_app_bytes_received {received}")
        print(f"{name}_wire_bytes_sent {up}")
        print(f"{name}_wire_bytes_received {down}")

    try:
        start = time.perf_counter()
        hello = box.connect()
        print(f"remote_connect_s {time.perf_counter() - start:.3f}")
        print(f"remote_helper_source_bytes {box.connection.helper_bytes}")
        report("remote_connect", (0, 0, 0, 0))

        # First listing and read of every run's files.
        before = counts()
        start = time.perf_counter()
        first = box.changes()
        listed = time.perf_counter() - start
        files = [e.path for e in first.added if not e.is_dir]
        points = 0
        for path, result in zip(files, box.read_files(files)):
            assert not isinstance(result, Exception), result
            if path.endswith(".jsonl"):
                points += result[0].count(b"\n")
        total = time.perf_counter() - start
        print(f"remote_first_runs {runs}")
        print(f"remote_first_files {len(files)}")
        print(f"remote_first_listing_s {listed:.3f}")
        print(f"remote_first_listing_and_read_s {total:.3f}  (batched reads: read_files)")
        print(f"remote_first_points {points}")
        report("remote_first_read", before)

        # The same files one request each, for comparison (a tenth of them).
        some = files[: len(files) // 10]
        start = time.perf_counter()
        for path in some:
            box.read(path)
        each = (time.perf_counter() - start) / len(some)
        print(f"remote_one_file_per_request_ms {1000 * each:.2f}  (round trip, {len(some)} files)")

        # Idle refresh: nothing changed on the box.
        box.changes()
        times = []
        before = counts()
        for _ in range(5):
            start = time.perf_counter()
            assert not box.changes()
            times.append(time.perf_counter() - start)
        after = counts()
        per = [(a - b) / 5 for a, b in zip(after, before)]
        print(f"remote_idle_refresh_s_median {statistics.median(times):.4f}")
        print(
            f"remote_idle_refresh_app_bytes {per[0] + per[1]:.0f}  (sent {per[0]:.0f}, budget 2048)"
        )
        print(
            f"remote_idle_refresh_wire_bytes {per[2] + per[3]:.0f}  (sent {per[2]:.0f}, budget 2048)"
        )

        # A refresh after 100 new points in one run.
        metrics = store / "bench" / "run00000" / "metrics.jsonl"
        offset = metrics.stat().st_size
        with metrics.open("a") as fh:
            for s in range(50, 150):
                fh.write(json.dumps({"_step": s, "loss": 1 / (s + 1)}) + "\n")
        before = counts()
        start = time.perf_counter()
        moved = box.changes()
        new = sum(box.read_lines(e.path, offset).data.count(b"\n") for e in moved.changed)
        print(f"remote_refresh_100_points_s {time.perf_counter() - start:.4f}")
        print(f"remote_refresh_100_points_read {new}")
        print(f"remote_refresh_100_points_appended_bytes {metrics.stat().st_size - offset}")
        report("remote_refresh_100_points", before)

        # The helper's CPU: idle, then answering one idle refresh a second.
        pid = hello.pid
        cpu = cpu_seconds(pid)
        time.sleep(idle_seconds)
        idle_cpu = cpu_seconds(pid) - cpu
        print(f"remote_helper_cpu_idle_pct {100 * idle_cpu / idle_seconds:.2f}")
        cpu = cpu_seconds(pid)
        start = time.monotonic()
        ticks = 0
        while time.monotonic() - start < idle_seconds:
            box.changes()
            ticks += 1
            time.sleep(max(0.0, start + ticks - time.monotonic()))
        busy = cpu_seconds(pid) - cpu
        print(
            f"remote_helper_cpu_refresh_each_second_pct {100 * busy / idle_seconds:.2f}"
            f"  ({runs} runs walked per refresh)"
        )
        print(f"remote_helper_rss_kb {_rss_kb(pid)}")
    finally:
        box.close()


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def first_paint_two_boxes(sshd: LoopbackSshd, work: Path, runs: int, repeats: int) -> None:
    """``trackui box1:PATH box2:PATH`` as a user starts it: each measurement
    a fresh process running bench_tui's first paint on the session's store
    root (the store opened without a refresh, the refresh behind the paint).
    Cold: the catalog empty, every run read over ssh. Warm: the catalog from
    before, the boxes asked what changed (nothing)."""
    work.mkdir(parents=True)
    make_store(work / "box1", runs, prefix="a")
    make_store(work / "box2", runs, prefix="b")
    config = sshd.client_config(work / "ssh_config", {"box1": {}, "box2": {}})
    env = {
        "TRACKUI_SSH": f"ssh -F {config}",
        "TRACKUI_CACHE_DIR": str(work / "cache"),
        "TRACKUI_CONFIG_DIR": str(work / "config"),
        "TRACKUI_DIR": str(work / "default"),
    }
    os.environ.update(env)
    from trackui.store.sources.session import session_root

    root = session_root([f"box1:{work / 'box1'}", f"box2:{work / 'box2'}"])

    def paint() -> dict[str, float]:
        proc = subprocess.run(
            [sys.executable, str(REPO / "benchmarks" / "bench_tui.py"), "--child", "first-paint"]
            + [str(root)],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=900,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"first paint failed:\n{proc.stderr}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    cold = paint()
    print(f"two_boxes_runs {2 * runs}  (listed after the cold read: {cold['runs_listed']:.0f})")
    print(f"two_boxes_cold_first_paint_s {cold['first_paint_s']:.3f}  (empty catalog)")
    print(f"two_boxes_cold_all_read_s {cold['refreshed_s']:.3f}  (every run read over ssh)")
    warm = [paint() for _ in range(repeats)]
    first = statistics.median(w["first_paint_s"] for w in warm)
    done = statistics.median(w["refreshed_s"] for w in warm)
    rows = min(w["rows_loaded"] for w in warm)
    print(
        f"two_boxes_warm_first_paint_s {first:.3f}  (budget 2.0; median of {repeats}, {rows:.0f} rows)"
    )
    print(
        f"two_boxes_warm_refreshed_s {done:.3f}  (both boxes asked what changed, behind the paint)"
    )


if __name__ == "__main__":
    main()
