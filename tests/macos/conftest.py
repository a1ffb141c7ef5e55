"""Session fixtures for the macOS real-artifact tests: the universal OpenSSL built by the role's
own script (cached under ~/.cache/wheelfleet/macos-openssl, built from scratch when absent)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from macos_builders import BuildError, UniversalOpenSSL, universal_openssl  # noqa: E402


@pytest.fixture(scope="session")
def openssl_build() -> UniversalOpenSSL:
    """The fast-mode (libcrypto only) universal OpenSSL: never skipped — a build that cannot
    run fails the tests that need it, with the reason."""
    try:
        return universal_openssl()
    except BuildError as exc:
        pytest.fail(str(exc), pytrace=False)
