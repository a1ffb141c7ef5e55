"""The programmatic entry points (what ``wheelfleet demo`` and other tools import).

``run_verify(inventory, *, limit=None, out=None, reports_root="reports", echo=print,
timeout=7200) -> (exit status, report dict, {"json", "junit", "html": Path})`` and
``onboard(inventory, host, *, out=None, reports_root="reports", timeout=3600, echo=print)``
with the same return shape.
"""

from wheelfleet.verify.onboard import onboard
from wheelfleet.verify.run import run_verify

__all__ = ["onboard", "run_verify"]
