"""One read for many managed files: type, mode and SHA-256 of every path a role manages.

pyinfra's ``files.put`` / ``files.template`` each read the destination, its directory and its
hash (three round trips per file); a role managing ten files spends thirty SSH exchanges to
learn that nothing changed.  This fact answers the same questions for all of them at once.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from pyinfra.api import FactBase

# Markers that cannot be the first word of a path line, so a line is never misread.
_KINDS = ("file", "dir", "link", "other", "absent")
_HEX = re.compile(r"[0-9a-f]{64}")


def _checked(paths: list[str] | tuple[str, ...]) -> list[str]:
    for path in paths:
        # A backslash or a newline makes sha256sum escape the name on its line.
        if not path.startswith("/") or any(c in path for c in "\n\r\0\\"):
            raise ValueError(f"managed path must be absolute, on one line, without a "
                             f"backslash: {path!r}")
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
        # Three processes whatever the number of paths (a stat per file and a hash pipeline
        # per file cost a 32-host no-op converge a second of its two cores): the kinds come
        # from the shell's own tests, then one stat gives every mode and one hasher every
        # digest.  Only directories and regular files reach stat and the hasher (a FIFO or a
        # device would block it); a directory's hash is an error line, dropped.
        # GNU stat (Linux) is told apart from BSD stat (macOS) by asking for a mode.
        return (
            f"set --; for p in {quoted}; do "
            'if [ -L "$p" ]; then echo "link - - $p"; '
            'elif [ -d "$p" ]; then echo "dir - - $p"; set -- "$@" "$p"; '
            'elif [ -f "$p" ]; then echo "file - - $p"; set -- "$@" "$p"; '
            'elif [ -e "$p" ]; then echo "other - - $p"; '
            'else echo "absent - - $p"; fi; done; '
            'if [ $# -gt 0 ]; then '
            "if stat -c %a / >/dev/null 2>&1; then stat -c 'mode %a %n' -- \"$@\"; "
            "else stat -f 'mode %Lp %N' -- \"$@\"; fi 2>/dev/null; "
            'if command -v sha256sum >/dev/null 2>&1; then sha256sum -- "$@"; '
            'else shasum -a 256 -- "$@"; fi 2>/dev/null; fi; true'
        )

    def process(self, output: list[str]) -> dict[str, dict[str, Any] | None]:
        states: dict[str, dict[str, Any] | None] = {}
        modes: dict[str, str] = {}
        digests: dict[str, str] = {}
        for line in output:
            digest, sep, path = line.partition("  ")
            if sep and _HEX.fullmatch(digest):
                digests[path] = digest
                continue
            parts = line.split(" ", 3)
            if parts[0] == "mode" and len(parts) >= 3:
                mode, path = line.split(" ", 2)[1:]
                modes[path] = mode.lstrip("0") or "0"
            elif len(parts) == 4 and parts[0] in _KINDS:
                kind, path = parts[0], parts[3]
                states[path] = None if kind == "absent" else {"kind": kind, "mode": None,
                                                              "sha256": None}
        for path, state in states.items():
            if state and state["kind"] in ("file", "dir"):
                state["mode"] = modes.get(path)
                if state["kind"] == "file":
                    state["sha256"] = digests.get(path)
        return states
