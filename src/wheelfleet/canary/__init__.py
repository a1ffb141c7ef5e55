"""The canary: a tiny C extension that proves a node builds wheels that really work.

It links OpenSSL's libcrypto — a library no manylinux policy guarantees — so a wheel that
imports and answers correctly after ``auditwheel repair`` proves the repair bundled it.

The C source builds on every CPython the matrix lists (2.7 and 3.3 up), with each Python's own
pinned build requirements (``matrix.query.canary_build_requirements``).  Proof level: real
interpreters on Linux -- CPython 2.7.18 (wide, built from the matrix's source tarball) and this
machine's 3.x build, install and import it (tests/macos/test_canary_pythons.py,
tests/test_macos_health.py); the C compiles as C89 against the 2.7 headers.  Python 3.3-3.8
themselves are not available here: for them, only their pins are proven (downloaded for them).
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

CANARY_INPUT = b"wheelfleet canary: proves the wheel imports and calls into libcrypto"
MODULE = "wheelfleet_canary"


def expected_digest() -> str:
    """What ``wheelfleet_canary.sha256_hex(CANARY_INPUT)`` must return (from Python's hashlib)."""
    return hashlib.sha256(CANARY_INPUT).hexdigest()


def project_dir() -> Path:
    """The canary's source tree, shipped inside the package."""
    return Path(str(resources.files("wheelfleet").joinpath("canary/project")))
