"""Read a fact once per host per deploy run, however many operations ask for it.

pyinfra 3 reads a fact again for every operation that asks (it keeps no cache), and every read
is an SSH round trip.  Under ``-y`` an operation's reads happen when it runs, after the
operations before it, so remembering the first answer is only right for facts no earlier
operation of the run changes in a way that matters to a later one: the package list (each
package operation installs only what was missing), the container store (whether the engine runs
and the images it holds: each pinned image is pulled by its own operation, and the engine
operation reads it afresh and drops it with :func:`forget` before it reinstalls the engine; the
first read must come after the operations writing the engine's configuration, since
``storage.conf`` decides which store is listed), and managed files (each changed only by its own
operation: one that a package install drops at a managed path is read as absent or as it was,
and its operation writes the fleet's content over it either way), the tools venv's
distributions and the wheelhouse listing (each written only by its own operation).  A dry run reads
everything before anything changes, so there the answers are the same ones pyinfra would have
read.

The first read of a host also reads everything its roles said they will ask for
(:func:`prefetch`, :func:`prefetch_files`) in the same round trip: a converged Linux host answers
a no-op converge with two reads, that one and the container store."""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

from pyinfra import host
from pyinfra.api import FactBase

from wheelfleet.facts.files import FileStates
from wheelfleet.facts.together import Together

_READS: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()
_FILES = "managed-file-states"
_WANTED = "managed-files-to-read"
_FACTS = "facts-to-read"


def _memo() -> dict[Any, Any]:
    # ``host`` is pyinfra's context proxy; the memo belongs to the real Host behind it.
    return _READS.setdefault(host._get_module(), {})  # type: ignore[attr-defined]


def read_once(fact: type[FactBase], **kwargs: Any) -> Any:
    """``host.get_fact(fact, **kwargs)``, read at most once per host in this process, and
    together with whatever this host's roles prefetched (:func:`prefetch`) and is not read yet.

    >>> installed = read_once(DebPackages)   # doctest: +SKIP
    """
    key = _key(fact, kwargs)
    memo = _memo()
    if key not in memo:
        if key not in _read_together([(key, fact, kwargs)]):
            # Failed in a batch: its own read, and pyinfra says how it failed.
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


def prefetch(fact: type[FactBase], **kwargs: Any) -> None:
    """Have this host's first read (:func:`read_once` or :func:`file_state`) read
    ``fact(**kwargs)`` too, in the same round trip (``wheelfleet.facts.together``).

    Nothing is read here: a role calls this while pyinfra prepares the deploy, host by host,
    for facts its operations will ask :func:`read_once` for.  The batch runs with the first
    reading operation's connector arguments (``_sudo``, ``_env``…), so prefetch only facts read
    the same way; the rules of :func:`read_once` (no earlier operation changes the answer in a
    way that matters) apply from that first read on.

    >>> prefetch(VenvDistributions, venv="/opt/wheelfleet/tools")   # doctest: +SKIP
    """
    key = _key(fact, kwargs)
    if key not in _memo():
        _memo().setdefault(_FACTS, {})[key] = (fact, kwargs)


def prefetch_files(paths: Iterable[str]) -> None:
    """Have the first :func:`file_state` call read all of *paths* in one round trip.

    Nothing is read here: a role calls this while pyinfra prepares the deploy, host by host;
    the read happens when the first of these files' operations runs, in parallel with the
    other hosts and after the operations before it.
    """
    _memo().setdefault(_WANTED, set()).update(paths)


def file_state(path: str) -> dict[str, Any] | None:
    """The state of *path* (``None`` when absent), read together with every path and fact
    prefetched and not read yet."""
    memo = _memo()
    known = memo.setdefault(_FILES, {})
    if path not in known:
        memo.setdefault(_WANTED, set()).add(path)
        if _FILES not in _read_together([]):
            # Failed in a batch: its own read, and pyinfra says how it failed.
            known.update(host.get_fact(FileStates, paths=[path]) or {})
    return known.get(path)


def _read_together(first: list[tuple[Any, type[FactBase], dict[str, Any]]]) -> set[Any]:
    """Read *first*, every fact prefetched and every file wanted for this host in one round
    trip (one fact on its own: then it is simply that fact's read), remember each answer and
    return the keys answered.  A part a batch could not answer is left for its own read."""
    memo = _memo()
    parts = list(first)
    pending = memo.pop(_FACTS, {})
    parts += [(key, fact, kwargs) for key, (fact, kwargs) in pending.items()
              if key not in memo and all(key != p[0] for p in first)]
    known = memo.setdefault(_FILES, {})
    paths = sorted(memo.pop(_WANTED, set()) - set(known))
    if paths:
        parts.append((_FILES, FileStates, {"paths": paths}))
    if len(parts) == 1:
        answers = [{"data": host.get_fact(parts[0][1], **parts[0][2])}]
    else:
        answers = host.get_fact(Together, parts=[(fact, kwargs) for _, fact, kwargs in parts])
    answered = set()
    for (key, _fact, _kwargs), answer in zip(parts, answers or [], strict=False):
        if answer is None:
            continue
        answered.add(key)
        if key == _FILES:
            known.update(answer["data"] or {})
        else:
            memo[key] = answer["data"]
    return answered
