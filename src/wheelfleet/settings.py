"""Typed host settings: host data read once, checked once, every default in one place.

Each platform declares a frozen dataclass of the settings its roles and health check read
(``wheelfleet.platforms.<name>``); the keys an inventory may set are that dataclass's fields.
A field's ``metadata["read"]`` turns the raw inventory value into the typed one, or raises an
``InputError`` naming the file, the host's key and what was expected.

Every string a setting accepts matches a grammar over the *whole* string (``fullmatch``: a
pattern ending in ``$`` would also accept a trailing newline), and no setting's value may hold
a control character: values end up in TOML/JSON files, shell commands and package lists on the
hosts.  Values are echoed in errors with credentials inside URLs redacted (:func:`shown`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Self

from wheelfleet.errors import one_of

if TYPE_CHECKING:  # the matrix loader uses these grammars too: no import cycle at run time
    from wheelfleet.matrix.reader import Reader

Read = Callable[["Reader", str], Any]

HOSTPORT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?")
ULIMIT = re.compile(r"([a-z]+)=(-?\d+):(-?\d+)")
# One token: a name, version, absolute path or URL; no spaces, quotes, backslashes, shell
# metacharacters or control characters.
TOKEN = re.compile(r"[A-Za-z0-9._~+:/@=,%-]+")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")  # runtime, storage driver, toolset ...
# A Debian package, optionally pinned (``podman=4.3.1+ds1-8``).
DEB_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+(?:=[A-Za-z0-9.+~:-]+)?")
ABS_PATH = re.compile(r"(?:/[A-Za-z0-9._+-]+)+/?|/")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Credentials in a URL's authority (``scheme://user:password@``), and a bare
# ``user:password@host`` (a mirror written as host[:port]).
URL_CREDENTIALS = (re.compile(r"(?<=://)[^/\s@'\"]+@"),
                   re.compile(r"(?<![\w.:/@%+-])[\w.%+-]+:[^\s/@'\"]*@"))
WORK_DIR = "/var/tmp/wheelfleet/health"
HOST_KEY_TRUST = ("pinned", "first-use", "unverified")


def redact(message: str) -> str:
    """``message`` with the credentials of every URL in it replaced by ``***``.

    >>> redact("got 'https://bob:s3cret@mirror.internal/x'")
    "got 'https://***@mirror.internal/x'"
    """
    for pattern in URL_CREDENTIALS:
        message = pattern.sub("***@", message)
    return message


def one_line(message: str) -> str:
    """``message`` for a terminal or log: credentials redacted, control characters escaped (a
    key name can hold a newline too, and an error is one line)."""
    return CONTROL.sub(lambda m: repr(m[0])[1:-1], redact(message))


def shown(value: Any) -> str:
    """How an error message shows a value: its repr, credentials redacted."""
    return redact(repr(value))


def control_free(r: Reader, key: str | int, value: str) -> str:
    """``value`` unless it holds a control character (a newline too)."""
    found = CONTROL.search(value)
    if found:
        raise r.fail(key, f"contains the control character {found[0]!r}; expected one line "
                     f"of printable characters, got {shown(value)}")
    return value


def grammar(r: Reader, key: str | int, value: str, pattern: re.Pattern[str],
            expected: str) -> str:
    """``value`` when all of it matches ``pattern``; else one line saying ``expected``."""
    control_free(r, key, value)
    if not pattern.fullmatch(value):
        raise r.fail(key, f"expected {expected}, got {shown(value)}")
    return value


def setting(default: Any = None, *, read: Read, factory: Callable[[], Any] | None = None
            ) -> Any:
    """A settings field: its default and how its inventory value is read."""
    if factory is not None:
        return field(default_factory=factory, metadata={"read": read})
    return field(default=default, metadata={"read": read})


def positive_int(r: Reader, key: str) -> int:
    value = r.raw(key)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise r.fail(key, f"expected a positive integer, got {shown(value)}")
    return value


def flag(r: Reader, key: str) -> bool:
    return r.flag(key)


def text(r: Reader, key: str) -> str:
    """One token: letters, digits and ``. _ ~ + : / @ = , % -`` (a name, version, path, URL)."""
    return grammar(r, key, r.string(key), TOKEN, "one word of letters, digits and . _ ~ + : / "
                   "@ = , % - (no spaces, quotes or control characters)")


def texts(r: Reader, key: str) -> tuple[str, ...]:
    found = r.str_list(key)
    for i, item in enumerate(found):
        grammar(r.child(key), i, item, TOKEN, "one word of letters, digits and . _ ~ + : / @ "
                "= , % - (no spaces, quotes or control characters)")
    return tuple(found)


def name(r: Reader, key: str) -> str:
    """A name such as ``runc`` or ``overlay``: letters, digits, ``. _ + -``."""
    return grammar(r, key, r.string(key), NAME, "a name of letters, digits and . _ + - "
                   "(like 'runc')")


def abs_path(r: Reader, key: str) -> str:
    """An absolute POSIX path on the host, each component letters, digits, ``. _ + -``."""
    value = grammar(r, key, r.string(key), ABS_PATH, "an absolute path like "
                    "'/var/lib/containers/storage' (letters, digits, . _ + - in each part)")
    if any(part in (".", "..") for part in value.split("/")):
        raise r.fail(key, f"expected an absolute path without . or .. parts, got {shown(value)}")
    return value


def local_path(r: Reader, key: str) -> str:
    """A file on the controller: any printable path, one line."""
    value = control_free(r, key, r.string(key))
    if not value.strip():
        raise r.fail(key, "expected a non-empty path")
    return value


def deb_packages(r: Reader, key: str) -> tuple[str, ...]:
    found = r.str_list(key)
    for i, item in enumerate(found):
        grammar(r.child(key), i, item, DEB_PACKAGE, "a Debian package name like "
                "'build-essential' (optionally NAME=VERSION)")
    return tuple(found)


def choice(allowed: Sequence[str]) -> Read:
    def read(r: Reader, key: str) -> str:
        value = r.raw(key)
        if not isinstance(value, str) or value not in allowed:
            raise r.fail(key, f"expected {one_of(allowed)}, got {shown(value)}")
        return str(value)
    return read


def host_ports(r: Reader, key: str) -> tuple[str, ...]:
    found = r.str_list(key)
    for i, item in enumerate(found):
        grammar(r.child(key), i, item, HOSTPORT, "host[:port]")
    return tuple(found)


def host_port_map(r: Reader, key: str) -> dict[str, str]:
    found = r.str_map(key)
    for registry, target in found.items():
        grammar(r.child(key), registry, registry, HOSTPORT, "a registry host[:port] as key")
        grammar(r.child(key), registry, target, HOSTPORT, "host[:port]")
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
        match = ULIMIT.fullmatch(item)
        if not match:
            raise r.child(key).fail(i, f"expected NAME=SOFT:HARD like 'nofile=1024:1024', got "
                                    f"{shown(item)}")
        found.append(Ulimit(match[1], int(match[2]), int(match[3])))
    return tuple(found)


def strings_in(value: Any) -> list[str]:
    """Every string inside a typed setting (tuples, mappings and their keys, dataclasses)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in strings_in(k) + strings_in(v)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in strings_in(item)]
    return []


