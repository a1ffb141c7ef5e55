"""The one exception type of the local lab (hosts, registry, images, cached roots).

Its message is a single line meant for a person: ``wheelfleet`` prints it as is, without a
traceback, and exits 1 (a :class:`~wheelfleet.errors.WheelfleetError`), so every raise site
says what failed and, where it helps, what to do.
"""

from wheelfleet.errors import WheelfleetError


class LabError(WheelfleetError):
    """A lab step failed; ``str(err)`` is one line that says which and why."""
