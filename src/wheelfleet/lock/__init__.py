"""``wheelfleet lock``: every download hash-locked.

``records`` (the ``python_locks`` schema, read by the matrix loader), ``needs`` (what a host's
selection downloads), ``fetch`` (hashing a URL, pip's chosen files), ``overlay`` (writing the
fleet's overlay), ``fleet`` (its hosts), ``run`` (the command), ``cli`` (its arguments).
Kept free of imports here: the matrix loader imports ``records``.
"""
