"""trackui's helper on a remote box: list, stat and read run files for a laptop.

This file is the whole program that runs on the box. The laptop sends it over
the stdin of ``ssh HOST python3 -I -c BOOTSTRAP`` (see client.py) and then
speaks to it over the same pipes, so nothing is installed there. It needs
Python 3.8 or newer and the standard library only; it keeps no state on disk
and exits when its stdin closes (the connection dropped or the laptop closed
it). It stays one file, past the usual size of a module, because it is sent
and run as one program.

Protocol (docs/remote.md): each message is a frame, ``!II`` (header length,
body length), a UTF-8 JSON object as header, then the raw body. A request's
header holds ``id``, ``op`` and the op's arguments; the response echoes ``id``
with ``ok`` true and the op's small results, or ``ok`` false with ``error``
(one line) and ``kind`` (``missing``, ``unsafe``, ``too_large``, ``noroot``,
``bad``, ``error``). Bulky results (listings, rows, file bytes) travel in the body;
``z`` in the header says the body is zlib-compressed.

Every path is relative to the request's ``root``: absolute paths and ``..``
are refused, nothing resolving outside the root's real path is listed or
read, only regular files and directories are reported, files are opened with
``O_NONBLOCK | O_NOFOLLOW`` and checked with ``fstat`` before a byte is read,
and every read, listing and row query is capped.
"""

import errno
import json
import os
import socket
import sqlite3
import stat as stat_mod
import struct
import sys
import time
import zlib

PROTOCOL = 1
#: Written once before the first answer (see ``serve``).
MARKER = b"\x00trackui-helper\x00"
FRAME = struct.Struct("!II")
#: Bytes one ``read`` returns at most; the client asks again for more.
MAX_READ = 4 * 1024 * 1024
#: Entries one listing returns at most, and how deep it walks at most.
MAX_ENTRIES = 500000
MAX_DEPTH = 32
#: Rows one ``sqlite_rows`` returns at most.
MAX_ROWS = 100000
#: Bytes one ``read_many`` answer carries, about (a file is never cut: the
#: answer stops before the file that would pass this; the client asks again).
MAX_BATCH = 16 * 1024 * 1024
#: Files one ``read_many`` request may name.
MAX_BATCH_FILES = 20000
#: A request bigger than this is not a request: the stream is broken.
MAX_REQUEST = 1024 * 1024
#: A compressed request body (the paths of a ``read_many``) unpacks to at most this.
MAX_REQUEST_BODY = 16 * 1024 * 1024
#: Bodies above this are compressed when that saves a tenth or more.
COMPRESS_OVER = 512

_OPEN = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
_OPEN |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
_OPEN_DIR = _OPEN | getattr(os, "O_DIRECTORY", 0)
#: Whether /proc names the file behind a descriptor (Linux).
_PROC_FD = os.path.isdir("/proc/self/fd")


class Refused(Exception):
    """A request the helper answers with an error; ``kind`` names the sort."""

    def __init__(self, kind, message):
        Exception.__init__(self, message)
        self.kind = kind


# -- framing (the client imports these too) ------------------------------------


def pack(header, body=b""):
    """One frame: the header as compact JSON, then the body."""
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return FRAME.pack(len(head), len(body)) + head + body


def read_exact(stream, n):
    """``n`` bytes from ``stream``; None at end of stream (also mid-frame)."""
    parts = []
    while n > 0:
        part = stream.read(n)
        if not part:
            return None
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


