"""Fixtures every TUI test module uses: the asyncio backend for the async
tests, and a store on a copy of the fixture runs with the fixed clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from trackui.store.queries import Store

from ..conftest import FIXED_NOW


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def store(fixture_store: Path) -> Iterator[Store]:
    with Store(fixture_store, clock=lambda: FIXED_NOW) as s:
        yield s
