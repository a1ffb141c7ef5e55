"""Issue 15: what the controller does once per run rather than once per host.

Proof level: unit (real ``inspect`` and real matrix files; the speed itself is measured by
``benchmarks/bench_converge.py``, not asserted here).
"""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path

from wheelfleet.deploying import let_inspect_cache
from wheelfleet.matrix.load import matrix_for_selection

DEPLOY = """import inspect
from wheelfleet.deploying import let_inspect_cache
if REGISTER:
    let_inspect_cache(__file__)
FRAME = inspect.currentframe()
"""


def exec_like_pyinfra(path: Path, register: bool) -> dict:
    """Run a deploy file the way pyinfra's CLI does: compiled under the path it was given
    (relative), executed, not imported."""
    path.write_text(DEPLOY)
    relative = os.path.relpath(path)
    scope = {"__file__": relative, "REGISTER": register}
    exec(compile(path.read_text(), relative, "exec"), scope)  # noqa: S102 - the test's own file
    return scope


def test_a_registered_deploy_file_is_found_by_inspect(tmp_path, monkeypatch):
    """unit: without the registration inspect finds no module for the deploy file's frames
    (each lookup walks all of sys.modules); with it, the registered module."""
    monkeypatch.chdir(tmp_path)
    plain = exec_like_pyinfra(tmp_path / "plain.py", register=False)
    assert inspect.getmodule(plain["FRAME"]) is None

    registered = exec_like_pyinfra(tmp_path / "fleet.py", register=True)
    module = inspect.getmodule(registered["FRAME"])
    assert module is not None and module.__file__ == str(tmp_path / "fleet.py")
    # The line numbers pyinfra orders operations by are the file's own.
    assert inspect.getframeinfo(registered["FRAME"]).lineno == 5
    # Registering again (every host runs the deploy file) adds nothing.
    count = len(sys.modules)
    let_inspect_cache(str(tmp_path / "fleet.py"))
    assert len(sys.modules) == count


def test_the_matrix_is_parsed_once_per_overlay_as_it_is_now(tmp_path):
    """unit: hosts sharing an overlay share one parse; an overlay rewritten since is read
    again, so a changed value is never missed."""
    assert matrix_for_selection() is matrix_for_selection()
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("schema: 1\npythons:\n  '3.12':\n    version: '3.12.10'\n")
    first = matrix_for_selection(overlay)
    assert matrix_for_selection(overlay) is first
    overlay.write_text("schema: 1\npythons:\n  '3.12':\n    version: '3.12.11'\n")
    second = matrix_for_selection(overlay)
    assert second is not first
    assert (first.pythons["3.12"].version, second.pythons["3.12"].version) == ("3.12.10",
                                                                               "3.12.11")