def read_frame(stream, limit=MAX_REQUEST):
    """``(header, body)`` of the next frame, None at end of stream."""
    lengths = read_exact(stream, FRAME.size)
    if lengths is None:
        return None
    head_len, body_len = FRAME.unpack(lengths)
    if head_len > limit or body_len > limit:
        raise ValueError(f"frame of {head_len} + {body_len} bytes, over the limit")
    head = read_exact(stream, head_len)
    body = read_exact(stream, body_len) if body_len else b""
    if head is None or body is None:
        return None
    header = json.loads(head.decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("a frame header that is not an object")
    return header, body


def squeeze(header, body):
    """``body`` compressed (and ``z`` set in ``header``) where that pays."""
    if len(body) > COMPRESS_OVER:
        packed = zlib.compress(body, 6 if len(body) < 4 * 1024 * 1024 else 1)
        if len(packed) < len(body) * 0.9:
            header["z"] = 1
            return packed
    return body


# -- paths -----------------------------------------------------------------------


def _within(path, root):
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _relative(rel):
    """``rel`` checked: a relative path with no ``..`` (``""`` is the root)."""
    if not isinstance(rel, str) or "\x00" in rel:
        raise Refused("bad", "a path must be a string without NUL")
    if rel.startswith("/") or os.path.isabs(rel):
        raise Refused("unsafe", f"{rel}: absolute paths are refused")
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise Refused("unsafe", f"{rel}: '..' is refused")
    return "/".join(parts)


def _kind(mode):
    if stat_mod.S_ISREG(mode):
        return "f"
    if stat_mod.S_ISDIR(mode):
        return "d"
    return None


def _describe(mode):
    for test, word in (
        (stat_mod.S_ISFIFO, "a FIFO"),
        (stat_mod.S_ISCHR, "a character device"),
        (stat_mod.S_ISBLK, "a block device"),
        (stat_mod.S_ISSOCK, "a socket"),
        (stat_mod.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return word
    return "not a regular file"


def _oserror(path, exc):
    if isinstance(exc, FileNotFoundError) or isinstance(exc, NotADirectoryError):
        return Refused("missing", f"{path}: no such file")
    return Refused("error", f"{path}: {exc.strerror or exc}")


class Root:
    """One source root on the box: its real path and the last stat table."""

    def __init__(self, text):
        self.text = text
        path = os.path.expanduser(text or ".")
        real = os.path.realpath(path)
        if not os.path.isdir(real):
            what = "not a directory" if os.path.exists(real) else "no such directory"
            raise Refused("noroot", f"{text}: {what}")
        self.real = real
        #: (start, depth, hidden) -> (generation, {rel: entry})
        self.tables = {}

    def resolve(self, rel):
        """The real path of ``rel``; Refused when it leads outside the root."""
        rel = _relative(rel)
        real = os.path.realpath(os.path.join(self.real, rel)) if rel else self.real
        if not _within(real, self.real):
            raise Refused("unsafe", f"{rel}: resolves outside the source root")
        return rel, real

    # -- listing ---------------------------------------------------------------

    def walk(self, start, depth, limit, hidden):
        """``([[rel, kind, ino, size, mtime_ns], ...], truncated, skipped)`` of
        regular files and directories under ``start``, ``depth`` levels deep
        (a directory's size and mtime are given as 0: only its inode counts).
        Directories are entered through file descriptors opened with
        O_NOFOLLOW, so a directory swapped for a symlink is not followed; a
        symlink is listed (with its target's stat) only when it resolves
        inside the root, and a linked directory is listed but not entered."""
        start, real = self.resolve(start)
        out = []
        state = {"truncated": False, "skipped": 0}
        try:
            fd = os.open(real, _OPEN_DIR)
        except OSError as exc:
            raise _oserror(start or ".", exc) from None
        try:
            self._walk_fd(fd, start, 1, depth, limit, hidden, out, state)
        finally:
            os.close(fd)
        return out, state["truncated"], state["skipped"]

    def _walk_fd(self, fd, rel, level, depth, limit, hidden, out, state):
        try:
            with os.scandir(fd) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            name = entry.name
            if not hidden and name.startswith("."):
                continue
            child = rel + "/" + name if rel else name
            linked = False
            try:
                if entry.is_dir(follow_symlinks=False):
                    # Told from the directory entry, no system call: a
                    # directory is known by its inode (size and mtime 0).
                    found = ("d", entry.inode(), 0, 0)
                else:
                    st = entry.stat(follow_symlinks=False)
                    linked = stat_mod.S_ISLNK(st.st_mode)
                    if linked:
                        target = os.path.realpath(os.path.join(self.real, child))
                        if not _within(target, self.real):
                            state["skipped"] += 1
                            continue
                        st = os.stat(target)
                    kind = _kind(st.st_mode)
                    if kind is None:
                        state["skipped"] += 1
                        continue
                    found = (kind, st.st_ino, 0, 0)
                    if kind == "f":
                        found = (kind, st.st_ino, st.st_size, st.st_mtime_ns)
            except OSError:
                continue
            if len(out) >= limit:
                state["truncated"] = True
                return
            out.append([child, *found])
            if found[0] == "d" and not linked and level < depth:
                try:
                    sub = os.open(name, _OPEN_DIR, dir_fd=fd)
                except OSError:
                    continue
                try:
                    self._walk_fd(sub, child, level + 1, depth, limit, hidden, out, state)
                finally:
                    os.close(sub)
                if state["truncated"]:
                    return

    def changes(self, start, depth, limit, hidden, since):
        """What changed under ``start`` since the listing of generation
        ``since``: ``added``, ``changed`` (entries as in walk) and ``removed``
        (paths). A directory counts as changed only when it was replaced; a
        file when its inode, size or mtime moved. When the helper holds no
        table of generation ``since`` (first call, a reconnect), everything
        comes as ``added`` with ``full`` set."""
        entries, truncated, skipped = self.walk(start, depth, limit, hidden)
        key = (start, depth, hidden)
        table = {e[0]: e for e in entries}
        old = self.tables.get(key)
        generation = (old[0] if old else 0) + 1
        self.tables[key] = (generation, table)
        result = {"gen": generation, "truncated": truncated, "skipped": skipped}
        if old is None or since != old[0]:
            result.update(full=True, added=entries, changed=[], removed=[])
            return result
        before = old[1]
        added, changed = [], []
        for rel, entry in table.items():
            prev = before.get(rel)
            if prev is None:
                added.append(entry)
            elif prev[1] != entry[1] or prev[2] != entry[2]:
                changed.append(entry)
            elif entry[1] == "f" and prev[3:] != entry[3:]:
                changed.append(entry)
        removed = [rel for rel in before if rel not in table]
        result.update(full=False, added=added, changed=changed, removed=removed)
        return result

    # -- files -----------------------------------------------------------------

    def open(self, rel):
        """``(fd, os.stat_result)`` of a regular file inside the root.

        Where /proc tells what an open descriptor points at (Linux), the file
        is opened first and checked after, by the path the kernel gives for
        the descriptor: one system call instead of realpath's one per path
        component. Elsewhere, and when the last component is a symlink
        (O_NOFOLLOW refuses it), the path is resolved and checked first."""
        rel = _relative(rel)
        fd = None
        if _PROC_FD and rel:
            try:
                fd = os.open(self.real + "/" + rel, _OPEN)
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise _oserror(rel, exc) from None
        if fd is None:
            rel, real = self.resolve(rel)
            try:
                fd = os.open(real, _OPEN)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise Refused("unsafe", f"{rel}: a symlink swapped in while opening") from None
                raise _oserror(rel, exc) from None
        try:
            if _PROC_FD and not _within(os.readlink(f"/proc/self/fd/{fd}"), self.real):
                raise Refused("unsafe", f"{rel}: resolves outside the source root")
            st = os.fstat(fd)
            if not stat_mod.S_ISREG(st.st_mode):
                raise Refused("unsafe", f"{rel}: {_describe(st.st_mode)}, not read")
        except BaseException:
            os.close(fd)
            raise
        return fd, st

    def stat(self, rel):
        fd, st = self.open(rel)
        os.close(fd)
        return st

    def read(self, rel, offset, n, max_size=None):
        """Up to ``n`` bytes (at most MAX_READ) at ``offset``, and the stat of
        the very file they came from; a file over ``max_size`` is refused
        before a byte is read."""
        n = max(0, min(int(n), MAX_READ))
        offset = max(0, int(offset))
        fd, st = self.open(rel)
        if max_size is not None and st.st_size > int(max_size):
            os.close(fd)
            raise Refused("too_large", f"{rel}: {st.st_size} bytes, over the {max_size}-byte cap")
        parts = []
        try:
            while n > 0:
                try:
                    part = os.pread(fd, n, offset)
                except BlockingIOError:
                    break
                if not part:
                    break
                parts.append(part)
                offset += len(part)
                n -= len(part)
        finally:
            os.close(fd)
        return b"".join(parts), st

    # -- sqlite ----------------------------------------------------------------

    def _sqlite(self, rel):
        rel, real = self.resolve(rel)
        self.stat(rel)  # a regular file inside the root, or Refused
        from urllib.parse import quote

        uri = f"file:{quote(real)}?mode=ro"
        try:
            return sqlite3.connect(uri, uri=True, timeout=1.0)
        except sqlite3.Error as exc:
            raise Refused("error", f"{rel}: {exc}") from None

    def sqlite_tables(self, rel):
        """``{table: [column, ...]}`` of a database file."""
        db = self._sqlite(rel)
        try:
            names = [
                r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            return {name: _columns(db, name) for name in names}
        except sqlite3.Error as exc:
            raise Refused("error", f"{rel}: {exc}") from None
        finally:
            db.close()

    def sqlite_rows(self, rel, table, columns, after, limit):
        """Rows of ``table`` with a rowid past ``after``, in rowid order, as
        ``[rowid, column...]``; blobs as ``{"b64": ...}``."""
        db = self._sqlite(rel)
        try:
            known = _columns(db, table)
            if not known:
                raise Refused("bad", f"{rel}: no table {table!r}")
            if not columns:
                raise Refused("bad", f"{rel}: no columns asked of {table}")
            for column in columns:
                if column not in known:
                    raise Refused("bad", f"{rel}: {table} has no column {column!r}")
            names = ", ".join(_quote(c) for c in columns)
            sql = (
                f"SELECT rowid, {names} FROM {_quote(table)} WHERE rowid > ? ORDER BY rowid LIMIT ?"
            )
            rows = db.execute(sql, (int(after), max(0, min(int(limit), MAX_ROWS)))).fetchall()
        except sqlite3.Error as exc:
            raise Refused("error", f"{rel}: {exc}") from None
        finally:
            db.close()
        return [[_cell(v) for v in row] for row in rows]

    def sqlite_schema(self, rel):
        """``(schema, tables)``: every ``[type, name, tbl_name, sql]`` of
        ``sqlite_master``, and per table ``[rows, max rowid, rowid]`` (``rowid``
        1 unless the table is ``WITHOUT ROWID``; its max rowid is then None)."""
        db = self._sqlite(rel)
        try:
            schema = [
                list(r)
                for r in db.execute(
                    "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid"
                )
            ]
            tables = {}
            for kind, name, _, sql in schema:
                if kind != "table" or name.startswith("sqlite_"):
                    continue
                count = db.execute(f"SELECT count(*) FROM {_quote(name)}").fetchone()[0]
                has_rowid = "WITHOUT ROWID" not in " ".join((sql or "").upper().split())
                top = None
                if has_rowid:
                    top = db.execute(f"SELECT max(rowid) FROM {_quote(name)}").fetchone()[0]
                tables[name] = [count, top, 1 if has_rowid else 0]
        except sqlite3.Error as exc:
            raise Refused("error", f"{rel}: {exc}") from None
        finally:
            db.close()
        return schema, tables

    def sqlite_all(self, rel, table, offset, limit):
        """Every column of ``limit`` rows of ``table`` from ``offset`` (a table
        without rowid, or one fetched whole), in the table's order."""
        db = self._sqlite(rel)
        try:
            if not _columns(db, table):
                raise Refused("bad", f"{rel}: no table {table!r}")
            sql = f"SELECT * FROM {_quote(table)} LIMIT ? OFFSET ?"
            n = max(0, min(int(limit), MAX_ROWS))
            rows = db.execute(sql, (n, max(0, int(offset)))).fetchall()
        except sqlite3.Error as exc:
            raise Refused("error", f"{rel}: {exc}") from None
        finally:
            db.close()
        return [[_cell(v) for v in row] for row in rows]


def _quote(name):
    return '"' + name.replace('"', '""') + '"'


def _columns(db, table):
    return [r[1] for r in db.execute(f"PRAGMA table_info({_quote(table)})")]


def _cell(value):
    if isinstance(value, bytes):
        import base64

        return {"b64": base64.b64encode(value).decode("ascii")}
    return value


# -- the server loop ---------------------------------------------------------------


def _stat_fields(st):
    return {"ino": st.st_ino, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


class Helper:
    """Answers requests, one at a time, in order."""

    def __init__(self):
        self.roots = {}

    def root(self, req):
        text = req.get("root")
        if not isinstance(text, str):
            raise Refused("bad", "a request needs a root")
        found = self.roots.get(text)
        if found is None:
            found = self.roots[text] = Root(text)
        return found

    def answer(self, req, body=b""):
        """``(header, body)`` for one request (a body with ``z`` set is
        zlib-compressed, as answers are)."""
        op = req.get("op")
        handler = getattr(self, "op_" + op, None) if isinstance(op, str) else None
        if handler is None:
            raise Refused("bad", f"unknown op {op!r}")
        if req.get("z"):
            unpacker = zlib.decompressobj()
            body = unpacker.decompress(body, MAX_REQUEST_BODY)
            if unpacker.unconsumed_tail:
                raise Refused("bad", "a request body over the limit")
        return handler(req, body)

    def op_hello(self, req, body):
        info = {
            "protocol": PROTOCOL,
            "python": ".".join(str(n) for n in sys.version_info[:3]),
            "hostname": socket.gethostname(),
            "clock_ns": time.time_ns(),
            "pid": os.getpid(),
            "max_read": MAX_READ,
        }
        if req.get("root") is not None:
            info["real"] = self.root(req).real
        return info, b""

    def op_list(self, req, body):
        root = self.root(req)
        depth = max(1, min(int(req.get("depth", 1)), MAX_DEPTH))
        limit = max(1, min(int(req.get("limit", MAX_ENTRIES)), MAX_ENTRIES))
        entries, truncated, skipped = root.walk(
            req.get("path", ""), depth, limit, bool(req.get("hidden"))
        )
        body = json.dumps(entries, separators=(",", ":")).encode("utf-8")
        return {"truncated": truncated, "skipped": skipped}, body

    def op_changes(self, req, body):
        root = self.root(req)
        depth = max(1, min(int(req.get("depth", MAX_DEPTH)), MAX_DEPTH))
        limit = max(1, min(int(req.get("limit", MAX_ENTRIES)), MAX_ENTRIES))
        result = root.changes(
            _relative(req.get("path", "")), depth, limit, bool(req.get("hidden")), req.get("since")
        )
        lists = {k: result.pop(k) for k in ("added", "changed", "removed")}
        if not any(lists.values()):
            return result, b""  # the idle refresh: a header only
        return result, json.dumps(lists, separators=(",", ":")).encode("utf-8")

    def op_stat(self, req, body):
        st = self.root(req).stat(req.get("path"))
        return _stat_fields(st), b""

    def op_read(self, req, body):
        data, st = self.root(req).read(
            req.get("path"), req.get("offset", 0), req.get("n", 0), req.get("max_size")
        )
        return _stat_fields(st), data

    def op_read_many(self, req, body):
        """Many small reads in one round trip. ``files`` (in the header, or as
        JSON in the request's body) is a list of ``[path, offset, n, max_size]``; the body is a JSON index (its length
        in the header's ``index``), then each file's bytes in order. An index
        item is ``[ino, size, mtime_ns, length]`` or ``[kind, error]``; files
        past the byte budget are left out (the index is shorter)."""
        root = self.root(req)
        files = json.loads(body.decode("utf-8")) if body else req.get("files")
        if not isinstance(files, list) or len(files) > MAX_BATCH_FILES:
            raise Refused("bad", f"read_many takes a list of at most {MAX_BATCH_FILES} files")
        index, parts, budget = [], [], MAX_BATCH
        for item in files:
            if budget <= 0:
                break
            try:
                path, offset, n, max_size = item
                data, st = root.read(path, offset, n, max_size)
            except Refused as exc:
                index.append([exc.kind, _line(exc)])
                continue
            except (TypeError, ValueError) as exc:
                index.append(["bad", _line(exc)])
                continue
            except OSError as exc:
                index.append(["error", f"{item[0]}: {exc.strerror or exc}"])
                continue
            index.append([st.st_ino, st.st_size, st.st_mtime_ns, len(data)])
            parts.append(data)
            budget -= len(data)
        head = json.dumps(index, separators=(",", ":")).encode("utf-8")
        return {"index": len(head)}, head + b"".join(parts)

    def op_sqlite_tables(self, req, body):
        tables = self.root(req).sqlite_tables(req.get("path"))
        return {}, json.dumps(tables).encode("utf-8")

    def op_sqlite_rows(self, req, body):
        columns = req.get("columns")
        table = req.get("table")
        if not isinstance(table, str) or not isinstance(columns, list):
            raise Refused("bad", "sqlite_rows needs a table and a list of columns")
        if not all(isinstance(c, str) for c in columns):
            raise Refused("bad", "column names must be strings")
        rows = self.root(req).sqlite_rows(
            req.get("path"), table, columns, req.get("after", 0), req.get("limit", MAX_ROWS)
        )
        return {"rows": len(rows)}, json.dumps(rows).encode("utf-8")

    def op_sqlite_schema(self, req, body):
        schema, tables = self.root(req).sqlite_schema(req.get("path"))
        return {}, json.dumps({"schema": schema, "tables": tables}).encode("utf-8")

    def op_sqlite_all(self, req, body):
        table = req.get("table")
        if not isinstance(table, str):
            raise Refused("bad", "sqlite_all needs a table")
        rows = self.root(req).sqlite_all(
            req.get("path"), table, req.get("offset", 0), req.get("limit", MAX_ROWS)
        )
        return {"rows": len(rows)}, json.dumps(rows).encode("utf-8")


def serve(stdin, stdout):
    """Answer frames from ``stdin`` on ``stdout`` until ``stdin`` ends. The
    first bytes out are MARKER, so the client can skip whatever a login
    script printed on stdout before the helper started."""
    helper = Helper()
    stdout.write(MARKER)
    stdout.flush()
    while True:
        frame = read_frame(stdin)
        if frame is None:
            return
        req, body = frame
        try:
            header, body = helper.answer(req, body)
            header["ok"] = True
        except Refused as exc:
            header, body = {"ok": False, "kind": exc.kind, "error": _line(exc)}, b""
        except Exception as exc:  # one bad request costs one answer, not the helper
            header = {"ok": False, "kind": "error", "error": f"{type(exc).__name__}: {_line(exc)}"}
            body = b""
        header["id"] = req.get("id")
        body = squeeze(header, body)
        stdout.write(pack(header, body))
        stdout.flush()


def _line(exc):
    return " ".join(str(exc).split())[:500]


def main():
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must never corrupt the protocol
    try:
        serve(stdin, stdout)
    except (BrokenPipeError, KeyboardInterrupt):
        pass
    except ValueError as exc:
        sys.stderr.write(f"trackui helper: {_line(exc)}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
