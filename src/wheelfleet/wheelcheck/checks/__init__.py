"""One module per kind of check; each exposes ``check(binary, contents) -> list[Problem]``.

``ALL_BINARY_CHECKS`` is the order problems are reported in for each binary.
"""

from __future__ import annotations

from collections.abc import Callable

from ..report import Problem
from ..wheel_contents import WheelBinary, WheelContents
from . import (
    abi3,
    architecture,
    exec_stack,
    libc_family,
    libraries,
    macos_version,
    pure_wheel,
    python_abi,
    symbol_versions,
    windows_crt,
)

BinaryCheck = Callable[[WheelBinary, WheelContents], list[Problem]]

ALL_BINARY_CHECKS: tuple[BinaryCheck, ...] = (
    architecture.check,
    python_abi.check,
    macos_version.check,
    libc_family.check,
    symbol_versions.check,
    libraries.check,
    windows_crt.check,
    exec_stack.check,
    abi3.check,
    pure_wheel.check,  # on platform wheels: only when WHEEL says Root-Is-Purelib: true
)

# Pure wheels (``*-none-any``) get only this one.
PURE_WHEEL_CHECKS: tuple[BinaryCheck, ...] = (pure_wheel.check,)
