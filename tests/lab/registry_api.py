"""The few distribution-v2 HTTP API calls the fault tests need (plain HTTP, loopback).

Speaking the API directly, instead of going through podman, keeps fault injection
fast (no image pull/import) and independent of any container storage.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.parse
import urllib.request

from wheelfleet.lab import Registry

MANIFEST_MEDIA_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
# Proxy-less, as the lab's own registry client: the registry is on loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class RegistryAPIError(RuntimeError):
    """The registry answered an API call with an unexpected status."""


def _request(
    registry: Registry,
    method: str,
    path_or_url: str,
    *,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> tuple[int, dict[str, str], bytes]:
    url = path_or_url if "://" in path_or_url else f"{registry.url}{path_or_url}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return int(resp.status), dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), dict(exc.headers.items()), exc.read()


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def get_manifest(registry: Registry, repository: str, reference: str) -> tuple[bytes, str]:
    """Raw manifest bytes and media type for ``repository`` at tag or digest ``reference``."""
    status, headers, body = _request(
        registry, "GET", f"/v2/{repository}/manifests/{reference}",
        headers={"Accept": ", ".join(MANIFEST_MEDIA_TYPES)},
    )
    if status != 200:
        raise RegistryAPIError(
            f"GET manifest {repository}:{reference}: HTTP {status} {body[:300]!r}"
        )
    return body, headers.get("Content-Type", "")


def get_blob(registry: Registry, repository: str, digest: str) -> bytes:
    status, _, body = _request(registry, "GET", f"/v2/{repository}/blobs/{digest}", timeout=600)
    if status != 200:
        raise RegistryAPIError(f"GET blob {repository}@{digest}: HTTP {status}")
    return body


def put_blob(registry: Registry, repository: str, data: bytes) -> str:
    """Monolithic upload (POST to open a session, PUT with ?digest= to finish)."""
    digest = sha256_digest(data)
    status, headers, body = _request(registry, "POST", f"/v2/{repository}/blobs/uploads/")
    if status != 202:
        raise RegistryAPIError(f"open upload {repository}: HTTP {status} {body[:300]!r}")
    location = headers["Location"]
    if "://" not in location:
        location = f"{registry.url}{location}"
    sep = "&" if "?" in location else "?"
    url = f"{location}{sep}digest={urllib.parse.quote(digest)}"
    status, _, body = _request(
        registry, "PUT", url, data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    if status != 201:
        raise RegistryAPIError(f"finish upload {repository}: HTTP {status} {body[:300]!r}")
    return digest


def put_manifest(
    registry: Registry, repository: str, reference: str, manifest: bytes, media_type: str
) -> str:
    """Store ``manifest`` under tag/digest ``reference``; returns the registry's digest."""
    status, headers, body = _request(
        registry, "PUT", f"/v2/{repository}/manifests/{reference}", data=manifest,
        headers={"Content-Type": media_type},
    )
    if status != 201:
        raise RegistryAPIError(f"PUT manifest {repository}:{reference}: HTTP {status} {body!r}")
    return headers.get("Docker-Content-Digest") or sha256_digest(manifest)


def delete_manifest(registry: Registry, repository: str, digest: str) -> int:
    """``DELETE /v2/<repo>/manifests/<digest>``; returns 202 on success (404 if absent).

    Deleting removes the manifest *and* every tag pointing at it, so afterwards
    neither a pull by that digest nor one by such a tag can succeed.
    """
    status, _, body = _request(registry, "DELETE", f"/v2/{repository}/manifests/{digest}")
    if status not in (202, 404):
        raise RegistryAPIError(f"DELETE {repository}@{digest}: HTTP {status} {body[:300]!r}")
    return status


def manifest_status(registry: Registry, repository: str, reference: str) -> int:
    """HTTP status of ``HEAD /v2/<repo>/manifests/<ref>`` with OCI+Docker accepts."""
    status, _, _ = _request(
        registry, "HEAD", f"/v2/{repository}/manifests/{reference}",
        headers={"Accept": ", ".join(MANIFEST_MEDIA_TYPES)}, timeout=10,
    )
    return status
