"""Textual's parsed CSS, kept on disk from one launch to the next.

Every launch, Textual parses the CSS of each widget class the screens use,
and the app's own (a few hundred rules): about 50 ms of the way to the
first chart, the same result every time. ``install`` puts a second cache
under Textual's own (``Stylesheet._parse_cache``, which lives as long as
one stylesheet): a CSS text parsed once is kept, pickled, in one file in
trackui's cache directory (``css-….pickle``), and the next launch unpickles
the rules instead of parsing them again (a few ms for all of them).

What a parse gives depends on the CSS text, where it was read from, the
theme's variables substituted into it and Textual's own code; the entry's
key holds the first three, the file's name Textual's version (the size and
time of its CSS modules), so another theme, another CSS or another Textual
parses afresh. Each launch gets its own objects (an entry is unpickled
where it is used, as a parse makes new ones). A file that cannot be read is
ignored and written again, and so is one that another user owns or may
write (a pickle runs code as it loads); one that cannot be written costs
the next launch its parse, nothing else. ``save`` writes the entries once, at exit,
when there are new ones, through a temporary file (two trackui at once:
the last one's file wins, each whole).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from stat import S_ISREG
from typing import Any

#: entries kept: enough for every stylesheet part of every screen and theme in use
MAX_ENTRIES = 400
#: a bigger file is not read (400 entries take about half a megabyte)
MAX_BYTES = 16 << 20


class _DiskRules:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[bytes, bytes] = {}
        self.new = False
        try:
            # not through a link, and never waiting on a FIFO: only the
            # regular file opened is checked and read
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as fh:
                if _trusted(os.fstat(fh.fileno())):
                    entries = pickle.load(fh)
                    if isinstance(entries, dict):
                        self.entries = entries
        except Exception:  # none yet, or unreadable: parsed and written again
            pass

    def save(self) -> None:
        if not self.new:
            return
        self.new = False
        entries = dict(list(self.entries.items())[-MAX_ENTRIES:])
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".css-", dir=self.path.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    pickle.dump(entries, fh, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, self.path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError:
            pass  # the next launch parses again


_DISK: list[_DiskRules] = []


def _trusted(stat: os.stat_result) -> bool:
    """A pickle runs code as it loads: only a regular file of this user's
    that no one else may write (the cache directory can be shared, or
    pointed elsewhere by ``TRACKUI_CACHE_DIR``), of a sane size, is read;
    any other is replaced."""
    return (
        S_ISREG(stat.st_mode)
        and stat.st_size <= MAX_BYTES
        and stat.st_uid == os.getuid()
        and not stat.st_mode & 0o022
    )


def _textual_version() -> str:
    """Textual's code as the parse depends on it: where it is, and the size
    and time of its CSS modules (``textual.__version__`` reads package
    metadata, a slow import)."""
    from textual.css import model, parse, styles

    parts = []
    for module in (parse, model, styles):
        stat = os.stat(module.__file__ or "")
        parts.append(f"{module.__file__}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=8).hexdigest()


def install(cache_dir: Path) -> None:
    """Keep Textual's parsed CSS in ``cache_dir`` for this process (once)."""
    if _DISK:
        return
    from textual.css.stylesheet import Stylesheet

    disk = _DiskRules(cache_dir / f"css-{_textual_version()}.pickle")
    _DISK.append(disk)
    parse = Stylesheet._parse_rules
    seen: list[Any] = [None, b""]  # the variables last fingerprinted, and their fingerprint

    def fingerprint(variables: dict[str, str]) -> bytes:
        if seen[0] is not variables:
            text = repr(sorted(variables.items())).encode()
            seen[0], seen[1] = variables, hashlib.blake2b(text, digest_size=16).digest()
        return seen[1]

    def _parse_rules(
        self: Stylesheet,
        css: str,
        read_from: Any,
        is_default_rules: bool = False,
        tie_breaker: int = 0,
        scope: str = "",
    ) -> Any:
        cache_key = (css, read_from, is_default_rules, tie_breaker, scope)
        rules = self._parse_cache.get(cache_key)
        if rules is not None:
            return rules
        key = hashlib.blake2b(
            repr(cache_key).encode() + fingerprint(self._variables), digest_size=16
        ).digest()
        stored = disk.entries.get(key)
        if stored is not None:
            try:
                rules = pickle.loads(stored)
            except Exception:
                rules = None
            if rules is not None:
                self._parse_cache[cache_key] = rules
                return rules
        rules = parse(self, css, read_from, is_default_rules, tie_breaker, scope)
        try:
            disk.entries[key] = pickle.dumps(rules, protocol=pickle.HIGHEST_PROTOCOL)
            disk.new = True
        except Exception:
            pass  # rules that do not pickle are parsed every time
        return rules

    _parse_rules.__wrapped__ = parse  # type: ignore[attr-defined]
    Stylesheet._parse_rules = _parse_rules  # type: ignore[method-assign]


def save() -> None:
    """Write the entries parsed this launch (at exit)."""
    for disk in _DISK:
        disk.save()
