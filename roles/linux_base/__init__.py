"""linux_base: what every Linux build host needs before it can build or repair a wheel."""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.deb import DebPackages
from pyinfra.operations import apt, files, server

from wheelfleet.platforms.linux import LinuxSettings
from wheelfleet.selection import Selection


@deploy("linux_base")
def linux_base(selection: Selection) -> None:
    """
    Install the build essentials on a Debian/Ubuntu build host.

    + selection: the host's validated selection; its settings say which packages
      (``linux_base_packages``), the CAs to trust (``trusted_ca_bundle``, a PEM on the
      controller) and how old the apt lists may be before an install refreshes them
      (``apt_cache_time``)

    **Example:**

    .. code:: python

        linux_base(selection=current_selection())
    """
    settings = selection.settings
    assert isinstance(settings, LinuxSettings)
    bundle = settings.trusted_ca_bundle
    if bundle:
        # Fleets behind a TLS-inspecting proxy or with an internal index need the
        # organisation's CAs before pip or apt-over-https can reach anything.
        apt.packages(name="CA certificates tooling", packages=["ca-certificates"],
                     _env={"DEBIAN_FRONTEND": "noninteractive"}, _timeout=600)
        trusted = files.put(name="Fleet's trusted CA bundle", src=bundle,
                            dest="/usr/local/share/ca-certificates/wheelfleet-trusted.crt")
        server.shell(name="Rebuild the system CA store", commands=["update-ca-certificates"],
                     _if=trusted.did_change)

    wanted = list(settings.linux_base_packages)
    installed = host.get_fact(DebPackages) or {}
    missing = [p for p in wanted if p not in installed]
    # Refresh the lists only when something must be installed: an unconditional periodic
    # `apt-get update` would show up as drift on every nightly dry run.
    apt.packages(
        name=f"Install build essentials ({', '.join(wanted)})",
        packages=wanted,
        update=bool(missing),
        cache_time=settings.apt_cache_time if missing else None,
        no_recommends=True,
        _env={"DEBIAN_FRONTEND": "noninteractive"},
        _timeout=1800,
    )
