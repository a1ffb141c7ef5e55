"""Session fixtures for the Windows real-artifact tests: the PE build cache and delvewheel at
the matrix's pin (a venv under ~/.cache/wheelfleet, installed by pip once)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from pe_canary import BuildError, cache  # noqa: E402

from wheelfleet.matrix import load_matrix  # noqa: E402


@pytest.fixture(scope="session")
def delvewheel() -> list[str]:
    """``python -m delvewheel`` of a venv holding the matrix's pinned delvewheel."""
    pin = load_matrix().tool_pins("windows")["delvewheel"]
    venv = cache() / f"delvewheel-{pin}"
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import importlib.metadata as m; print(m.version('delvewheel'))"]
    have = subprocess.run(check, capture_output=True, text=True) if python.exists() else None
    if have is None or have.stdout.strip() != pin:
        steps = [[sys.executable, "-m", "venv", "--clear", str(venv)],
                 [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                  f"delvewheel=={pin}"]]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=600)
            if done.returncode != 0:
                pytest.fail(f"could not install delvewheel=={pin}: {done.stderr[-300:]}",
                            pytrace=False)
    return [str(python), "-m", "delvewheel"]


@pytest.fixture(scope="session")
def pe_workdir() -> Path:
    path = cache() / "builds"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def build(pe_workdir: Path):
    """build(arch, family, python_dll) -> Built; a build that cannot run fails the test."""
    from pe_canary import build_canary

    def make(arch: str, family: str, python_dll: str):
        try:
            return build_canary(arch, family, python_dll, pe_workdir)
        except BuildError as err:
            pytest.fail(str(err), pytrace=False)

    return make
