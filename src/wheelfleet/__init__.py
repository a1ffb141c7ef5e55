"""wheelfleet: provision, converge and verify a fleet of wheel-build hosts."""

__version__ = "0.1.0"
