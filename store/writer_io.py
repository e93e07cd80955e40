"""The writer's dealings with the file system and the machine: directories
that a team can share, a run directory that appears whole, artifact names
kept inside ``artifacts/``, and what ``meta.json`` records about where a run
ran (host, user, git).

Standard library only (imported into training code), and never on the fast
path of ``log()``.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from . import paths
from .fmt import repair
from .runfiles import append_line, atomic_write_json

DEFAULT_HEARTBEAT_S = 5.0

#: A temp run directory (``.<run_id>.tmp``) older than this was left by a
#: writer killed during ``init``; the next writer in the project removes it.
STALE_TEMP_S = 300.0
TEMP_SUFFIX = ".tmp"


def heartbeat_interval() -> float:
    """Seconds between heartbeats; ``TRACKUI_HEARTBEAT_INTERVAL`` shortens it in tests."""
    try:
        return max(0.05, float(os.environ.get("TRACKUI_HEARTBEAT_INTERVAL", DEFAULT_HEARTBEAT_S)))
    except ValueError:
        return DEFAULT_HEARTBEAT_S


# -- directories a team can share ----------------------------------------------


def make_dir(path: Path) -> None:
    """``mkdir -p`` where each new directory is group-writable when its parent
    is (the kernel already passes on setgid, so the group follows too): a
    store made for a team stays usable by the team. A sticky world-writable
    parent such as ``/tmp`` shares nothing."""
    missing = []
    cur = path
    while not cur.is_dir():
        missing.append(cur)
        if cur.parent == cur:
            break
        cur = cur.parent
    for new in reversed(missing):
        try:
            os.mkdir(new)
        except FileExistsError:
            if not new.is_dir():
                raise
            continue
        share_like_parent(new)


def share_like_parent(path: Path) -> None:
    """Add group write (and setgid) to a directory just made, when its parent has them."""
    try:
        parent = os.stat(path.parent).st_mode
        if not parent & stat.S_IWGRP or parent & stat.S_ISVTX:
            return
        mode = stat.S_IMODE(os.stat(path).st_mode)
        wanted = mode | stat.S_IWGRP | stat.S_IRGRP | stat.S_IXGRP | (parent & stat.S_ISGID)
        if wanted != mode:
            os.chmod(path, wanted)
    except OSError:
        pass  # a file system without modes: nothing to share


def open_append(path: Path | str) -> int:
    """An append-only descriptor for a run file, created with the umask's mode.
    Read access too, so that the points in a file deleted under the writer can
    still be counted (``Run._check``)."""
    return os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)


def touch(path: Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666))


# -- a run directory that appears whole ---------------------------------------


def create_run_dir(
    project_dir: Path,
    run_id: str,
    meta: dict[str, Any],
    config: dict[str, Any],
    diff: str | None,
    console: bool,
) -> tuple[int, int | None]:
    """Make ``project_dir/run_id`` whole: filled under a hidden name, then
    renamed into place, so a run directory never exists without its
    ``meta.json`` (a writer killed meanwhile leaves a temp directory that
    readers skip and the next writer here removes). Returns the descriptors
    of ``metrics.jsonl`` and ``console.log``, opened before the rename."""
    make_dir(project_dir)
    remove_stale_temps(project_dir, time.time())
    tmp = project_dir / f".{run_id}{TEMP_SUFFIX}"
    os.mkdir(tmp)
    share_like_parent(tmp)
    fds: list[int] = []
    try:
        atomic_write_json(tmp / paths.META, meta)
        atomic_write_json(tmp / paths.CONFIG, config)
        if diff:
            with open(tmp / paths.CODE_DIFF, "w", encoding="utf-8") as fh:
                fh.write(diff)
        touch(tmp / paths.HEARTBEAT)
        append_line(
            tmp / paths.EVENTS, {"event": "start", "t": meta["created"], "pid": os.getpid()}
        )
        fds.append(open_append(tmp / paths.METRICS))
        if console:
            fds.append(open_append(tmp / paths.CONSOLE))
        os.rename(tmp, project_dir / run_id)
    except BaseException:
        for fd in fds:
            os.close(fd)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return fds[0], fds[1] if console else None


def remove_stale_temps(project_dir: Path, now: float) -> None:
    """Remove temp run directories that writers killed during ``init`` left
    in this project. Best effort: any error leaves the entry for next time."""
    try:
        entries = [e for e in os.scandir(project_dir) if e.name.startswith(".")]
    except OSError:
        return
    for entry in entries:
        if not entry.name.endswith(TEMP_SUFFIX):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue
            if now - entry.stat(follow_symlinks=False).st_mtime < STALE_TEMP_S:
                continue  # maybe a writer still in its init
            shutil.rmtree(entry.path)
        except OSError:
            continue


# -- artifacts ------------------------------------------------------------------


def artifact_name(name: str) -> str:
    """A relative path inside ``artifacts/``, normalised (``a//./b`` -> ``a/b``),
    or ``ValueError`` saying why not: absolute, ``..``, NUL or control characters."""
    text = repair(name, path=True)
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text):
        raise ValueError("contains NUL or a control character")
    if text.startswith("/"):
        raise ValueError("is an absolute path")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ValueError("contains '..'")
    if not parts:
        raise ValueError("is empty")
    return "/".join(parts)


def artifact_dest(run_dir: Path, name: str) -> Path:
    """``run_dir/artifacts/name``, its directories made; every one on the way
    must be a plain directory (no symlink leads out)."""
    parent = run_dir
    for part in [paths.ARTIFACT_DIR, *name.split("/")[:-1]]:
        parent = parent / part
        try:
            os.mkdir(parent)
            share_like_parent(parent)
        except FileExistsError:
            mode = os.lstat(parent).st_mode
            if not stat.S_ISDIR(mode):  # a symlink, or a file of that name
                raise ValueError(f"{part!r} on its way is not a directory") from None
    return parent / name.rsplit("/", 1)[-1]


def _write_replacing(dest: Path, fill: Any) -> None:
    """Write ``dest`` through a temp file beside it and a rename: ``fill(fh)``."""
    tmp = dest.parent / f".{dest.name}.{os.getpid()}.{time.monotonic_ns()}{TEMP_SUFFIX}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        with open(fd, "wb") as fout:
            fill(fout)
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def copy_artifact(src: Path, run_dir: Path, name: str) -> str:
    """Copy ``src`` to ``run_dir/artifacts/name`` (temp file + rename); its sha256."""
    dest = artifact_dest(run_dir, name)
    digest = hashlib.sha256()

    def fill(fout: Any) -> None:
        with open(src, "rb") as fin:
            while chunk := fin.read(1 << 20):
                digest.update(chunk)
                fout.write(chunk)
        fout.flush()
        st = os.stat(src)
        os.utime(fout.fileno(), ns=(st.st_atime_ns, st.st_mtime_ns))

    _write_replacing(dest, fill)
    return digest.hexdigest()


def write_artifact(data: bytes, run_dir: Path, name: str) -> str:
    """Write ``data`` as ``run_dir/artifacts/name`` (temp file + rename); its sha256."""
    _write_replacing(artifact_dest(run_dir, name), lambda fout: fout.write(data))
    return hashlib.sha256(data).hexdigest()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# -- where the run ran ----------------------------------------------------------


def user() -> str | None:
    try:
        return repair(getpass.getuser())
    except Exception:
        return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args],
            capture_output=True,
            timeout=5,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.decode("utf-8", "surrogateescape")


def strip_credentials(url: str) -> str:
    """``https://user:token@host/x.git`` -> ``https://host/x.git``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme and "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return url


def git_info() -> dict[str, Any] | None:
    """Commit, branch, dirty flag, remote (no credentials) and, when dirty,
    the diff; every string valid UTF-8 (paths and branch names keep
    undecodable bytes as ``\\xNN``)."""
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return None
    branch = (_git("rev-parse", "--abbrev-ref", "HEAD") or "").strip() or None
    status = _git("status", "--porcelain", "--untracked-files=no") or ""
    remote = (_git("remote", "get-url", "origin") or "").strip()
    dirty = bool(status.strip())
    diff = _git("diff", "HEAD") if dirty else None
    return {
        "commit": repair(commit.strip(), path=True),
        "branch": repair(branch, path=True) if branch else None,
        "dirty": dirty,
        "remote": repair(strip_credentials(remote), path=True) if remote else None,
        "diff": repair(diff, path=True) if diff else None,
    }


def environment() -> dict[str, Any]:
    """argv, cwd and executable as valid UTF-8 (undecodable bytes as ``\\xNN``)."""
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = None
    return {
        "host": repair(socket.gethostname()),
        "user": user(),
        "pid": os.getpid(),
        "argv": [repair(str(arg), path=True) for arg in sys.argv],
        "cwd": repair(cwd, path=True) if cwd is not None else None,
        "python": sys.version.split()[0],
        "executable": repair(sys.executable or "", path=True),
    }


# -- counting and describing for the events ---------------------------------------


def points_in(fd: int, start: int, end: int) -> int:
    """Metric values in the lines of ``fd`` between two offsets."""
    count = 0
    rest = b""
    while start < end:
        try:
            chunk = os.pread(fd, min(end - start, 1 << 22), start)
        except OSError:
            break
        if not chunk:
            break
        start += len(chunk)
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        count += sum(points_of(line) for line in lines)
    return count + points_of(rest)


def points_of(line: bytes) -> int:
    try:
        row = json.loads(line)
    except ValueError:
        return 0
    return sum(1 for key in row if not key.startswith("_")) if isinstance(row, dict) else 0


def describe(exception: BaseException) -> dict[str, str]:
    """An exception as the finish event records it (valid UTF-8, never raising)."""
    try:
        message = str(exception)
    except Exception:
        message = f"<{type(exception).__name__}: str() failed>"
    try:
        text = "".join(
            traceback.format_exception(type(exception), exception, exception.__traceback__)
        )[-8000:]
    except Exception:
        text = ""
    return {
        "type": repair(type(exception).__name__),
        "message": repair(message, path=True),
        "traceback": repair(text, path=True),
    }
