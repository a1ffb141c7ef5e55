"""Nightly verification and onboarding: ``wheelfleet verify`` and ``wheelfleet onboard``.

``verify`` validates an inventory, then runs two pyinfra subprocesses side by side — a dry run
of ``deploys/fleet.py`` (pending changes = drift) and ``deploys/health.py`` (every node builds,
repairs and imports the canary) — and assembles one ``wheelfleet.report/1`` report from both.
``onboard`` takes one host from bare to verified, refusing before any change when the host's
real platform does not match its inventory group.
"""

from wheelfleet.verify.run import run_verify

__all__ = ["run_verify"]
