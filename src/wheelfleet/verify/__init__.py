"""Nightly verification and onboarding: ``wheelfleet verify`` and ``wheelfleet onboard``.

``verify`` validates an inventory, then runs two pyinfra subprocesses side by side — a dry run
of ``deploys/fleet.py`` (pending changes = drift) and ``deploys/health.py`` (every node builds,
repairs and imports the canary) — and assembles one ``wheelfleet.report/1`` report from both.
``onboard`` takes one host from bare to verified, refusing before any change when the host's
real platform does not match its inventory group.

The programmatic entry points (what ``wheelfleet demo`` and other tools import):

``run_verify(inventory, *, limit=None, out=None, reports_root="reports", echo=print,
timeout=7200) -> (exit status, report dict, {"json", "junit", "html": Path})``, here, and
``onboard.onboard(inventory, host, *, out=None, reports_root="reports", timeout=3600,
echo=print)`` with the same return shape, in the submodule of its name (``from
wheelfleet.verify import onboard``).  Both raise :class:`wheelfleet.errors.InputError` for a
bad inventory before anything connects; ``onboard`` also raises ``Refused`` (wrong platform)
and ``ProbeError`` (host unreachable) before anything on the host changes.
"""

from typing import Any

__all__ = ["run_verify"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the health collection (run inside pyinfra) imports
    # wheelfleet.verify.deadline, and must not pull in the whole verify run with it.
    if name == "run_verify":
        from wheelfleet.verify.run import run_verify

        return run_verify
    raise AttributeError(name)
