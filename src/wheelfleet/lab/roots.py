"""The one builder of the lab's Debian roots, cached under ``~/.cache/wheelfleet/roots``.

Every root starts as ``debootstrap --variant=minbase`` of a suite; a *recipe* says what comes
on top and whether the result is kept as a directory or packed into a tarball. There are two
recipes: :mod:`.host_root` (the lower layer every test host's filesystem is overlaid on) and
:mod:`.image_root` (a manylinux-like build image, imported into podman and pushed).

A cache entry is ``$XDG_CACHE_HOME/wheelfleet/roots/<key>/`` (default ``~/.cache``) holding
``meta.json`` and either ``root/`` or ``rootfs.tar``. *key* is the recipe's name plus a hash of
everything that shapes the result, so a changed recipe never reuses an old entry. A build runs
in a ``.build-<key>-<pid>`` sibling that is renamed into place only when complete, under an
flock per key: an interrupted build is never used, and the next builder removes its leftovers.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from . import commands, locks, mounts

# Bump when the builder's own steps change (the recipes hash their own inputs).
FORMAT = 1

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEBOOTSTRAP_TIMEOUT = 1200
PACK_TIMEOUT = 600
# Longer than any recipe's whole build: a builder waiting for another one gives up after this.
LOCK_TIMEOUT = 3600

Log = Callable[[str], None]


def quiet(_msg: str) -> None:
    """Default progress sink: say nothing."""


def cache_home() -> Path:
    """``$XDG_CACHE_HOME/wheelfleet`` or ``~/.cache/wheelfleet``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "wheelfleet"


class Recipe(Protocol):
    """What one kind of root is made of; the builder does the rest."""

    @property
    def name(self) -> str:
        """Readable start of the cache key, e.g. ``host-bookworm``."""

    @property
    def suite(self) -> str:
        """The Debian suite to bootstrap."""

    @property
    def include(self) -> tuple[str, ...]:
        """Packages debootstrap installs with the base system."""

    @property
    def packed(self) -> bool:
        """Keep the root as ``rootfs.tar`` (to import as an image) instead of ``root/``."""

    def inputs(self) -> dict[str, object]:
        """Everything else that shapes the result (JSON): hashed into the cache key."""

    def archive(self) -> str:
        """The Debian archive URI debootstrap fetches from."""

    def provision(self, build: Build) -> dict[str, object]:
        """Finish the freshly bootstrapped ``build.root``; return facts for ``meta.json``."""


def cache_key(recipe: Recipe) -> str:
    """``<recipe name>-<hash of its inputs>``: stable, and new whenever the recipe changes."""
    data = {"format": FORMAT, "suite": recipe.suite, "include": sorted(set(recipe.include)),
            "packed": recipe.packed, **recipe.inputs()}
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    return f"{recipe.name}-{digest[:12]}"


@dataclass(frozen=True)
class Root:
    """A cached root: the directory or tarball to use, and what was recorded about it."""

    key: str
    path: Path
    meta: dict[str, object]
    build_seconds: float  # 0.0 when served from the cache


@dataclass(frozen=True)
class Build:
    """One build in progress: every command it runs logs to one file and holds its lock."""

    root: Path
    log_file: Path
    lock_fd: int
    say: Log

    def run(self, argv: list[str], *, what: str, timeout: float) -> None:
        # The lock fd goes to every command: debootstrap forks subshells that can survive an
        # interrupted build, and while any of them runs, no new build may delete their dir.
        commands.run(argv, what=what, timeout=timeout, log=self.log_file,
                     pass_fds=(self.lock_fd,))

    def chroot(self, script: str, *, what: str, timeout: float, output: bool = False) -> str:
        """Run shell *script* inside the root, with /proc and /dev mounted and a clean env.

        The mounts are made in a private mount namespace (``unshare --mount``), so they vanish
        with the command even if it is killed: nothing to unmount, nothing that a later
        delete could follow into the controller's /dev. With *output*, stdout is returned
        instead of logged (for facts read back from the root).
        """
        outer = (
            'set -e; r="$1"; shift; '
            'mount -t proc proc "$r/proc"; mount --bind /dev "$r/dev"; '
            'exec chroot "$r" /usr/bin/env -i '
            f"PATH={CHROOT_PATH} HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "
            '/bin/sh -c "$@"'
        )
        argv = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", outer,
                "wf-chroot", os.fspath(self.root), "set -e\n" + script]
        if output:
            return commands.run(argv, what=what, timeout=timeout,
                                pass_fds=(self.lock_fd,)).stdout
        self.run(argv, what=what, timeout=timeout)
        return ""


