"""The three user jobs on Windows hosts over the real ``@winrm`` connector: ``pyinfra -y
INVENTORY deploys/fleet.py`` converging them (twice: the second run changes nothing),
``wheelfleet verify`` (drift + health + reports) and ``wheelfleet onboard`` (bare ->
converged -> verified).

Level: protocol peer + labelled stand-ins.  Real: the pyinfra CLI, the platform seam, both
roles, every operation's control flow (1618 retried after the inventory's backoff, 3010 → a
restart through pyinfra that waits until WinRM answers from a new boot, a forbidden restart
failing that host alone), NTLM over HTTPS to the peer on 127.0.0.1, downloads over HTTP from
a loopback mirror hashed for real.  Stand-ins (tests/windows_converge/standins.py, loaded into
the peer): what vswhere, reg.exe, the interpreters, msiexec, the python.org / VS / SDK
installers and ``shutdown /r`` do on Windows; the health check's tools venv is a real venv of
this machine's Python filled by real pip from the role's hashed requirement lines, its
wheelhouse downloaded by real pip (with the role's target Python and platforms); the health
agent's answer is SCRIPTED (no Windows builds here) from the plan the role uploaded, its kept
wheels real cross-built PE canaries (tests/windows/pe_canary.py) fetched back over WinRM and
judged by wheelcheck.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from loopback_mirror import Served, loopback_mirror
from peer_fixture import CertificateAuthority, Peer, make_credentials

from wheelfleet.health.windows_plan import python_dll
from wheelfleet.matrix import load_matrix
from wheelfleet.matrix.query import canary_build_requirements
from wheelfleet.pyinfra_run import run_deploy

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "wheelfleet"
STAND_INS = Path(__file__).with_name("standins.py")
ARTIFACTS = "https://artifacts.example"  # the fleet's own mirror origin in the overlay


def nupkg(interpreter: str, answer: dict[str, object]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python-freethreaded.nuspec", "<package/>")
        archive.writestr(f"tools/{interpreter}", json.dumps(answer))
    return buffer.getvalue()


TARGET_FT = "C:\\wheelfleet\\pythons\\3.13t-x64"
FILES = {
    "/ftp/python/2.7.18/python-2.7.18.amd64.msi": b"stand-in: python-2.7.18.amd64.msi",
    "/ftp/python/3.4.4/python-3.4.4.amd64.msi": b"stand-in: python-3.4.4.amd64.msi",
    "/ftp/python/3.12.10/python-3.12.10-amd64.exe": b"stand-in: python-3.12.10-amd64.exe",
    "/v3-flatcontainer/python-freethreaded/3.13.17/python-freethreaded.3.13.17.nupkg": nupkg(
        "python3.13t.exe", {"version": "3.13.17", "bits": 64, "platform": "win-amd64",
                            "free_threaded": True,
                            "executable": f"{TARGET_FT}\\tools\\python3.13t.exe"}),
    "/vs/17/release/vs_buildtools.exe": b"stand-in: vs_buildtools.exe",
    "/msvc/VCForPython27.msi": b"stand-in: VCForPython27.msi",
    "/msvc/sdk71/SDKSetup.exe": b"stand-in: SDKSetup.exe",
}


def openssl_zip(family: str, dll: str) -> bytes:
    """A stand-in OpenSSL archive laid out as the health check reads it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("include/openssl/evp.h", f"/* stand-in {family} */\n")
        archive.writestr("lib/libcrypto.lib", b"stand-in import library")
        archive.writestr(f"bin/{dll}", b"MZ stand-in")
    return buffer.getvalue()


OPENSSL = {("vc9", "1.1.1w", "libcrypto-1_1-x64.dll"), ("vc10", "1.1.1w", "libcrypto-1_1-x64.dll"),
           ("vc14", "3.0.22", "libcrypto-3-x64.dll")}
for _family, _version, _dll in OPENSSL:
    FILES[f"/openssl/{_version}/openssl-{_version}-{_family}-x64.zip"] = openssl_zip(_family, _dll)


# Checks the scripted agent passes: a real PE canary per Python (its family's C runtime, its
# pythonXY.dll), cross-built and repaired as tests/windows does.  3.13t has none.
PE_CELLS = ("2.7", "3.4", "3.12")


