"""SSH trust (issue 14, item 1): pinned host keys by default, onboarding compares the key.

* ``check-inventory``, ``verify``, ``health`` and an inventory's ``guard`` refuse an SSH host
  that would connect without a verified host key — before connecting — unless the inventory
  opts out with ``host_key_trust``;
* ``wheelfleet onboard --host-key SHA256:…`` compares the key the host presents before any
  command; ``--trust-on-first-use`` records it and prints its fingerprint;
* key and known_hosts files are 0600 / 0644 whatever the umask.

Proof levels, per test: real CLI on real inventory files; protocol peer (a paramiko SSH
server on 127.0.0.1 that presents real ECDSA and RSA host keys and records any login
attempt); real host (one lab Debian host with its own sshd, ``-m fleet``, root).
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
from lab.fleet_fixture import fleet_fixture

from wheelfleet.cli import main
from wheelfleet.fleetfile import SshTarget, host_key_problem, ssh_target
from wheelfleet.lab import inventory as lab_inventory
from wheelfleet.lab import keys as lab_keys
from wheelfleet.verify.hostkeys import (
    HostKey,
    HostKeyError,
    fingerprint,
    offered_keys,
    pin_host_key,
)

BIN = Path(sys.executable).parent
LINUX = {"pythons": ["3.12"], "arches": ["x86_64"], "image_policies": ["manylinux_2_28"]}


def write_inventory(path: Path, hosts: list, data: dict | None = None, guard: bool = False
                    ) -> Path:
    body = f"linux = ({hosts!r}, {({**LINUX, **(data or {})})!r})\n"
    if guard:
        body += "from wheelfleet.fleetfile import guard\nguard(__file__)\n"
    path.write_text(body)
    return path


def check(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["check-inventory", str(path)])
    out = capsys.readouterr()
    return code, out.out, out.err


# --- refusing unverified host keys before connecting -------------------------------------------

REFUSED = [
    # (id, host data, words)
    ("not-set", {}, 'would trust whatever host key it is shown first'),
    ("accept-new", {"ssh_strict_host_key_checking": "accept-new"}, "shown first"),
    ("no", {"ssh_strict_host_key_checking": "no"}, "would accept any host key"),
    ("off", {"ssh_strict_host_key_checking": "off"}, "would accept any host key"),
    ("ask", {"ssh_strict_host_key_checking": "ask"}, "prompts on the terminal"),
    ("bool", {"ssh_strict_host_key_checking": True}, 'expected "yes"'),
    ("no-with-first-use", {"ssh_strict_host_key_checking": "no",
                           "host_key_trust": "first-use"}, 'host_key_trust: "unverified"'),
]


@pytest.mark.parametrize("case", REFUSED, ids=[c[0] for c in REFUSED])
def test_check_inventory_refuses_a_host_without_a_verified_key(tmp_path, capsys, case):
    """Real CLI entry point, real inventory: one line naming the host and what to do."""
    _, data, words = case
    path = write_inventory(tmp_path / "fleet.py", [("b1", data)])
    code, _, err = check(capsys, path)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "fleet.py: b1.ssh_strict_host_key_checking: " in lines[0], lines[0]
    assert words in lines[0], lines[0]
    assert "--host-key SHA256:" in lines[0] or "ask" in lines[0], lines[0]


ACCEPTED = [
    ("pinned", {"ssh_strict_host_key_checking": "yes"}),
    ("first-use-opt-out", {"host_key_trust": "first-use"}),
    ("first-use-accept-new", {"host_key_trust": "first-use",
                              "ssh_strict_host_key_checking": "accept-new"}),
    ("unverified-opt-out", {"host_key_trust": "unverified",
                            "ssh_strict_host_key_checking": "no"}),
]


@pytest.mark.parametrize("case", ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_pinned_hosts_and_explicit_opt_outs_pass(tmp_path, capsys, case):
    _, data = case
    path = write_inventory(tmp_path / "fleet.py", [("b1", data)])
    code, out, err = check(capsys, path)
    assert code == 0, err
    assert "ok: 1 hosts" in out


def test_hosts_not_reached_over_ssh_need_no_host_key(tmp_path, capsys):
    """``@local`` has no host key to verify: not refused."""
    path = write_inventory(tmp_path / "fleet.py", ["@local"])
    code, _, err = check(capsys, path)
    assert code == 0, err


def test_the_lab_inventory_pins_keys(tmp_path):
    """What ``testfleet up`` writes passes the rule (strict, the fleet's own known_hosts)."""
    data = lab_inventory.host_data("127.0.0.11", 22, tmp_path / "k", tmp_path / "kh", tmp_path)
    assert host_key_problem("tf1", {**LINUX, **data}, "pinned") is None


@pytest.fixture()
def listener() -> Iterator[tuple[socket.socket, int]]:
    """A TCP port on 127.0.0.1 that records whether anything connected to it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.2)
    yield sock, sock.getsockname()[1]
    sock.close()


def connected(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except TimeoutError:
        return False
    conn.close()
    return True


def test_guard_stops_pyinfra_before_it_connects(tmp_path, listener):
    """Real pyinfra CLI (the converge path): the inventory's guard refuses the unpinned host
    with one line and exit 2; the host's port never saw a connection."""
    sock, port = listener
    path = write_inventory(tmp_path / "fleet.py", [("b1", {"ssh_hostname": "127.0.0.1",
                                                           "ssh_port": port})], guard=True)
    out = subprocess.run([str(BIN / "pyinfra"), "-y", str(path), "exec", "--", "true"],
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "b1.ssh_strict_host_key_checking" in out.stderr
    assert "Traceback" not in out.stderr
    assert not connected(sock)


def test_verify_refuses_before_it_connects(tmp_path, listener):
    """Real ``wheelfleet verify``: exit 2, one line, no connection, no report written."""
    sock, port = listener
    path = write_inventory(tmp_path / "fleet.py", [("b1", {"ssh_hostname": "127.0.0.1",
                                                           "ssh_port": port})])
    out = subprocess.run([str(BIN / "wheelfleet"), "verify", str(path), "--reports-root",
                          str(tmp_path / "reports")], capture_output=True, text=True,
                         timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 2, out.stdout + out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "b1 would trust whatever host key" in out.stderr
    assert not connected(sock)
    assert not (tmp_path / "reports").exists()


# --- onboarding compares the key: protocol peer -------------------------------------------------


class Peer(paramiko.ServerInterface):
    """An SSH server presenting real host keys; it lets nobody in and counts who tried."""

    def __init__(self, keys: list[paramiko.PKey]) -> None:
        self.keys = keys
        self.logins = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        transport = paramiko.Transport(conn)
        for key in self.keys:
            transport.add_server_key(key)
        try:
            transport.start_server(server=self)
            while transport.is_active():
                transport.join(0.2)
        except (paramiko.SSHException, EOFError, OSError):
            pass
        finally:
            transport.close()

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        self.logins += 1
        return paramiko.AUTH_FAILED

    def check_auth_none(self, username: str) -> int:
        self.logins += 1
        return paramiko.AUTH_FAILED


@pytest.fixture(scope="module")
def host_keys() -> list[paramiko.PKey]:
    return [paramiko.ECDSAKey.generate(), paramiko.RSAKey.generate(2048)]


@pytest.fixture()
def peer(host_keys) -> Iterator[Peer]:
    server = Peer(host_keys)
    yield server
    server.sock.close()


def target(peer: Peer, tmp_path: Path, strict: str = "yes") -> SshTarget:
    return SshTarget(host="b1", address="127.0.0.1", port=peer.port,
                     known_hosts=tmp_path / "ssh" / "known_hosts", strict=strict)


def fp(key: paramiko.PKey) -> str:
    return fingerprint(key.asbytes())


def test_every_key_the_host_presents_is_read_without_logging_in(peer, host_keys):
    """Protocol peer: one handshake per key type; both real keys, no login attempted."""
    found = offered_keys("127.0.0.1", peer.port)
    assert {k.fingerprint for k in found} == {fp(k) for k in host_keys}
    assert {k.name for k in found} == {"ecdsa-sha2-nistp256", "ssh-rsa"}
    assert peer.logins == 0


def test_a_matching_key_is_pinned_0644_whatever_the_umask(peer, host_keys, tmp_path):
    t = target(peer, tmp_path)
    old = os.umask(0)
    try:
        line = pin_host_key(t, fp(host_keys[1]), False, echo=lambda _: None)
    finally:
        os.umask(old)
    assert "matches --host-key" in line and fp(host_keys[1]) in line
    assert (t.known_hosts.stat().st_mode & 0o777) == 0o644
    assert (t.known_hosts.parent.stat().st_mode & 0o777) == 0o700
    loaded = paramiko.HostKeys(str(t.known_hosts))
    assert loaded.lookup(f"[127.0.0.1]:{peer.port}")["ssh-rsa"] == host_keys[1]
    # Again: already pinned, nothing appended.
    before = t.known_hosts.read_text()
    assert "already pinned" in pin_host_key(t, fp(host_keys[1]), False, echo=lambda _: None)
    assert t.known_hosts.read_text() == before
    assert peer.logins == 0


def test_a_different_key_is_refused_and_nothing_is_recorded(peer, tmp_path):
    wrong = fp(paramiko.ECDSAKey.generate())
    t = target(peer, tmp_path)
    with pytest.raises(HostKeyError, match="not the expected " + wrong.replace("+", r"\+")):
        pin_host_key(t, wrong, False, echo=lambda _: None)
    assert not t.known_hosts.exists()
    assert peer.logins == 0


def test_trust_on_first_use_records_the_key_and_says_its_fingerprint(peer, host_keys, tmp_path):
    t = target(peer, tmp_path)
    said: list[str] = []
    line = pin_host_key(t, None, True, echo=said.append)
    assert "trusted on first use" in line and fp(host_keys[0]) in line  # ECDSA preferred
    assert fp(host_keys[0]) in said[0] and fp(host_keys[1]) in said[0]
    assert paramiko.HostKeys(str(t.known_hosts)).lookup(f"[127.0.0.1]:{peer.port}")


def test_a_changed_key_is_refused_even_on_first_use(peer, tmp_path):
    t = target(peer, tmp_path)
    t.known_hosts.parent.mkdir()
    other = paramiko.ECDSAKey.generate()
    t.known_hosts.write_text(f"[127.0.0.1]:{peer.port} {other.get_name()} "
                             f"{other.get_base64()}\n")
    with pytest.raises(HostKeyError, match="the host key changed"):
        pin_host_key(t, None, True, echo=lambda _: None)


def test_no_pin_and_no_flag_says_what_to_pass(peer, tmp_path):
    with pytest.raises(HostKeyError, match="pass --host-key SHA256:"):
        pin_host_key(target(peer, tmp_path), None, False, echo=lambda _: None)
    assert peer.logins == 0


def test_onboard_cli_refuses_a_wrong_host_key_before_any_command(peer, tmp_path):
    """The installed CLI against the protocol peer: exit 2, one line, no login attempted."""
    path = write_inventory(tmp_path / "fleet.py", [("b1", {
        "ssh_hostname": "127.0.0.1", "ssh_port": peer.port, "ssh_strict_host_key_checking": "yes",
        "ssh_known_hosts_file": str(tmp_path / "known_hosts")})])
    wrong = fp(paramiko.ECDSAKey.generate())
    out = subprocess.run([str(BIN / "wheelfleet"), "onboard", str(path), "b1", "--host-key",
                          wrong, "--reports-root", str(tmp_path / "reports")],
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 2, out.stdout + out.stderr
    line = out.stderr.strip()
    assert "\n" not in line and "Traceback" not in line, line
    assert f"b1: 127.0.0.1:{peer.port} presents " in line and wrong in line, line
    assert line.endswith("nothing was changed"), line
    assert peer.logins == 0
    assert not (tmp_path / "known_hosts").exists() and not (tmp_path / "reports").exists()


def test_onboard_cli_checks_the_fingerprint_s_form(tmp_path):
    path = write_inventory(tmp_path / "fleet.py", [("b1", {"ssh_strict_host_key_checking": "yes"})])
    out = subprocess.run([str(BIN / "wheelfleet"), "onboard", str(path), "b1", "--host-key",
                          "MD5:aa:bb"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "--host-key: expected SHA256:" in out.stderr, out.stderr


def test_ssh_target_reads_the_inventory_s_connection(tmp_path):
    path = write_inventory(tmp_path / "fleet.py", [("b1", {
        "ssh_hostname": "127.0.0.5", "ssh_port": 2222, "ssh_known_hosts_file": "~/kh"})])
    t = ssh_target(path, "b1")
    assert t is not None
    assert (t.address, t.port, t.known_hosts) == ("127.0.0.5", 2222, Path.home() / "kh")


# --- the lab's key files ------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_lab_keys_and_known_hosts_have_fixed_modes(tmp_path, umask):
    """Real files: 0600 private key, 0644 public key, known_hosts and inventory."""
    old = os.umask(umask)
    try:
        lab_keys.ensure_client_key(tmp_path / "id_ed25519")
        lab_keys.write_known_hosts(tmp_path / "known_hosts", [("127.0.0.11", 22, ["ssh-x A"])])
        lab_inventory.write(tmp_path / "inventory.py", [], {})
    finally:
        os.umask(old)

    def mode(name: str) -> int:
        return (tmp_path / name).stat().st_mode & 0o777

    assert mode("id_ed25519") == 0o600
    assert mode("id_ed25519.pub") == 0o644
    assert mode("known_hosts") == 0o644
    assert mode("inventory.py") == 0o644
    assert (tmp_path / "known_hosts").read_text() == "127.0.0.11 ssh-x A\n"


def test_hostkey_dataclass_equality_is_the_key():
    key = paramiko.ECDSAKey.generate()
    assert HostKey.of(key) == HostKey.of(paramiko.ECDSAKey(data=key.asbytes()))


# --- a real host --------------------------------------------------------------------------------

hostkey_fleet = fleet_fixture(1, first_octet_offset=90, scope="module")


@pytest.mark.fleet
@pytest.mark.slow
def test_onboard_pins_a_real_host_s_key(hostkey_fleet, tmp_path):
    """Real host (a lab Debian host with its own sshd): a wrong ``--host-key`` is refused by
    the installed CLI before anything runs; the right one (the fingerprint of the host's own
    key file, as its console shows it) is pinned, and strict pyinfra then connects with it."""
    rec = hostkey_fleet.hosts[0]
    data = dict(hostkey_fleet.pyinfra_hosts())[rec.name]
    known = tmp_path / "known_hosts"  # empty: this fleet has not pinned the host yet
    path = write_inventory(tmp_path / "fleet.py",
                           [(rec.name, {**data, "ssh_known_hosts_file": str(known)})])
    expected = fingerprint(base64.b64decode(rec.host_keys[0].split()[1]))
    wrong = fp(paramiko.ECDSAKey.generate())

    out = subprocess.run([str(BIN / "wheelfleet"), "onboard", str(path), rec.name, "--host-key",
                          wrong, "--reports-root", str(tmp_path / "reports")],
                         capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert out.returncode == 2, out.stdout + out.stderr
    assert f"presents {rec.host_keys[0].split()[0]} {expected}" in out.stderr, out.stderr
    assert not known.exists()

    t = ssh_target(path, rec.name)
    assert t is not None
    assert "recorded in" in pin_host_key(t, expected, False, echo=lambda _: None)
    out = subprocess.run([str(BIN / "pyinfra"), "-y", str(path), "exec", "--", "uname", "-s"],
                         capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stdout + out.stderr
