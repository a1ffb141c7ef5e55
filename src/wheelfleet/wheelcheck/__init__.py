"""wheelcheck: validate a wheel's binaries against its tags, for any platform, from any OS.

``check_wheel(path)`` returns a ``WheelReport``; ``wheelfleet check-wheel`` is ``cli.main``.
"""

from __future__ import annotations

from .checker import check_wheel
from .report import ALL_CODES, Problem, WheelReport

__all__ = ["ALL_CODES", "Problem", "WheelReport", "check_wheel"]
