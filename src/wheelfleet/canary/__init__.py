"""The canary: a tiny C extension that proves a node builds wheels that really work.

It links OpenSSL's libcrypto — a library no manylinux policy guarantees — so a wheel that
imports and answers correctly after ``auditwheel repair`` proves the repair bundled it.
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
