"""``symbols-too-new``: versioned symbols an ELF needs must fit its manylinux policy.

Same rule as auditwheel: every GLIBC_/GLIBCXX_/CXXABI_/GCC_/... version an ELF requires
(its .gnu.version_r) must be in the policy's list for that prefix.
"""

from __future__ import annotations

from ..binary_facts import ElfFacts
from ..report import SYMBOLS_TOO_NEW, Problem
from ..wheel_contents import WheelBinary, WheelContents
from .libraries import is_dynamic_loader


def check(binary: WheelBinary, contents: WheelContents) -> list[Problem]:
    facts = binary.facts
    if not isinstance(facts, ElfFacts) or not facts.is_loadable:
        return []
    problems = []
    for policy in contents.claims.linux_policies.get(facts.arch, []):
        too_new: dict[str, set[str]] = {}
        for library, version in facts.version_needs:
            # The dynamic loader's own versions are not part of any policy (auditwheel too).
            if is_dynamic_loader(library):
                continue
            prefix = version.partition("_")[0]
            if not policy.allows_version(prefix, version):
                too_new.setdefault(version, set()).add(library)
        if not too_new:
            continue
        needs = ", ".join(
            f"{version} ({', '.join(sorted(libs))})" for version, libs in sorted(too_new.items())
        )
        prefixes = sorted({v.partition("_")[0] for v in too_new})
        ceilings = ", ".join(
            ceiling or f"no {prefix}"
            for prefix in prefixes
            for ceiling in [policy.highest_allowed(prefix)]
        )
        problems.append(
            Problem(
                SYMBOLS_TOO_NEW,
                binary.path,
                f"needs {needs} but {policy.tag} ({policy.name}) allows at most {ceilings}",
            )
        )
    return problems
