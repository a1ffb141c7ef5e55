"""Converge every host of a fleet: ``pyinfra -y INVENTORY deploys/fleet.py``.

Roles are dispatched by the host's platform group.  A host whose selection is invalid, or whose
platform has no roles yet, fails alone with a one-line reason; the rest of the fleet converges.
"""

import sys
from pathlib import Path

# Roles live beside deploys/ in the fleet repository, not in the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from roles.linux_base import linux_base  # noqa: E402
from roles.linux_builder import linux_builder  # noqa: E402
from roles.wheel_health import wheel_health  # noqa: E402
from wheelfleet.deploying import current_selection  # noqa: E402
from wheelfleet.errors import InputError  # noqa: E402
from wheelfleet.operations.fleet import refuse  # noqa: E402

selection = current_selection()

if isinstance(selection, InputError):
    refuse(name="Validate host selection", reason=f"invalid selection: {selection}")
elif selection.platform == "linux":
    linux_base()
    linux_builder(selection=selection)
    wheel_health(selection=selection)
else:
    refuse(
        name=f"{selection.platform} roles",
        reason=f"{selection.platform} build hosts are not yet supported by wheelfleet "
        f"(no roles for {selection.platform}); this host was not changed",
    )
