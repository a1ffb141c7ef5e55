"""For every test directory: ``tests/`` is importable, so the lab's test-only helpers are too
(``from lab.faults import push_variant``) wherever a test needs a misbehaving registry."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
