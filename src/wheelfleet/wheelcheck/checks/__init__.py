"""One module per kind of check; each exposes ``check(binary, contents) -> list[Problem]``.

``ALL_BINARY_CHECKS`` is the order problems are reported in for each binary.
"""

from __future__ import annotations

from collections.abc import Callable

from ..report import Problem
from ..wheel_contents import WheelBinary, WheelContents
from . import abi3, architecture, exec_stack, libraries, macos_version, symbol_versions

BinaryCheck = Callable[[WheelBinary, WheelContents], list[Problem]]

ALL_BINARY_CHECKS: tuple[BinaryCheck, ...] = (
    architecture.check,
    macos_version.check,
    symbol_versions.check,
    libraries.check,
    exec_stack.check,
    abi3.check,
)
