"""Turn a host's matrix selection into the agent's plan (what to check, where, how long)."""

from __future__ import annotations

from importlib import resources
from typing import Any

from wheelfleet.canary import CANARY_INPUT, expected_digest
from wheelfleet.platforms.linux import LinuxSettings
from wheelfleet.selection import Selection

HEALTH_DIR = "/opt/wheelfleet/health"
AGENT = f"{HEALTH_DIR}/agent.py"
RUNNER = f"{HEALTH_DIR}/runner.sh"
CANARY_DIR = f"{HEALTH_DIR}/canary"
PLAN = f"{HEALTH_DIR}/plan.json"
WHEELHOUSE = "/var/cache/wheelfleet/wheelhouse"
KEEP_DIR = "/var/lib/wheelfleet/health-wheels"  # the last repaired wheel of every check
# The canary's build requirements, installed from the wheelhouse once per image and Python.
BDEPS_CACHE = "/var/cache/wheelfleet/health-bdeps"


def packaged(name: str) -> str:
    return str(resources.files("wheelfleet").joinpath(name))


def abi3_capable(tag: str) -> bool:
    """CPython >= 3.8 with the GIL: free-threaded builds have no stable ABI to target yet."""
    interp = tag.split("-")[0]
    if tag.endswith("t") or not interp.startswith("cp3"):
        return False
    return int(interp[3:]) >= 8


def build_plan(sel: Selection) -> dict[str, Any]:
    """The agent's plan for one Linux host.

    Every selected image x Python gets a default check; each image also checks the abi3
    (limited API) variant once, with its first capable Python.
    """
    settings = sel.settings
    assert isinstance(settings, LinuxSettings)
    checks = []
    for image in sel.images:
        tags = sel.image_pythons(image)
        base = {"image": image.platform_tag, "digest": image.digest,
                "local_name": image.local_name, "arch": image.arch, "plat": image.platform_tag}
        checks += [dict(base, python=t, variant="default") for t in tags]
        capable = [t for t in tags if abi3_capable(t)]
        if capable:
            checks.append(dict(base, python=capable[0], variant="abi3"))
    return {
        "engine": settings.container_engine,
        "work_dir": settings.work_dir, "keep_dir": KEEP_DIR,
        "canary_dir": CANARY_DIR, "wheelhouse": WHEELHOUSE, "runner": RUNNER,
        "bdeps_cache": BDEPS_CACHE,
        "input": CANARY_INPUT.decode(), "expected": expected_digest(),
        "keep_wheels": settings.health_keep_wheels,
        "parallel": settings.health_parallel, "timeout": settings.health_timeout,
        "run_args": settings.engine_run_args, "checks": checks,
    }