@dataclass(frozen=True)
class HostSettings:
    """Settings every platform's health check reads."""

    health_parallel: int = setting(2, read=positive_int)  # checks run at once on a node
    health_timeout: int = setting(900, read=positive_int)  # seconds per check
    health_keep_wheels: int = setting(3, read=positive_int)  # repaired wheels kept per check
    work_dir: str = setting(WORK_DIR, read=abs_path)  # the agent's scratch space on the node
    # How a host's SSH key is trusted: "pinned" (default) needs ssh_strict_host_key_checking
    # "yes" and the key in known_hosts; "first-use" allows pyinfra's accept-new (a new host's
    # key is recorded unseen, a changed key still refused); "unverified" allows "no"/"off".
    host_key_trust: str = setting("pinned", read=choice(HOST_KEY_TRUST))

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_data(cls, r: Reader) -> Self:
        """Read every field the inventory sets (``None`` means "not set": the default)."""
        values = {f.name: f.metadata["read"](r, f.name) for f in fields(cls)
                  if r.raw(f.name) is not None}
        # Whatever a platform's reader checks, no setting reaches a host with a control
        # character in it (a newline is how a value becomes a second line of a config file).
        for key, value in values.items():
            for found in strings_in(value):
                control_free(r, key, found)
        return cls(**values)


ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?")


def origin_map(r: Reader, key: str) -> dict[str, str]:
    """``{"https://www.python.org": "http://mirror.internal:8080"}``: origins, no paths."""
    found = r.str_map(key)
    for name, target in found.items():
        for what in (name, target):
            if not ORIGIN.fullmatch(what):
                raise r.child(key).fail(name, f"expected an origin like "
                                        f"https://host[:port] (no path), got {what!r}")
    return found


@dataclass(frozen=True)
class MirroredHostSettings(HostSettings):
    """A host that downloads installers and sources, through the fleet's artifact mirrors:
    the origin of each matrix URL is rewritten, the sha256 stays the matrix's."""

    artifact_mirrors: dict[str, str] = setting(read=origin_map, factory=dict)

    def via_mirror(self, url: str) -> str:
        for origin, mirror in self.artifact_mirrors.items():
            if url == origin or url.startswith(origin + "/"):
                return mirror + url[len(origin):]
        return url
