"""For every test directory: ``tests/`` is importable, so the lab's test-only helpers are too
(``from lab.faults import push_variant``) wherever a test needs a misbehaving registry."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import os  # noqa: E402

import pytest  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI a skipped test is a failure: a fleet, browser or real-binary test that did not
    run proved nothing, and CI is where it must run (``.ci/setup`` installs what it needs)."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, which counts as a failure: {reason}"
