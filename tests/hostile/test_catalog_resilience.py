"""The catalog is a cache: damaged at any offset, it is rebuilt from the run
files (once, with a notice); where its cache directory cannot be written
(unwritable, full) it lives in memory, with a notice. Never a traceback."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from trackui.store.queries import Store

from .catalog_helpers import write_run

SEEDS = 25


def build(root: Path) -> dict[str, int]:
    expected = {}
    for i in range(3):
        run_id = f"20260101-00000000{i}-run{i}"
        write_run(root, run_id, project=f"p{i}", points=200 + i)
        expected[run_id] = 200 + i
    return expected


def listing(store: Store) -> dict[str, int]:
    return {r.id: len(store.history(r.id, "m0")) for r in store.list_runs()}


def test_catalog_damaged_at_random_offsets_is_rebuilt(tmp_path: Path) -> None:
    root = tmp_path / "store"
    expected = build(root)
    catalog = tmp_path / "catalog.duckdb"
    with Store(root, catalog_path=catalog) as store:
        assert listing(store) == expected
    pristine = catalog.read_bytes()
    rebuilt = 0
    for seed in range(SEEDS):
        rng = random.Random(seed)
        data = bytearray(pristine)
        if seed % 5 == 4:
            data = data[: rng.randrange(len(data))]  # truncated
        else:
            start = rng.randrange(len(data))
            for i in range(start, min(len(data), start + rng.choice((1, 8, 512, 4096)))):
                data[i] = rng.randrange(256)
        catalog.write_bytes(bytes(data))
        Path(str(catalog) + ".wal").unlink(missing_ok=True)
        notices: list[str] = []
        with Store(root, catalog_path=catalog) as store:
            store.catalog._notify = notices.append
            assert listing(store) == expected, f"seed {seed}"
            notices += store.catalog.notices
        rebuilt += bool(notices)
        assert len(set(notices)) <= 1, notices  # at most one rebuild, said once
    assert rebuilt > 0  # some damage was found and repaired, not all of it harmless


def test_damage_found_by_a_query_rebuilds_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import duckdb

    root = tmp_path / "store"
    expected = build(root)
    with Store(root, catalog_path=tmp_path / "c.duckdb") as store:
        real = store.catalog.cursor
        calls = {"n": 0}

        class Damaged:
            def execute(self, *args: object) -> None:
                raise duckdb.IOException("Corrupt database file: block checksum mismatch")

        def cursor() -> object:
            calls["n"] += 1
            return Damaged() if calls["n"] == 1 else real()

        store.catalog.cursor = cursor  # type: ignore[method-assign]
        assert listing(store) == expected
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "damaged" in err and "rebuilding" in err


def test_unwritable_cache_falls_back_to_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cache path that cannot be a directory fails even for root."""
    root = tmp_path / "store"
    expected = build(root)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with Store(root, catalog_path=blocker / "catalogs" / "c.duckdb") as store:
        assert listing(store) == expected
        assert store.catalog.private
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "in-memory catalog" in err


TEAMMATE = "trackuser"  # .ci/run creates it


def test_cache_directory_without_write_permission(tmp_path: Path) -> None:
    """As an unprivileged user (root ignores modes): a cache directory that
    user cannot write gives an in-memory catalog, a notice, every run."""
    import json
    import pwd
    import signal
    import tempfile
    import traceback

    if os.geteuid() != 0:
        pytest.skip("acting as another user needs root to switch users; CI runs the tests as root")
    try:
        user = pwd.getpwnam(TEAMMATE)
    except KeyError:
        pytest.skip(
            f"user {TEAMMATE!r} is missing; .ci/run creates it (useradd -m) before the tests"
        )
    top = Path(tempfile.mkdtemp(prefix="trackui-shared-", dir="/tmp"))
    try:
        os.chmod(top, 0o755)
        root = top / "store"
        expected = build(root)
        cache = top / "cache"
        cache.mkdir(mode=0o755)  # root's: the user may read it, not write it
        # A forked child that becomes the user (an exec'd interpreter may sit
        # where that user cannot reach), reporting back through a pipe.
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            code = 1
            try:
                os.close(read)
                signal.alarm(60)  # a hang fails, not blocks
                os.setgroups([user.pw_gid])
                os.setgid(user.pw_gid)
                os.setuid(user.pw_uid)
                notices: list[str] = []
                with Store(root, catalog_path=cache / "c.duckdb") as store:
                    got = listing(store)
                    notices = store.catalog.notices
                    private = store.catalog.private
                report = {"got": got, "notices": notices, "private": private}
                os.write(write, json.dumps(report).encode())
                code = 0
            except BaseException:
                os.write(write, traceback.format_exc().encode())
            finally:
                os._exit(code)
        os.close(write)
        with os.fdopen(read, "rb") as fh:
            out = fh.read().decode()
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, out
        report = json.loads(out)
        assert report["got"] == expected and report["private"]
        assert len(report["notices"]) == 1 and "in-memory catalog" in report["notices"][0]
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Path:
    """A 1 MiB tmpfs; CI runs as root and can mount one."""
    mount = tmp_path / "small"
    mount.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs (CI runs as root)")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()}); CI can")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_cache_disk_falls_back_to_memory(
    tmp_path: Path, small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "store"
    expected = {}
    for i in range(4):
        run_id = f"20260101-00000000{i}-big{i}"
        write_run(root, run_id, project="p", points=20_000)
        expected[run_id] = 20_000
    (small_disk / "filler").write_bytes(b"\0" * 700_000)  # leave too little for the catalog
    with Store(root, catalog_path=small_disk / "c.duckdb") as store:
        assert listing(store) == expected
        assert store.catalog.private
        store.refresh()
    err = capsys.readouterr().err
    assert "in-memory catalog" in err and "Traceback" not in err
