"""What the macOS roles upload and run on a Mac, and how to read what it leaves behind.

``openssl_universal.sh`` (with ``verify_universal.py`` beside it) builds, verifies and installs
the universal OpenSSL; ``openssl_manifest`` reads the build manifest it writes.  Both payload
files run on the Mac itself: POSIX sh and a standard-library-only Python.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
OPENSSL_SCRIPT = HERE / "openssl_universal.sh"
VERIFIER = HERE / "verify_universal.py"
MANIFEST_NAME = "wheelfleet-openssl.json"
