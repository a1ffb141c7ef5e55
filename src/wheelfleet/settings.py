"""Typed host settings: host data read once, checked once, every default in one place.

Each platform declares a frozen dataclass of the settings its roles and health check read
(``wheelfleet.platforms.<name>``); the keys an inventory may set are that dataclass's fields.
A field's ``metadata["read"]`` turns the raw inventory value into the typed one, or raises an
``InputError`` naming the file, the host's key and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Self

from wheelfleet.errors import one_of
from wheelfleet.matrix.reader import Reader

Read = Callable[[Reader, str], Any]

HOSTPORT = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?$")
ULIMIT = re.compile(r"^([a-z]+)=(-?\d+):(-?\d+)$")
WORK_DIR = "/var/tmp/wheelfleet/health"


def setting(default: Any = None, *, read: Read, factory: Callable[[], Any] | None = None
            ) -> Any:
    """A settings field: its default and how its inventory value is read."""
    if factory is not None:
        return field(default_factory=factory, metadata={"read": read})
    return field(default=default, metadata={"read": read})


def positive_int(r: Reader, key: str) -> int:
    value = r.raw(key)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise r.fail(key, f"expected a positive integer, got {value!r}")
    return value


def flag(r: Reader, key: str) -> bool:
    return r.flag(key)


def text(r: Reader, key: str) -> str:
    value = r.string(key)
    if not value.strip():
        raise r.fail(key, "expected a non-empty string")
    return str(value)


def texts(r: Reader, key: str) -> tuple[str, ...]:
    return tuple(r.str_list(key))


def choice(allowed: Sequence[str]) -> Read:
    def read(r: Reader, key: str) -> str:
        value = r.raw(key)
        if value not in allowed:
            raise r.fail(key, f"expected {one_of(allowed)}, got {value!r}")
        return str(value)
    return read


def host_ports(r: Reader, key: str) -> tuple[str, ...]:
    found = r.str_list(key)
    for i, item in enumerate(found):
        if not HOSTPORT.match(item):
            raise r.child(key).fail(i, f"expected host[:port], got {item!r}")
    return tuple(found)


def host_port_map(r: Reader, key: str) -> dict[str, str]:
    found = r.str_map(key)
    for name, target in found.items():
        if not HOSTPORT.match(target):
            raise r.child(key).fail(name, f"expected host[:port], got {target!r}")
    return found


@dataclass(frozen=True)
class Ulimit:
    """One default ulimit for containers, e.g. ``nofile=1024:1024``."""

    name: str
    soft: int
    hard: int

    def __str__(self) -> str:
        return f"{self.name}={self.soft}:{self.hard}"


def ulimits(r: Reader, key: str) -> tuple[Ulimit, ...]:
    found = []
    for i, item in enumerate(r.str_list(key)):
        match = ULIMIT.match(item)
        if not match:
            raise r.child(key).fail(i, f"expected NAME=SOFT:HARD like 'nofile=1024:1024', got "
                                    f"{item!r}")
        found.append(Ulimit(match[1], int(match[2]), int(match[3])))
    return tuple(found)


@dataclass(frozen=True)
class HostSettings:
    """Settings every platform's health check reads."""

    health_parallel: int = setting(2, read=positive_int)  # checks run at once on a node
    health_timeout: int = setting(900, read=positive_int)  # seconds per check
    work_dir: str = setting(WORK_DIR, read=text)  # the agent's scratch space on the node

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_data(cls, r: Reader) -> Self:
        """Read every field the inventory sets (``None`` means "not set": the default)."""
        values = {f.name: f.metadata["read"](r, f.name) for f in fields(cls)
                  if r.raw(f.name) is not None}
        return cls(**values)
