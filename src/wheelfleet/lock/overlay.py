"""Read, change and write a fleet's matrix overlay, keeping what ``wheelfleet lock`` does not set.

The file is YAML with the matrix's own keys.  Every key already there is kept (its values and
order; the comment block at the top of the file is kept too, other comments are not); the new
file replaces the old one in a single rename, so a crash never leaves half an overlay.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from wheelfleet.errors import InputError
from wheelfleet.matrix.load import read_yaml

HEADER = ("# wheelfleet matrix overlay: the fleet's own additions to the toolchain matrix.\n"
          "# sha256 values and python_locks are written by `wheelfleet lock`.\n")


def read_overlay(path: Path) -> dict[str, Any]:
    """The overlay's mapping; empty when the file does not exist yet."""
    if not path.exists():
        return {}
    data = read_yaml(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(str(path), "<top>", "expected a mapping of matrix keys")
    return data


def set_key(doc: dict[str, Any], key: tuple[str, ...], value: Any, file: str) -> None:
    """``doc[k1][k2]…[kn] = value``, creating the mappings on the way."""
    node = doc
    for i, part in enumerate(key[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            where = ".".join(key[:i + 1])
            raise InputError(file, where, f"expected a mapping, got {child!r}")
        node = child
    node[key[-1]] = value


def _leading_comments(path: Path) -> str:
    if not path.exists():
        return HEADER
    lines = []
    for line in path.read_text().splitlines(keepends=True):
        if not line.startswith("#"):
            break
        lines.append(line)
    return "".join(lines)


def write_overlay(path: Path, doc: dict[str, Any]) -> None:
    text = _leading_comments(path) + yaml.safe_dump(doc, sort_keys=False,
                                                    default_flow_style=False, width=100)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
