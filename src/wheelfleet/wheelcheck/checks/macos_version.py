"""``macos-min-version-above-tag``: no Mach-O slice may need a newer macOS than the tag says."""

from __future__ import annotations

from ..binary_facts import MachOFacts
from ..report import MACOS_MIN_VERSION_ABOVE_TAG, Problem
from ..wheel_contents import WheelBinary, WheelContents


def check(binary: WheelBinary, contents: WheelContents) -> list[Problem]:
    facts = binary.facts
    if not isinstance(facts, MachOFacts):
        return []
    problems = []
    for one_slice in facts.slices:
        # The claimed version per arch already has the arm64 >= 11.0 floor applied.
        claimed = contents.claims.macos_min_version.get(one_slice.arch)
        if claimed is None or one_slice.min_os is None or not one_slice.is_loadable:
            continue
        if one_slice.min_os > (*claimed, 0):
            problems.append(
                Problem(
                    MACOS_MIN_VERSION_ABOVE_TAG,
                    binary.path,
                    f"{one_slice.arch} slice needs macOS {_dotted(one_slice.min_os)} "
                    f"({one_slice.min_os_source}) but the tag allows macOS "
                    f"{claimed[0]}.{claimed[1]} for {one_slice.arch}",
                )
            )
    return problems


def _dotted(version: tuple[int, int, int]) -> str:
    major, minor, patch = version
    return f"{major}.{minor}.{patch}" if patch else f"{major}.{minor}"
