"""Import a cached manylinux-like root as an OCI image and push it to the test registry.

The image is named like the real ones, ``<registry>/pypa/<policy>_<arch>:<tag>``, and
identified by the manifest digest *the registry* reports (``skopeo inspect``), which
is what a fleet matrix pins.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from .commands import run
from .errors import LabError
from .image_root import ImageRoot
from .podman import PodmanEnv
from .registry import Registry
from .roots import ensure_root

ARCH = "x86_64"

# Policy -> Debian suite whose glibc gives that policy, and the Python it ships.
POLICIES: dict[str, ImageRoot] = {
    "manylinux_2_36": ImageRoot(suite="bookworm", python="3.11", glibc="2.36"),
    "manylinux_2_41": ImageRoot(suite="trixie", python="3.13", glibc="2.41"),
}


@dataclass(frozen=True)
class PushedImage:
    """One image as it sits in the registry, ready to be pinned by digest."""

    registry: str  # "127.0.0.1:5000"
    repository: str  # "pypa/manylinux_2_36_x86_64"
    tag: str
    digest: str  # "sha256:..." manifest digest reported by the registry
    created: str  # RFC 3339, from the image config
    pythons: list[str] = field(default_factory=list)  # ["cp311-cp311"]
    policy: str = ""
    arch: str = ARCH
    build_seconds: float = 0.0  # root build time; 0.0 when served from the cache
    push_seconds: float = 0.0

    @property
    def ref_by_tag(self) -> str:
        return f"{self.registry}/{self.repository}:{self.tag}"

    @property
    def ref_by_digest(self) -> str:
        return f"{self.registry}/{self.repository}@{self.digest}"

    def to_dict(self) -> dict[str, object]:
        return {
            "image": f"{self.registry}/{self.repository}",
            "tag": self.tag,
            "digest": self.digest,
            "created": self.created,
            "pythons": list(self.pythons),
            "policy": self.policy,
            "arch": self.arch,
        }


def repository_for(policy: str, arch: str = ARCH) -> str:
    return f"pypa/{policy}_{arch}"


def build_env(registry: Registry) -> PodmanEnv:
    """The podman store used for import/push; lives beside the registry's state."""
    return PodmanEnv(registry.state_dir / "pm").setup([registry.address])


def inspect_remote(registry: Registry, reference: str, timeout: float = 60) -> dict[str, object]:
    """``skopeo inspect`` of ``<registry>/<reference>`` (``repo:tag`` or ``repo@digest``)."""
    out = run(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{registry.address}/{reference}"],
        what=f"skopeo inspect {reference}", timeout=timeout,
    ).stdout
    data: dict[str, object] = json.loads(out)
    return data


def import_and_push(
    registry: Registry,
    tarball: Path,
    repository: str,
    tag: str,
    *,
    changes: list[str],
    timeout: float = 900,
) -> tuple[str, str]:
    """``podman import`` a root tarball and push it; return (digest, created).

    The local image is removed afterwards: the registry is the only copy that matters,
    and keeping every import would grow the build store by a full image each time.
    """
    pm = build_env(registry)
    local = f"localhost/wheelfleet-build/{repository.replace('/', '-')}:{tag}"
    argv = ["import"]
    for change in changes:
        argv += ["--change", change]
    pm.podman(*argv, str(tarball), local, timeout=timeout)
    digestfile = pm.base / "push.digest"
    try:
        pm.podman(
            "push", "--tls-verify=false", "--digestfile", str(digestfile), local,
            f"docker://{registry.address}/{repository}:{tag}",
            timeout=timeout,
        )
        pushed = digestfile.read_text().strip()
    finally:
        pm.podman("rmi", "--force", local, timeout=120, check=False)
    info = inspect_remote(registry, f"{repository}:{tag}")
    digest, created = str(info["Digest"]), str(info["Created"])
    if digest != pushed:
        raise LabError(f"registry reports {digest} for {repository}:{tag}, push said {pushed}")
    return digest, created


def image_changes(policy: str, spec: ImageRoot, arch: str, root_key: str) -> list[str]:
    """Dockerfile-style instructions baked into the image config at import time."""
    return [
        'CMD ["/bin/bash"]',
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV LANG=C.UTF-8",
        # The same variables real manylinux images set; build scripts read them.
        f"ENV AUDITWHEEL_POLICY={policy}",
        f"ENV AUDITWHEEL_ARCH={arch}",
        f"ENV AUDITWHEEL_PLAT={policy}_{arch}",
        f"LABEL org.wheelfleet.policy={policy}",
        f"LABEL org.wheelfleet.pythons={spec.python_tag}",
        f"LABEL org.wheelfleet.rootfs={root_key}",
    ]


def build_and_push(
    registry: Registry,
    policy: str = "manylinux_2_36",
    tag: str = "latest",
    *,
    arch: str = ARCH,
    timeout: float = 1800,
) -> PushedImage:
    """Build (or reuse from cache) the root for ``policy`` and push it under ``tag``.

    The digest is stable while the cached root is: podman (4.3) takes the image's
    ``Created`` from the tarball's mtime, so re-pushing the same cache entry yields
    the same config and manifest bytes. A rebuilt root (cold cache, new recipe) gets
    a new digest -- pin what this returns, never a digest written down earlier.
    """
    if arch != ARCH:
        raise LabError(f"only {ARCH} images can be built on this host, not {arch}")
    try:
        spec = POLICIES[policy]
    except KeyError:
        raise LabError(f"unknown policy {policy!r}; known: {sorted(POLICIES)}") from None
    root = ensure_root(spec)
    repository = repository_for(policy, arch)
    started = time.monotonic()
    digest, created = import_and_push(
        registry, root.path, repository, tag,
        changes=image_changes(policy, spec, arch, root.key), timeout=timeout,
    )
    return PushedImage(
        registry=registry.address,
        repository=repository,
        tag=tag,
        digest=digest,
        created=created,
        pythons=[spec.python_tag],
        policy=policy,
        arch=arch,
        build_seconds=round(root.build_seconds, 1),
        push_seconds=round(time.monotonic() - started, 1),
    )
