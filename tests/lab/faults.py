"""Fault injection against the lab's registry, for tests of digest pinning (tests only).

Four ways a pinned image can go wrong, from the client's point of view:

1. :func:`repush_different_bytes` -- the *tag* now names a different manifest. A pull
   by tag silently gets other bytes; a pull by the old digest still works while the
   old manifest is stored.
2. :func:`delete_manifest` -- the pinned digest is gone: a pull by it gets
   "manifest unknown".
3. :func:`serve_wrong_bytes` -- the registry answers a request for the pinned digest
   (or for one of its layers) with bytes that hash to something else (a corrupted or
   malicious registry); the client's own digest check must reject it.
4. Registry down -- :meth:`Registry.stop`; pulls get "connection refused".
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from wheelfleet.lab import PushedImage, Registry
from wheelfleet.lab.images import build_env, inspect_remote

from . import registry_api as api

delete_manifest = api.delete_manifest  # re-exported: part of the fault API


@dataclass(frozen=True)
class Repush:
    """Result of a re-push: what the tag pointed at before and after."""

    repository: str
    tag: str
    old_digest: str
    new_digest: str
    marker: str  # content of /etc/wheelfleet-repush in the new image


def _marker_layer(marker: str) -> tuple[bytes, str]:
    """A gzip'd tar layer holding ``/etc/wheelfleet-repush``; returns (blob, diff_id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        data = (marker + "\n").encode()
        info = tarfile.TarInfo("etc/wheelfleet-repush")
        info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
        tar.addfile(info, io.BytesIO(data))
    uncompressed = raw.getvalue()
    return gzip.compress(uncompressed, mtime=0), api.sha256_digest(uncompressed)


def repush_different_bytes(registry: Registry, repository: str, tag: str) -> Repush:
    """Push a changed image under the same ``tag``: one extra file layer + a new config.

    The old manifest stays stored (so a pull by its digest still succeeds) -- combine
    with :func:`delete_manifest` to make the old digest unservable.
    """
    manifest_bytes, media_type = api.get_manifest(registry, repository, tag)
    old_digest = api.sha256_digest(manifest_bytes)
    manifest = json.loads(manifest_bytes)
    if "layers" not in manifest:
        raise ValueError(f"{repository}:{tag} is an index, not an image manifest")
    config = json.loads(api.get_blob(registry, repository, manifest["config"]["digest"]))

    marker = f"repush {uuid.uuid4()}"
    layer, diff_id = _marker_layer(marker)
    layer_digest = api.put_blob(registry, repository, layer)
    config.setdefault("rootfs", {"type": "layers", "diff_ids": []})["diff_ids"].append(diff_id)
    config.setdefault("history", []).append(
        {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
         "created_by": "wheelfleet tests: faults.repush_different_bytes"}
    )
    config.setdefault("config", {}).setdefault("Labels", {})["org.wheelfleet.repush"] = marker
    config_bytes = json.dumps(config, separators=(",", ":")).encode()
    config_digest = api.put_blob(registry, repository, config_bytes)

    oci = media_type.startswith("application/vnd.oci.")
    layer_type = (
        "application/vnd.oci.image.layer.v1.tar+gzip" if oci
        else "application/vnd.docker.image.rootfs.diff.tar.gzip"
    )
    manifest["config"] = {**manifest["config"], "digest": config_digest,
                          "size": len(config_bytes)}
    manifest["layers"].append({"mediaType": layer_type, "digest": layer_digest,
                               "size": len(layer)})
    new_bytes = json.dumps(manifest, separators=(",", ":")).encode()
    new_digest = api.put_manifest(registry, repository, tag, new_bytes, media_type)
    return Repush(repository, tag, old_digest, new_digest, marker)


def _blob_data_path(registry: Registry, digest: str) -> Path:
    algo, hexd = digest.split(":", 1)
    return (registry.storage_dir / "docker/registry/v2/blobs" / algo / hexd[:2] / hexd / "data")


def serve_wrong_bytes(registry: Registry, digest: str, replacement: bytes) -> bytes:
    """Make the registry answer requests for ``digest`` with ``replacement``.

    ``digest`` may name a manifest (then a pull by that digest is the victim) or a
    layer/config blob (then every image using it). Done by overwriting the blob file
    in the registry's filesystem storage -- the registry does not re-hash stored
    content when serving it, exactly like a corrupted disk or a lying mirror. Returns
    the original bytes so a test can put them back with :func:`restore_bytes`.
    """
    path = _blob_data_path(registry, digest)
    original = path.read_bytes()
    path.write_bytes(replacement)
    return original


def restore_bytes(registry: Registry, digest: str, original: bytes) -> None:
    """Undo :func:`serve_wrong_bytes`."""
    _blob_data_path(registry, digest).write_bytes(original)


def push_variant(registry: Registry, base: PushedImage, tag: str, script: str,
                 timeout: float = 600) -> PushedImage:
    """Push a *broken* variant of ``base``: run ``script`` in it, commit, push as ``tag``.

    This is how the health-check fault tests get images that really lack a compiler, carry a
    broken interpreter or repair without bundling: real images, pulled and pinned by digest
    like any other, so the check meets the fault exactly where a fleet would.
    """
    pm = build_env(registry)
    name = f"wf-variant-{uuid.uuid4().hex[:8]}"
    local = f"localhost/wheelfleet-build/{base.repository.replace('/', '-')}:{tag}"
    digestfile = pm.base / f"{name}.digest"
    try:
        pm.podman("pull", "--tls-verify=false", base.ref_by_digest, timeout=timeout)
        pm.podman("run", "--name", name, "--network", "none", base.ref_by_digest,
                  "/bin/sh", "-c", script, timeout=timeout)
        pm.podman("commit", "--quiet", name, local, timeout=timeout)
        pm.podman("push", "--tls-verify=false", "--digestfile", str(digestfile), local,
                  f"docker://{registry.address}/{base.repository}:{tag}", timeout=timeout)
    finally:
        pm.podman("rm", "--force", name, timeout=120, check=False)
        pm.podman("rmi", "--force", local, base.ref_by_digest, timeout=120, check=False)
    info = inspect_remote(registry, f"{base.repository}:{tag}")
    return replace(base, tag=tag, digest=str(info["Digest"]), created=str(info["Created"]),
                   build_seconds=0.0, push_seconds=0.0)
