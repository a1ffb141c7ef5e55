"""Bring a fleet of test hosts up and down; the state lives in ``<fleet_dir>/fleet.json``.

Files of a fleet dir (default ``.testfleet/`` in the current directory)::

    fleet.json        state: hosts, pids, mounts (what ``down`` undoes), addresses
    inventory.py      pyinfra inventory, group ``linux``
    known_hosts       the hosts' public host keys (strict checking)
    id_ed25519{,.pub} client key, authorized in every host's /root/.ssh
    hosts/tfN/        per-host upper/work dirs, root mount point, sshd.log
"""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import commands, inventory, keys, locks, mounts, roots
from . import host as hostmod
from .errors import LabError
from .host import HostRecord
from .host_root import HostRoot

STATE_FORMAT = 1
DEFAULT_DIR = Path(".testfleet")
NAME_PREFIX = "tf"
# Hosts are prepared in threads, each saving the state after every step.
_SAVE_LOCK = threading.Lock()


@dataclass
class Fleet:
    """A running fleet (also what ``fleet.json`` stores)."""

    fleet_dir: Path
    count: int
    port: int
    first_octet_offset: int
    rootfs: str
    hosts: list[HostRecord] = field(default_factory=list)
    group_data: dict[str, Any] = field(default_factory=dict)
    started_at: str = ""

    @property
    def inventory(self) -> Path:
        """The pyinfra inventory file (pass it to ``pyinfra`` or ``load_inventory``)."""
        return self.fleet_dir / "inventory.py"

    @property
    def known_hosts(self) -> Path:
        """The fleet's known_hosts file."""
        return self.fleet_dir / "known_hosts"

    @property
    def client_key(self) -> Path:
        """Private key that logs in as root on every host."""
        return self.fleet_dir / "id_ed25519"

    @property
    def state_file(self) -> Path:
        """``fleet.json``."""
        return self.fleet_dir / "fleet.json"

    def host_data(self, rec: HostRecord) -> dict[str, Any]:
        """pyinfra host data for one host (as written to the inventory)."""
        return inventory.host_data(
            rec.address, rec.port, self.client_key, self.known_hosts, self.fleet_dir
        )

    def pyinfra_hosts(self) -> list[tuple[str, dict[str, Any]]]:
        """``[("tf1", {...ssh data...}), ...]`` for building a pyinfra Inventory in code."""
        return [(rec.name, self.host_data(rec)) for rec in self.hosts]

    def to_json(self) -> dict[str, Any]:
        """The state file's content."""
        data = asdict(self)
        data.update(
            format=STATE_FORMAT,
            fleet_dir=str(self.fleet_dir),
            inventory=str(self.inventory),
            known_hosts=str(self.known_hosts),
            client_key=str(self.client_key),
        )
        for h, rec in zip(data["hosts"], self.hosts, strict=True):
            h["root"] = str(rec.root)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fleet:
        """Inverse of :meth:`to_json` (unknown keys ignored)."""
        known = {f.name for f in HostRecord.__dataclass_fields__.values()}
        hosts = [HostRecord(**{k: v for k, v in h.items() if k in known}) for h in data["hosts"]]
        return cls(
            fleet_dir=Path(data["fleet_dir"]), count=data["count"], port=data["port"],
            first_octet_offset=data["first_octet_offset"], rootfs=data["rootfs"],
            hosts=hosts, group_data=data.get("group_data", {}),
            started_at=data.get("started_at", ""),
        )

    def save(self) -> None:
        """Write ``fleet.json`` atomically; called after every step that changes the machine."""
        with _SAVE_LOCK:
            tmp = self.state_file.with_name("fleet.json.tmp")
            tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n")
            tmp.replace(self.state_file)


def _fleet_lock(fleet_dir: Path) -> AbstractContextManager[int]:
    """One up/down at a time per fleet dir (concurrent pytest sessions, a stray CLI ...)."""
    return locks.exclusive(fleet_dir / ".lock", wait=0,
                           busy=f"another testfleet up/down is running on {fleet_dir}")


