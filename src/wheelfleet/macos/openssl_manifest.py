"""The universal OpenSSL's build manifest: what ``openssl_universal.sh`` installed, and whether
that is what the matrix asks for.

The script writes ``<root>/<version>-<sha12>/wheelfleet-openssl.json`` (reachable as
``<root>/current/wheelfleet-openssl.json``) only after the fused libraries verified, e.g.::

    {"schema": "wheelfleet.macos-openssl/1", "version": "3.0.22", "source_sha256": "67eb…",
     "configure_flags": ["no-ssl3", …], "mode": "full", "arches": ["arm64", "x86_64"],
     "min_macos": {"arm64": "11.0", "x86_64": "10.12"},
     "max_minos": {"arm64": "11.0", "x86_64": "10.12"},
     "arch_cflags": {"arm64": "", "x86_64": "-march=core2"},
     "libraries": ["lib/libcrypto.a", "lib/libssl.a"], "prefix": "/opt/…/3.0.22-67ebca7e50d1",
     "build_seconds": {"arm64": 301, "x86_64": 296}, "built_at": "2026-…Z",
     "verification": {"seconds": 0.4, "per_arch": {…}, "files": {…}}, "build_key": "…",
     "cc": {…}, "script_sha256": "…"}

``max_minos`` is the highest minimum macOS found in any member object of that arch's slices:
a wheel that links this OpenSSL statically must not claim an older macOS than that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SCHEMA = "wheelfleet.macos-openssl/1"


@dataclass(frozen=True)
class OpenSSLBuild:
    """The fields of a manifest that decide whether a host's OpenSSL is the matrix's."""

    version: str
    source_sha256: str
    configure_flags: tuple[str, ...]
    mode: str
    arches: tuple[str, ...]
    min_macos: dict[str, str]
    max_minos: dict[str, str]
    arch_cflags: dict[str, str]
    prefix: str

    def deployment_floor(self, arch: str) -> tuple[int, ...]:
        """The oldest macOS a binary linking this build may claim for ``arch``."""
        return _version(self.max_minos[arch])


def parse_manifest(data: Mapping[str, Any]) -> OpenSSLBuild:
    """The manifest as read by a fact; ``ValueError`` (one line) when it is not one."""
    if data.get("schema") != SCHEMA:
        raise ValueError(f"not a {SCHEMA} manifest (schema {data.get('schema')!r})")
    try:
        build = OpenSSLBuild(
            version=_text(data, "version"),
            source_sha256=_text(data, "source_sha256"),
            configure_flags=tuple(_texts(data, "configure_flags")),
            mode=_text(data, "mode"),
            arches=tuple(_texts(data, "arches")),
            min_macos=_table(data, "min_macos"),
            max_minos=_table(data, "max_minos"),
            arch_cflags=_table(data, "arch_cflags"),
            prefix=_text(data, "prefix"),
        )
    except KeyError as exc:
        raise ValueError(f"manifest has no {exc.args[0]}") from None
    for arch in build.arches:
        if arch not in build.min_macos or arch not in build.max_minos:
            raise ValueError(f"manifest lists arch {arch} without its min_macos/max_minos")
        _version(build.min_macos[arch])
        _version(build.max_minos[arch])
    return build


def why_stale(
    data: Mapping[str, Any] | None,
    *,
    version: str,
    sha256: str,
    configure_flags: Sequence[str],
    min_macos: Mapping[str, str],
    arch_cflags: Mapping[str, str] | None = None,
) -> str | None:
    """``None`` when the manifest describes exactly the build the matrix asks for; otherwise
    one line saying why the role must (re)build."""
    if data is None:
        return "no OpenSSL build manifest (never built, or the last build did not verify)"
    try:
        build = parse_manifest(data)
    except ValueError as exc:
        return f"unreadable OpenSSL build manifest: {exc}"
    if build.version != version:
        return f"OpenSSL {build.version} is installed; the matrix pins {version}"
    if build.source_sha256 != sha256:
        return (f"OpenSSL {version} was built from a tarball with sha256 {build.source_sha256}; "
                f"the matrix pins {sha256}")
    if build.mode != "full":
        return f"OpenSSL was built in {build.mode!r} mode (a test build), not the full build"
    if tuple(configure_flags) != build.configure_flags:
        added = [f for f in configure_flags if f not in build.configure_flags]
        dropped = [f for f in build.configure_flags if f not in configure_flags]
        change = ", ".join([*(f"+{f}" for f in added), *(f"-{f}" for f in dropped)])
        return f"configure flags changed ({change or 'order'})"
    if sorted(min_macos) != sorted(build.arches):
        return (f"arches {', '.join(build.arches)} were built; the matrix wants "
                f"{', '.join(sorted(min_macos))}")
    for arch, floor in sorted(min_macos.items()):
        if _version(build.min_macos[arch]) != _version(floor):
            return (f"{arch} was built for macOS {build.min_macos[arch]}; the matrix's floor is "
                    f"{floor}")
        if _version(build.max_minos[arch]) > _version(floor):
            return (f"{arch} objects need macOS {build.max_minos[arch]}, above the floor {floor}")
    for arch, cflags in sorted((arch_cflags or {}).items()):
        if build.arch_cflags.get(arch, "") != cflags:
            return (f"{arch} was built with CFLAGS {build.arch_cflags.get(arch, '')!r}; the "
                    f"matrix says {cflags!r}")
    return None


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise ValueError(f"manifest field {key} is not a string")
    return value


def _texts(data: Mapping[str, Any], key: str) -> list[str]:
    value = data[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"manifest field {key} is not a list of strings")
    return value


def _table(data: Mapping[str, Any], key: str) -> dict[str, str]:
    value = data[key]
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError(f"manifest field {key} is not a table of strings")
    return dict(value)


def _version(text: str) -> tuple[int, ...]:
    parts = text.split(".")
    if not all(p.isdigit() for p in parts):
        raise ValueError(f"not a macOS version: {text!r}")
    numbers = [int(p) for p in parts]
    return tuple(numbers + [0] * (3 - len(numbers)))
