"""The node agent's diagnoses: output patterns and a really full filesystem."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

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


def test_a_missing_or_failing_engine_is_named_before_any_image():
    from wheelfleet.health.agent import engine_problem

    why, _ = engine_problem("wheelfleet-no-such-engine")
    assert why.startswith("container engine not runnable: wheelfleet-no-such-engine not found "
                          "on the node"), why
    why, _ = engine_problem("false")  # a real binary that runs and fails
    assert why == "container engine not runnable: false info failed (exit 1): no output", why
    assert engine_problem("true") is None


@pytest.mark.parametrize("code,output,expected", [
    (125, "Error: OCI runtime error: runc: exec failed", "container engine podman could not "
     "start the check's container (exit 125): Error: OCI runtime error: runc: exec failed"),
    (1, "Error: creating container storage: permission denied", "container engine podman could "
     "not start the check's container (exit 1)"),
    (3, "", "health runner stopped before its first step (exit 3): no output"),
    (2, "/wheelfleet-runner.sh: 4: Syntax error: end of file unexpected",
     "health runner stopped before its first step (exit 2): /wheelfleet-runner.sh: 4: Syntax "
     "error"),
    (124, "", "the check's container did not start its first step before the timeout"),
])
def test_a_container_that_never_reached_the_first_step(code, output, expected):
    from wheelfleet.health.agent import not_started

    assert not_started("podman", code, output).startswith(expected)


# A stand-in container engine (labelled: it only answers `info` and `image inspect` with the
# pinned digest, so the agent reaches its work directory; nothing here builds anything).
STAND_IN_ENGINE = """#!/bin/sh
case "$1" in
  info) exit 0 ;;
  image) echo "registry.test/pypa/img@sha256:0123456789abcdef0123456789abcdef" ;;
  *) echo "stand-in engine: $*" >&2; exit 99 ;;
esac
"""


def test_an_unusable_work_directory_fails_each_check_naming_it(tmp_path):
    import json
    import platform
    import sys

    engine = tmp_path / "engine"
    engine.write_text(STAND_IN_ENGINE)
    engine.chmod(0o755)
    not_a_dir = tmp_path / "work-is-a-file"
    not_a_dir.write_text("")
    check = {"image": "img", "digest": "sha256:0123456789abcdef0123456789abcdef",
             "local_name": "wheelfleet/img:pinned", "arch": platform.machine(), "plat": "img"}
    plan = {"engine": str(engine), "work_dir": str(not_a_dir / "health"), "keep_dir": None,
            "canary_dir": "/nonexistent", "wheelhouse": "/nonexistent", "runner": "/nonexistent",
            "input": "x", "expected": "y", "parallel": 2, "timeout": 30,
            "checks": [dict(check, python=p, variant="default") for p in ("cp311-cp311",
                                                                            "cp312-cp312")]}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    agent = Path(__file__).resolve().parents[1] / "src/wheelfleet/health/agent.py"
    proc = subprocess.run([sys.executable, str(agent), str(tmp_path / "plan.json")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout)
    assert [r["python"] for r in records] == ["cp311-cp311", "cp312-cp312"]
    for record in records:
        assert record["status"] == "failed" and record["step"] == "agent", record
        assert record["diagnosis"] == (f"work directory {not_a_dir / 'health'} is unusable: "
                                       "Not a directory"), record["diagnosis"]
