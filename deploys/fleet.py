"""Converge every host of a fleet: ``pyinfra -y INVENTORY deploys/fleet.py``.

Each host gets its platform's roles (``wheelfleet.platforms``).  A host whose selection is
invalid, or whose platform has no roles yet, fails alone with a one-line reason; the rest of
the fleet converges.
"""

import sys
from pathlib import Path

# Roles live beside deploys/ in the fleet repository, not in the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wheelfleet.deploying import converge, current_selection, let_inspect_cache  # noqa: E402

let_inspect_cache(__file__)  # pyinfra inspects the stack per operation: cheap lookups

converge(current_selection())
