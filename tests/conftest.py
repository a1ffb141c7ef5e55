"""For every test directory: ``tests/`` is importable, so the lab's test-only helpers are too
(``from lab.faults import push_variant``) wherever a test needs a misbehaving registry."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import os  # noqa: E402

import pytest  # noqa: E402
from gevent import monkey  # noqa: E402

# pyinfra's CLI package calls gevent's monkey.patch_all() when it is imported (the spec harness
# and inventory loading import it), swapping threading for greenlets under threads that already
# run: pytest-xdist's worker I/O thread among them (the worker's main loop then dies with
# LoopExit). Nothing in the test process needs the patch: pyinfra runs in subprocesses here
# (wheelfleet.pyinfra_run, the lab's fleet fixture), as a user runs it.
monkey.patch_all = lambda *args, **kwargs: None


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


# Parallel runs (pytest-xdist, `-n 2` in .ci/run): a worker is its own pytest session, so a
# session fixture runs once per worker that uses it. A test directory is therefore one unit of
# work for a worker (its session fixtures: a fleet on fixed addresses and a registry port, the
# WinRM peers, the wheelcheck binaries, are built once, never twice at the same addresses), and a
# top-level test file is one too. tests/macos is split by file: its two long builds (the
# universal OpenSSL, a CPython 2.7) belong to different files; the files that share the OpenSSL
# build (whose cache one session at a time may hold) stay one unit.
# Units are handed out in collection order: the longest first.
BY_FILE = {"macos"}
SHARED = {"macos/test_canary_universal2.py": "macos-openssl",
          "macos/test_openssl_universal.py": "macos-openssl"}
LONGEST_FIRST = ("verify", "macos-openssl", "fleet", "lab", "macos/test_canary_pythons.py",
                 "wheelcheck", "windows_converge")


def unit_of(nodeid: str) -> str:
    """The unit of work of a test: ``tests/verify/test_x.py::t`` -> ``verify``."""
    path = nodeid.split("::", 1)[0].removeprefix("tests/")
    top = path.split("/", 1)[0]
    if path in SHARED:
        return SHARED[path]
    return path if top == path or top in BY_FILE else top


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        unit = unit_of(item.nodeid)
        return LONGEST_FIRST.index(unit) if unit in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: each unit keeps its own order


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    from xdist.scheduler import LoadScopeScheduling

    class ByUnit(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    return ByUnit(config, log)
