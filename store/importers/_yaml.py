"""YAML as training tools write it, read safely.

Lightning's ``hparams.yaml`` may hold Python tags (``!!python/tuple``,
``!!python/object:...``) that ``yaml.safe_load`` refuses; nothing here ever
constructs an object from them: a tagged node becomes the plain list, dict
or string it is written as.
"""

from __future__ import annotations

from typing import Any

import yaml

_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BASE):  # type: ignore[misc, valid-type]
    """SafeLoader that reads unknown tags as plain data instead of failing."""


def _plain(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_Loader.add_multi_constructor("!", _plain)
_Loader.add_multi_constructor("tag:yaml.org,2002:python/", _plain)


def load(text: str) -> Any:
    """The data in TEXT; ``yaml.YAMLError`` when it is not YAML."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader, see above
