"""``python -m wheelfleet.testregistry`` -- see :mod:`.cli`."""

from .cli import main

raise SystemExit(main())
