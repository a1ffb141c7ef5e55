"""Fault injection: what a digest-pinned pull sees when the registry misbehaves.

Each test makes its own uniquely-tagged image (base manifest + one marker layer, via
the registry API, so no rebuild) so the faults never touch the session's images.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import pytest

from wheelfleet.lab import PodmanEnv, PushedImage, Registry
from wheelfleet.lab.images import inspect_remote

from . import registry_api as api
from .faults import delete_manifest, repush_different_bytes, restore_bytes, serve_wrong_bytes
from .podman_helpers import local_digest, pull, refused_pull, run_in

pytestmark = [pytest.mark.fleet, pytest.mark.slow]


@dataclass(frozen=True)
class Victim:
    """An image only one test touches: ``ref`` is where podman pulls it from."""

    repository: str  # "pypa/manylinux_2_36_x86_64"
    ref: str  # "127.0.0.1:PORT/pypa/manylinux_2_36_x86_64"
    tag: str
    pinned: str  # the digest a fleet would pin


@pytest.fixture
def victim(registry: Registry, pushed: dict[str, PushedImage]) -> Victim:
    """A new tag (base manifest + one marker layer) whose manifest no other test uses."""
    base = pushed["manylinux_2_36"]
    tag = f"fault-{uuid.uuid4().hex[:8]}"
    body, media_type = api.get_manifest(registry, base.repository, base.digest)
    api.put_manifest(registry, base.repository, tag, body, media_type)
    pinned = repush_different_bytes(registry, base.repository, tag).new_digest
    return Victim(base.repository, f"{registry.address}/{base.repository}", tag, pinned)


def pulled_digest(pm: PodmanEnv, ref: str) -> str:
    """Pull *ref* and return the manifest digest podman recorded for it."""
    pull(pm, ref)
    return local_digest(pm, ref)


def test_repush_moves_tag_but_old_digest_still_pulls(
    registry: Registry, pm: PodmanEnv, victim: Victim
) -> None:
    by_digest, by_tag = f"{victim.ref}@{victim.pinned}", f"{victim.ref}:{victim.tag}"
    pull(pm, by_digest)

    r = repush_different_bytes(registry, victim.repository, victim.tag)
    assert r.old_digest == victim.pinned and r.new_digest != victim.pinned
    # The tag now serves other bytes: a pull by tag silently gets the new image...
    assert inspect_remote(registry, f"{victim.repository}:{victim.tag}")["Digest"] == r.new_digest
    assert pulled_digest(pm, by_tag) == r.new_digest
    assert run_in(pm, by_tag, "cat", "/etc/wheelfleet-repush").stdout.strip() == r.marker
    # ...while the pinned digest is still stored, so a pull by digest still works.
    pm.podman("rmi", "--force", by_digest, timeout=120, check=False)
    assert pulled_digest(pm, by_digest) == victim.pinned


def test_deleted_manifest_makes_pinned_pull_fail(
    registry: Registry, pm: PodmanEnv, victim: Victim
) -> None:
    repush_different_bytes(registry, victim.repository, victim.tag)
    assert delete_manifest(registry, victim.repository, victim.pinned) == 202
    assert api.manifest_status(registry, victim.repository, victim.pinned) == 404
    assert delete_manifest(registry, victim.repository, victim.pinned) == 404  # idempotent

    said = refused_pull(pm, f"{victim.ref}@{victim.pinned}")
    assert "manifest unknown" in said, said
    print(f"deleted manifest:\n{said}")


def test_wrong_bytes_under_pinned_digest_are_rejected(
    registry: Registry, pm: PodmanEnv, victim: Victim
) -> None:
    pinned = victim.pinned
    other = repush_different_bytes(registry, victim.repository, victim.tag)
    other_bytes, _ = api.get_manifest(registry, victim.repository, other.new_digest)

    original = serve_wrong_bytes(registry, pinned, other_bytes)
    try:
        served, _ = api.get_manifest(registry, victim.repository, pinned)
        assert api.sha256_digest(served) == other.new_digest  # the registry really lies
        said = refused_pull(pm, f"{victim.ref}@{pinned}")
        assert "digest" in said.lower(), said
        assert pinned in said or pinned.split(":")[1] in said, said
        images = pm.podman("images", "--digests", "--format", "{{.Digest}}", timeout=60).stdout
        assert pinned not in images.split()
        print(f"wrong bytes:\n{said}")
    finally:
        restore_bytes(registry, pinned, original)
    # And with honest bytes back, it pulls again.
    assert pulled_digest(pm, f"{victim.ref}@{pinned}") == pinned


def test_corrupted_layer_blob_is_rejected(
    registry: Registry, pm: PodmanEnv, victim: Victim
) -> None:
    manifest = json.loads(api.get_manifest(registry, victim.repository, victim.pinned)[0])
    marker_layer = manifest["layers"][-1]["digest"]  # small, unique to this image
    good = api.get_blob(registry, victim.repository, marker_layer)

    original = serve_wrong_bytes(registry, marker_layer, good[:-8] + b"\0" * 8)
    try:
        said = refused_pull(pm, f"{victim.ref}@{victim.pinned}", timeout=300)
        assert "Digest did not match" in said, said
        assert f"expected {marker_layer}" in said, said
        print(f"corrupted layer:\n{said}")
    finally:
        restore_bytes(registry, marker_layer, original)
