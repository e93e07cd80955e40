"""The remote helper, run on this machine over plain pipes (no ssh): fast.

The helper is started exactly as it is on a box (``python -I -c BOOTSTRAP``, its
source sent over stdin), so these tests cover the bootstrap, the framed
protocol, containment and the incremental ``changes`` that the ssh tests
then check once more across a real connection.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import sqlite3
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from trackui.store.opener import FileTooLarge, UnsafeFile
from trackui.store.remote import (
    Connection,
    FileChanged,
    RemoteBox,
    RemoteError,
    Unreachable,
    local_argv,
    ssh_argv,
)
from trackui.store.remote import helper as proto
from trackui.store.remote.client import HELPER_SOURCE

GIB = 1024**3


def write_runs(root: Path, runs: int = 3) -> None:
    for i in range(runs):
        run = root / "proj" / f"run{i}"
        run.mkdir(parents=True)
        (run / "meta.json").write_text(json.dumps({"name": f"run{i}"}))
        (run / "metrics.jsonl").write_text("".join(f'{{"step": {s}}}\n' for s in range(3)))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    write_runs(root)
    return root


@pytest.fixture
def box(root: Path) -> Iterator[RemoteBox]:
    conn = Connection(local_argv(), name="local", request_timeout=30)
    box = RemoteBox("local", str(root), connection=conn)
    box.connect()
    try:
        yield box
    finally:
        box.close()


# -- the program itself ---------------------------------------------------------


def test_helper_source_is_python_3_8_and_standard_library_only() -> None:
    source = HELPER_SOURCE.decode("utf-8")
    tree = ast.parse(source, feature_version=(3, 8))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "the helper is one file: no relative imports"
            imported.add((node.module or "").split(".")[0])
    assert imported and imported <= sys.stdlib_module_names, imported - sys.stdlib_module_names
    # Names of the 3.9+ library the syntax check cannot see.
    for newer in ("removeprefix", "removesuffix", "functools.cache", "zoneinfo", "strict="):
        assert newer not in source, newer


class RawHelper:
    """The helper behind bare pipes, spoken to frame by frame."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            local_argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        code = zlib.compress(HELPER_SOURCE)
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{len(code)}\n".encode() + code)
        self.proc.stdin.flush()
        assert self.proc.stdout is not None
        assert self.proc.stdout.read(len(proto.MARKER)) == proto.MARKER
        self.seq = 0

    def ask(self, **req: Any) -> tuple[dict[str, Any], bytes]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.seq += 1
        self.proc.stdin.write(proto.pack({"id": self.seq, **req}))
        self.proc.stdin.flush()
        frame = proto.read_frame(self.proc.stdout, limit=1 << 30)
        assert frame is not None, self.proc.stderr.read() if self.proc.stderr else ""
        header, body = frame
        assert header["id"] == self.seq
        if header.get("z"):
            body = zlib.decompress(body)
        return header, body

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        code = self.proc.wait(timeout=30)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        return code


def test_hello_then_errors_answered_one_line_each_and_exit_on_end_of_stdin(root: Path) -> None:
    helper = RawHelper()
    header, _ = helper.ask(op="hello")
    assert header["ok"] and header["protocol"] == proto.PROTOCOL
    assert header["hostname"] and header["clock_ns"] > 0 and header["pid"] == helper.proc.pid
    for bad in (
        {"op": "nonsense"},
        {"op": "read", "root": str(root)},  # no path
        {"op": "read", "root": str(root), "path": "/etc/passwd", "n": 10},
        {"op": "read", "root": str(root), "path": "proj/../../x", "n": 10},
        {"op": "list", "root": str(root / "missing")},
        {"op": "sqlite_rows", "root": str(root), "path": "proj/run0/meta.json"},
    ):
        header, body = helper.ask(**bad)
        assert header["ok"] is False and body == b"", bad
        assert header["error"] and "\n" not in header["error"], header
    # Still answering after all that.
    header, body = helper.ask(op="read", root=str(root), path="proj/run0/meta.json", n=100)
    assert header["ok"] and json.loads(body) == {"name": "run0"}
    assert helper.close() == 0


def test_a_broken_stream_ends_the_helper(root: Path) -> None:
    helper = RawHelper()
    helper.ask(op="hello")
    assert helper.proc.stdin is not None
    helper.proc.stdin.write(proto.FRAME.pack(proto.MAX_REQUEST + 1, 0))
    helper.proc.stdin.flush()
    assert helper.close() == 2


