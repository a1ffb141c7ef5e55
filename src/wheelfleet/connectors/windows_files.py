"""Files on Windows hosts reached with ``@winrm``: a fact and an operation in pyinfra's idiom.

pyinfra's own ``files.put`` asks POSIX facts first (``test -e``, ``stat``, ``sha1sum``), which
PowerShell cannot run, so it cannot work on a Windows host through any connector. ``put``
here asks one PowerShell fact (the file's SHA-256) and uploads only when the bytes differ:
a second run changes nothing.
"""

from __future__ import annotations

import os
from typing import IO, Any

from pyinfra import host, state
from pyinfra.api import FactBase, FileUploadCommand, OperationError, StringCommand, operation
from pyinfra.api.util import get_file_sha256
from typing_extensions import override

from . import powershell


class FileSha256(FactBase[str | bool | None]):
    """SHA-256 (hex) of a file on a Windows host; None if missing, False if a directory."""

    @override
    def command(self, path: str) -> StringCommand:
        return StringCommand(powershell.sha256_script(path))

    @override
    def process(self, output: list[str]) -> str | bool | None:
        answer = output[-1].strip() if output else ""
        if answer == "directory":
            return False
        if answer.startswith("sha256 "):
            return answer.split(" ", 1)[1]
        return None


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
