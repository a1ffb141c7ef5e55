"""Turn a host's matrix selection into the agent's plan (what to check, where, how long)."""

from __future__ import annotations

from importlib import resources
from typing import Any

from wheelfleet.canary import CANARY_INPUT, expected_digest
from wheelfleet.selection import Selection

HEALTH_DIR = "/opt/wheelfleet/health"
AGENT = f"{HEALTH_DIR}/agent.py"
RUNNER = f"{HEALTH_DIR}/runner.sh"
CANARY_DIR = f"{HEALTH_DIR}/canary"
PLAN = f"{HEALTH_DIR}/plan.json"
WHEELHOUSE = "/var/cache/wheelfleet/wheelhouse"
WORK_DIR = "/var/tmp/wheelfleet/health"
KEEP_DIR = "/var/lib/wheelfleet/health-wheels"  # the last repaired wheel of every check


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
    data = sel.data
    run_args = [f"--ulimit={u}" for u in data.get("container_default_ulimits") or []]
    if data.get("container_engine", "podman") == "podman" and data.get("container_runtime"):
        run_args = [f"--runtime={data['container_runtime']}"] + run_args
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
        "engine": data.get("container_engine", "podman"),
        "work_dir": data.get("work_dir", WORK_DIR), "keep_dir": KEEP_DIR,
        "canary_dir": CANARY_DIR, "wheelhouse": WHEELHOUSE, "runner": RUNNER,
        "input": CANARY_INPUT.decode(), "expected": expected_digest(),
        "parallel": int(data.get("health_parallel", 2)),
        "timeout": int(data.get("health_timeout", 900)),
        "run_args": run_args, "checks": checks,
    }


def planned_cells(sel: Selection) -> list[dict[str, str]]:
    """The matrix cells a host is checked on: image, python, arch and variant of each check."""
    if sel.platform == "linux":
        # The agent's own plan, so "planned" and "ran" can never disagree.
        return [{"image": c["image"], "python": c["python"], "arch": c["arch"],
                 "variant": c["variant"]} for c in build_plan(sel)["checks"]]
    # No images off Linux: the platform stands in for the image in the check's name.
    return [{"image": sel.platform, "python": p.id, "arch": a, "variant": "default"}
            for p in sel.pythons for a in sel.arches]
