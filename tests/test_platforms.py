"""The platform seam: one module per platform, typed settings, nothing else branching on names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from wheelfleet.errors import InputError
from wheelfleet.platforms import PLATFORMS, platform, platform_of_kernel
from wheelfleet.platforms.linux import BASE_PACKAGES, LinuxSettings
from wheelfleet.selection import select_for_host
from wheelfleet.settings import Ulimit

ROOT = Path(__file__).resolve().parents[1]
LINUX = {"pythons": ["3.12"], "arches": ["x86_64"], "image_policies": ["manylinux_2_28"]}


def test_every_platform_of_the_matrix_has_a_module():
    from wheelfleet.matrix.model import PLATFORMS as MATRIX_PLATFORMS

    assert sorted(PLATFORMS) == sorted(MATRIX_PLATFORMS)
    assert platform("linux").roles == ("linux_base", "linux_builder", "wheel_health")
    assert platform("macos").roles[:2] == ("macos_base", "macos_pythons")
    assert platform("windows").roles == ("windows_msvc", "windows_pythons", "windows_health")
    for plat in PLATFORMS.values():
        for role in plat.roles:
            assert (ROOT / "roles" / role / "__init__.py").is_file(), role


@pytest.mark.parametrize("kernel,expected", [
    ("Linux", "linux"), ("Darwin", "macos"), ("MINGW64_NT-10.0-19045", "windows"),
    ("CYGWIN_NT-10.0", "windows"), ("Windows_NT", "windows"), ("FreeBSD", None), (None, None),
])
def test_the_onboarding_probe_asks_the_platforms(kernel, expected):
    assert platform_of_kernel(kernel) == expected


def test_linux_settings_are_typed_with_every_default_in_one_place():
    sel = select_for_host("b1", ["linux"], dict(LINUX), "inv.py")
    assert sel.settings == LinuxSettings()
    assert sel.settings.container_engine == "podman" and sel.settings.health_timeout == 900
    assert sel.settings.linux_base_packages == BASE_PACKAGES
    sel = select_for_host("b1", ["linux"], {
        **LINUX, "container_engine": "docker", "container_default_ulimits": ["nofile=1024:2048"],
        "container_runtime": "runc", "apt_cache_time": 60, "health_parallel": 4,
        "registry_mirrors": {"quay.io": "mirror.internal:5000"}, "ssh_port": 2222}, "inv.py")
    settings = sel.settings
    assert isinstance(settings, LinuxSettings)
    assert settings.container_default_ulimits == (Ulimit("nofile", 1024, 2048),)
    assert settings.apt_cache_time == 60 and settings.health_parallel == 4
    assert sel.registry_mirrors == {"quay.io": "mirror.internal:5000"}
    # podman-only: docker takes the runtime from its daemon, not per container.
    assert settings.engine_run_args == ["--ulimit=nofile=1024:2048"]
    with pytest.raises(AttributeError):
        settings.container_engine = "podman"  # type: ignore[misc]  # frozen


def test_allowed_keys_come_from_the_settings_fields():
    with pytest.raises(InputError, match=r"m1\.container_engine: unknown key"):
        select_for_host("m1", ["macos"], {"pythons": ["3.12"], "arches": ["arm64"],
                                          "container_engine": "podman"}, "inv.py")
    mac = select_for_host("m1", ["macos"], {"pythons": ["3.12"], "arches": ["arm64"],
                                            "pyenv_root": "/opt/pyenv"}, "inv.py")
    assert mac.settings.pyenv_root == "/opt/pyenv"  # type: ignore[attr-defined]
    with pytest.raises(InputError, match=r"b1\.apt_cache_time: expected a positive integer"):
        select_for_host("b1", ["linux"], {**LINUX, "apt_cache_time": 0}, "inv.py")


def test_nothing_outside_the_platform_modules_branches_on_a_platform_name():
    pattern = re.compile(r"""[!=]=\s*["'](linux|macos|windows)["']""")
    offenders = []
    for base in ("src/wheelfleet", "deploys"):
        for path in sorted((ROOT / base).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(("src/wheelfleet/platforms/", "src/wheelfleet/wheelcheck/",
                               "src/wheelfleet/matrix/")):
                # wheelcheck judges a wheel's own tags and the matrix describes each
                # platform's toolchain: neither decides what a host of a platform does.
                continue
            offenders += [f"{rel}:{n}" for n, line in enumerate(path.read_text().splitlines(), 1)
                          if pattern.search(line)]
    assert offenders == []