def delvewheel_python() -> Path:
    """A venv holding the matrix's delvewheel (shared with tests/windows' cache)."""
    from pe_canary import cache

    pin = load_matrix().tool_pins("windows")["delvewheel"]
    python = cache() / f"delvewheel-{pin}" / "bin" / "python"
    probe = [str(python), "-c", "import importlib.metadata as m; print(m.version('delvewheel'))"]
    if not python.exists() or subprocess.run(probe, capture_output=True,
                                              text=True).stdout.strip() != pin:
        for step in ([sys.executable, "-m", "venv", "--clear", str(python.parents[1])],
                     [str(python), "-m", "pip", "install", "-q", f"delvewheel=={pin}"]):
            subprocess.run(step, check=True, capture_output=True, timeout=600)
    return python


def pe_wheels(out: Path) -> Path:
    """``out/<python>-x64/<wheel>``: the canary for each of PE_CELLS, repaired by delvewheel."""
    from pe_canary import ARCHES, build_canary, cache, pack_wheel

    matrix = load_matrix()
    for python in PE_CELLS:
        py = matrix.pythons[python]
        assert py.windows is not None
        built = build_canary("x64", py.windows.compiler, python_dll(py), cache() / "builds")
        tag = f"cp{py.minor.replace('.', '')}-{py.windows.abi_tag}-{ARCHES['x64'].platform}"
        raw = pack_wheel(built.module, tag, out / "raw" / python)
        subprocess.run([str(delvewheel_python()), "-m", "delvewheel", "repair", "--add-path",
                        str(built.libcrypto.parent), "-w", str(out / f"{python}-x64"),
                        str(raw)], check=True, capture_output=True, timeout=300)
    shutil.rmtree(out / "raw")
    return out


