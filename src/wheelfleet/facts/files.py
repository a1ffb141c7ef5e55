"""One read for many managed files: type, mode and SHA-256 of every path a role manages.

pyinfra's ``files.put`` / ``files.template`` each read the destination, its directory and its
hash (three round trips per file); a role managing ten files spends thirty SSH exchanges to
learn that nothing changed.  This fact answers the same questions for all of them at once.
"""

from __future__ import annotations

import shlex
from typing import Any

from pyinfra.api import FactBase

# Markers that cannot be the first word of a path line, so a line is never misread.
_KINDS = ("file", "dir", "link", "other", "absent")


def _checked(paths: list[str] | tuple[str, ...]) -> list[str]:
    for path in paths:
        if not path.startswith("/") or any(c in path for c in "\n\r\0"):
            raise ValueError(f"managed path must be absolute and on one line: {path!r}")
    return list(paths)


class FileStates(FactBase):
    """
    Per absolute path: ``None`` when absent, else its kind, octal mode and (files only) SHA-256.

    .. code:: python

        host.get_fact(FileStates, paths=["/opt/wheelfleet/health/agent.py"])
        {"/opt/wheelfleet/health/agent.py": {"kind": "file", "mode": "755",
                                             "sha256": "9f86d08…"}}
    """

    def command(self, paths: list[str] | tuple[str, ...] = ()) -> str:
        quoted = " ".join(shlex.quote(p) for p in _checked(paths))
        # GNU stat first (Linux), BSD stat second (macOS); sha256sum or shasum likewise.
        return (
            f"for p in {quoted}; do "
            'if [ -L "$p" ]; then echo "link - - $p"; '
            'elif [ -d "$p" ] || [ -f "$p" ]; then '
            'm=$(stat -c %a "$p" 2>/dev/null || stat -f %Lp "$p"); '
            'if [ -d "$p" ]; then echo "dir $m - $p"; else '
            's=$( (sha256sum "$p" 2>/dev/null || shasum -a 256 "$p") | cut -d" " -f1); '
            'echo "file $m ${s:--} $p"; fi; '
            'elif [ -e "$p" ]; then echo "other - - $p"; '
            'else echo "absent - - $p"; fi; done'
        )

    def process(self, output: list[str]) -> dict[str, dict[str, Any] | None]:
        states: dict[str, dict[str, Any] | None] = {}
        for line in output:
            parts = line.split(" ", 3)
            if len(parts) != 4 or parts[0] not in _KINDS:
                continue
            kind, mode, digest, path = parts
            if kind == "absent":
                states[path] = None
                continue
            states[path] = {"kind": kind,
                            "mode": None if mode == "-" else mode.lstrip("0") or "0",
                            "sha256": None if digest == "-" else digest}
        return states
