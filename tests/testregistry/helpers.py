"""Small helpers shared by the testregistry tests."""

from __future__ import annotations

import subprocess

from wheelfleet.testregistry import PodmanEnv
from wheelfleet.testregistry.podmanenv import RUN_ULIMIT_ARGS


def run_in(
    pm: PodmanEnv, image: str, *cmd: str, timeout: float = 300, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``podman --runtime runc run --rm --network none`` with the lowered ulimits."""
    return pm.podman(
        "--runtime", "runc", "run", "--rm", "--network", "none", *RUN_ULIMIT_ARGS,
        image, *cmd, timeout=timeout, check=check,
    )


def pull(pm: PodmanEnv, ref: str, timeout: float = 600, check: bool = True
         ) -> subprocess.CompletedProcess[str]:
    return pm.podman("pull", "--tls-verify=false", ref, timeout=timeout, check=check)


def local_digest(pm: PodmanEnv, ref: str) -> str:
    """The manifest digest podman recorded for a pulled image."""
    return pm.podman("image", "inspect", "--format", "{{.Digest}}", ref, timeout=60).stdout.strip()
