"""linux_base: what every Linux build host needs before it can build or repair a wheel."""

from __future__ import annotations

from pyinfra.api import deploy
from pyinfra.facts.deb import DebPackages
from pyinfra.operations import server

from wheelfleet.facts.once import prefetch, prefetch_files
from wheelfleet.operations.files import managed_file
from wheelfleet.operations.packages import debian_packages
from wheelfleet.platforms.linux import LinuxSettings
from wheelfleet.selection import Selection

TRUSTED_CA = "/usr/local/share/ca-certificates/wheelfleet-trusted.crt"


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
    # The host's first read also answers what every role after this one will ask for.
    prefetch(DebPackages)
    if bundle:
        prefetch_files([TRUSTED_CA])
        # Fleets behind a TLS-inspecting proxy or with an internal index need the
        # organisation's CAs before pip or apt-over-https can reach anything.
        debian_packages(name="CA certificates tooling", packages=["ca-certificates"],
                        cache_time=settings.apt_cache_time, _timeout=600)
        trusted = managed_file(name="Fleet's trusted CA bundle", src=bundle, dest=TRUSTED_CA)
        server.shell(name="Rebuild the system CA store", commands=["update-ca-certificates"],
                     _if=trusted.did_change)

    wanted = list(settings.linux_base_packages)
    debian_packages(name=f"Install build essentials ({', '.join(wanted)})", packages=wanted,
                    cache_time=settings.apt_cache_time, _timeout=1800)