def test_missing_root_is_one_line(tmp_path: Path) -> None:
    box = RemoteBox(
        "local", str(tmp_path / "nope"), connection=Connection(local_argv(), name="local")
    )
    try:
        with pytest.raises(RemoteError) as caught:
            box.connect()
        assert str(caught.value) == f"local:{tmp_path / 'nope'}: no such directory"
        assert box.state.connected  # the box is fine; the path is not
    finally:
        box.close()


def test_home_relative_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_runs(tmp_path / "home" / "runs", runs=1)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    box = RemoteBox("local", "~/runs", connection=Connection(local_argv(), name="local"))
    try:
        assert box.list() == [("proj", True)]
    finally:
        box.close()


# -- listing ---------------------------------------------------------------------


def test_walk_lists_files_and_dirs_with_stats(box: RemoteBox, root: Path) -> None:
    listing = box.walk()
    paths = {e.path: e for e in listing.entries}
    assert set(paths) == {
        "proj",
        *(f"proj/run{i}" for i in range(3)),
        *(f"proj/run{i}/{f}" for i in range(3) for f in ("meta.json", "metrics.jsonl")),
    }
    st = os.stat(root / "proj/run1/metrics.jsonl")
    entry = paths["proj/run1/metrics.jsonl"]
    assert (entry.kind, entry.ino, entry.size, entry.mtime_ns) == (
        "f",
        st.st_ino,
        st.st_size,
        st.st_mtime_ns,
    )
    assert paths["proj"].is_dir and not listing.truncated


def test_walk_caps_depth_and_count(root: Path) -> None:
    conn = Connection(local_argv(), name="local")
    try:
        shallow = RemoteBox("local", str(root), connection=conn, depth=2).walk()
        assert {e.path for e in shallow.entries} == {"proj", "proj/run0", "proj/run1", "proj/run2"}
        capped = RemoteBox("local", str(root), connection=conn, max_entries=4).walk()
        assert len(capped.entries) == 4 and capped.truncated
    finally:
        conn.close()


