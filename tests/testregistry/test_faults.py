"""Fault injection: what a digest-pinned pull sees when the registry misbehaves.

Each test makes its own uniquely-tagged image (base manifest + one marker layer, via
the registry API, so no rebuild) so the faults never touch the session's images.
"""

from __future__ import annotations

import json
import uuid

import pytest

from wheelfleet.testregistry import (
    PodmanEnv,
    PushedImage,
    Registry,
    api,
    delete_manifest,
    repush_different_bytes,
    serve_wrong_bytes,
)
from wheelfleet.testregistry.faults import restore_bytes
from wheelfleet.testregistry.images import inspect_remote

from .helpers import local_digest, pull, run_in

pytestmark = [pytest.mark.fleet, pytest.mark.slow]


def unique_image(registry: Registry, base: PushedImage) -> tuple[str, str]:
    """A new tag whose manifest no other test uses; returns (tag, digest)."""
    tag = f"fault-{uuid.uuid4().hex[:8]}"
    body, media_type = api.get_manifest(registry, base.repository, base.digest)
    api.put_manifest(registry, base.repository, tag, body, media_type)
    return tag, repush_different_bytes(registry, base.repository, tag).new_digest


@pytest.fixture
def base(pushed: dict[str, PushedImage]) -> PushedImage:
    return pushed["manylinux_2_36"]


def test_repush_moves_tag_but_old_digest_still_pulls(
    registry: Registry, pm: PodmanEnv, base: PushedImage
) -> None:
    tag, pinned = unique_image(registry, base)
    repo = f"{registry.address}/{base.repository}"
    pull(pm, f"{repo}@{pinned}")

    r = repush_different_bytes(registry, base.repository, tag)
    assert r.old_digest == pinned and r.new_digest != pinned
    # The tag now serves other bytes: a pull by tag silently gets the new image...
    assert inspect_remote(registry, f"{base.repository}:{tag}")["Digest"] == r.new_digest
    pull(pm, f"{repo}:{tag}")
    assert local_digest(pm, f"{repo}:{tag}") == r.new_digest
    assert run_in(pm, f"{repo}:{tag}", "cat", "/etc/wheelfleet-repush").stdout.strip() == r.marker
    # ...while the pinned digest is still stored, so a pull by digest still works.
    pm.podman("rmi", "--force", f"{repo}@{pinned}", timeout=120, check=False)
    pull(pm, f"{repo}@{pinned}")
    assert local_digest(pm, f"{repo}@{pinned}") == pinned


def test_deleted_manifest_makes_pinned_pull_fail(
    registry: Registry, pm: PodmanEnv, base: PushedImage
) -> None:
    tag, pinned = unique_image(registry, base)
    repo = f"{registry.address}/{base.repository}"
    repush_different_bytes(registry, base.repository, tag)
    assert delete_manifest(registry, base.repository, pinned) == 202
    assert registry.manifest_status(base.repository, pinned) == 404
    assert delete_manifest(registry, base.repository, pinned) == 404  # idempotent

    proc = pull(pm, f"{repo}@{pinned}", timeout=120, check=False)
    assert proc.returncode != 0
    assert "manifest unknown" in proc.stderr, proc.stderr
    print(f"deleted manifest:\n{proc.stderr}")


def test_wrong_bytes_under_pinned_digest_are_rejected(
    registry: Registry, pm: PodmanEnv, base: PushedImage
) -> None:
    tag, pinned = unique_image(registry, base)
    repo = f"{registry.address}/{base.repository}"
    other = repush_different_bytes(registry, base.repository, tag)
    other_bytes, _ = api.get_manifest(registry, base.repository, other.new_digest)

    original = serve_wrong_bytes(registry, pinned, other_bytes)
    try:
        served, _ = api.get_manifest(registry, base.repository, pinned)
        assert api.sha256_digest(served) == other.new_digest  # the registry really lies
        proc = pull(pm, f"{repo}@{pinned}", timeout=120, check=False)
        assert proc.returncode != 0
        assert "digest" in proc.stderr.lower(), proc.stderr
        assert pinned in proc.stderr or pinned.split(":")[1] in proc.stderr, proc.stderr
        images = pm.podman("images", "--digests", "--format", "{{.Digest}}", timeout=60).stdout
        assert pinned not in images.split()
        print(f"wrong bytes:\n{proc.stderr}")
    finally:
        restore_bytes(registry, pinned, original)
    pull(pm, f"{repo}@{pinned}")  # and with honest bytes back, it pulls again
    assert local_digest(pm, f"{repo}@{pinned}") == pinned


def test_corrupted_layer_blob_is_rejected(
    registry: Registry, pm: PodmanEnv, base: PushedImage
) -> None:
    tag, pinned = unique_image(registry, base)
    repo = f"{registry.address}/{base.repository}"
    manifest = json.loads(api.get_manifest(registry, base.repository, pinned)[0])
    marker_layer = manifest["layers"][-1]["digest"]  # small, unique to this image
    good = api.get_blob(registry, base.repository, marker_layer)

    original = serve_wrong_bytes(registry, marker_layer, good[:-8] + b"\0" * 8)
    try:
        proc = pull(pm, f"{repo}@{pinned}", timeout=300, check=False)
        assert proc.returncode != 0
        assert "Digest did not match" in proc.stderr, proc.stderr
        assert f"expected {marker_layer}" in proc.stderr, proc.stderr
        print(f"corrupted layer:\n{proc.stderr}")
    finally:
        restore_bytes(registry, marker_layer, original)
