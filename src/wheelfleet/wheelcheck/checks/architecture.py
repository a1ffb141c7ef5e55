"""``arch-mismatch`` and ``missing-arch-slice``: does each binary run where the tags say?"""

from __future__ import annotations

from ..binary_facts import ElfFacts, MachOFacts, PEFacts
from ..report import ARCH_MISMATCH, MISSING_ARCH_SLICE, Problem
from ..wheel_contents import WheelBinary, WheelContents

# ELF has one EM_ARM for every 32-bit ARM flavour the tags distinguish.
_ELF_ARCH_ALIASES = {"armv7l": {"armv7l", "armv6l"}}


def check(binary: WheelBinary, contents: WheelContents) -> list[Problem]:
    claims = contents.claims
    family = binary.family
    allowed = claims.archs_for(family)
    facts = binary.facts
    if not allowed:
        if not claims.claimed_families() or claims.unknown_platforms:
            # Tags we cannot interpret (android, ios, ...): no basis for a verdict.
            return []
        tagged = ", ".join(sorted(claims.platform_tags))
        return [_mismatch(binary, f"{_format(facts)} binary in a wheel tagged {tagged}")]
    if isinstance(facts, ElfFacts):
        if not facts.is_loadable:
            return []
        if not _ELF_ARCH_ALIASES.get(facts.arch, {facts.arch}) & allowed:
            return [_mismatch(binary, _differs(facts.arch, allowed, "ELF e_machine"))]
        return []
    if isinstance(facts, PEFacts):
        if facts.architecture_neutral or facts.arch in allowed:
            return []
        return [_mismatch(binary, _differs(facts.arch, allowed, "PE machine"))]
    return _check_macho(binary, facts, allowed)


def _check_macho(binary: WheelBinary, facts: MachOFacts, allowed: set[str]) -> list[Problem]:
    loadable = [s for s in facts.slices if s.is_loadable]
    if not loadable:
        return []
    problems = []
    foreign = sorted({s.platform for s in loadable if s.platform not in (None, "macOS")})
    if foreign:
        problems.append(_mismatch(binary, f"Mach-O built for {', '.join(foreign)}, not macOS"))
    present = {s.arch for s in loadable}
    if not present & allowed:
        problems.append(
            _mismatch(binary, _differs("/".join(sorted(present)), allowed, "Mach-O cputype"))
        )
        return problems
    missing = allowed - present
    if missing:
        # Extra slices are harmless; a missing one means the module fails on that CPU.
        problems.append(
            Problem(
                MISSING_ARCH_SLICE,
                binary.path,
                f"has slices {', '.join(sorted(present))} but the tags claim "
                f"{', '.join(sorted(allowed))}: missing {', '.join(sorted(missing))}",
            )
        )
    return problems


def _format(facts: object) -> str:
    if isinstance(facts, ElfFacts):
        return "ELF (Linux)"
    if isinstance(facts, MachOFacts):
        return "Mach-O (macOS)"
    return "PE (Windows)"


def _differs(found: str, allowed: set[str], field: str) -> str:
    family_words = ", ".join(sorted(allowed))
    return f"{field} is {found} but the platform tag allows {family_words}"


def _mismatch(binary: WheelBinary, message: str) -> Problem:
    return Problem(ARCH_MISMATCH, binary.path, message)

