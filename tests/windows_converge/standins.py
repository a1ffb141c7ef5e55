"""A scripted Windows for the WS-Management peer: STAND-INS, not Windows.

Loaded by tests/winrm/wsman_peer.py (config ``stand_ins``) and asked first about every
PowerShell script: it recognises the scripts the Windows roles generate by their
``# wheelfleet: <mark>`` line, reads their single-quoted inputs and does to a sandbox ``C:\\``
and a JSON "registry" what Windows would do: vswhere answers from recorded instances,
``reg.exe query`` prints in reg.exe's format, an "interpreter" is a file holding the JSON its
probe would print, installers record what they installed and exit with codes a test scripts
(``scenario.json``: program name -> exit codes in order), ``shutdown /r`` restarts the peer.
Downloads are real HTTP GETs from the test's loopback mirror, hashed for real.  The health
check's tools venv is a real venv of this machine's Python with the role's locked
requirements installed by real pip (``--require-hashes``), its wheelhouse downloaded by real
pip from the role's hashed lines for the script's target Python and platforms; the health
agent's answer is SCRIPTED (see ``health_agent``), its kept wheels real cross-built PE
canaries.  What the
PowerShell itself does on Windows PowerShell 5.1 is not proven here (its syntax is, by
tree-sitter-powershell).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

PYTHONCORE = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Python\\PythonCore"
VC9_KEY = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\DevDiv\\VCForPython\\9.0"
SDK_KEY = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Microsoft SDKs\\Windows\\v7.1"
VC9_DIR = "C:\\Program Files (x86)\\Common Files\\Microsoft\\Visual C++ for Python\\9.0"
SDK_DIR = "C:\\Program Files\\Microsoft SDKs\\Windows\\v7.1"
BT_DIR = "C:\\Program Files (x86)\\Microsoft Visual Studio\\2022\\BuildTools"
VSWHERE = "C:\\Program Files (x86)\\Microsoft Visual Studio\\Installer\\vswhere.exe"


def _state_path(process: Any) -> Path:
    return Path(process.peer.root) / "windows-state.json"


def load(process: Any) -> dict[str, Any]:
    path = _state_path(process)
    if path.exists():
        return json.loads(path.read_text())
    return {"vs": [], "registry": {}, "runs": [], "reboots": 0}


def save(process: Any, state: dict[str, Any]) -> None:
    path = _state_path(process)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=1))


def scenario(process: Any) -> dict[str, Any]:
    path = Path(process.peer.root) / "scenario.json"
    return json.loads(path.read_text()) if path.exists() else {}


def handle(process: Any, script: str, marks: set[str]) -> int | None:
    for mark, function in HANDLERS.items():
        if mark in marks:
            return function(process, script)
    return None


def var(process: Any, script: str, name: str) -> str:
    return str(process.variable(script, name))


def int_var(script: str, name: str) -> int:
    found = re.search(rf"^\${name} = (\d+)$", script, re.MULTILINE)
    assert found, name
    return int(found.group(1))


def mkdir(process: Any, script: str) -> int:
    process.path(var(process, script, "path")).mkdir(parents=True, exist_ok=True)
    return 0


def download(process: Any, script: str) -> int:
    url, dest = var(process, script, "url"), var(process, script, "dest")
    expected = var(process, script, "expected")
    target = process.path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".wfpart")
    try:
        with urllib.request.urlopen(url, timeout=int_var(script, "timeout")) as answer:
            part.write_bytes(answer.read())
    except OSError as exc:
        part.unlink(missing_ok=True)
        process.write("stderr", f"download of {url} failed: {exc}\r\n".encode())
        return 1
    actual = hashlib.sha256(part.read_bytes()).hexdigest()
    if actual != expected:
        part.unlink()
        line = (f"sha256 mismatch for {url}: expected {expected}, got {actual}; the file was "
                "deleted and nothing was run\r\n")
        process.write("stderr", line.encode())
        return 2
    os.replace(part, target)
    return 0


def vswhere(process: Any, script: str) -> int:
    if not process.path(VSWHERE).is_file():
        process.out("[]")
        return 0
    requires = [r for r in var(process, script, "requires").split(" ") if r]
    found = [{"instanceId": i["id"], "installationPath": i["path"],
              "installationVersion": i["version"], "productId": i["product"],
              "displayName": "Visual Studio Build Tools 2022", "isComplete": i["complete"],
              "isRebootRequired": i["reboot_required"], "isLaunchable": True}
             for i in load(process)["vs"] if set(requires) <= set(i["components"])]
    for line in json.dumps(found, indent=2).splitlines() if found else ["[", "]"]:
        process.out(line)
    return 0


def reg_query(process: Any, script: str) -> int:
    key = var(process, script, "key").replace("HKLM\\", "HKEY_LOCAL_MACHINE\\", 1)
    view = var(process, script, "view").rpartition(":")[2]
    registry = load(process)["registry"]
    keys = sorted(k for k in registry if k.split("|")[0].lower() == key.lower()
                  or k.split("|")[0].lower().startswith(key.lower() + "\\"))
    keys = [k for k in keys if k.endswith(f"|{view}")]
    if not keys:
        process.last_exit = 1  # what reg.exe does; the script resets $LASTEXITCODE
        return 0
    for k in keys:
        process.out("")
        process.out(k.split("|")[0])
        for name, value in registry[k].items():
            kind = "REG_DWORD" if value.startswith("0x") else "REG_SZ"
            process.out(f"    {name}    {kind}    {value}")
    process.out("")
    return 0


def interpreter(process: Any, script: str) -> int:
    exe = process.path(var(process, script, "exe"))
    if exe.is_file():
        process.out(exe.read_text().strip())
    return 0


def installer_log(process: Any, script: str) -> int:
    log = process.path(var(process, script, "log"))
    if log.is_file():
        for line in log.read_text().splitlines()[-400:]:
            process.out(line)
    return 0


def boot_time(process: Any, script: str) -> int:
    import datetime

    when = datetime.datetime.fromtimestamp(process.peer.boot_time, datetime.UTC)
    process.out("boot " + when.strftime("%Y-%m-%dT%H:%M:%S.%f0Z"))
    return 0


def reboot(process: Any, script: str) -> int:
    state = load(process)
    state["reboots"] += 1
    for instance in state["vs"]:
        instance["reboot_required"], instance["complete"] = False, True
    save(process, state)
    process.peer.restart(after=1.0, down=float(scenario(process).get("down_seconds", 2)))
    return 0


def nuget_extract(process: Any, script: str) -> int:
    package = process.path(var(process, script, "package"))
    target = process.path(var(process, script, "target"))
    if target.exists():
        for path in sorted(target.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        target.rmdir()
    with zipfile.ZipFile(package) as archive:
        archive.extractall(target)
    return 0


# --- installers ---------------------------------------------------------------------------

def _answer(target: str, exe: str, version: str, arch: str, free_threaded: bool) -> str:
    platform, bits = {"x86": ("win32", 32), "x64": ("win-amd64", 64),
                      "arm64": ("win-arm64", 64)}[arch]
    return json.dumps({"version": version, "bits": bits, "platform": platform,
                       "free_threaded": free_threaded, "executable": f"{target}\\{exe}"})


def _register_python(state: dict[str, Any], version: str, arch: str, target: str,
                     legacy: bool) -> None:
    minor = ".".join(version.split(".")[:2])
    tag = minor + ("-32" if arch == "x86" and not legacy else "-arm64" if arch == "arm64" else "")
    view = "32" if arch == "x86" else "64"
    root = f"{PYTHONCORE}\\{tag}"
    for key in [k for k in state["registry"] if k.startswith(root + "\\") or
                k.startswith(root + "|")]:
        del state["registry"][key]
    state["registry"][f"{root}|{view}"] = {} if legacy else {
        "DisplayName": f"Python {minor}", "Version": version, "SysVersion": minor,
        "SysArchitecture": "32bit" if arch == "x86" else "64bit"}
    state["registry"][f"{root}\\InstallPath|{view}"] = {
        "(Default)": target + "\\",
        **({} if legacy else {"ExecutablePath": f"{target}\\python.exe"})}


def _properties(arguments: list[str]) -> dict[str, str]:
    return {a.split("=", 1)[0].upper(): a.split("=", 1)[1] for a in arguments if "=" in a}


def _effect(process: Any, state: dict[str, Any], program: str, arguments: list[str]) -> str:
    """Install what ``program`` would: returns the name its exit codes are scripted under."""
    name = program.rpartition("\\")[2].lower()
    if name == "msiexec.exe":
        package = arguments[arguments.index("/i") + 1]
        name = package.rpartition("\\")[2].lower()
        if not process.path(package).is_file():
            raise FileNotFoundError(package)
        props = _properties(arguments)
        if name == "vcforpython27.msi":
            state["registry"][f"{VC9_KEY}|32"] = {"installdir": VC9_DIR + "\\"}
            marker = process.path(VC9_DIR + "\\vcvarsall.bat")
        else:
            version = re.match(r"python-([\d.]+?)(\.amd64)?\.msi$", name).group(1)  # type: ignore[union-attr]
            arch = "x64" if ".amd64" in name else "x86"
            target = props["TARGETDIR"]
            marker = process.path(target + "\\python.exe")
            state.setdefault("pending", []).append(
                [str(marker), _answer(target, "python.exe", version, arch, False)])
            _register_python(state, version, arch, target, legacy=True)
            return name
        state.setdefault("pending", []).append([str(marker), "@echo off\r\n"])
        return name
    if not process.path(program).is_file():
        raise FileNotFoundError(program)
    if name.startswith("vs_buildtools"):
        if arguments and arguments[0] == "modify":
            path = arguments[arguments.index("--installPath") + 1]
            instance = next(i for i in state["vs"] if i["path"] == path)
        else:
            instance = {"id": "5f0c2a71", "path": BT_DIR, "version": "17.9.34728.123",
                        "product": "Microsoft.VisualStudio.Product.BuildTools", "complete": True,
                        "reboot_required": False, "components": []}
            state["vs"].append(instance)
        adds = [arguments[i + 1] for i, a in enumerate(arguments) if a == "--add"]
        instance["components"] = sorted(set(instance["components"]) | set(adds))
        state.setdefault("pending", []).append([str(process.path(VSWHERE)), "stand-in"])
        return name
    if name == "sdksetup.exe":
        state["registry"][f"{SDK_KEY}|64"] = {"InstallationFolder": SDK_DIR + "\\",
                                              "ProductVersion": "7.1.7600.0.30514"}
        state.setdefault("pending", []).append(
            [str(process.path(SDK_DIR + "\\Bin\\SetEnv.cmd")), "@echo off\r\n"])
        return name
    match = re.match(r"python-([\d.]+?)(-amd64|-arm64)?\.exe$", name)
    if match:
        version = match.group(1)
        arch = {"-amd64": "x64", "-arm64": "arm64"}.get(match.group(2) or "", "x86")
        props = _properties(arguments)
        target = props["TARGETDIR"]
        free = props.get("INCLUDE_FREETHREADED") == "1"
        exe = f"python{'.'.join(version.split('.')[:2])}t.exe" if free else "python.exe"
        state.setdefault("pending", []).append(
            [str(process.path(target + "\\" + exe)), _answer(target, exe, version, arch, free)])
        _register_python(state, version, arch, target, legacy=False)
        return name
    return name


def run_installer(process: Any, script: str) -> int:
    program = var(process, script, "program")
    arguments = shlex.split(var(process, script, "arguments").replace("\\", "\\\\"))
    state = load(process)
    before = json.dumps(state)
    try:
        name = _effect(process, state, program, arguments)
    except FileNotFoundError as missing:
        process.out(f"wheelfleet-exit 2  # {missing} not found")
        return 0
    codes = scenario(process).get("exit_codes", {}).get(name, [])
    used = state.setdefault("used", {}).get(name, 0)
    code = codes[used] if used < len(codes) else 0
    state["used"][name] = used + 1
    state["runs"].append({"program": program, "arguments": arguments, "exit": code})
    if code in (0, 3010):
        for path, content in state.pop("pending", []):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(content)
        if code == 3010:
            for instance in state["vs"]:
                instance["reboot_required"], instance["complete"] = True, False
    else:  # the installer changed nothing
        runs, used_now = state["runs"], state["used"]
        state = json.loads(before)
        state["runs"], state["used"] = runs, used_now
    state.pop("pending", None)
    save(process, state)
    process.out(f"wheelfleet-exit {code}")
    return 0


# --- the health check (roles/windows_health, facts/windows_health) ------------------------

def unpack_archive(process: Any, script: str) -> int:
    """Expand-Archive into the target, with the marker the script writes."""
    archive = process.path(var(process, script, "archive"))
    target = process.path(var(process, script, "target"))
    part = target.with_name(target.name + ".wfpart")
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(part)
    (part / "wheelfleet-archive.sha256").write_text(var(process, script, "marker") + "\n")
    if target.exists():
        import shutil

        shutil.rmtree(target)
    os.replace(part, target)
    return 0


def tools_venv(process: Any, script: str) -> int:
    """A REAL venv made by this machine's Python (stand-in for the Windows interpreter the
    script names, which must exist), ``Scripts\\python.exe`` linked to its ``bin/python``,
    and the role's requirement lines installed by real pip with ``--require-hashes``."""
    import subprocess
    import sys

    if not process.path(var(process, script, "python")).is_file():
        process.write("stderr", b"the tools venv's Python is not installed\r\n")
        return 1
    venv = process.path(var(process, script, "venv"))
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        (venv / "Scripts").mkdir(exist_ok=True)
        (venv / "Scripts" / "python.exe").symlink_to(venv / "bin" / "python")
    req = venv / "wheelfleet-requirements.txt"
    req.write_text(var(process, script, "requirements") + "\n")
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                           "--disable-pip-version-check", "--no-input", "--only-binary=:all:",
                           "--require-hashes", "-r", str(req)], capture_output=True, text=True,
                          timeout=600)
    for line in (done.stdout + done.stderr).splitlines()[-20:]:
        process.out(line)
    return done.returncode