def wheelfleet(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The ``wheelfleet`` command a user runs (pyinfra's gevent stays out of pytest)."""
    return subprocess.run([str(Path(sys.executable).parent / "wheelfleet"),
                           *(str(a) for a in args)], capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def overlay(path: Path, lock_vs: bool = True) -> Path:
    names = {p.rpartition("/")[2]: sha(b) for p, b in FILES.items()}
    lines = [
        "windows_compilers:",
        f"  vc9: {{install: {{url: '{ARTIFACTS}/msvc/VCForPython27.msi', "
        f"sha256: {names['VCForPython27.msi']}}}}}",
        f"  vc10: {{install: {{url: '{ARTIFACTS}/msvc/sdk71/SDKSetup.exe', "
        f"sha256: {names['SDKSetup.exe']}}}}}",
        f"  vc14: {{install: {{sha256: {names['vs_buildtools.exe'] if lock_vs else 'null'}}}}}",
        "windows_sources:",
        "  sha256:",
        *[f"    {name}: {digest}" for name, digest in names.items()
          if name.endswith((".msi", ".exe", ".nupkg")) and name not in
          ("VCForPython27.msi", "SDKSetup.exe", "vs_buildtools.exe")],
        "pythons:",
        "  '3.12': {windows: {arches: {x64: exe}}}",
        "windows_openssl:",
        "  builds:",
        *[f"    {family}: {{sha256: {{x64: {names[f'openssl-{version}-{family}-x64.zip']}}}}}"
          for family, version, _dll in sorted(OPENSSL)],
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    base = tmp_path_factory.mktemp("windows-converge")
    credentials = make_credentials(base)
    ca = CertificateAuthority(base / "pki", "wheelfleet-test-ca")
    mirrors = ExitStack()
    good = mirrors.enter_context(loopback_mirror())
    good.files.update(FILES)
    bad = mirrors.enter_context(loopback_mirror())
    bad.files.update(FILES)
    bad.files["/msvc/VCForPython27.msi"] = b"stand-in: VCForPython27.msi, damaged"
    peers: dict[str, Peer] = {}
    scenarios = {"good": {"exit_codes": {"vs_buildtools.exe": [1618, 3010]}},
                 "noreboot": {"exit_codes": {"vs_buildtools.exe": [3010]}},
                 "corrupt": {}, "unlocked": {}, "fresh": {}}
    wheels = pe_wheels(base / "pe-wheels")
    for name, scenario in scenarios.items():
        cert, key = ca.issue(f"peer-{name}")
        peer = Peer(base / "peers" / name, credentials, record=False, cert=cert, key=key,
                    max_envelope_kb=500, stand_ins=STAND_INS)
        (peer.root / "scenario.json").write_text(json.dumps(scenario))
        shutil.copytree(wheels, peer.root / "pe-wheels")
        peers[name] = peer
    password = base / "password"
    password.write_text(credentials.password + "\n")
    yield {"base": base, "credentials": credentials, "ca": ca, "good": good, "bad": bad,
           "peers": peers, "password": password}
    for peer in peers.values():
        peer.stop()
    mirrors.close()


def inventory(lab: dict[str, object], path: Path) -> Path:
    peers: dict[str, Peer] = lab["peers"]  # type: ignore[assignment]
    ca: CertificateAuthority = lab["ca"]  # type: ignore[assignment]
    good: Served = lab["good"]  # type: ignore[assignment]
    bad: Served = lab["bad"]  # type: ignore[assignment]
    locked = overlay(path.parent / "lock.yaml")
    unlocked = overlay(path.parent / "lock-no-vs.yaml", lock_vs=False)

    def mirrors(mirror: Served) -> dict[str, str]:
        return {"https://www.python.org": mirror.origin, "https://aka.ms": mirror.origin,
                ARTIFACTS: mirror.origin}

    hosts = []
    for name, peer in peers.items():
        data = {
            "winrm_hostname": "127.0.0.1", "winrm_port": peer.port,
            "winrm_user": "WINTEST\\builder", "winrm_ca_trust_path": str(ca.path),
            "winrm_password_file": str(lab["password"]),
            "artifact_mirrors": mirrors(bad if name == "corrupt" else good),
            "nuget_feed": f"{good.origin}/v3-flatcontainer",
            "retry_backoff": [1], "reboot_timeout": 60,
            "matrix_overlay": str(unlocked if name == "unlocked" else locked),
            "allow_reboot": name != "noreboot",
            # onboarded bare by the last test: one Python, so one check
            **({"pythons": ["3.12"]} if name == "fresh" else {}),
        }
        hosts.append(f"    ('@winrm/{name}', {data!r}),\n")
    path.write_text("windows = (\n    [\n" + "".join(hosts) + "    ],\n"
                    "    {'pythons': ['2.7', '3.4', '3.12', '3.13t'], 'arches': ['x64']},\n)\n")
    return path


def state_of(peer: Peer) -> dict[str, object]:
    return json.loads((peer.root / "windows-state.json").read_text())


def host_lines(log: str, name: str) -> list[str]:
    return [line for line in log.splitlines() if f"[@winrm/{name}]" in line]


def test_windows_hosts_converge_once_then_change_nothing(lab: dict[str, object]) -> None:
    """Four Windows hosts, one CLI run. ``good``: its VS bootstrapper answers 1618 (retried
    after the inventory's 1 s backoff) then 3010 (the host is restarted through pyinfra and
    the run waits for WinRM from a new boot), then every Python × arch and the MSVC record;
    a second run changes nothing. ``noreboot`` (allow_reboot: false) fails alone in one line
    at its 3010. ``corrupt`` gets a damaged VCForPython27.msi from its mirror: one line with
    both hashes, the file deleted, no installer run. ``unlocked`` has no sha256 for the VS
    bootstrapper: refused in one line, nothing fetched or run for it. Stand-ins labelled in
    the module docstring."""
    base: Path = lab["base"]  # type: ignore[assignment]
    peers: dict[str, Peer] = lab["peers"]  # type: ignore[assignment]
    inv = inventory(lab, base / "inventory.py")
    env = {"WINRM_PASSWORD": "unused"}
    first = run_deploy(inv, ROOT / "deploys" / "fleet.py", env=env, timeout=300,
                       limit=[f"@winrm/{n}" for n in peers if n != "fresh"])
    log = first.log
    assert "Traceback" not in log, log[-4000:]
    assert sorted(first.failed_hosts) == ["@winrm/corrupt", "@winrm/noreboot",
                                          "@winrm/unlocked"], log[-4000:]

    good = state_of(peers["good"])
    vs_runs = [r for r in good["runs"] if r["program"].endswith("vs_buildtools.exe")]  # type: ignore[union-attr,index,attr-defined]
    assert [r["exit"] for r in vs_runs] == [1618, 3010], good
    assert good["reboots"] == 1
    assert any(e.startswith("restarting") for e in peers["good"].events())
    assert any("another installation is in progress (1618); retrying in 1s" in line
               for line in host_lines(log, "good")), log[-4000:]
    components = set(good["vs"][0]["components"])  # type: ignore[index]
    assert {"Microsoft.VisualStudio.Component.VC.Tools.x86.x64",
            "Microsoft.VisualStudio.Workload.VCTools"} <= components
    assert "Microsoft.VisualStudio.Component.VC.Tools.ARM64" not in components  # not selected
    fs = peers["good"].root / "C" / "wheelfleet"
    for interpreter in ("2.7-x64/python.exe", "3.4-x64/python.exe", "3.12-x64/python.exe",
                        "3.13t-x64/tools/python3.13t.exe"):
        assert (fs / "pythons" / interpreter).is_file(), interpreter
    record = json.loads((fs / "msvc.json").read_text())
    assert record["vc10"]["env"]["DISTUTILS_USE_SDK"] == "1"
    assert set(record) == {"vc9", "vc10", "vc14"}
    programs = [r["program"].rpartition("\\")[2] for r in good["runs"]]  # type: ignore[union-attr,index,attr-defined]
    assert programs.count("msiexec.exe") == 3  # VCForPython27, 2.7, 3.4
    # windows_health: agent + Windows host mode + plan + canary, an unpacked OpenSSL per
    # family (its marker naming the archive's sha256), delvewheel at the pin in a real venv
    health = fs / "health"
    assert (health / "agent.py").read_bytes() == (SRC / "health" / "agent.py").read_bytes()
    assert (health / "windows_agent.py").is_file() and (health / "canary/src/canary.c").is_file()
    plan = json.loads((health / "plan.json").read_text())
    assert plan["os"] == "windows" and len(plan["checks"]) == 4
    assert plan["work_dir"] == "C:\\wheelfleet\\work"
    for family, version, dll in OPENSSL:
        unpacked = fs / "openssl" / f"{family}-x64"
        assert (unpacked / "bin" / dll).is_file()
        assert (unpacked / "wheelfleet-archive.sha256").read_text().strip() == sha(
            FILES[f"/openssl/{version}/openssl-{version}-{family}-x64.zip"])
    venv_python = fs / "tools" / "bin" / "python"
    pin = load_matrix().tool_pins("windows")["delvewheel"]
    assert subprocess.run([str(venv_python), "-c", "import importlib.metadata as m; "
                           "print(m.version('delvewheel'))"], capture_output=True,
                          text=True).stdout.strip() == pin
    # the wheelhouse: each checked Python's canary pins, downloaded by real pip, every file
    # one that `wheelfleet lock` hashed
    matrix = load_matrix()
    house = fs / "cache" / "wheelhouse"
    wheels = sorted(p.name for p in house.iterdir())
    pins = {pin for python in ("2.7", "3.4", "3.12", "3.13t")
            for pin in canary_build_requirements(matrix, python)}
    assert len(wheels) == len(pins) == 6, wheels
    for pin in pins:
        name, _, version = pin.partition("==")
        assert any(w.startswith(f"{name}-{version}-") for w in wheels), (pin, wheels)
    hashed = {f.sha256 for lock in matrix.python_locks.values() for f in lock.files}
    assert all(sha((house / w).read_bytes()) in hashed for w in wheels)

    noreboot = host_lines(log, "noreboot")
    assert any("inventory forbids reboots (allow_reboot: false)" in line for line in noreboot)
    assert state_of(peers["noreboot"])["reboots"] == 0

    corrupt = host_lines(log, "corrupt")
    damaged = sha(b"stand-in: VCForPython27.msi, damaged")
    assert any(f"expected {sha(FILES['/msvc/VCForPython27.msi'])}, got {damaged}" in line
               for line in corrupt), corrupt
    cache = peers["corrupt"].root / "C" / "wheelfleet" / "cache"
    assert not list(cache.glob("VCForPython27*"))
    assert not (peers["corrupt"].root / "windows-state.json").exists() or \
        not state_of(peers["corrupt"])["runs"]

    unlocked = host_lines(log, "unlocked")
    assert any("Visual Studio Build Tools bootstrapper" in line and "has no sha256" in line
               for line in unlocked), unlocked
    assert not any(r["program"].endswith("vs_buildtools.exe")
                   for r in state_of(peers["unlocked"])["runs"])  # type: ignore[union-attr,attr-defined]
    assert not (peers["unlocked"].root / "C" / "wheelfleet" / "cache" /
                "vs_buildtools.exe").exists()

    second = run_deploy(inv, ROOT / "deploys" / "fleet.py", env=env, timeout=300,
                        limit=["@winrm/good"])
    assert second.returncode == 0, second.log[-4000:]
    assert second.total_changes == 0, second.changes
    assert len(state_of(peers["good"])["runs"]) == len(good["runs"])  # type: ignore[arg-type]
    assert lab["credentials"].password not in first.log + second.log  # type: ignore[attr-defined]


def test_verify_reads_drift_and_health_of_a_converged_windows_host(lab: dict[str, object]
                                                                  ) -> None:
    """``wheelfleet verify`` of the converged ``good`` host: the drift check (a dry run of
    deploys/fleet.py over WinRM) finds nothing pending; the health check reads the agent's
    records through the PowerShell fact (SCRIPTED agent answer, built from the plan the role
    uploaded), fetches each kept wheel back over WinRM and judges it with wheelcheck: the real
    PE canaries of 2.7 (VC9), 3.4 (VC10) and 3.12 (VC14) pass, 3.13t (no stand-in wheel)
    fails with the stand-in's diagnosis; report.json, junit.xml and index.html are written."""
    base: Path = lab["base"]  # type: ignore[assignment]
    night = base / "night"
    proc = wheelfleet("verify", base / "inventory.py", "--limit", "@winrm/good", "--out", night)
    text = proc.stdout + proc.stderr
    (base / "verify.log").write_text(text)  # for a failing run's reader
    assert "Traceback" not in text, text[-4000:]
    report = json.loads((night / "report.json").read_text())
    (host,) = report["hosts"]
    assert host["drift"] == {"checked": True, "changes": []} or (
        host["drift"].get("checked") and not host["drift"].get("changes")), host["drift"]
    checks = {c["python"]: c for c in host["checks"]}
    assert set(checks) == {"2.7", "3.4", "3.12", "3.13t"}, text[-4000:]
    for python in PE_CELLS:
        assert checks[python]["status"] == "passed", (checks[python], text[-3000:])
        assert checks[python]["image"] == "windows" and checks[python]["arch"] == "x64"
        assert checks[python]["versions"]["delvewheel"] == \
            load_matrix().tool_pins("windows")["delvewheel"]
    assert checks["3.13t"]["status"] == "failed"
    assert "no cross-built canary" in checks["3.13t"]["diagnosis"]
    assert proc.returncode == 1 and report["verdict"] == "failed"
    assert host["host"] == "@winrm/good"
    assert "3.13t" in (night / "junit.xml").read_text()
    assert "@winrm/good" in (night / "index.html").read_text()
    assert lab["credentials"].password not in text  # type: ignore[attr-defined]


def test_onboard_takes_a_bare_windows_host_to_verified(lab: dict[str, object]) -> None:
    """``wheelfleet onboard`` of ``fresh`` (never converged, 3.12 x64): asks the host what it
    is over WinRM ($env:OS: the stand-in answers Windows_NT), converges all three Windows
    roles, verifies (no drift; the scripted agent's 3.12 record, its real PE wheel passing
    wheelcheck) and says VERIFIED."""
    base: Path = lab["base"]  # type: ignore[assignment]
    peers: dict[str, Peer] = lab["peers"]  # type: ignore[assignment]
    assert not (peers["fresh"].root / "C" / "wheelfleet").exists()  # bare
    out = base / "onboard"
    proc = wheelfleet("onboard", base / "inventory.py", "@winrm/fresh", "--out", out)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-4000:]
    assert "host runs windows" in text and "VERIFIED" in text, text[-4000:]
    (host,) = json.loads((out / "report.json").read_text())["hosts"]
    assert [(c["python"], c["status"]) for c in host["checks"]] == [("3.12", "passed")]
    assert host["drift"].get("checked") and not host["drift"].get("changes"), host["drift"]
    fs = peers["fresh"].root / "C" / "wheelfleet"
    assert (fs / "pythons" / "3.12-x64" / "python.exe").is_file()
    assert (fs / "health" / "plan.json").is_file()
