"""The real test fleet: Debian roots, one sshd each, reached by pyinfra over SSH.

Needs root (mounts, chroot). Addresses 127.0.0.41-43 (and 51+, 61+ for the lifecycle
tests) are used so these tests can run next to a fleet at the default 127.0.0.11+.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wheelfleet.lab import Fleet, LabError, inventory, keys, processes
from wheelfleet.lab import fleet as fleetmod
from wheelfleet.lab import host as hostmod

from .fleet_fixture import fleet_fixture, run_pyinfra

pytestmark = pytest.mark.fleet

GROUP_DATA = {"pythons": ["3.11"], "testfleet_marker": "from-group-data"}

fleet3 = fleet_fixture(3, group_data=GROUP_DATA, first_octet_offset=40, scope="module")


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the test fleet needs root")


def _mounts_under(path: Path) -> list[str]:
    """Read /proc/mounts directly (not through the code under test)."""
    top = str(path.resolve())
    with open("/proc/mounts", encoding="utf-8") as fh:
        points = [line.split()[1].replace("\\040", " ") for line in fh]
    return [p for p in points if p == top or p.startswith(top + "/")]


def _alive(pid: int) -> bool:
    """True for a live process (a zombie awaiting its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def test_pyinfra_reaches_every_host_with_strict_keys(fleet3: Fleet) -> None:
    result = run_pyinfra(fleet3, "exec", "--", "cat /etc/hostname; hostname; id -u")
    assert result.returncode == 0, result.stdout
    for rec in fleet3.hosts:
        # /etc/hostname is the host's own file, `hostname` its own UTS namespace.
        assert result.stdout.count(f"[{rec.name}] {rec.name}") == 2, result.stdout
    assert "[tf1] 0" in result.stdout


def test_inventory_format(fleet3: Fleet) -> None:
    namespace: dict[str, object] = {}
    exec(fleet3.inventory.read_text(), namespace)
    hosts, group_data = namespace["linux"]  # type: ignore[misc]
    assert group_data == GROUP_DATA
    assert [name for name, _ in hosts] == ["tf1", "tf2", "tf3"]
    data = dict(hosts)["tf2"]
    assert data["ssh_hostname"] == "127.0.0.42"
    assert data["ssh_strict_host_key_checking"] == "yes"
    assert data["ssh_allow_agent"] is False
    for key in ("ssh_key", "ssh_known_hosts_file", "ssh_config_file"):
        assert Path(data[key]).is_absolute()
    assert not Path(data["ssh_config_file"]).exists()
    known = fleet3.known_hosts.read_text().splitlines()
    assert any(line.startswith("127.0.0.42 ssh-ed25519 AAAA") for line in known)
    state = json.loads(fleet3.state_file.read_text())
    assert [h["address"] for h in state["hosts"]] == ["127.0.0.41", "127.0.0.42", "127.0.0.43"]
    assert all(h["pid"] and h["mounts"] for h in state["hosts"])


def test_group_data_reaches_pyinfra(fleet3: Fleet) -> None:
    result = run_pyinfra(fleet3, "debug-inventory", timeout=120)
    assert result.returncode == 0, result.stdout
    assert "from-group-data" in result.stdout


def test_hosts_have_distinct_filesystems(fleet3: Fleet) -> None:
    wrote = run_pyinfra(fleet3, "exec", "--", "echo only-tf1 > /root/marker", limit="tf1")
    assert wrote.returncode == 0, wrote.stdout
    check = run_pyinfra(
        fleet3, "exec", "--", "test -e /root/marker && echo PRESENT || echo ABSENT"
    )
    assert check.returncode == 0, check.stdout
    assert "[tf1] PRESENT" in check.stdout
    assert "[tf2] ABSENT" in check.stdout and "[tf3] ABSENT" in check.stdout
    # The write went to tf1's upper layer, never into the shared cached root.
    assert (fleet3.hosts[0].root / "root/marker").is_file()
    assert not (Path(fleet3.rootfs) / "root/marker").exists()


def test_host_keys_are_distinct_per_host(fleet3: Fleet) -> None:
    ed25519 = [rec.host_keys[0] for rec in fleet3.hosts]
    assert all(k.startswith("ssh-ed25519 ") for k in ed25519)
    assert len(set(ed25519)) == 3


def _inventory_with_known_hosts(fleet: Fleet, tmp_path: Path, known_hosts: str) -> Path:
    kh = tmp_path / "known_hosts"
    kh.write_text(known_hosts)
    rec = fleet.hosts[0]
    data = inventory.host_data(rec.address, rec.port, fleet.client_key, kh, fleet.fleet_dir)
    path = tmp_path / "inventory.py"
    inventory.write(path, [(rec.name, data)], {})
    return path


def test_wrong_host_key_is_refused(fleet3: Fleet, tmp_path: Path) -> None:
    tf1, tf2 = fleet3.hosts[0], fleet3.hosts[1]
    # tf1's address with tf2's keys: exactly what a man in the middle would present.
    wrong = keys.render_known_hosts([(tf1.address, tf1.port, tf2.host_keys)])
    result = run_pyinfra(_inventory_with_known_hosts(fleet3, tmp_path, wrong),
                         "exec", "--", "hostname", timeout=120)
    assert result.returncode != 0, result.stdout
    assert "[tf1] tf1" not in result.stdout
    assert "host key" in result.stdout.lower(), result.stdout


def test_unknown_host_is_refused(fleet3: Fleet, tmp_path: Path) -> None:
    # `yes` never adds a key on first use (pyinfra's default, accept-new, would).
    result = run_pyinfra(_inventory_with_known_hosts(fleet3, tmp_path, ""),
                         "exec", "--", "hostname", timeout=120)
    assert result.returncode != 0, result.stdout
    assert "No host key for 127.0.0.41" in result.stdout, result.stdout


API_SCRIPT = """
from gevent import monkey
monkey.patch_all()

import json, sys
from pathlib import Path

from pyinfra.api import Config, State
from pyinfra.api.connect import connect_all, disconnect_all
from pyinfra.api.operation import add_op
from pyinfra.api.operations import run_ops
from pyinfra.operations import server

from pyinfra.api import Inventory

from wheelfleet.lab import load

fleet = load(Path(sys.argv[1]))
hosts = fleet.pyinfra_hosts()
inv = Inventory((hosts, {}), linux=([name for name, _ in hosts], fleet.group_data))
state = State(inv, Config(PARALLEL=3, FAIL_PERCENT=None, CONNECT_TIMEOUT=10))
connect_all(state)
results = add_op(state, server.shell, commands=["cat /etc/hostname"])
run_ops(state)
print(json.dumps({h.name: [results[h].stdout.strip(), h.data.get("testfleet_marker")]
                  for h in inv}))
disconnect_all(state)
"""


def test_pyinfra_api_in_process(fleet3: Fleet) -> None:
    """The in-process route (gevent patched first) works too; run in a child process."""
    proc = subprocess.run(
        [sys.executable, "-c", API_SCRIPT, str(fleet3.fleet_dir)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got == {n: [n, "from-group-data"] for n in ("tf1", "tf2", "tf3")}


def test_linux_base_packages_are_predownloaded(fleet3: Fleet) -> None:
    """A converge installs from the cached .debs: nothing left to fetch."""
    result = run_pyinfra(
        fleet3, "exec", "--",
        "apt-get install -y --download-only build-essential python3-dev python3-venv "
        "python3-pip patchelf", limit="tf3",
    )
    assert result.returncode == 0, result.stdout
    assert "Need to get 0 B" in result.stdout, result.stdout


# --- lifecycle -----------------------------------------------------------------------------


def test_up_reuses_then_down_leaves_nothing(tmp_path: Path) -> None:
    _need_root()
    fdir = tmp_path / "fleet"
    first = fleetmod.up(2, fdir, first_octet_offset=50)
    try:
        again = fleetmod.up(2, fdir, first_octet_offset=50, group_data={"x": 1})
        assert [h.pid for h in again.hosts] == [h.pid for h in first.hosts]  # reused
        assert "'x': 1" in again.inventory.read_text()
        # A process left running inside a host (daemonized, outside the SSH session).
        run_pyinfra(again, "exec", "--",
                    "setsid sleep 600 >/dev/null 2>&1 </dev/null & echo started")
        ns = [h.uts_ns for h in again.hosts]
        assert all(ns)
        assert _mounts_under(fdir)
    finally:
        fleetmod.down(fdir)
    assert _mounts_under(fdir) == []
    for rec in again.hosts:
        assert rec.pid is not None and not _alive(rec.pid)
    leftovers = [
        pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
        if _alive(pid) and processes.link(pid, "ns/uts") in ns
    ]
    assert leftovers == []
    assert not (fdir / "hosts").exists()
    assert not (fdir / "fleet.json").exists()
    assert fleetmod.status(fdir)["up"] is False


def test_up_with_other_count_replaces_fleet(tmp_path: Path) -> None:
    _need_root()
    fdir = tmp_path / "fleet"
    try:
        one = fleetmod.up(1, fdir, first_octet_offset=50)
        two = fleetmod.up(2, fdir, first_octet_offset=50)
        assert one.hosts[0].pid is not None and not _alive(one.hosts[0].pid)
        assert len(two.hosts) == 2 and fleetmod.status(fdir)["up"]
    finally:
        fleetmod.down(fdir)
    assert _mounts_under(fdir) == []


def test_failed_up_cleans_up_halfway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _need_root()
    fdir = tmp_path / "fleet"
    real_start = hostmod.start_sshd
    started: list[int] = []

    def start_then_fail(rec: hostmod.HostRecord, save: hostmod.Save) -> None:
        if rec.name == "tf2":
            raise LabError("injected failure")
        real_start(rec, save)
        assert rec.pid is not None
        started.append(rec.pid)

    monkeypatch.setattr(hostmod, "start_sshd", start_then_fail)
    with pytest.raises(LabError, match="injected"):
        fleetmod.up(2, fdir, first_octet_offset=60)
    assert started and not _alive(started[0])
    assert _mounts_under(fdir) == []
    assert not (fdir / "hosts").exists()


def test_address_in_use_is_reported(tmp_path: Path) -> None:
    _need_root()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.62", 22))
        blocker.listen()
        with pytest.raises(LabError, match=r"127\.0\.0\.62:22 is already in use"):
            fleetmod.up(2, tmp_path / "fleet", first_octet_offset=60)
    assert _mounts_under(tmp_path) == []


def test_cli_up_status_down(tmp_path: Path) -> None:
    _need_root()
    fdir = str(tmp_path / "fleet")
    started = time.monotonic()
    cli = [sys.executable, "-c",
           "import sys; from wheelfleet.lab.cli import main; sys.exit(main(sys.argv[1:]))"]
    try:
        up = subprocess.run([*cli, "up", "1", "--dir", fdir, "--offset", "70", "--port", "2222"],
                            capture_output=True, text=True, timeout=300, check=False)
        assert up.returncode == 0, up.stderr
        print(f"cli up 1: {time.monotonic() - started:.1f}s")
        st = subprocess.run([*cli, "status", "--dir", fdir, "--json"],
                            capture_output=True, text=True, timeout=60, check=False)
        info = json.loads(st.stdout)
        assert info["up"] and info["hosts"][0]["port"] == 2222
        assert "[127.0.0.71]:2222 ssh-ed25519" in Path(fdir, "known_hosts").read_text()
        ran = run_pyinfra(Path(fdir, "inventory.py"), "exec", "--", "hostname")
        assert "[tf1] tf1" in ran.stdout, ran.stdout
    finally:
        down = subprocess.run([*cli, "down", "--dir", fdir],
                              capture_output=True, text=True, timeout=120, check=False)
    assert down.returncode == 0, down.stderr
    assert _mounts_under(Path(fdir)) == []
