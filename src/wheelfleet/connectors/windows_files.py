"""Files on Windows hosts reached with ``@winrm``: a fact and an operation in pyinfra's idiom.

pyinfra's own ``files.put`` asks POSIX facts first (``test -e``, ``stat``, ``sha1sum``), which
PowerShell cannot run, so it cannot work on a Windows host through any connector. ``put``
here asks one PowerShell fact (``facts.windows.FileSha256``, the file's SHA-256) and uploads
only when the bytes differ: a second run changes nothing.
"""

from __future__ import annotations

import os
from typing import IO, Any

from pyinfra import host, state
from pyinfra.api import FileUploadCommand, OperationError, operation
from pyinfra.api.util import get_file_sha256

# The fact lives with the other Windows facts; imported here for the operation (and for
# anything that imported it from this module before).
from wheelfleet.facts.windows import FileSha256

__all__ = ["FileSha256", "put"]


@operation()
def put(src: str | IO[Any], dest: str, force: bool = False) -> Any:
    """Upload ``src`` (a path relative to the deploy, or a file object) to ``dest``.

    + src: local file or file-like object
    + dest: full Windows path of the file to write
    + force: upload even when the host's copy has the same SHA-256
    """
    if isinstance(src, str) and not os.path.isabs(src) and state.cwd:
        src = os.path.join(state.cwd, src)
    if isinstance(src, str) and not os.path.isfile(src):
        raise OperationError(f"No such file: {src}")
    remote = host.get_fact(FileSha256, path=dest)
    if remote is False:
        raise OperationError(f"{dest} is a directory")
    if remote == get_file_sha256(src) and not force:
        host.noop(f"{dest} is up to date")
        return
    yield FileUploadCommand(src, dest)
