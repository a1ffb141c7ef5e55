"""``wheelfleet lock``: hash what the fleet's selection downloads and record it in its overlay.

For every overlay (``--overlay``, or each host's ``matrix_overlay``): each artifact of its
hosts' selections whose sha256 is null is downloaded through the host's artifact mirror and
its sha256 recorded at its matrix key; each package set (repair tools, canary build
requirements) not locked for its current pins, or not for a target a host needs, is resolved
with pip and its exact files recorded under ``python_locks``.  What changed is printed, old ->
new; a second run downloads nothing and leaves the file byte for byte as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wheelfleet.errors import FAILED, OK
from wheelfleet.lock import fetch
from wheelfleet.lock.fleet import overlay_matrix, overlay_of, raw_hosts, selections
from wheelfleet.lock.needs import Artifact, PackageSet, artifacts, package_sets
from wheelfleet.lock.overlay import read_overlay, set_key, write_overlay
from wheelfleet.lock.records import SECTION, PackageLock
from wheelfleet.matrix import Matrix


@dataclass
class Outcome:
    changes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


Say = Callable[[str], None]


def lock_fleet(inventory: str, overlay: str | None = None, limit: list[str] | None = None,
               say: Say = print, warn: Say = print,
               download_timeout: float = fetch.DOWNLOAD_TIMEOUT) -> int:
    """Lock every overlay of the fleet; OK when everything selected is locked afterwards."""
    hosts = raw_hosts(inventory, limit)
    groups: dict[Path, list[Any]] = {}
    for host in hosts:
        groups.setdefault(overlay_of(host, inventory, overlay), []).append(host)
    failed = False
    for path, members in groups.items():
        matrix = overlay_matrix(path)
        sels = selections(members, inventory, matrix)
        outcome = lock_overlay(path, matrix, [a for s in sels for a in artifacts(s)],
                               [p for s in sels for p in package_sets(s)], say,
                               download_timeout)
        for line in outcome.problems:
            warn(f"wheelfleet: lock: {line}")
        failed = failed or bool(outcome.problems)
        unlocked = f"; {len(outcome.problems)} still unlocked" if outcome.problems else ""
        if outcome.changes:
            say(f"{path}: {len(outcome.changes)} change(s) written{unlocked}")
        elif outcome.problems:
            say(f"{path}: unchanged{unlocked}")
        else:
            say(f"{path}: up to date ({len(members)} host(s); nothing was downloaded)")
    return FAILED if failed else OK


def _merge_sets(sets: list[PackageSet]) -> list[PackageSet]:
    merged: dict[str, PackageSet] = {}
    for s in sets:
        if s.key in merged:
            merged[s.key].targets |= s.targets
        else:
            merged[s.key] = PackageSet(s.key, list(s.requirements), set(s.targets))
    return list(merged.values())


def lock_overlay(path: Path, matrix: Matrix, wanted: list[Artifact], sets: list[PackageSet],
                 say: Say, download_timeout: float) -> Outcome:
    doc = read_overlay(path)
    out = Outcome()
    seen: set[tuple[str, ...]] = set()
    for art in wanted:
        if art.key in seen or art.sha256:
            continue
        seen.add(art.key)
        if not art.url:
            out.problems.append(f"{art.name}: no URL to download from ({art.url_key} not "
                                "set); set it to where your artifact mirror serves the file")
            continue
        try:
            sha = fetch.url_sha256(art.url, timeout=download_timeout)
        except fetch.FetchError as err:
            out.problems.append(f"{art.name}: {err}")
            continue
        set_key(doc, art.key, sha, str(path))
        out.changes.append(f"{art.name}: null -> {sha} ({fetch.redact(art.url)})")
        say(out.changes[-1])
    for pset in _merge_sets(sets):
        try:
            entry, change = lock_set(pset, matrix.python_locks.get(pset.key))
        except fetch.FetchError as err:
            out.problems.append(f"{SECTION}.{pset.key}: {err}")
            continue
        if entry is None:
            continue
        set_key(doc, (SECTION, pset.key), entry, str(path))
        out.changes.append(f"{SECTION}.{pset.key}: {change}")
        say(out.changes[-1])
    if out.changes:
        write_overlay(path, doc)
    return out


def _version_key(target: str) -> tuple[int, ...]:
    return tuple(int(p) for p in target.split()[0].split("."))


def _describe(pins: list[str], files: int, targets: int) -> str:
    return f"{', '.join(sorted(pins))} ({files} files, {targets} targets)"


def lock_set(pset: PackageSet, old: PackageLock | None
             ) -> tuple[dict[str, Any] | None, str]:
    """The overlay entry for ``pset`` and what changed; (None, "") when it is locked already.

    A new or changed set is resolved once, with its dependencies, for its oldest Python; every
    other target then gets exactly those pins (``--no-deps``), so one lock never holds two
    versions of a package.  A current lock missing targets keeps its pins and adds files.
    """
    current = old is not None and old.matches(pset.requirements)
    targets = set(pset.targets)
    if current and old is not None:
        missing = targets - set(old.targets)
        if not missing:
            return None, ""
        files = {(f.pin, f.file): f.sha256 for f in old.files}
        pins = sorted({f.pin for f in old.files})
        todo = sorted(missing, key=_version_key)
        targets |= set(old.targets)
    else:
        if old is not None:  # re-resolved: keep every target the old lock served
            targets |= set(old.targets)
        todo = sorted(targets, key=_version_key)
        python, platform = todo[0].split(" ", 1)
        first = fetch.pip_download(pset.requirements, python, platform, no_deps=False)
        files = {(f.pin, f.file): f.sha256 for f in first}
        pins = sorted({f.pin for f in first})
        todo = todo[1:]
    for t in todo:
        python, platform = t.split(" ", 1)
        for f in fetch.pip_download(pins, python, platform, no_deps=True):
            files[(f.pin, f.file)] = f.sha256
    entry = {"requirements": list(pset.requirements), "targets": sorted(targets),
             "files": [{"pin": pin, "file": name, "sha256": sha}
                       for (pin, name), sha in sorted(files.items())]}
    before = "none" if old is None else _describe(sorted({f.pin for f in old.files}),
                                                  len(old.files), len(old.targets))
    return entry, f"{before} -> {_describe(pins, len(files), len(targets))}"
