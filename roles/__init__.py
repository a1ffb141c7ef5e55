"""Roles: one folder per capability, each a thin pyinfra ``@deploy`` reading the matrix."""