def venv_packages(process: Any, script: str) -> int:
    """The venv's own Python (the real venv tools_venv made) runs the fact's probe."""
    import subprocess

    python = process.path(var(process, script, "python"))
    if python.exists():
        done = subprocess.run([str(python), "-c", var(process, script, "probe")],
                              capture_output=True, text=True, timeout=120)
        process.out(done.stdout.strip())
    return 0


def wheelhouse_files(process: Any, script: str) -> int:
    """``Get-ChildItem``'s names of the sandbox wheelhouse's files."""
    folder = process.path(var(process, script, "path"))
    if folder.is_dir():
        for child in sorted(folder.iterdir()):
            if child.is_file():
                process.out(child.name)
    return 0


def wheelhouse_download(process: Any, script: str) -> int:
    """REAL ``pip download`` by this machine's pip (stand-in for the Windows tools Python the
    script names, which must exist) with the script's target Python, platforms and hashed
    requirement lines, into the sandbox wheelhouse: real files, real hash checks."""
    import subprocess
    import sys

    if not process.path(var(process, script, "python")).is_file():
        process.write("stderr", b"the wheelhouse's downloading Python is not installed\r\n")
        return 1
    folder = process.path(var(process, script, "path"))
    folder.mkdir(parents=True, exist_ok=True)
    version = var(process, script, "pythonVersion")
    req = folder / f"wheelfleet-requirements-{version}.txt"
    req.write_text(var(process, script, "requirements") + "\n")
    platforms = [p for p in var(process, script, "platforms").split(" ") if p]
    try:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "-q",
                               "--disable-pip-version-check", "--no-input", "--no-deps",
                               "--only-binary=:all:", "--require-hashes", "--python-version",
                               version, *(a for p in platforms for a in ("--platform", p)),
                               "-d", str(folder), "-r", str(req)],
                              capture_output=True, text=True, timeout=600)
    finally:
        req.unlink()
    for line in (done.stdout + done.stderr).splitlines()[-20:]:
        process.out(line)
    return done.returncode


