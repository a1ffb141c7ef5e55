"""Per-host deadlines inside a pyinfra run: one hung host never holds the others.

pyinfra loads a deploy file for every host in its own gevent greenlet.  A host whose engine
hangs, or whose sshd accepts the connection and then stops answering, blocks only that
greenlet — but for as long as a socket read can wait (a channel open waits an hour).  Two
bounds keep such a host to itself:

* every remote step has a timeout: pyinfra's ``_timeout`` (given to facts as host data with
  ``--data _timeout=N``, or explicitly), after which pyinfra logs ``Command timed out after
  Ns`` and which fact it was loading;
* every host has a deadline: :class:`Deadline` raises into the host's greenlet when its time
  is up, wherever it is blocked, and names the step it interrupted (the fact being loaded, a
  file transfer, or what the caller said it was doing).

Both end as one line in pyinfra's log, ``[host] wheelfleet: timed out after N s at STEP``
(``verify.logscan.timeouts`` reads it back), and the other hosts carry on.

>>> deadline = Deadline(600)                                        # doctest: +SKIP
>>> timed_out = deadline.run(lambda: converge(current_selection()))  # doctest: +SKIP
>>> timed_out and str(timed_out)                                     # doctest: +SKIP
'timed out after 600 s at fact wheelfleet.facts.containers.ContainerStore (engine=podman)'
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

STEP_TIMEOUT_ENV = "WHEELFLEET_STEP_TIMEOUT"
DEADLINE_ENV = "WHEELFLEET_HOST_DEADLINE"
DEFAULT_STEP_TIMEOUT = 300  # one fact or file operation; a healthy one takes seconds
DEFAULT_DRIFT_DEADLINE = 1800  # a whole host's dry run
MARK = "wheelfleet: timed out after"
FLEET_DEPLOY_ENV = "WHEELFLEET_FLEET_DEPLOY"  # the fleet deploy verify/drift_deploy.py runs


def _env_seconds(name: str) -> int | None:
    text = os.environ.get(name, "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def step_timeout() -> int:
    """Seconds any single remote step may take (``WHEELFLEET_STEP_TIMEOUT``, else 300)."""
    return _env_seconds(STEP_TIMEOUT_ENV) or DEFAULT_STEP_TIMEOUT


def deadline_override() -> int | None:
    """A host deadline the caller set for this run (``WHEELFLEET_HOST_DEADLINE``), if any."""
    return _env_seconds(DEADLINE_ENV)


class HostTimedOut(Exception):
    """A host's deadline passed; str is ``timed out after N s at STEP``."""

    def __init__(self, seconds: float, step: str) -> None:
        self.seconds = round(seconds)
        self.step = step
        super().__init__(f"timed out after {self.seconds} s at {step}")


class _Expired(BaseException):  # noqa: N818 - a signal, not an error anyone should catch
    """Raised into the host's greenlet; a BaseException so that no ``except Exception`` on
    the way (pyinfra's, paramiko's, ours) can swallow it."""

    def __init__(self, owner: Deadline) -> None:
        super().__init__("host deadline")
        self.owner = owner


class Deadline:
    """One host's time limit, counted from its creation, enforced in the current greenlet.

    ``limit`` may be given later or tightened (:meth:`limit_to`): the health check learns its
    budget only when it knows the host's plan.  ``step`` is what the caller says it is doing;
    when it is ``None`` the interrupted step is read from where the greenlet was blocked.
    """

    def __init__(self, limit: float | None = None) -> None:
        self.started = time.monotonic()
        self.limit: float | None = None
        self.step: str | None = None
        self._signal = _Expired(self)
        self._timer: Any = None
        self._armed = False
        if limit is not None:
            self.limit = limit

    def remaining(self) -> float | None:
        if self.limit is None:
            return None
        return self.limit - (time.monotonic() - self.started)

    def limit_to(self, limit: float) -> None:
        """Set (or tighten) the limit; re-arms the timer when it is running."""
        self.limit = limit if self.limit is None else min(self.limit, limit)
        if self._armed:
            self._arm()

    def _arm(self) -> None:
        import gevent

        if self._timer is not None:
            self._timer.close()
        remaining = self.remaining()
        self._timer = None if remaining is None else gevent.Timeout(max(0.01, remaining),
                                                                    self._signal)
        if self._timer is not None:
            self._timer.start()

    def run(self, work: Callable[[], Any]) -> HostTimedOut | None:
        """Run ``work`` until it returns or the deadline passes (then: why, one line)."""
        self._armed = True
        self._arm()
        try:
            work()
            return None
        except _Expired as err:
            if err.owner is not self:
                raise
            return HostTimedOut(self.limit or 0, self.step or step_of(err.__traceback__))
        finally:
            self._armed = False
            if self._timer is not None:
                self._timer.close()
                self._timer = None


def step_of(tb: TracebackType | None) -> str:
    """Name the remote step a traceback was interrupted in: the innermost fact pyinfra was
    loading, a file transfer, a connection, else the innermost deploy code."""
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        code, local = frame.f_code, frame.f_locals
        path = code.co_filename.replace(os.sep, "/")
        if code.co_name == "_get_fact" and "name" in local:
            args = local.get("kwargs_str")
            return f"fact {local['name']}" + (f" ({args})" if args else "")
        if "/pyinfra/" in path and code.co_name in ("get_file", "put_file", "_get_file",
                                                      "_put_file"):
            return "file transfer"
        if "/pyinfra/api/" in path and code.co_name == "connect":
            return "connect"
    for frame in reversed(frames):
        path = frame.f_code.co_filename.replace(os.sep, "/")
        if "/pyinfra/" not in path and "/gevent/" not in path and "/paramiko/" not in path \
                and not path.endswith("/verify/deadline.py"):
            return f"{frame.f_code.co_name} ({os.path.basename(path)}:{frame.f_lineno})"
    return "an unknown step"


def log_timeout(host: Any, timed_out: HostTimedOut) -> None:
    """Say it in pyinfra's log, as the host's own line (``[host] wheelfleet: timed out ...``)."""
    from pyinfra import logger

    logger.error(f"{host.print_prefix}wheelfleet: {timed_out}")
