"""A store shared by a team: files follow the umask (``meta.json``,
``config.json`` and ``summary.json`` too, though they are written by temp
file and rename), directories are group-writable where their parent is, and
a second user can read a teammate's runs and start runs in a project the
first user made.

Root ignores modes, so what another user can do is tried as another user:
an unprivileged ``trackuser`` (``.ci/run`` creates it) in a forked child that
drops root's uid and groups. Those tests skip when not run as root or when
the user is missing; CI runs them."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import trackui
from trackui.store import paths
from trackui.store.queries import Store

TEAMMATE = "trackuser"
RUN_FILES = [paths.META, paths.CONFIG, paths.SUMMARY, paths.METRICS, paths.EVENTS]
RUN_FILES += [paths.HEARTBEAT, paths.ARTIFACTS, "artifacts/w.pt"]


@pytest.fixture(autouse=True)
def _no_run_left_behind() -> Iterator[None]:
    yield
    run = trackui.run
    if run is not None and not run.finished:
        run.finish()


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    """Set this process's umask for one test (restored after)."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


@pytest.fixture
def teammate() -> pwd.struct_passwd:
    if os.geteuid() != 0:
        pytest.skip("acting as a second user needs root to switch users; CI runs the tests as root")
    try:
        return pwd.getpwnam(TEAMMATE)
    except KeyError:
        pytest.skip(
            f"user {TEAMMATE!r} is missing; .ci/run creates it (useradd -m) before the tests"
        )


@pytest.fixture
def shared() -> Iterator[Path]:
    """A directory every user can reach (pytest's tmp_path is private to root)."""
    top = Path(tempfile.mkdtemp(prefix="trackui-shared-", dir="/tmp"))
    os.chmod(top, 0o755)
    yield top
    shutil.rmtree(top, ignore_errors=True)


def as_user(user: pwd.struct_passwd, action: Callable[[], None], umask: int = 0o022) -> None:
    """Run ``action`` in a forked child that has become ``user`` (its uid, its
    group only); fail here with the child's traceback if it raised."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read)
            os.setgroups([user.pw_gid])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            os.umask(umask)
            action()
            code = 0
        except BaseException:
            os.write(write, traceback.format_exc().encode())
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        error = fh.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, f"as {user.pw_name}:\n{error}"


def write_run(root: Path, scratch: Path | None = None) -> trackui.Run:
    src = (scratch or root.parent) / f"w-{os.getpid()}.pt"
    src.write_bytes(b"weights")
    os.chmod(src, 0o600)  # the copy follows the umask, not the source's mode
    run = trackui.init(project="team", dir=root, config={"lr": 0.1}, console=False)
    run.log({"loss": 1.0})
    run.summary["best"] = 0.5
    assert run.log_artifact(src, name="w.pt") is not None
    run.finish()
    src.unlink()
    return run


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077], ids=oct)
def test_files_follow_the_umask(tmp_path: Path, umask: Callable[[int], None], mask: int) -> None:
    umask(mask)
    run = write_run(tmp_path / "store")
    modes = {name: oct(mode(run.dir / name)) for name in RUN_FILES}
    assert modes == {name: oct(0o666 & ~mask) for name in RUN_FILES}
    for directory in (run.dir.parent, run.dir, run.dir / paths.ARTIFACT_DIR):
        assert oct(mode(directory)) == oct(0o777 & ~mask), directory


def test_directories_are_group_writable_where_the_parent_is(
    tmp_path: Path, umask: Callable[[int], None]
) -> None:
    umask(0o022)
    root = tmp_path / "store"
    root.mkdir()
    os.chmod(root, 0o2775)  # a team's store: group-writable, new entries keep its group
    run = write_run(root)
    for directory in (run.dir.parent, run.dir, run.dir / paths.ARTIFACT_DIR):
        assert oct(mode(directory)) == oct(0o2775), directory
    assert oct(mode(run.dir / paths.META)) == oct(0o644)  # files still follow the umask

    sticky = tmp_path / "tmp"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)  # like /tmp: shares nothing
    other = write_run(sticky / "store")
    assert oct(mode(sticky / "store")) == oct(0o755)
    assert oct(mode(other.dir)) == oct(0o755)


def test_a_teammate_reads_every_file_of_a_run(
    teammate: pwd.struct_passwd, shared: Path, umask: Callable[[int], None]
) -> None:
    umask(0o022)
    run = write_run(shared / "store")

    def read_all() -> None:
        for name in RUN_FILES:
            (run.dir / name).read_bytes()
        assert json.loads((run.dir / paths.META).read_text())["id"] == run.id
        assert json.loads((run.dir / paths.CONFIG).read_text()) == {"lr": 0.1}
        assert json.loads((run.dir / paths.SUMMARY).read_text()) == {"best": 0.5}

    as_user(teammate, read_all)


def test_a_second_user_starts_a_run_in_a_project_the_first_made(
    teammate: pwd.struct_passwd, shared: Path, umask: Callable[[int], None]
) -> None:
    umask(0o022)
    root = shared / "store"
    root.mkdir()
    os.chown(root, -1, teammate.pw_gid)  # the team's group
    os.chmod(root, 0o2775)
    first = write_run(root)
    assert os.stat(first.dir.parent).st_gid == teammate.pw_gid

    def second_run() -> None:
        write_run(root, scratch=Path(tempfile.mkdtemp()))
        json.loads((first.dir / paths.CONFIG).read_text())

    as_user(teammate, second_run)
    runs = [p for p in first.dir.parent.iterdir() if p.name != first.id]
    assert len(runs) == 1
    assert os.stat(runs[0]).st_uid == teammate.pw_uid
    assert oct(mode(runs[0])) == oct(0o2775)
    with Store(root) as store:
        assert {r.id for r in store.list_runs()} == {first.id, runs[0].name}
