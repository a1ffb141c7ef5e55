"""The one seam between wheelfleet and a platform.

Everything that differs between Linux, macOS and Windows hosts is answered by a ``Platform``:
which settings its hosts may set, how its selection is completed, which roles converge it,
which health checks it plans and how their records are collected, whether a dry run of the
fleet deploy means anything for it (drift), and what ``uname -s`` the onboarding probe expects.
Nothing outside ``wheelfleet.platforms`` and ``roles/`` branches on a platform's name.

A platform with no roles yet is still a platform: its hosts are validated, refused by the
fleet deploy with one line, and reported as ``not-run`` by verify.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from wheelfleet.health.records import host_level
from wheelfleet.settings import HostSettings

if TYPE_CHECKING:
    from wheelfleet.lock.needs import Artifact, PackageSet
    from wheelfleet.matrix import Python
    from wheelfleet.matrix.reader import Reader
    from wheelfleet.report.schema import Check
    from wheelfleet.selection import Selection


class Platform:
    """Defaults describe a platform wheelfleet cannot build on yet."""

    name: ClassVar[str]
    settings_type: ClassVar[type[HostSettings]] = HostSettings
    selection_keys: ClassVar[tuple[str, ...]] = ()  # selection keys beyond pythons/arches
    roles: ClassVar[tuple[str, ...]] = ()  # packages under roles/, in converge order
    kernels: ClassVar[tuple[str, ...]] = ()  # prefixes of this platform's `uname -s`
    kernel_fact: ClassVar[str] = "server.Kernel"  # the fact that answers with that name

    @property
    def supported(self) -> bool:
        return bool(self.roles)

    @property
    def drift_applies(self) -> bool:
        """Whether a dry run of deploys/fleet.py says anything about this platform's hosts:
        without roles its only "change" would be the refusal."""
        return self.supported

    def refusal(self) -> str:
        return (f"{self.name} build hosts are not yet supported by wheelfleet (no roles for "
                f"{self.name}); this host was not changed")

    def check_arch(self, r: Reader, index: int, arch: str, py: Python, tag: str) -> None:
        """Raise InputError when ``py`` has no build for ``arch`` (wheel tag ``tag``) here."""

    def complete(self, r: Reader, sel: Selection) -> None:
        """Fill what the platform adds to a validated selection (Linux: its images)."""

    def planned_cells(self, sel: Selection) -> list[dict[str, str]]:
        """The matrix cells a host is checked on: image, python, arch and variant."""
        # No images off Linux: the platform stands in for the image in the check's name.
        return [{"image": self.name, "python": p.id, "arch": a, "variant": "default"}
                for p in sel.pythons for a in sel.arches]

    def plan_group(self, cell: dict[str, str]) -> str:
        """How progress output groups a host's planned checks (per image, per arch …)."""
        return f"{self.name} {cell['arch']}"

    def collect(self, host: Any, sel: Selection) -> tuple[list[Check], dict[str, str | None]]:
        """Run the host's health checks: its records (one per planned cell) and tool versions."""
        return host_level(self.planned_cells(sel), sel.host, status="not-run",
                          cause=f"{self.name} health checks are not yet supported by "
                          "wheelfleet"), {}

    # What `wheelfleet lock` must lock for a host (wheelfleet.lock.needs asks its platform).
    def canary_pythons(self, sel: Selection) -> list[Python]:
        """The Pythons whose canary the host builds (their build requirements are locked)."""
        return []

    def package_sets(self, sel: Selection) -> list[PackageSet]:
        """Python packages the host installs with pip, each with its (Python, platform) targets."""
        return []

    def artifacts(self, sel: Selection) -> list[Artifact]:
        """Files the host's roles fetch by URL, each with the matrix key of its sha256."""
        return []

    def owns_kernel(self, kernel: str) -> bool:
        return kernel.startswith(self.kernels) if self.kernels else False