def test_symlinks_out_of_the_root_fifos_and_hidden_files_are_left_out(
    box: RemoteBox, root: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    run = root / "proj" / "run0"
    (run / "leak.log").symlink_to(secret)
    (run / "outside").symlink_to(tmp_path)
    (run / "inside.json").symlink_to(run / "meta.json")
    os.mkfifo(run / "pipe")
    (run / ".hidden").write_text("x")
    listing = box.walk("proj/run0")
    names = {e.path.rpartition("/")[2] for e in listing.entries}
    assert names == {"meta.json", "metrics.jsonl", "inside.json"}
    assert listing.skipped == 3  # two links out, one FIFO
    with pytest.raises(UnsafeFile, match="outside the source root"):
        box.read("proj/run0/leak.log")
    with pytest.raises(UnsafeFile, match="FIFO"):
        box.read_range("proj/run0/pipe", 0, 10)  # O_NONBLOCK + fstat: no hang
    assert box.read("proj/run0/inside.json")[0] == (run / "meta.json").read_bytes()
    with pytest.raises(UnsafeFile, match="outside the source root"):
        box.stat("proj/run0/outside")
    with pytest.raises(UnsafeFile, match="outside the source root"):
        box.read("proj/run0/outside/secret.txt")  # through a linked directory
    assert not box.exists("proj/run0/leak.log")


# -- changes -----------------------------------------------------------------------


def test_changes_come_in_one_round_trip_and_only_what_changed(box: RemoteBox, root: Path) -> None:
    first = box.changes()
    assert first.full and len(first.added) == 10
    sent, received = box.bytes_sent, box.bytes_received
    idle = box.changes()
    assert not idle and not idle.full
    # One request, one header-only answer: no listing crossed.
    assert box.bytes_received - received < 200, box.bytes_received - received
    assert box.bytes_sent - sent < 200

    with (root / "proj/run1/metrics.jsonl").open("a") as fh:
        fh.write('{"step": 3}\n')
    (root / "proj/run2/new.txt").write_text("n")
    (root / "proj/run0/meta.json").unlink()
    moved = box.changes()
    assert [e.path for e in moved.changed] == ["proj/run1/metrics.jsonl"]
    assert [e.path for e in moved.added] == ["proj/run2/new.txt"]
    assert moved.removed == ["proj/run0/meta.json"]
    assert moved.changed[0].size == (root / "proj/run1/metrics.jsonl").stat().st_size
    assert not box.changes()


def test_after_a_reconnect_changes_are_still_a_diff(box: RemoteBox, root: Path) -> None:
    box.changes()
    old_pid = box.hello.pid if box.hello else None
    with (root / "proj/run1/metrics.jsonl").open("a") as fh:
        fh.write('{"step": 3}\n')
    box.reconnect()
    assert box.hello is not None and box.hello.pid != old_pid
    moved = box.changes()  # the new helper sent everything; the box diffed it
    assert not moved.full
    assert [e.path for e in moved.changed] == ["proj/run1/metrics.jsonl"]
    assert not moved.added and not moved.removed


# -- reads -----------------------------------------------------------------------


def test_read_range_and_lines_from_an_offset(box: RemoteBox, root: Path) -> None:
    path = "proj/run0/metrics.jsonl"
    whole, st = box.read(path)
    assert whole == (root / path).read_bytes()
    with (root / path).open("a") as fh:
        fh.write('{"step": 3}\n{"step": 4')  # the last line still being written
    lines = box.read_lines(path, len(whole))
    assert lines.data == b'{"step": 3}\n' and lines.end == len(whole) + 12
    assert lines.stat.ino == st.ino and lines.stat.size > st.size
    data, _ = box.read_range(path, len(whole), 5)
    assert data == b'{"ste'


def test_a_10_gb_sparse_file_is_stated_but_reads_stay_capped(box: RemoteBox, root: Path) -> None:
    big = root / "proj/run0/huge.bin"
    with big.open("wb") as fh:
        fh.truncate(10 * GIB)
    assert box.stat("proj/run0/huge.bin").size == 10 * GIB
    with pytest.raises(FileTooLarge):
        box.read("proj/run0/huge.bin")  # refused on the box before a byte is read
    data, st = box.read_range("proj/run0/huge.bin", 5 * GIB, 10 * GIB)
    assert len(data) == box.max_chunk and st.size == 10 * GIB
    helper = RawHelper()
    header, body = helper.ask(
        op="read", root=str(root), path="proj/run0/huge.bin", offset=0, n=10 * GIB
    )
    assert header["ok"] and len(body) == proto.MAX_READ
    helper.close()


def test_a_file_replaced_is_told_by_its_inode_even_at_the_same_size_and_mtime(
    box: RemoteBox, root: Path
) -> None:
    path = root / "proj/run0/metrics.jsonl"
    _, before = box.read_range("proj/run0/metrics.jsonl", 0, 4)
    fresh = path.with_name("tmp")
    fresh.write_bytes(b"X" * before.size)
    os.utime(fresh, ns=(before.mtime_ns, before.mtime_ns))
    os.replace(fresh, path)
    data, after = box.read_range("proj/run0/metrics.jsonl", 0, 4)
    assert (after.size, after.mtime_ns) == (before.size, before.mtime_ns)
    assert after.ino != before.ino and data == b"XXXX"


def test_a_file_replaced_between_the_pieces_of_one_read_raises(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = Connection(local_argv(), name="local")
    box = RemoteBox("local", str(root), connection=conn, read_chunk=8)
    path = root / "proj/run0/metrics.jsonl"
    real_request = conn.request
    pieces = []

    def request(op: str, body: bytes = b"", **args: Any) -> tuple[dict[str, Any], bytes]:
        answer = real_request(op, body, **args)
        if op == "read":
            pieces.append(args["offset"])
            if len(pieces) == 1:
                fresh = path.with_name("tmp")
                fresh.write_bytes(b"Y" * 100)
                os.replace(fresh, path)
        return answer

    monkeypatch.setattr(conn, "request", request)
    try:
        with pytest.raises(FileChanged, match="replaced or truncated while read"):
            box.read_range("proj/run0/metrics.jsonl", 0, 64)
        assert pieces == [0, 8]
    finally:
        box.close()


# -- sqlite -----------------------------------------------------------------------


def test_sqlite_rows_past_a_rowid_read_only(box: RemoteBox, root: Path) -> None:
    db_path = root / "proj" / "tracking.db"
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE metrics (key TEXT, value REAL, step INTEGER, blob BLOB)")
    db.executemany(
        "INSERT INTO metrics VALUES (?, ?, ?, ?)",
        [("loss", 1.0 / (s + 1), s, bytes([s])) for s in range(5)],
    )
    db.commit()
    db.close()
    before = db_path.read_bytes()
    assert box.sqlite_tables("proj/tracking.db") == {"metrics": ["key", "value", "step", "blob"]}
    rows = box.sqlite_rows("proj/tracking.db", "metrics", ["step", "value", "blob"], after=3)
    assert rows == [(4, 3, 0.25, b"\x03"), (5, 4, 0.2, b"\x04")]
    assert box.sqlite_rows("proj/tracking.db", "metrics", ["step"], after=0, limit=2) == [
        (1, 0),
        (2, 1),
    ]
    with pytest.raises(RemoteError, match="has no column 'x; DROP TABLE metrics'"):
        box.sqlite_rows("proj/tracking.db", "metrics", ["x; DROP TABLE metrics"])
    with pytest.raises(RemoteError, match="no table"):
        box.sqlite_rows("proj/tracking.db", "nope", ["step"])
    with pytest.raises(FileNotFoundError):
        box.sqlite_rows("proj/missing.db", "metrics", ["step"])
    assert db_path.read_bytes() == before


def test_read_many_in_order_with_errors_in_place_and_over_the_byte_budget(
    box: RemoteBox, root: Path, tmp_path: Path
) -> None:
    run = root / "proj/run0"
    (tmp_path / "secret").write_text("no")
    (run / "out.txt").symlink_to(tmp_path / "secret")
    for i in range(5):  # 5 × 4 MiB: past one answer's 16 MiB budget
        with (run / f"big{i}.bin").open("wb") as fh:
            fh.truncate(proto.MAX_READ)
    paths = [
        "proj/run1/meta.json",
        "proj/run0/missing.json",
        "proj/run0/out.txt",
        *(f"proj/run0/big{i}.bin" for i in range(5)),
        "proj/run2/meta.json",
    ]
    round_trips = box.connection._seq
    results = box.read_many([(p, 0, proto.MAX_READ) for p in paths])
    assert box.connection._seq - round_trips == 2
    assert results[0][0] == b'{"name": "run1"}'
    assert isinstance(results[1], FileNotFoundError)
    assert isinstance(results[2], UnsafeFile)
    assert [len(r[0]) for r in results[3:8]] == [proto.MAX_READ] * 5
    assert (
        results[8][0] == b'{"name": "run2"}'
        and results[8][1].ino == os.stat(root / "proj/run2/meta.json").st_ino
    )

    files = box.read_files(["proj/run0/meta.json", "proj/run0/big0.bin"], limit=1000)
    assert files[0][0] == b'{"name": "run0"}' and isinstance(files[1], FileTooLarge)


def test_output_of_a_login_script_before_the_helper_is_skipped(root: Path) -> None:
    noisy = [
        sys.executable,
        "-c",
        "import sys; sys.stdout.write('Welcome! conda activated\\n'); sys.stdout.flush(); "
        + local_argv()[-1],
    ]
    box = RemoteBox("noisy", str(root), connection=Connection(noisy, name="noisy"))
    try:
        box.connect()
        assert box.read("proj/run0/meta.json")[0] == b'{"name": "run0"}'
    finally:
        box.close()


def test_requests_from_many_threads_get_their_own_answers(box: RemoteBox) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def read(i: int) -> bytes:
        return box.read(f"proj/run{i % 3}/meta.json")[0]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(read, range(60)))
    assert answers == [json.dumps({"name": f"run{i % 3}"}).encode() for i in range(60)]


def test_a_helper_that_stops_answering_times_out_into_unreachable(root: Path) -> None:
    conn = Connection(local_argv(), name="stuck", request_timeout=1.0)
    box = RemoteBox("stuck", str(root), connection=conn)
    try:
        hello = box.connect()
        os.kill(hello.pid, signal.SIGSTOP)  # alive, silent: a hung box
        with pytest.raises(Unreachable, match=r"^stuck: no answer within 1 s$"):
            box.changes()
        assert box.state.status == "unreachable"
        assert conn._proc is None  # the stuck process was killed, not left behind
        with pytest.raises(Unreachable):  # and the next request does not wait again
            box.changes()
    finally:
        box.close()


def test_ssh_command_line_keeps_batch_mode_first_and_the_host_after_dashdash() -> None:
    argv = ssh_argv(
        "gpu1",
        ssh_command=["ssh", "-F", "cfg"],
        ssh_options=["-o", "ConnectTimeout=3", "-o", "BatchMode=no"],
        connect_timeout=7,
    )
    assert argv[:5] == ["ssh", "-F", "cfg", "-o", "BatchMode=yes"]
    assert argv.index("ConnectTimeout=3") < argv.index("ConnectTimeout=7")  # the user's wins
    assert argv[-3:-1] == ["--", "gpu1"]
    assert argv[-1].startswith("python3 -I -c '") and "'" not in argv[-1][15:-1]


def test_a_module_in_the_starting_directory_cannot_replace_the_standard_library(
    root: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "json.py").write_text("raise SystemExit('shadowed json imported')\n")
    proc = subprocess.run(
        local_argv(),
        input=f"{len(zlib.compress(HELPER_SOURCE))}\n".encode()
        + zlib.compress(HELPER_SOURCE)
        + proto.pack({"id": 1, "op": "hello"}),
        capture_output=True,
        cwd=home,
        env={**os.environ, "PYTHONPATH": str(home)},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(proto.MARKER) and b'"ok":true' in proc.stdout
