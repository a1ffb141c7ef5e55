"""``unsafe-path`` and ``duplicate-entry``: names an installer must never be handed.

An installer joins each member name to site-packages. An absolute name, a ``..`` segment, a
backslash or a drive letter (separators and roots on Windows) writes outside it — a
``../../evil.pth`` runs code at every interpreter start — and a symlink entry points anywhere.
A name present twice means two tools may extract two different files for it.
"""

from __future__ import annotations

import re
import stat
import zipfile
from collections import Counter

from .report import DUPLICATE_ENTRY, UNSAFE_PATH, Problem

_DRIVE = re.compile(r"^[A-Za-z]:")
_UNIX = 3  # ZipInfo.create_system of archives made on Unix, whose external_attr has a mode


def unsafe_reason(info: zipfile.ZipInfo) -> str | None:
    """Why an entry's name or type is unsafe to install, or None."""
    name = info.filename
    if name.startswith("/"):
        return "absolute path: an installer would write outside site-packages"
    if _DRIVE.match(name):
        return "drive letter: an absolute path on Windows"
    if "\\" in name:
        return "backslash in the name: a path separator on Windows"
    if ".." in name.split("/"):
        return "'..' segment: an installer would write outside site-packages"
    if info.create_system == _UNIX and stat.S_ISLNK(info.external_attr >> 16):
        return "symlink entry: it can point anywhere on the installing machine"
    return None


def layout_problems(entries: list[zipfile.ZipInfo]) -> list[Problem]:
    problems = [Problem(UNSAFE_PATH, info.filename, reason)
                for info in entries if (reason := unsafe_reason(info)) is not None]
    counts = Counter(info.filename for info in entries)
    copies: dict[str, set[tuple[int, int]]] = {}
    for info in entries:
        if counts[info.filename] > 1:
            copies.setdefault(info.filename, set()).add((info.CRC, info.file_size))
    for name, found in copies.items():
        contents = "different" if len(found) > 1 else "identical"
        problems.append(Problem(DUPLICATE_ENTRY, name,
                                f"the zip holds this name {counts[name]} times, with {contents} "
                                "contents: which one gets installed depends on the tool"))
    return problems
