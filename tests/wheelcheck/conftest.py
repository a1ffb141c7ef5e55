"""Session fixtures for wheelcheck tests: a toolchain that builds real fixture binaries."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from wheelcheck_builders import Toolchain, ToolMissing  # noqa: E402

T = TypeVar("T")


@pytest.fixture(scope="session")
def toolchain(tmp_path_factory: pytest.TempPathFactory) -> Toolchain:
    return Toolchain(tmp_path_factory.mktemp("wheelcheck-binaries"))


@pytest.fixture(scope="session")
def built() -> Callable[[Callable[[], T]], T]:
    """Call a builder; skip (with the tool's name) only when a compiler is truly absent."""

    def call(builder: Callable[[], T]) -> T:
        try:
            return builder()
        except ToolMissing as missing:
            # tests/conftest.py turns this skip into a failure under CI.
            pytest.skip(f"{missing} is not installed, cannot build this fixture")

    return call
