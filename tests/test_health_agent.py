"""The node agent's diagnoses: output patterns and a really full filesystem."""

from __future__ import annotations

import os
import subprocess

import pytest

from wheelfleet.health.agent import diagnose, disk_full


@pytest.mark.parametrize("step,output,code,expected", [
    ("build", "error: command 'x86_64-linux-gnu-gcc' failed: No such file or directory", 1,
     "compiler missing in the image: gcc not found"),
    ("build", "src/canary.c:6:10: fatal error: openssl/evp.h: No such file or directory", 1,
     "OpenSSL headers missing in the image"),
    ("repair", "ValueError: patchelf 0.14.3 found. auditwheel repair requires patchelf >= 0.14.5",
     1, "patchelf missing or broken: auditwheel cannot graft libraries"),
    ("import", "ImportError: libcrypto.so.3: cannot open shared object file: No such file", 1,
     "a library the wheel needs is not bundled in it (import fails without the system copy)"),
    ("interpreter", "Fatal Python error: Failed to import encodings module", 1,
     "interpreter is broken: it cannot start"),
    ("build", "OSError: [Errno 28] No space left on device", 1, "disk full in the work directory"),
    ("repair", "something odd\nlast words here", 3, "repair step failed (exit 3): last words here"),
    ("build", "", 124, "build step timed out"),
])
def test_diagnoses(step, output, code, expected):
    assert diagnose(step, output, code) == expected


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_disk_full_on_a_really_full_filesystem(tmp_path):
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "wf-agent-test", str(tmp_path)],
                   check=True, timeout=30)
    try:
        assert not disk_full(str(tmp_path))
        with open(tmp_path / "fill", "wb") as handle, pytest.raises(OSError):
            while True:
                handle.write(b"x" * 65536)
                handle.flush()
        assert disk_full(str(tmp_path))
    finally:
        subprocess.run(["umount", str(tmp_path)], check=True, timeout=30)
