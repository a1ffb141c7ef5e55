"""Operations about the fleet itself rather than about one tool."""

from __future__ import annotations

from pyinfra import logger
from pyinfra.api import FunctionCommand, operation


def unlocked(what: str, url: str | None, key: str | None = None) -> str:
    """The one line refusing a download whose matrix entry has no sha256 (any platform)."""
    where = f" ({key})" if key else ""
    return (f"{what} ({url}) has no sha256 in the matrix{where}: refusing to download it "
            f"unverified; lock it in the fleet's matrix overlay")


def _refuse(state: object, host: object, reason: str) -> bool:
    # Log through the host so the line carries the host's name in pyinfra's output.
    host.log_styled(reason, fg="red", log_func=logger.error)  # type: ignore[attr-defined]
    return False


@operation(is_idempotent=False)
def refuse(reason: str):
    """
    Fail this host (only this host) with a clear reason; the rest of the fleet goes on.

    + reason: one line saying what is wrong and what to do about it

    **Example:**

    .. code:: python

        refuse(name="windows roles", reason="windows hosts are not yet supported by wheelfleet")
    """
    yield FunctionCommand(_refuse, (reason,), {})
