"""One source root on a remote box, read the way the local opener reads one.

``RemoteBox("gpu1", "~/runs")`` answers ``list``, ``stat``, ``exists``,
``read``, ``read_range`` and ``read_lines`` with the opener's types
(``Stat``, ``Lines``) and errors (FileNotFoundError, UnsafeFile,
FileTooLarge), so a reader written against the opener runs unchanged on the
bytes that came over ssh. It adds what a remote source needs:

- ``changes()``: what was added, changed or removed under the root since the
  last call, in one round trip (the helper keeps the last stat table; an
  idle refresh is a request and a header-only answer). After a reconnect
  the helper starts with no table and sends everything once; the box diffs
  that against the table it kept, so callers always get a diff.
- ``walk()``: every regular file and directory under the root, with stats.
- ``sqlite_tables`` / ``sqlite_rows``: rows of a SQLite table past a rowid,
  queried on the box read-only with the standard library.

Several boxes may share one ``Connection`` (several roots on one host).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..opener import MAX_CHUNK, MAX_FILE, MAX_LINE, FileTooLarge, Lines, Stat, UnsafeFile
from . import helper as proto
from .client import Connection, Hello, State, ssh_argv
from .errors import FileChanged, RemoteError, refused

#: Bytes the scan for the end of an over-long line asks for at a time.
_SCAN = 1024 * 1024


@dataclass(frozen=True)
class Entry:
    """A regular file (``kind`` ``f``) or directory (``d``) under the root."""

    path: str
    kind: str
    ino: int
    size: int
    mtime_ns: int

    @property
    def is_dir(self) -> bool:
        return self.kind == "d"

    @property
    def stat(self) -> Stat:
        return Stat(self.ino, self.size, self.mtime_ns)


@dataclass(frozen=True)
class Listing:
    """The entries a box listed under a root."""

    entries: list[Entry]
    #: A cap (entries or depth of the box's walk) cut the listing short.
    truncated: bool = False
    #: Entries left out: symlinks out of the root, FIFOs, devices, sockets.
    skipped: int = 0


@dataclass(frozen=True)
class Changes:
    """What moved under the root since the previous ``changes()``. ``full``
    is set on the first call, when everything is ``added``."""

    added: list[Entry] = field(default_factory=list)
    changed: list[Entry] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    full: bool = False
    truncated: bool = False

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


class RemoteBox:
    """The source ``host:root`` (see the module docstring)."""

    def __init__(
        self,
        host: str,
        root: str,
        *,
        ssh_command: Sequence[str] = ("ssh",),
        ssh_options: Sequence[str] = (),
        python: str = "python3",
        connect_timeout: float = 10.0,
        request_timeout: float = 60.0,
        connection: Connection | None = None,
        depth: int = proto.MAX_DEPTH,
        max_entries: int = proto.MAX_ENTRIES,
        hidden: bool = False,
        read_chunk: int = proto.MAX_READ,
        max_file: int = MAX_FILE,
        max_line: int = MAX_LINE,
        max_chunk: int = MAX_CHUNK,
    ) -> None:
        self.box = host
        self.root = root or "."
        self.location = f"{host}:{root}"
        if connection is None:
            argv = ssh_argv(
                host,
                ssh_command=ssh_command,
                ssh_options=ssh_options,
                python=python,
                connect_timeout=connect_timeout,
            )
            connection = Connection(
                argv,
                name=host,
                connect_timeout=connect_timeout,
                request_timeout=request_timeout,
            )
        self.connection = connection
        self.depth = depth
        self.max_entries = max_entries
        self.hidden = hidden
        self.read_chunk = max(1, min(read_chunk, proto.MAX_READ))
        self.max_file = max_file
        self.max_line = max_line
        self.max_chunk = max(max_chunk, max_line + 1)
        self._gen: int | None = None
        self._table: dict[str, Entry] | None = None

    # -- the box -------------------------------------------------------------

    @property
    def state(self) -> State:
        return self.connection.state

    @property
    def hello(self) -> Hello | None:
        return self.connection.hello

    @property
    def bytes_sent(self) -> int:
        return self.connection.bytes_sent

    @property
    def bytes_received(self) -> int:
        return self.connection.bytes_received

    def connect(self) -> Hello:
        """Reach the box and check the root; RemoteError (one line) when
        either fails (``gpu1:~/runz: no such directory``)."""
        hello = self.connection.connect()
        self._ask("hello")
        return hello

    def reconnect(self) -> Hello:
        """Connect again now, whatever the backoff says."""
        return self.connection.reconnect()

    def close(self) -> None:
        self.connection.close()

    def _ask(self, op: str, body: bytes = b"", **args: Any) -> tuple[dict[str, Any], bytes]:
        return self.connection.request(op, body, root=self.root, **args)

    # -- listing -------------------------------------------------------------

    def walk(self, rel: str = "", depth: int | None = None) -> Listing:
        """Regular files and directories under ``rel``, ``depth`` levels deep."""
        header, body = self._ask(
            "list",
            path=rel,
            depth=depth or self.depth,
            limit=self.max_entries,
            hidden=self.hidden,
        )
        entries = [Entry(*e) for e in json.loads(body)] if body else []
        return Listing(entries, bool(header.get("truncated")), int(header.get("skipped", 0)))

    def list(self, rel: str = "") -> list[tuple[str, bool]]:
        """``(name, is_dir)`` of a directory's entries, as ``Opener.list``."""
        try:
            listing = self.walk(rel, depth=1)
        except FileNotFoundError as exc:
            raise UnsafeFile(rel, "no such directory") from exc
        return [(e.path.rpartition("/")[2], e.is_dir) for e in listing.entries]

    def changes(self) -> Changes:
        """What was added, changed or removed since the last call (one round trip)."""
        header, body = self._ask(
            "changes",
            depth=self.depth,
            limit=self.max_entries,
            hidden=self.hidden,
            since=self._gen,
        )
        lists = json.loads(body) if body else {}
        added = [Entry(*e) for e in lists.get("added", ())]
        changed = [Entry(*e) for e in lists.get("changed", ())]
        removed = list(lists.get("removed", ()))
        truncated = bool(header.get("truncated"))
        self._gen = header.get("gen")
        before = self._table
        if header.get("full"):
            self._table = {e.path: e for e in added}
            if before is None:
                return Changes(added=added, full=True, truncated=truncated)
            return _diff(before, self._table, truncated)
        table = dict(before or {})
        for entry in (*added, *changed):
            table[entry.path] = entry
        for rel in removed:
            table.pop(rel, None)
        self._table = table
        return Changes(added, changed, removed, truncated=truncated)

    def entry(self, rel: str) -> Entry | None:
        """``rel`` as the last ``changes()`` listed it (None: not listed)."""
        return (self._table or {}).get(rel)

    # -- files ---------------------------------------------------------------

    def stat(self, rel: str) -> Stat | None:
        """The file's Stat, None when it does not exist; UnsafeFile when it
        is not a regular file or resolves outside the root."""
        try:
            header, _ = self._ask("stat", path=rel)
        except FileNotFoundError:
            return None
        return _stat(header)

    def exists(self, rel: str) -> bool:
        try:
            return self.stat(rel) is not None
        except UnsafeFile:
            return False

    def read(self, rel: str, *, limit: int | None = None) -> tuple[bytes, Stat]:
        """A whole file; FileTooLarge over ``limit`` (default ``max_file``)."""
        cap = self.max_file if limit is None else limit
        data, st = self._range(rel, 0, cap + 1, max_size=cap)
        if len(data) > cap:  # grew while read
            raise FileTooLarge(rel, f"over the {cap}-byte cap")
        return data, st

    def read_range(self, rel: str, offset: int, n: int) -> tuple[bytes, Stat]:
        """Bytes ``[offset, offset + n)`` (fewer at the end of the file), with
        ``n`` capped at ``max_chunk``; the Stat of the file as the first
        piece found it. FileChanged when the file was replaced between pieces."""
        return self._range(rel, offset, min(n, self.max_chunk))

    def _range(
        self, rel: str, offset: int, n: int, max_size: int | None = None
    ) -> tuple[bytes, Stat]:
        parts: list[bytes] = []
        first: Stat | None = None
        pos = offset
        while True:
            want = min(n, self.read_chunk)
            args: dict[str, Any] = {"path": rel, "offset": pos, "n": want}
            if max_size is not None and first is None:
                args["max_size"] = max_size
            header, body = self._ask("read", **args)
            st = _stat(header)
            if first is None:
                first = st
            elif st.ino != first.ino or st.size < pos:
                raise FileChanged(f"{self.box}:{rel}: replaced or truncated while read")
            parts.append(body)
            pos += len(body)
            n -= len(body)
            if n <= 0 or len(body) < want:
                return b"".join(parts), first

    def read_many(
        self, ranges: Sequence[tuple[str, int, int]], *, max_size: int | None = None
    ) -> list[tuple[bytes, Stat] | Exception]:
        """Many small reads in as few round trips as the box's byte budget
        allows: for each ``(path, offset, n)``, the bytes (at most the box's
        per-read cap, ``hello.max_read``) and Stat, or the exception that
        ``read_range`` would have raised, in order. A file over ``max_size``
        gives FileTooLarge without a byte read."""
        results: list[tuple[bytes, Stat] | Exception] = []
        todo = [[path, offset, n, max_size] for path, offset, n in ranges]
        while todo:
            files = json.dumps(todo[: proto.MAX_BATCH_FILES], separators=(",", ":"))
            header, body = self._ask("read_many", body=files.encode())
            split = int(header["index"])
            index = json.loads(body[:split])
            if not index:
                raise RemoteError(f"{self.box}: read_many answered nothing")
            pos = split
            for item in index:
                if len(item) == 4:
                    ino, size, mtime_ns, length = item
                    results.append((body[pos : pos + length], Stat(ino, size, mtime_ns)))
                    pos += length
                else:
                    results.append(refused({"kind": item[0], "error": item[1]}, self.box))
            del todo[: len(index)]
        return results

    def read_files(
        self, paths: Sequence[str], *, limit: int | None = None
    ) -> list[tuple[bytes, Stat] | Exception]:
        """Whole files, as ``read`` gives them, batched: the first read of
        many small run files (meta.json, config.json…) in a few round trips."""
        cap = self.max_file if limit is None else limit
        out = self.read_many([(p, 0, cap + 1) for p in paths], max_size=cap)
        for i, (path, result) in enumerate(zip(paths, out)):
            if isinstance(result, Exception):
                continue
            data, st = result
            if len(data) > cap:
                out[i] = FileTooLarge(path, f"over the {cap}-byte cap")
            elif len(data) < min(st.size, cap + 1):  # past the box's per-read cap
                try:
                    out[i] = self.read(path, limit=cap)
                except (OSError, UnsafeFile, RemoteError) as exc:
                    out[i] = exc
        return out

    def read_lines(self, rel: str, offset: int = 0) -> Lines:
        """The complete lines from ``offset``, as ``Opener.read_lines``: a torn
        last line waits for the next call; a line over ``max_line`` is skipped
        (left as an empty line) once its newline is there."""
        data, st = self.read_range(rel, offset, self.max_chunk)
        end = data.rfind(b"\n")
        if end < 0:
            if len(data) <= self.max_line:
                return Lines(b"", offset, st)
            pos = offset + len(data)
            while True:
                more, _ = self.read_range(rel, pos, _SCAN)
                if not more:
                    return Lines(b"", offset, st)
                cut = more.find(b"\n")
                if cut >= 0:
                    return Lines(b"\n", pos + cut + 1, st, 1)
                pos += len(more)
        data = data[: end + 1]
        lines = data.split(b"\n")[:-1]
        if len(data) > self.max_line and any(len(line) > self.max_line for line in lines):
            kept = [b"" if len(line) > self.max_line else line for line in lines]
            skipped = sum(1 for line in lines if len(line) > self.max_line)
            return Lines(b"".join(k + b"\n" for k in kept), offset + end + 1, st, skipped)
        return Lines(data, offset + end + 1, st)

    # -- sqlite --------------------------------------------------------------

    def sqlite_tables(self, rel: str) -> dict[str, list[str]]:
        """``{table: [column, ...]}`` of the database file ``rel``."""
        _, body = self._ask("sqlite_tables", path=rel)
        return dict(json.loads(body))

    def sqlite_rows(
        self,
        rel: str,
        table: str,
        columns: Sequence[str],
        *,
        after: int = 0,
        limit: int = 10_000,
    ) -> list[tuple[Any, ...]]:
        """Rows of ``table`` whose rowid is past ``after``, in rowid order,
        each ``(rowid, *columns)``; at most ``limit`` (capped on the box)."""
        _, body = self._ask(
            "sqlite_rows", path=rel, table=table, columns=list(columns), after=after, limit=limit
        )
        return [tuple(_value(v) for v in row) for row in json.loads(body)]

    def sqlite_schema(self, rel: str) -> tuple[list[list[Any]], dict[str, list[Any]]]:
        """``(schema, tables)`` of the database ``rel``: ``sqlite_master``'s
        ``[type, name, tbl_name, sql]`` rows, and per table ``[rows, max
        rowid, has rowid]`` (one round trip)."""
        _, body = self._ask("sqlite_schema", path=rel)
        doc = json.loads(body)
        return list(doc["schema"]), dict(doc["tables"])

    def sqlite_all(
        self, rel: str, table: str, *, offset: int = 0, limit: int = proto.MAX_ROWS
    ) -> list[tuple[Any, ...]]:
        """Every column of up to ``limit`` rows of ``table`` from ``offset``."""
        _, body = self._ask("sqlite_all", path=rel, table=table, offset=offset, limit=limit)
        return [tuple(_value(v) for v in row) for row in json.loads(body)]


def _stat(header: dict[str, Any]) -> Stat:
    return Stat(int(header["ino"]), int(header["size"]), int(header["mtime_ns"]))


def _value(value: Any) -> Any:
    if isinstance(value, dict) and "b64" in value:
        return base64.b64decode(value["b64"])
    return value


def _diff(before: dict[str, Entry], after: dict[str, Entry], truncated: bool) -> Changes:
    """The changes between two full tables (a reconnect: the helper's is new)."""
    added, changed = [], []
    for rel, entry in after.items():
        prev = before.get(rel)
        if prev is None:
            added.append(entry)
        elif (prev.kind, prev.ino) != (entry.kind, entry.ino) or (
            entry.kind == "f" and (prev.size, prev.mtime_ns) != (entry.size, entry.mtime_ns)
        ):
            changed.append(entry)
    removed = [rel for rel in before if rel not in after]
    return Changes(added, changed, removed, truncated=truncated)
