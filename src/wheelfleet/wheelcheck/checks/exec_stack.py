"""``executable-stack``: an ELF must not ask for an executable stack.

A PT_GNU_STACK header with PF_X asks for one. glibc's loader also treats a missing
PT_GNU_STACK as a request on x86 (its DEFAULT_STACK_PERMS include PF_X there), and newer glibc
refuses to dlopen such objects; musl never makes stacks executable, so only glibc targets count
for the missing-header case.
"""

from __future__ import annotations

from ..binary_facts import ElfFacts
from ..report import EXECUTABLE_STACK, Problem
from ..wheel_contents import WheelBinary, WheelContents

_EXEC_STACK_BY_DEFAULT = {"x86_64", "i686"}


def check(binary: WheelBinary, contents: WheelContents) -> list[Problem]:
    facts = binary.facts
    if not isinstance(facts, ElfFacts) or not facts.is_loadable:
        return []
    if facts.gnu_stack_executable:
        return [Problem(EXECUTABLE_STACK, binary.path, "PT_GNU_STACK is executable (RWE)")]
    if facts.gnu_stack_executable is None and facts.arch in _EXEC_STACK_BY_DEFAULT:
        policies = contents.claims.linux_policies.get(facts.arch, [])
        if not policies or any(p.libc == "glibc" for p in policies):
            return [
                Problem(
                    EXECUTABLE_STACK,
                    binary.path,
                    f"no PT_GNU_STACK header: glibc gives {facts.arch} objects without one "
                    "an executable stack",
                )
            ]
    return []
