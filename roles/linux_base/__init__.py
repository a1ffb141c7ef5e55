"""linux_base: what every Linux build host needs before it can build or repair a wheel."""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.deb import DebPackages
from pyinfra.operations import apt, files, server

# Compilers and headers for building on the host itself, a venv for host-side tools, and
# patchelf for auditwheel repair outside a container.
DEFAULT_PACKAGES = ["build-essential", "python3-dev", "python3-venv", "python3-pip", "patchelf"]


@deploy("linux_base")
def linux_base(packages: list[str] | None = None, cache_time: int = 86400) -> None:
    """
    Install the build essentials on a Debian/Ubuntu build host.

    + packages: apt packages to ensure (host data ``linux_base_packages`` overrides the default)
    + host data ``trusted_ca_bundle``: a PEM file on the controller with CAs the host must trust
    + cache_time: how old the apt lists may be before an install refreshes them

    **Example:**

    .. code:: python

        from roles.linux_base import linux_base
        linux_base()
    """
    bundle = host.data.get("trusted_ca_bundle")
    if bundle:
        # Fleets behind a TLS-inspecting proxy or with an internal index need the
        # organisation's CAs before pip or apt-over-https can reach anything.
        apt.packages(name="CA certificates tooling", packages=["ca-certificates"],
                     _env={"DEBIAN_FRONTEND": "noninteractive"}, _timeout=600)
        trusted = files.put(name="Fleet's trusted CA bundle", src=bundle,
                            dest="/usr/local/share/ca-certificates/wheelfleet-trusted.crt")
        server.shell(name="Rebuild the system CA store", commands=["update-ca-certificates"],
                     _if=trusted.did_change)

    wanted = packages or host.data.get("linux_base_packages") or DEFAULT_PACKAGES
    installed = host.get_fact(DebPackages) or {}
    missing = [p for p in wanted if p not in installed]
    # Refresh the lists only when something must be installed: an unconditional periodic
    # `apt-get update` would show up as drift on every nightly dry run.
    apt.packages(
        name=f"Install build essentials ({', '.join(wanted)})",
        packages=wanted,
        update=bool(missing),
        cache_time=cache_time if missing else None,
        no_recommends=True,
        _env={"DEBIAN_FRONTEND": "noninteractive"},
        _timeout=1800,
    )
