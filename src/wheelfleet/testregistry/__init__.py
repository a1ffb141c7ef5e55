"""A real local OCI registry and manylinux-like test images for ``linux_builder`` tests.

* :class:`~.registry.Registry` -- Debian's ``docker-registry`` on 127.0.0.1, owned by pid.
* :func:`~.images.build_and_push` -- debootstrap-based manylinux-like image, pushed and
  identified by the digest the registry reports.
* :mod:`.faults` -- re-push under a tag, delete a manifest, serve wrong bytes.
* :class:`~.podmanenv.PodmanEnv` -- an isolated podman store/config for pulls and runs.
"""

from .faults import (
    Repush,
    delete_manifest,
    push_variant,
    repush_different_bytes,
    serve_wrong_bytes,
)
from .images import POLICIES, PushedImage, build_and_push
from .podmanenv import PodmanEnv, render_confs
from .registry import Registry, RegistryError

__all__ = [
    "POLICIES",
    "PodmanEnv",
    "PushedImage",
    "Registry",
    "RegistryError",
    "Repush",
    "build_and_push",
    "delete_manifest",
    "push_variant",
    "render_confs",
    "repush_different_bytes",
    "serve_wrong_bytes",
]
