"""What the writer accepts: metric keys and values for ``log()``, and the
documents ``run.config`` and ``run.summary``.

Standard library only (imported into training code). Everything here runs
off the fast path of ``log()``: a metric key is checked once, the first time
it is seen, and a config or summary value once, when it is set. Strings come
out as valid UTF-8 (``fmt.repair``); a value that JSON cannot hold is refused
at the call with the key named, so nothing unencodable is ever stored.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from .fmt import repair

if TYPE_CHECKING:
    from .writer import Run

#: Deeper config/summary nesting than this is refused (readers never recurse
#: without a bound either).
MAX_DEPTH = 64

# -- metric keys and values (log) ---------------------------------------------


def check_key(key: Any) -> str:
    """The key as stored: a str not starting with ``_``, repaired to valid UTF-8."""
    if not isinstance(key, str):
        raise TypeError(f"trackui.log: key {key!r} is {type(key).__name__}, not str")
    if not key or key.startswith("_"):
        raise TypeError(f"trackui.log: key {key!r} is reserved (empty or starting with '_')")
    return repair(key)


def int_value(key: str, value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        raise TypeError(f"trackui.log: value for {key!r} is an int too large for a float") from None


def add_value(row: dict[str, Any], key: str, value: Any) -> None:
    """Slow path: bools, numpy/torch scalars (``.item()``), nested dicts."""
    if isinstance(value, bool):
        row[key] = float(value)
        return
    if isinstance(value, (int, float)):
        row[key] = int_value(key, int(value)) if isinstance(value, int) else float(value)
        return
    if isinstance(value, Mapping):
        for sub, inner in value.items():
            add_value(row, f"{key}/{check_key(sub)}", inner)
        return
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (str, bytes)):
        try:
            scalar = item()
        except Exception:
            scalar = None  # e.g. a tensor with more than one element
        if isinstance(scalar, (int, float)):
            add_value(row, key, scalar)
            return
    raise TypeError(f"trackui.log: value for {key!r} is {type(value).__name__}, not a number")


def as_step(step: Any) -> int:
    if isinstance(step, bool):
        raise TypeError("trackui.log: step must be an int, not bool")
    if isinstance(step, int):
        return int(step)
    item = getattr(step, "item", None)
    if callable(item):
        value = item()
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    if isinstance(step, float) and step.is_integer():
        return int(step)
    raise TypeError(f"trackui.log: step must be an int, not {type(step).__name__}")


# -- config and summary values ------------------------------------------------


def json_value(
    value: Any, where: str, what: str = "config", _depth: int = 0, _seen: Any = None
) -> Any:
    """``value`` as plain JSON data (dict, list, str, number, bool, None) with
    every string valid UTF-8, or ``TypeError``/``ValueError`` naming the key
    (``where``). Tuples and sets become lists, paths strings, numpy/torch
    scalars and arrays their ``.item()``/``.tolist()``; other objects are refused
    rather than stored as their ``repr``."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return repair(value)
    if _depth >= MAX_DEPTH:
        raise ValueError(f"trackui.{what}: {where!r} is nested deeper than {MAX_DEPTH} levels")
    seen = _seen if _seen is not None else set()
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        if id(value) in seen:
            raise ValueError(f"trackui.{what}: {where!r} contains itself (a circular reference)")
        seen.add(id(value))
        try:
            if isinstance(value, Mapping):
                out = {}
                for key, inner in value.items():
                    name = json_key(key, where, what)
                    out[name] = json_value(inner, f"{where}.{name}", what, _depth + 1, seen)
                return out
            return [
                json_value(inner, f"{where}[{i}]", what, _depth + 1, seen)
                for i, inner in enumerate(value)
            ]
        finally:
            seen.discard(id(value))
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        if isinstance(path, bytes):
            path = path.decode("utf-8", "surrogateescape")
        return repair(path, path=True)
    for method in ("item", "tolist"):  # numpy and torch scalars and arrays
        convert = getattr(value, method, None)
        if callable(convert) and not isinstance(value, (str, bytes)):
            try:
                plain = convert()
            except Exception:
                continue
            if plain is not value:
                return json_value(plain, where, what, _depth + 1, seen)
    raise TypeError(
        f"trackui.{what}: value for {where!r} is {type(value).__name__}, which JSON cannot "
        "hold (use a str, number, bool, None, list or dict)"
    )


def json_key(key: Any, where: str, what: str = "config") -> str:
    """A mapping key as JSON stores it: str as is (repaired), numbers, bools
    and None as their JSON text (what ``json.dumps`` does); others refused."""
    if isinstance(key, str):
        return repair(key)
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(key)
    inside = f" inside {where!r}" if where else ""
    raise TypeError(
        f"trackui.{what}: key {key!r}{inside} is {type(key).__name__}; JSON keys are strings"
    )


class Document(MutableMapping):
    """A dict that rewrites its JSON file atomically on every change
    (``run.config``, ``run.summary``), with wandb-style attribute access.
    Values are checked and converted at the call (``json_value``): a refused
    value raises there and leaves the document as it was."""

    _what = "config"

    def __init__(self, run: Run, filename: str, initial: Mapping[str, Any] | None = None):
        object.__setattr__(self, "_run", run)
        object.__setattr__(self, "_file", filename)
        object.__setattr__(self, "_data", self.checked(initial or {}))

    @classmethod
    def checked(cls, data: Any) -> dict[str, Any]:
        """``data`` (a mapping or pairs) as JSON-ready, or the error naming the key."""
        if not isinstance(data, Mapping):
            data = dict(data)
        out = {}
        for key, value in data.items():
            name = json_key(key, "", cls._what)
            out[name] = json_value(value, name, cls._what)
        return out

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        name = json_key(key, "", self._what)
        self._data[name] = json_value(value, name, self._what)
        self._save()

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._save()

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"

    def update(self, other: Any = (), /, **kwargs: Any) -> None:  # one write, not one per key
        if other is not None and not isinstance(other, Mapping) and hasattr(other, "__dict__"):
            other = vars(other)  # argparse.Namespace
        changes = self.checked(other or ())
        changes.update(self.checked(kwargs))
        self._data.update(changes)
        self._save()

    def as_dict(self) -> dict[str, Any]:
        return dict(self._data)

    def _save(self) -> None:
        self._run._save_document(self._file, self._data)


class Config(Document):
    _what = "config"


class Summary(Document):
    _what = "summary"
