"""TUI settings: one TOML file plus the environment, and the per-store memory
of which columns the run list shows.

``$TRACKUI_CONFIG_DIR/config.toml`` (default ``~/.config/trackui/config.toml``,
or under ``$XDG_CONFIG_HOME``)::

    theme = "textual-dark"        # any Textual theme; $TRACKUI_THEME wins
    animations = false            # Textual animations; off by default over SSH
    page_size = 200               # run-list rows fetched per page
    columns = ["lr0", "max(metrics/mAP50-95(B))"]   # for stores with no remembered choice
                                  # (none: each project's primary metric at its best)
    primary = "val/acc"           # the metric screens open on (or a [primary] table by
                                  # project, "*" for the rest); read by store/primary.py

    [keys]                        # binding id -> keys, applied with App.set_keymap
    "runs.mark" = "space,m"

A broken file never stops the app: the defaults are used and ``problems``
says what was wrong.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trackui.store.paths import config_dir

CONFIG_FILE = "config.toml"
COLUMNS_FILE = "columns.json"


@dataclass(frozen=True)
class TuiConfig:
    """The TUI's settings from the config file and the environment."""

    theme: str | None = None
    animations: bool = False
    page_size: int = 200
    columns: tuple[str, ...] = ()
    keys: dict[str, str] = field(default_factory=dict)
    #: what was wrong with the file or the environment, one line each
    problems: tuple[str, ...] = ()

    @classmethod
    def load(cls, directory: Path | None = None) -> TuiConfig:
        directory = config_dir() if directory is None else directory
        problems: list[str] = []
        doc: dict[str, Any] = {}
        path = directory / CONFIG_FILE
        try:
            with open(path, "rb") as fh:
                # imported only for a file that exists (most have none)
                try:
                    import tomllib
                except ModuleNotFoundError:  # Python 3.10: no TOML reader in the standard library
                    problems.append(f"{path}: reading it needs Python 3.11 or later")
                else:
                    doc = tomllib.load(fh)
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:  # TOMLDecodeError is a ValueError
            problems.append(f"{path}: {exc}")
        values: dict[str, Any] = {}
        for name, kind, noun in (
            ("theme", str, "a string"),
            ("animations", bool, "true or false"),
            ("page_size", int, "an integer"),
        ):
            if name not in doc:
                continue
            if isinstance(doc[name], kind) and not (kind is int and isinstance(doc[name], bool)):
                values[name] = doc[name]
            else:
                problems.append(f"{path}: {name} should be {noun}")
        columns = doc.get("columns", [])
        if isinstance(columns, list) and all(isinstance(c, str) for c in columns):
            values["columns"] = tuple(columns)
        else:
            problems.append(f"{path}: columns should be a list of strings")
        primary = doc.get("primary")
        if primary is not None and not (
            isinstance(primary, str)
            or (isinstance(primary, dict) and all(isinstance(v, str) for v in primary.values()))
        ):
            problems.append(
                f"{path}: primary should be a metric key, or a table of them by project"
            )
        keys = doc.get("keys", {})
        if isinstance(keys, dict) and all(isinstance(v, str) for v in keys.values()):
            values["keys"] = dict(keys)
        else:
            problems.append(f"{path}: [keys] should map binding ids to key strings")
        if os.environ.get("TRACKUI_THEME"):
            values["theme"] = os.environ["TRACKUI_THEME"]
        if "page_size" in values and values["page_size"] < 10:
            problems.append(f"{path}: page_size below 10, using 10")
            values["page_size"] = 10
        return cls(**values, problems=tuple(problems))


class ColumnMemory:
    """The columns chosen for each store, keyed by the store's real path, in
    a small JSON file next to the config."""

    def __init__(self, directory: Path | None = None):
        self.path = (config_dir() if directory is None else directory) / COLUMNS_FILE

    @staticmethod
    def _key(root: str | os.PathLike[str]) -> str:
        return os.path.realpath(root)

    def _read(self) -> dict[str, list[str]]:
        try:
            doc = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        stores = doc.get("stores") if isinstance(doc, dict) else None
        return stores if isinstance(stores, dict) else {}

    def load(self, root: str | os.PathLike[str]) -> list[str] | None:
        """The remembered columns of this store, or None if nothing was chosen."""
        chosen = self._read().get(self._key(root))
        if isinstance(chosen, list) and all(isinstance(c, str) for c in chosen):
            return chosen
        return None

    def save(self, root: str | os.PathLike[str], columns: Sequence[str]) -> None:
        stores = self._read()
        stores[self._key(root)] = list(columns)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".columns-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump({"stores": stores}, fh, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
