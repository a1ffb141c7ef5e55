"""wheelcheck: validate a wheel's binaries against its tags, for any platform, from any OS.

``check_wheel(path)`` checks one wheel in this process and returns a ``WheelReport``;
``check_wheels(paths)`` checks wheels in worker processes, each under a hard timeout and a
memory cap as well (what a caller facing untrusted wheels wants). Both keep every wheel
within ``Budgets``. ``wheelfleet check-wheel`` is ``cli``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .budgets import Budgets
from .report import ALL_CODES, Problem, WheelReport

if TYPE_CHECKING:
    from .checker import check_wheel
    from .pool import check_wheels

__all__ = ["ALL_CODES", "Budgets", "Problem", "WheelReport", "check_wheel", "check_wheels"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the process that hands wheels to workers never loads the
    # checks and their parsers, only the workers do.
    if name == "check_wheel":
        from .checker import check_wheel

        return check_wheel
    if name == "check_wheels":
        from .pool import check_wheels

        return check_wheels
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