def _load(fleet_dir: Path) -> Fleet | None:
    path = fleet_dir / "fleet.json"
    if not path.is_file():
        return None
    try:
        return Fleet.from_json(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise LabError(f"{path} is unreadable ({exc}); unmount and remove it by hand") from None


def load(fleet_dir: Path = DEFAULT_DIR) -> Fleet | None:
    """The fleet recorded in *fleet_dir* (running or not), or None when there is none."""
    return _load(fleet_dir.absolute())


def _healthy(fleet: Fleet) -> bool:
    """Every host's sshd is the one we started and every recorded mount is still there."""
    present = set(mounts.mountpoints())
    return all(
        hostmod.sshd_running(rec) and all(m in present for m in rec.mounts)
        for rec in fleet.hosts
    )


def _teardown(fleet_dir: Path, fleet: Fleet | None, *, wait: bool = True) -> None:
    """Undo everything recorded in *fleet*, then anything still mounted under hosts/."""
    errors: list[str] = []
    for rec in reversed(fleet.hosts if fleet else []):
        try:
            hostmod.stop(rec, wait=wait)
        except LabError as exc:  # carry on with the other hosts, report at the end
            errors.append(str(exc))
    hosts_dir = fleet_dir / "hosts"
    try:
        # Only this module mounts below hosts/: leftovers are ours (e.g. state lost).
        mounts.remove_tree(hosts_dir)
    except LabError as exc:
        errors.append(str(exc))
    for name in ("fleet.json", "inventory.py", "known_hosts"):
        (fleet_dir / name).unlink(missing_ok=True)
    if errors:
        raise LabError("; ".join(errors))


def _validate(count: int, port: int, first_octet_offset: int) -> None:
    if count < 1:
        raise LabError(f"host count must be at least 1, not {count}")
    if first_octet_offset < 1 or first_octet_offset + count > 254:
        raise LabError(
            f"addresses 127.0.0.{first_octet_offset + 1}..{first_octet_offset + count} "
            "do not fit in 127.0.0.2-254"
        )
    if not 1 <= port <= 65535:
        raise LabError(f"port {port} is not a TCP port")


def _write_access_files(fleet: Fleet) -> None:
    entries = [(r.address, r.port, r.host_keys) for r in fleet.hosts]
    keys.write_known_hosts(fleet.known_hosts, entries)  # 0644 whatever the umask
    inventory.write(fleet.inventory, fleet.pyinfra_hosts(), fleet.group_data)


def _create_all(fleet: Fleet, lower: Path, pubkey: str) -> None:
    """Prepare all hosts, in parallel: host-key generation (RSA) dominates and is CPU-bound
    in ssh-keygen processes, so threads that wait on them overlap well."""
    workers = max(1, min(len(fleet.hosts), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="testfleet") as pool:
        futures = [
            pool.submit(hostmod.create, rec, lower, pubkey, fleet.save) for rec in fleet.hosts
        ]
        # Wait for every host (none may still be mounting while we tear down), then
        # report the first failure.
        errors = [f.exception() for f in futures]
    for err in errors:
        if err is not None:
            raise err


def up(
    count: int,
    fleet_dir: Path = DEFAULT_DIR,
    *,
    group_data: dict[str, Any] | None = None,
    port: int = 22,
    first_octet_offset: int = 10,
    recipe: HostRoot | None = None,
    log: roots.Log = roots.quiet,
) -> Fleet:
    """Start *count* hosts ``tf1..tfN`` on 127.0.0.(offset+i):*port*; return the fleet.

    Reuses a running fleet of the same shape (only the inventory is rewritten with the new
    *group_data*); a fleet of another shape is taken down first. On any failure, everything
    this call started or mounted is undone before the error propagates.
    """
    commands.require_root()
    _validate(count, port, first_octet_offset)
    for tool, package in (("unshare", "util-linux"), ("chroot", "coreutils"),
                          ("mount", "mount"), ("cp", "coreutils")):
        commands.require_tool(tool, package)
    fleet_dir = fleet_dir.absolute()
    group_data = dict(group_data or {})
    lower = roots.ensure_root(recipe or HostRoot(), say=log).path  # outside the lock: slow
    with _fleet_lock(fleet_dir):
        old = _load(fleet_dir)
        if (
            old is not None
            and (old.count, old.port, old.first_octet_offset, old.rootfs)
            == (count, port, first_octet_offset, str(lower))
            and _healthy(old)
        ):
            old.group_data = group_data
            old.save()
            _write_access_files(old)
            log(f"fleet of {count} already up in {fleet_dir}")
            return old
        if old is not None or (fleet_dir / "hosts").exists():
            log("taking down the previous fleet ...")
            _teardown(fleet_dir, old)

        fleet = Fleet(
            fleet_dir=fleet_dir, count=count, port=port,
            first_octet_offset=first_octet_offset, rootfs=str(lower),
            group_data=group_data,
            started_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
        for i in range(1, count + 1):
            address = f"127.0.0.{first_octet_offset + i}"
            hostmod.check_address_free(address, port)  # before touching anything
            fleet.hosts.append(HostRecord(
                name=f"{NAME_PREFIX}{i}", address=address, port=port,
                dir=str(fleet_dir / "hosts" / f"{NAME_PREFIX}{i}"),
            ))
        pubkey = keys.ensure_client_key(fleet.client_key)
        fleet.save()
        try:
            log(f"{count} host(s): filesystems, mounts, host keys ...")
            _create_all(fleet, lower, pubkey)
            for rec in fleet.hosts:
                hostmod.start_sshd(rec, fleet.save)
                log(f"{rec.name}: sshd on {rec.address}:{rec.port} (pid {rec.pid})")
            _write_access_files(fleet)
        except BaseException:
            # Includes KeyboardInterrupt: a half-built fleet must never stay mounted.
            try:
                _teardown(fleet_dir, fleet)
            except LabError as cleanup:
                log(f"cleanup after failed up also failed: {cleanup}")
            raise
        return fleet


def down(fleet_dir: Path = DEFAULT_DIR, *, wait: bool = True) -> None:
    """Stop the fleet's sshds (and their descendants), unmount, delete host dirs.

    ``wait=False`` returns once nothing runs or is mounted and the host dirs are moved aside;
    their files are deleted in the background (``mounts.discard_tree``): for a test session's
    last teardown, which would otherwise wait about 6 s per converged host.
    """
    commands.require_root()
    fleet_dir = fleet_dir.absolute()
    if not fleet_dir.exists():
        return
    with _fleet_lock(fleet_dir):
        _teardown(fleet_dir, _load(fleet_dir), wait=wait)
    leftover = mounts.mounts_under(fleet_dir)
    if leftover:
        raise LabError(f"still mounted after down: {leftover[0]}")


def status(fleet_dir: Path = DEFAULT_DIR) -> dict[str, Any]:
    """What is running: ``{"up": bool, "fleet_dir", "inventory", "hosts": [...]}``."""
    fleet_dir = fleet_dir.absolute()
    fleet = _load(fleet_dir)
    if fleet is None:
        return {"up": False, "fleet_dir": str(fleet_dir), "hosts": []}
    present = set(mounts.mountpoints())
    hosts = []
    for rec in fleet.hosts:
        hosts.append({
            "name": rec.name,
            "address": rec.address,
            "port": rec.port,
            "pid": rec.pid,
            "sshd_running": hostmod.sshd_running(rec),
            "mounts_present": sum(m in present for m in rec.mounts),
            "mounts_recorded": len(rec.mounts),
            "mode": rec.mode,
        })
    return {
        "up": bool(hosts) and all(
            h["sshd_running"] and h["mounts_present"] == h["mounts_recorded"] for h in hosts
        ),
        "fleet_dir": str(fleet_dir),
        "inventory": str(fleet.inventory),
        "known_hosts": str(fleet.known_hosts),
        "hosts": hosts,
    }

