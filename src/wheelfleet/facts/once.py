"""Read a fact once per host per deploy run, however many operations ask for it.

pyinfra 3 reads a fact again for every operation that asks (it keeps no cache), and every read
is an SSH round trip.  Under ``-y`` an operation's reads happen when it runs, after the
operations before it, so remembering the first answer is only right for facts no earlier
operation of the run changes in a way that matters to a later one: the package list (each
package operation installs only what was missing), the container store (whether the engine runs
and the images it holds: each pinned image is pulled by its own operation, and the engine
operation reads it afresh and drops it with :func:`forget` before it reinstalls the engine; the
first read must come after the operations writing the engine's configuration, since
``storage.conf`` decides which store is listed), and managed files (each read just before the
first of them is managed, and each changed only by its own operation).  A dry run reads
everything before anything changes, so there the answers are the same ones pyinfra would have
read."""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

from pyinfra import host
from pyinfra.api import FactBase

from wheelfleet.facts.files import FileStates

_READS: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()
_FILES = "managed-file-states"
_WANTED = "managed-files-to-read"


def _memo() -> dict[Any, Any]:
    # ``host`` is pyinfra's context proxy; the memo belongs to the real Host behind it.
    return _READS.setdefault(host._get_module(), {})  # type: ignore[attr-defined]


def read_once(fact: type[FactBase], **kwargs: Any) -> Any:
    """``host.get_fact(fact, **kwargs)``, read at most once per host in this process.

    >>> installed = read_once(DebPackages)   # doctest: +SKIP
    """
    key = _key(fact, kwargs)
    memo = _memo()
    if key not in memo:
        memo[key] = host.get_fact(fact, **kwargs)
    return memo[key]


def forget(fact: type[FactBase], **kwargs: Any) -> None:
    """Drop what :func:`read_once` remembers of *fact* with these arguments, so the next
    :func:`read_once` reads it again: for an operation about to change what the fact reports.

    >>> forget(ContainerStore, engine="podman")   # doctest: +SKIP
    """
    _memo().pop(_key(fact, kwargs), None)


def _key(fact: type[FactBase], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    return (fact, tuple(sorted((k, repr(v)) for k, v in kwargs.items())))


def prefetch_files(paths: Iterable[str]) -> None:
    """Have the first :func:`file_state` call read all of *paths* in one round trip.

    Nothing is read here: a role calls this while pyinfra prepares the deploy, host by host;
    the read happens when the first of these files' operations runs, in parallel with the
    other hosts and after the operations before it.
    """
    _memo().setdefault(_WANTED, set()).update(paths)


def file_state(path: str) -> dict[str, Any] | None:
    """The state of *path* (``None`` when absent), read together with every path prefetched
    and not read yet."""
    memo = _memo()
    known = memo.setdefault(_FILES, {})
    if path not in known:
        wanted = memo.setdefault(_WANTED, set())
        batch = sorted((wanted - set(known)) | {path})
        known.update(host.get_fact(FileStates, paths=batch) or {})
        wanted.difference_update(batch)
    return known.get(path)
