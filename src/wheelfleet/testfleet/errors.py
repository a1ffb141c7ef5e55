"""The one exception type of the test fleet.

Its message is a single line meant for a person (the CLI prints it as is, without a
traceback), so every raise site says what failed and, where it helps, what to do.
"""


class FleetError(Exception):
    """A test-fleet step failed; ``str(err)`` is one line that says which and why."""