def kernel(process: Any, script: str) -> int:
    process.out("Windows_NT")  # $env:OS on every Windows NT
    return 0


AGENT_CALL = re.compile(r"& '((?:[^']|'')*)' '((?:[^']|'')*)' '((?:[^']|'')*)' 2>&1")


def health_agent(process: Any, script: str) -> int:
    """SCRIPTED agent answer (no Windows builds here): for each check of the plan the role
    uploaded, ``passed`` with the kept wheel a real cross-built PE canary the test put in
    ``pe-wheels/<python>-<arch>.whl`` (copied to where the agent keeps it, for the controller
    to fetch over WinRM and judge with wheelcheck), or ``failed`` saying no stand-in wheel
    exists for that cell.  Missing agent, plan or Python: the fact's own "missing" answer."""
    found = AGENT_CALL.search(script)
    assert found, "the health fact's call changed"
    python, agent, plan_file = (p.replace("''", "'") for p in found.groups())
    missing = [p for p in (agent, plan_file, python) if not process.path(p).is_file()]
    if missing:
        process.out("wheelfleet-agent-missing")
        for path in missing:
            process.out("no " + path)
        return 0
    plan = json.loads(process.path(plan_file).read_text())
    delvewheel = None
    venv_python = process.path(plan["tools_venv"] + "\\Scripts\\python.exe")
    if venv_python.exists():
        import subprocess

        done = subprocess.run([str(venv_python), "-c", "import importlib.metadata as m; "
                               "print(m.version('delvewheel'))"], capture_output=True, text=True)
        delvewheel = done.stdout.strip() or None
    wheels = Path(process.peer.root) / "pe-wheels"
    records = []
    for check in plan["checks"]:
        record = {"image": check["image"], "image_digest": check["digest"],
                  "python": check["python"], "arch": check["arch"],
                  "variant": check["variant"], "status": "failed", "step": None,
                  "exit_code": None, "output_tail": [], "diagnosis": None, "reason": None,
                  "duration_s": 0.1, "wheel": None, "bundled_libs": [], "answer": None,
                  "versions": {"python": check["python"], "delvewheel": delvewheel,
                               "msvc": f"{check['family'].upper()} (stand-in)"}}
        source = next(iter(sorted(wheels.glob(f"{check['python']}-{check['arch']}/*.whl"))),
                      None)
        if delvewheel != plan["delvewheel_version"]:
            record.update(step="repair", diagnosis=f"delvewheel {delvewheel or 'missing'} in "
                          "the tools venv (stand-in answer)")
        elif source is None:
            record.update(step="build", diagnosis="stand-in: no cross-built canary for "
                          f"{check['python']} {check['arch']}")
        else:
            kept = f"{plan['keep_dir']}\\{check['image']}\\{check['python']}-" \
                f"{check['arch']}-{check['variant']}.whl"
            process.path(kept).parent.mkdir(parents=True, exist_ok=True)
            process.path(kept).write_bytes(source.read_bytes())
            with zipfile.ZipFile(source) as wheel:
                libs = [n for n in wheel.namelist() if n.lower().endswith(".dll")]
            record.update(status="passed", wheel=source.name, wheel_path=kept,
                          bundled_libs=libs, answer=plan["expected"])
        records.append(record)
    process.out(json.dumps(records))
    process.out("wheelfleet-agent-exit=0")
    return 0


HANDLERS = {
    "mkdir": mkdir, "download": download, "vswhere": vswhere, "reg-query": reg_query,
    "interpreter": interpreter, "installer-log": installer_log, "boot-time": boot_time,
    "reboot": reboot, "nuget-extract": nuget_extract, "run-installer": run_installer,
    "unpack-archive": unpack_archive, "tools-venv": tools_venv, "venv-packages": venv_packages,
    "kernel": kernel, "health-agent": health_agent, "wheelhouse-files": wheelhouse_files,
    "wheelhouse-download": wheelhouse_download,
}
