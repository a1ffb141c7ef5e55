"""wheelcheck: validate a wheel's binaries against its tags, for any platform, from any OS.

``check_wheel(path)`` checks one wheel in this process and returns a ``WheelReport``;
``check_wheels(paths)`` checks wheels in worker processes, each under a hard timeout and a
memory cap as well (what a caller facing untrusted wheels wants). Both keep every wheel
within ``Budgets``. ``wheelfleet check-wheel`` is ``cli``.
"""

from __future__ import annotations

from .budgets import Budgets
from .checker import check_wheel
from .pool import check_wheels
from .report import ALL_CODES, Problem, WheelReport

__all__ = ["ALL_CODES", "Budgets", "Problem", "WheelReport", "check_wheel", "check_wheels"]
