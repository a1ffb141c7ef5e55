"""podman against the test's own store: pull, run, read a digest."""

from __future__ import annotations

import subprocess

from wheelfleet.lab import PodmanEnv
from wheelfleet.lab.podman import ULIMITS

RUN_ULIMIT_ARGS = tuple(arg for limit in ULIMITS for arg in ("--ulimit", limit))


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


def refused_pull(pm: PodmanEnv, ref: str, timeout: float = 120) -> str:
    """Pull *ref* expecting podman to refuse it; return what podman said (its stderr)."""
    proc = pull(pm, ref, timeout=timeout, check=False)
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def local_digest(pm: PodmanEnv, ref: str) -> str:
    """The manifest digest podman recorded for a pulled image."""
    return pm.podman("image", "inspect", "--format", "{{.Digest}}", ref, timeout=60).stdout.strip()
