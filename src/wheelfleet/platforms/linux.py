"""Linux build hosts: manylinux/musllinux images pinned by digest, the canary in each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wheelfleet.errors import one_of
from wheelfleet.facts.containers import ENGINES
from wheelfleet.platforms.base import Platform
from wheelfleet.settings import (
    HostSettings,
    Ulimit,
    abs_path,
    choice,
    deb_packages,
    flag,
    host_port_map,
    host_ports,
    local_path,
    name,
    positive_int,
    setting,
    ulimits,
)

if TYPE_CHECKING:
    from wheelfleet.lock.needs import PackageSet
    from wheelfleet.matrix import Image, Python
    from wheelfleet.matrix.reader import Reader
    from wheelfleet.report.schema import Check
    from wheelfleet.selection import Selection

# Compilers and headers for building on the host itself, a venv for host-side tools, and
# patchelf for auditwheel repair outside a container.
BASE_PACKAGES = ("build-essential", "python3-dev", "python3-venv", "python3-pip", "patchelf")
# The Debian packages that provide each container engine (roles/linux_builder installs them).
ENGINE_PACKAGES: dict[str, tuple[str, ...]] = {"podman": ("podman", "skopeo"),
                                               "docker": ("docker.io", "skopeo")}
# What containers.conf accepts for these engine keys (containers.conf(5)).
CGROUP_MANAGERS = ("systemd", "cgroupfs")
EVENTS_LOGGERS = ("file", "journald", "none")


# The python3 a Linux builder may run (Debian 12-13, Ubuntu 22.04/24.04, EL 10, Fedora): the
# repair tools' venv is made with it, and the controller cannot know which before connecting,
# so the tools are locked for each.  Not 3.9 (Debian 11, EL 9): auditwheel 6.8 needs 3.10.
HOST_PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")


@dataclass(frozen=True)
class LinuxSettings(HostSettings):
    container_engine: str = setting("podman", read=choice(ENGINES))
    # {"quay.io": "mirror:5000"}: pull the pinned digests through the fleet's mirror.
    registry_mirrors: dict[str, str] = setting(read=host_port_map, factory=dict)
    insecure_registries: tuple[str, ...] = setting((), read=host_ports)  # reached without TLS
    # e.g. runc: also the Debian package installed for it, hence a package-safe name
    container_runtime: str | None = setting(read=name)
    container_cgroup_manager: str | None = setting(read=choice(CGROUP_MANAGERS))
    container_events_logger: str | None = setting(read=choice(EVENTS_LOGGERS))
    container_default_ulimits: tuple[Ulimit, ...] = setting((), read=ulimits)
    container_storage_driver: str | None = setting(read=name)  # overlay, vfs, btrfs ...
    container_storage_root: str = setting("/var/lib/containers/storage", read=abs_path)
    prune_unselected_images: bool = setting(True, read=flag)
    pull_timeout: int = setting(900, read=positive_int)  # seconds per image pull
    linux_base_packages: tuple[str, ...] = setting(BASE_PACKAGES, read=deb_packages)
    apt_cache_time: int = setting(86400, read=positive_int)  # max age of apt lists, seconds
    trusted_ca_bundle: str | None = setting(read=local_path)  # PEM on the controller

    @property
    def engine_run_args(self) -> list[str]:
        """Arguments every health-check container is started with."""
        args = [f"--ulimit={u}" for u in self.container_default_ulimits]
        if self.container_engine == "podman" and self.container_runtime:
            args.insert(0, f"--runtime={self.container_runtime}")
        return args


class Linux(Platform):
    name = "linux"
    settings_type = LinuxSettings
    selection_keys = ("image_policies",)
    roles = ("linux_base", "linux_builder", "wheel_health")
    kernels = ("Linux",)

    def complete(self, r: Reader, sel: Selection) -> None:
        sel.images = self._images(r, sel)

    def planned_cells(self, sel: Selection) -> list[dict[str, str]]:
        from wheelfleet.health.plan import build_plan

        # The agent's own plan, so "planned" and "ran" can never disagree.
        return [{"image": c["image"], "python": c["python"], "arch": c["arch"],
                 "variant": c["variant"]} for c in build_plan(sel)["checks"]]

    def plan_group(self, cell: dict[str, str]) -> str:
        return cell["image"]

    def collect(self, host: Any, sel: Selection) -> tuple[list[Check], dict[str, str | None]]:
        from wheelfleet.health.collect import agent_checks, engine_version

        settings = sel.settings
        assert isinstance(settings, LinuxSettings)
        # The agent runs checks in parallel; bound the whole read by the slowest batch.
        budget = settings.health_timeout * max(1, len(sel.images) * 4)
        checks, tools = agent_checks(host, self.planned_cells(sel), budget)
        return checks, {**engine_version(host, settings.container_engine), **tools}

    def canary_pythons(self, sel: Selection) -> list[Python]:
        # A Linux node checks a Python only inside a selected image that carries it.
        return [py for py in sel.pythons
                if any(t in i.pythons for i in sel.images
                       for t in (py.linux.abi_tags if py.linux else ()))]

    def package_sets(self, sel: Selection) -> list[PackageSet]:
        from wheelfleet.lock.needs import canary_set, tools_set

        m = sel.matrix
        sets = [tools_set(m, self.name, {(v, f"manylinux_2_17_{a}") for v in HOST_PYTHONS
                                         for a in sel.arches})]
        for py in self.canary_pythons(sel):
            tags = py.linux.abi_tags if py.linux else ()
            arches = {i.arch for i in sel.images if any(t in i.pythons for t in tags)}
            sets.append(canary_set(m, py, {f"manylinux_2_17_{a}" for a in arches}))
        return sets

    @staticmethod
    def _images(r: Reader, sel: Selection) -> list[Image]:
        policies = r.str_list("image_policies")
        if not policies:
            raise r.fail("image_policies", f"empty; expected {one_of(sel.matrix.policies)}")
        images = []
        for i, policy in enumerate(policies):
            if policy not in sel.matrix.policies:
                eol = sel.matrix.eol_policies.get(policy)
                why = f" (EOL since {eol}, no image pinned)" if eol else ""
                raise r.child("image_policies").fail(
                    i, f"no pinned image for policy {policy!r}{why}; expected "
                       f"{one_of(sel.matrix.policies)}")
            for arch in sel.arches:
                found = sel.matrix.images_for(policy, arch)
                if not found:
                    have = [im.arch for im in sel.matrix.images_for(policy)]
                    raise r.child("image_policies").fail(
                        i, f"policy {policy} has no pinned {arch} image; pinned arches: "
                           f"{', '.join(have)}")
                images.extend(found)
        for py in sel.pythons:
            assert py.linux is not None
            if not any(t in im.pythons for im in images for t in py.linux.abi_tags):
                raise r.fail("pythons", f"Python {py.id} ({', '.join(py.linux.abi_tags)}) is in "
                             f"none of the selected images ({', '.join(policies)})")
        return images
