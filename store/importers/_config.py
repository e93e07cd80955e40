"""Params as other tools store them: Python reprs parsed safely, nested
configs searched for the planned length of a training.

Nothing here evaluates code: a repr is parsed with ``ast.literal_eval`` only
after its size and nesting depth were checked, so no file content can reach
a recursion limit or run anything.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from typing import Any

#: A param value longer than this stays the string it was.
MAX_REPR_CHARS = 64 * 1024
#: Brackets nested deeper than this leave the value a string.
MAX_REPR_DEPTH = 32

#: Where trainings keep their planned epoch count, most specific first.
#: Dotted keys name nested mappings (``schedule.epochs`` is
#: ``{"schedule": {"epochs": 10}}``) or flat keys spelled with the dot.
EPOCH_KEYS = (
    "epochs",
    "max_epochs",
    "num_epochs",
    "n_epochs",
    "num_train_epochs",
    "trainer.max_epochs",
    "trainer.epochs",
    "schedule.epochs",
    "train.epochs",
    "training.epochs",
    "training.num_epochs",
    "training.max_epochs",
    "optim.epochs",
    "solver.max_epochs",
    "config.epochs",
    "args.epochs",
    "hparams.epochs",
)
#: Where trainings keep their planned step count.
STEP_KEYS = ("max_steps", "trainer.max_steps", "training.max_steps", "num_train_steps")


def parse_repr(text: str) -> Any:
    """The dict or list a Python repr such as ``{'lr': 0.0003, 'betas': [0.9,
    0.999]}`` stands for; the text itself when it is anything else, too big,
    too deep, or not a literal."""
    s = text.strip()
    if len(s) < 2 or len(s) > MAX_REPR_CHARS or (s[0], s[-1]) not in (("{", "}"), ("[", "]")):
        return text
    depth = deepest = 0
    quote = ""
    escaped = False
    for ch in s:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "{[(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "}])":
            depth -= 1
    if deepest > MAX_REPR_DEPTH or quote or depth:
        return text
    try:
        value = ast.literal_eval(s)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return text


def _jsonable(value: Any) -> Any:
    """Tuples and sets to lists, non-string keys to strings, bytes to text:
    what a JSON config would hold."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return [_jsonable(v) for v in sorted(value, key=repr)]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, complex):
        return repr(value)
    return value


def parse_reprs(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with every string value that is a dict or list repr parsed."""
    return {k: parse_repr(v) if isinstance(v, str) else v for k, v in params.items()}


def lookup(params: Mapping[str, Any], dotted: str) -> Any:
    """The value at ``dotted`` in nested ``params`` (or under that flat key); None if absent."""
    if dotted in params:
        return params[dotted]
    node: Any = params
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if not isinstance(node, Mapping):
            return None
        rest = ".".join(parts[i:])
        if rest in node and i:
            return node[rest]
        if part not in node:
            return None
        node = node[part]
    return node


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int | float) and value == value and 0 < value < 1e12:
        return int(value) if float(value).is_integer() else None
    return None


def planned(params: Mapping[str, Any], keys: Iterable[str]) -> tuple[int, str] | None:
    """(count, key) of the first of ``keys`` holding a positive whole number."""
    for key in keys:
        n = _count(lookup(params, key))
        if n is not None:
            return n, key
    return None


def planned_epochs(params: Mapping[str, Any]) -> tuple[int, str] | None:
    return planned(params, EPOCH_KEYS)


def planned_steps(params: Mapping[str, Any]) -> tuple[int, str] | None:
    """``max_steps`` as Hugging Face and Lightning spell it; -1 (their "unset") is no plan."""
    return planned(params, STEP_KEYS)
