"""Session fixtures for the macOS real-artifact tests: the universal OpenSSL built by the role's
own script (cached under ~/.cache/wheelfleet/macos-openssl, built from scratch when absent)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from macos_builders import BuildError, UniversalOpenSSL, universal_openssl  # noqa: E402

from wheelfleet.lab.errors import LabError  # noqa: E402
from wheelfleet.lab.locks import exclusive  # noqa: E402
from wheelfleet.lab.roots import cache_home  # noqa: E402

SESSION_LOCK_WAIT = 1800


@pytest.fixture(scope="session")
def openssl_cache() -> Iterator[None]:
    """One test session at a time uses the cached OpenSSL root: some tests damage the installed
    build on purpose and let the script repair it."""
    try:
        with exclusive(cache_home() / "macos-openssl.lock", wait=SESSION_LOCK_WAIT,
                       busy=f"another test session held ~/.cache/wheelfleet/macos-openssl "
                            f"for {SESSION_LOCK_WAIT} s"):
            yield
    except LabError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def openssl_build(openssl_cache: None) -> UniversalOpenSSL:
    """The fast-mode (libcrypto only) universal OpenSSL: never skipped — a build that cannot
    run fails the tests that need it, with the reason."""
    try:
        return universal_openssl()
    except BuildError as exc:
        pytest.fail(str(exc), pytrace=False)