def _artifact(recipe: Recipe) -> str:
    return "rootfs.tar" if recipe.packed else "root"


def _cached(entry: Path, recipe: Recipe) -> Root | None:
    if not (entry / "meta.json").is_file():
        return None
    meta = json.loads((entry / "meta.json").read_text())
    return Root(entry.name, entry / _artifact(recipe), meta, 0.0)


def _build(recipe: Recipe, key: str, build: Build) -> dict[str, object]:
    say = build.say
    archive = recipe.archive()
    say(f"debootstrap {recipe.suite} (minbase) from {archive} ...")
    include = [f"--include={','.join(recipe.include)}"] if recipe.include else []
    # debootstrap mounts /proc etc. in the target itself; in a private mount namespace those
    # mounts cannot outlive it, even when the timeout kills it.
    build.run(
        ["unshare", "--mount", "--propagation", "private", "--",
         commands.require_tool("debootstrap"), "--variant=minbase", "--components=main",
         *include, f"--keyring={KEYRING}", recipe.suite, os.fspath(build.root), archive],
        what=f"debootstrap {recipe.suite}", timeout=DEBOOTSTRAP_TIMEOUT,
    )
    facts = recipe.provision(build)
    if recipe.packed:
        # --numeric-owner: the image must not depend on the host's passwd; /proc, /sys, /dev
        # contents are runtime mounts, not image content.
        build.run(
            ["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "--sort=name",
             "-C", os.fspath(build.root), "-cf", os.fspath(build.root.with_name("rootfs.tar")),
             "--exclude=./proc/*", "--exclude=./sys/*", "--exclude=./dev/*",
             "--exclude=./tmp/*", "--exclude=./run/*", "."],
            what="packing the root", timeout=PACK_TIMEOUT,
        )
        mounts.remove_tree(build.root)
    return {"key": key, "format": FORMAT, "recipe": recipe.name, "suite": recipe.suite,
            "include": list(recipe.include), "archive": archive, **recipe.inputs(),
            "facts": facts}


def ensure_root(recipe: Recipe, *, cache_dir: Path | None = None, say: Log = quiet) -> Root:
    """Return the cached root for *recipe*, building it first if needed (~1-2 minutes)."""
    commands.require_root()
    for tool, package in (("unshare", "util-linux"), ("chroot", "coreutils")):
        commands.require_tool(tool, package)
    base = (cache_dir or cache_home()) / "roots"
    key = cache_key(recipe)
    final = base / key
    found = _cached(final, recipe)
    if found is not None:
        return found
    busy = f"root cache {base} is locked by another build for {LOCK_TIMEOUT}s"
    with locks.exclusive(base / f".lock-{key}", wait=LOCK_TIMEOUT, busy=busy) as lock_fd:
        found = _cached(final, recipe)  # built by someone else while we waited
        if found is not None:
            return found
        # We hold the lock, so any staging dir of this key is an interrupted build.
        for stale in [*base.glob(f".build-{key}-*"), final]:
            mounts.remove_tree(stale)
        staging = base / f".build-{key}-{os.getpid()}"
        staging.mkdir()
        # The log sits beside the staging dir, so that after a failed build (staging deleted)
        # it is still where the error message points; a complete entry takes it along.
        log_file = base / f"{key}.build.log"
        log_file.unlink(missing_ok=True)
        started = time.monotonic()
        try:
            meta = _build(recipe, key, Build(staging / "root", log_file, lock_fd, say))
            meta["build_seconds"] = round(time.monotonic() - started, 1)
            meta["built_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            (staging / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
            os.replace(log_file, staging / "build.log")
            os.rename(staging, final)  # atomic: the entry appears complete or not at all
        except BaseException:
            mounts.remove_tree(staging)
            raise
    say(f"root {key} built in {time.monotonic() - started:.0f}s")
    return Root(key, final / _artifact(recipe), meta, time.monotonic() - started)
