"""Operations for Windows build hosts: verified downloads, installers, reboots.

Every download is hashed on the host before anything runs it: a mismatch deletes the file and
fails the host naming both hashes; a matrix entry without a sha256 is refused before anything
is fetched.  Installers run through ``_run_installer`` (pyinfra's FunctionCommand): each run has
its own timeout, a 1618 ("another installation is in progress") is retried after a bounded
backoff, 3010 ("restart required") reboots the host and waits for WinRM to come back — or,
when the inventory forbids reboots, fails that host with one line.  Refusals fail one host,
never the fleet's run.
"""

from __future__ import annotations

from time import monotonic, sleep
from typing import Any

from pyinfra import host, logger
from pyinfra.api import FunctionCommand, StringCommand, operation

from wheelfleet.facts.windows import (
    BOOT_TIME_SCRIPT,
    FileSha256,
    InstallerLog,
    InterpreterAnswer,
    Pep514,
    RegistryKey,
    VisualStudioInstances,
    exit_meaning,
    interpreter_script,
    parse_interpreter_answer,
    ps_script,
)
from wheelfleet.operations.fleet import refuse, unlocked

# A refusal fails this host when the operation runs, never the whole fleet's run.
_fail_host = refuse._inner

EXIT_MARK = "wheelfleet-exit "
REBOOT_CODES = (3010, 1641)


def file_name(url: str) -> str:
    return url.rstrip("/").rpartition("/")[2]


def quote_argument(arg: str) -> str:
    """One argument of a Windows command line: ``KEY=VALUE`` quotes the value (msiexec's and
    Burn's convention), anything else with a space is quoted whole."""
    if '"' in arg:
        raise ValueError(f"an installer argument cannot hold a double quote: {arg!r}")
    key, sep, value = arg.partition("=")
    if sep and " " in value and " " not in key and not key.startswith("/"):
        return f'{key}="{value}"'
    return f'"{arg}"' if " " in arg else arg


def download_script(url: str, sha256: str, dest: str, timeout: int) -> str:
    return ps_script("download", {"url": url, "dest": dest, "expected": sha256,
                                  "timeout": int(timeout)}, [
        "$ErrorActionPreference = 'Stop'",
        "$part = $dest + '.wfpart'",
        "New-Item -ItemType Directory -Force -Path (Split-Path -Parent $dest) | Out-Null",
        "[Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12",
        "try {",
        "    Invoke-WebRequest -Uri $url -OutFile $part -UseBasicParsing -TimeoutSec $timeout",
        "} catch {",
        "    Remove-Item -LiteralPath $part -Force -ErrorAction SilentlyContinue",
        "    $why = $_.Exception.Message",
        "    [Console]::Error.WriteLine('download of ' + $url + ' failed: ' + $why)",
        "    exit 1",
        "}",
        "$actual = (Get-FileHash -Algorithm SHA256 -LiteralPath $part).Hash.ToLowerInvariant()",
        "if ($actual -ne $expected) {",
        "    Remove-Item -LiteralPath $part -Force",
        "    [Console]::Error.WriteLine('sha256 mismatch for ' + $url + ': expected ' + $expected "
        "+ ', got ' + $actual + '; the file was deleted and nothing was run')",
        "    exit 2",
        "}",
        "Move-Item -LiteralPath $part -Destination $dest -Force",
    ])


def installer_script(program: str, arguments: list[str], timeout: int) -> str:
    """Run one installer, wait at most ``timeout`` seconds, print ``wheelfleet-exit <code>``
    (or ``timeout``, after killing its process tree).  The exit code is judged by the caller."""
    return ps_script("run-installer", {
        "program": program, "arguments": " ".join(quote_argument(a) for a in arguments),
        "timeout": int(timeout)}, [
        "$p = Start-Process -FilePath $program -ArgumentList $arguments -PassThru "
        "-WindowStyle Hidden",
        "$null = $p.Handle  # without a handle read now, ExitCode is empty once it exits",
        "if (-not $p.WaitForExit($timeout * 1000)) {",
        "    & taskkill.exe /T /F /PID $p.Id 2>$null | Out-Null",
        f"    Write-Output '{EXIT_MARK}timeout'",
        "    exit 0",
        "}",
        f"Write-Output ('{EXIT_MARK}' + $p.ExitCode)",
    ])


def reboot_script() -> str:
    return ps_script("reboot", {"reason": "wheelfleet: an installer asked for a restart"}, [
        "& shutdown.exe /r /t 5 /d p:4:2 /c $reason",
    ])


def nuget_extract_script(package: str, target: str) -> str:
    """Unpack a ``.nupkg`` (a zip) into ``target``: extracted beside it, then swapped in, so
    an interrupted extract never leaves a half interpreter where the old one was."""
    return ps_script("nuget-extract", {"package": package, "target": target}, [
        "$ErrorActionPreference = 'Stop'",
        "$part = $target + '.wfpart'",
        "if (Test-Path -LiteralPath $part) { Remove-Item -LiteralPath $part -Recurse -Force }",
        "Add-Type -AssemblyName System.IO.Compression.FileSystem",
        "[System.IO.Compression.ZipFile]::ExtractToDirectory($package, $part)",
        "if (Test-Path -LiteralPath $target) { Remove-Item -LiteralPath $target -Recurse -Force }",
        "Move-Item -LiteralPath $part -Destination $target",
    ])


def directory_script(path: str) -> str:
    return ps_script("mkdir", {"path": path}, [
        "New-Item -ItemType Directory -Force -Path $path | Out-Null",
    ])


def _exit_code(lines: list[str]) -> int | str | None:
    for line in reversed(lines):
        if line.startswith(EXIT_MARK):
            value = line[len(EXIT_MARK):].strip()
            try:
                return int(value)
            except ValueError:
                return value
    return None


def _say(host_: Any, message: str, error: bool = False) -> None:
    # Through the host so the line carries the host's name in pyinfra's output.
    if error:
        host_.log_styled(message, fg="red", log_func=logger.error)
    else:
        host_.log_styled(message, log_func=logger.warning)


def _note(state: Any, host: Any, message: str) -> bool:
    _say(host, message)
    return True


def _boot_time(host_: Any) -> str | None:
    ok, output = host_.run_shell_command(StringCommand(BOOT_TIME_SCRIPT), _timeout=60)
    for line in output.stdout_lines if ok else []:
        if line.startswith("boot "):
            return line[5:].strip()
    return None


def _reboot_and_wait(state: Any, host: Any, timeout: int) -> bool:
    """Restart Windows and wait until WinRM answers from a new boot (its boot time changed)."""
    before = _boot_time(host)
    host.run_shell_command(StringCommand(reboot_script()), _timeout=60)
    deadline = monotonic() + timeout
    sleep(min(10, max(1, timeout // 30)))
    host.disconnect()
    while monotonic() < deadline:
        host.connect(show_errors=False)
        if host.connected:
            after = _boot_time(host)
            if after is not None and after != before:
                _say(host, f"rebooted (booted {after}); WinRM is back")
                return True
            host.disconnect()  # still the old boot: the restart has not happened yet
        sleep(2)
    _say(host, f"the host did not come back over WinRM within {timeout}s of the restart "
         "(reboot_timeout)", error=True)
    return False


def _run_installer(state: Any, host: Any, step: dict[str, Any]) -> bool:
    """Run ``step``'s installer until it stops answering 1618 (bounded), then judge its exit
    code: 0 done, 3010/1641 done after a reboot, anything else fails the host in one line."""
    what, backoff = step["what"], list(step.get("retry_backoff") or [])
    script = StringCommand(installer_script(step["program"], step["arguments"],
                                            step["timeout"]))
    code: int | str | None = None
    for attempt in range(len(backoff) + 1):
        ok, output = host.run_shell_command(script, _timeout=int(step["timeout"]) + 60,
                                             print_output=getattr(state, "print_output", False))
        code = _exit_code(output.stdout_lines)
        if code == 1618 and attempt < len(backoff):
            _say(host, f"{what}: another installation is in progress (1618); retrying in "
                 f"{backoff[attempt]}s (attempt {attempt + 2} of {len(backoff) + 1})")
            sleep(backoff[attempt])
            continue
        break
    if code == 0:
        return True
    if code in REBOOT_CODES:
        if not step.get("allow_reboot", True):
            _say(host, f"{what} finished but Windows needs a restart ({code}) and this host's "
                 "inventory forbids reboots (allow_reboot: false): restart it, then converge "
                 "again", error=True)
            return False
        return _reboot_and_wait(state, host, int(step.get("reboot_timeout", 1200)))
    if code == "timeout":
        cause = f"still running after {step['timeout']}s; it was stopped (timeout_seconds)"
    elif code is None:
        cause = "no exit code came back"
    else:
        cause = f"exit {code} ({exit_meaning(int(code))})"
        if code == 1618:
            cause += f" after {len(backoff) + 1} attempts"
    verdict = host.get_fact(InstallerLog, path=step["log"]) if step.get("log") else None
    if verdict and verdict.get("exit_code") not in (None, code):
        cause += f"; its log says exit {verdict['exit_code']}"
    _say(host, f"{what} failed: {cause}; log: {step.get('log') or 'none'}", error=True)
    return False


def _check_interpreter(state: Any, host: Any, path: str, expected: dict[str, Any]) -> bool:
    """Ask the installed interpreter itself; fail the host in one line when it disagrees."""
    command = StringCommand(interpreter_script(path))
    _ok, output = host.run_shell_command(command, _timeout=120)
    answer = parse_interpreter_answer(output.stdout_lines)
    wrong = _disagreement(answer, expected)
    if wrong:
        _say(host, f"{path}: {wrong}", error=True)
        return False
    return True


def _disagreement(answer: dict[str, Any] | None, expected: dict[str, Any]) -> str | None:
    if answer is None:
        return "the interpreter is missing or does not run"
    for key in ("version", "platform", "bits", "free_threaded"):
        if key in expected and answer.get(key) != expected[key]:
            return f"the interpreter says {key} {answer.get(key)!r}, expected {expected[key]!r}"
    return None


def _installer_step(what: str, program: str, arguments: list[str], log: str | None,
                    timeout: int, allow_reboot: bool, reboot_timeout: int,
                    retry_backoff: list[int]) -> FunctionCommand:
    return FunctionCommand(_run_installer, ({
        "what": what, "program": program, "arguments": arguments, "log": log,
        "timeout": int(timeout), "allow_reboot": bool(allow_reboot),
        "reboot_timeout": int(reboot_timeout), "retry_backoff": list(retry_backoff)},), {})


@operation()
def directory(path: str):
    """
    ``path`` is a directory on the Windows host.

    + path: absolute Windows path

    **Example:**

    .. code:: python

        directory(path="C:\\\\wheelfleet\\\\cache")
    """
    if host.get_fact(FileSha256, path=path) is False:
        host.noop(f"{path} exists")
        return
    yield StringCommand(directory_script(path))


@operation()
def verified_download(url: str, sha256: str | None, dest: str, timeout: int = 1800):
    """
    ``dest`` holds the file at ``url`` whose sha256 is ``sha256``: fetched beside it, hashed
    on the host and moved into place only on a match (a mismatch deletes it and fails the
    host, naming both hashes; nothing runs it).

    + url: where to fetch it (already rewritten through the fleet's artifact mirror)
    + sha256: the matrix's hash; ``None`` is refused with nothing fetched
    + dest: the cached file on the host
    + timeout: seconds the transfer may take

    **Example:**

    .. code:: python

        verified_download(url="https://www.python.org/ftp/python/3.12.10/python-3.12.10-amd64.exe",
                          sha256="…", dest="C:\\\\wheelfleet\\\\cache\\\\python-3.12.10-amd64.exe")
    """
    if not sha256:
        yield from _fail_host(reason=unlocked(dest.rpartition("\\")[2], url))
        return
    if host.get_fact(FileSha256, path=dest) == sha256:
        host.noop(f"{dest} is cached with the pinned sha256")
        return
    yield StringCommand(download_script(url, sha256, dest, timeout))


@operation()
def vs_build_tools(url: str | None, sha256: str | None, components: list[str],
                   product_id: str, arguments: list[str], cache_dir: str, timeout: int = 3600,
                   allow_reboot: bool = True, reboot_timeout: int = 1200,
                   retry_backoff: list[int] | None = None):
    """
    Visual Studio Build Tools with every component in ``components`` (vswhere is asked): a
    fresh install, or the existing Build Tools instance modified to add what it lacks; a
    pending restart (vswhere's ``isRebootRequired``) is done — or refused when forbidden.

    + url, sha256: the bootstrapper (``vs_BuildTools.exe``) and its pinned hash
    + components: VS component/workload ids the selected arches need
    + product_id: ``Microsoft.VisualStudio.Product.BuildTools``
    + arguments: ``--quiet --wait --norestart --nocache`` (the matrix's)
    + cache_dir: where the bootstrapper is downloaded to
    + timeout: seconds the install may take (tens of minutes on a real host)
    + allow_reboot, reboot_timeout, retry_backoff: see ``_run_installer``

    **Example:**

    .. code:: python

        vs_build_tools(url="https://mirror.internal/vs_buildtools.exe", sha256="…",
                       components=["Microsoft.VisualStudio.Workload.VCTools",
                                   "Microsoft.VisualStudio.Component.VC.Tools.x86.x64"],
                       product_id="Microsoft.VisualStudio.Product.BuildTools",
                       arguments=["--quiet", "--wait", "--norestart", "--nocache"],
                       cache_dir="C:\\\\wheelfleet\\\\cache")
    """
    matching = host.get_fact(VisualStudioInstances, requires=" ".join(components))
    done = [i for i in matching if i["complete"] and not i["reboot_required"]]
    if done:
        host.noop(f"{done[0]['name'] or done[0]['product']} {done[0]['version']} at "
                  f"{done[0]['path']} has every component")
        return
    ready = [i for i in matching if i["reboot_required"]]
    if ready:
        if not allow_reboot:
            yield from _fail_host(reason=f"Visual Studio at {ready[0]['path']} waits for a "
                                  "restart and this host's inventory forbids reboots "
                                  "(allow_reboot: false): restart it, then converge again")
            return
        yield FunctionCommand(_reboot_and_wait, (int(reboot_timeout),), {})
        return
    if not url or not sha256:
        yield from _fail_host(reason=unlocked("the Visual Studio Build Tools bootstrapper", url))
        return
    program = f"{cache_dir}\\{file_name(url)}"
    yield from verified_download._inner(url=url, sha256=sha256, dest=program)
    existing = [i for i in host.get_fact(VisualStudioInstances, requires="")
                if i["product"] == product_id]
    args = ["modify", "--installPath", existing[0]["path"]] if existing else []
    args += list(arguments)
    for component in components:
        args += ["--add", component]
    yield _installer_step("Visual Studio Build Tools", program, args, None, timeout,
                          allow_reboot, reboot_timeout, retry_backoff or [])


@operation()
def compiler_msi(what: str, url: str | None, sha256: str | None, registry_key: str,
                 registry_view: int, marker: str, arguments: list[str], cache_dir: str,
                 timeout: int = 1800, allow_reboot: bool = True, reboot_timeout: int = 1200,
                 retry_backoff: list[int] | None = None, msi: bool = True):
    """
    A compiler package that exists only on the fleet's artifact mirror (VCForPython27.msi for
    VC9, the Windows SDK 7.1 setup for VC10): installed unless its registry key and its
    ``marker`` file (vcvarsall.bat, SetEnv.cmd) are both there; a missing url or sha256 in the
    matrix is refused in one line.

    + what: the package's name in messages
    + url, sha256: where the fleet's mirror serves it and its locked hash
    + registry_key, registry_view: what its installer registers (``reg query``)
    + marker: a file the installed compiler must have
    + arguments: the installer's silent arguments (the matrix's)
    + msi: run through ``msiexec /i`` (else the file is the setup program)

    **Example:**

    .. code:: python

        compiler_msi(what="VCForPython27.msi (VC9)",
                     url="http://mirror.internal/VCForPython27.msi", sha256="…",
                     registry_key="HKLM\\\\SOFTWARE\\\\Microsoft\\\\DevDiv\\\\VCForPython\\\\9.0",
                     registry_view=32, marker="C:\\\\…\\\\9.0\\\\vcvarsall.bat",
                     arguments=["/qn", "ALLUSERS=1"], cache_dir="C:\\\\wheelfleet\\\\cache")
    """
    registered = host.get_fact(RegistryKey, key=registry_key, view=registry_view)
    if registered and isinstance(host.get_fact(FileSha256, path=marker), str):
        host.noop(f"{what} is installed ({marker})")
        return
    if not url:
        yield from _fail_host(reason=f"{what} has no url in the matrix: Microsoft no longer "
                              "serves it; put it on your artifact mirror and set its url and "
                              "sha256 in the fleet's matrix overlay")
        return
    if not sha256:
        yield from _fail_host(reason=unlocked(what, url))
        return
    local = f"{cache_dir}\\{file_name(url)}"
    yield from verified_download._inner(url=url, sha256=sha256, dest=local)
    log = f"{cache_dir}\\{file_name(url)}.log"
    if msi:
        program, args = "msiexec.exe", ["/i", local, *arguments, "/l*v", log]
    else:
        program, args = local, list(arguments)
    yield _installer_step(what, program, args, log if msi else None, timeout, allow_reboot,
                          reboot_timeout, retry_backoff or [])


def _registered(reg: dict[str, Any] | None, install: dict[str, Any]) -> bool:
    """PEP 514 says this interpreter: same directory, and the version where one is written."""
    if not reg or not reg.get("install_path"):
        return False
    if reg["install_path"].lower() != install["target"].lower():
        return False
    return reg.get("version") in (None, install["version"])


@operation()
def python_install(install: dict[str, Any], cache_dir: str, timeout: int = 1800,
                   allow_reboot: bool = True, reboot_timeout: int = 1200,
                   retry_backoff: list[int] | None = None):
    """
    One Python × arch in its own directory at exactly the matrix's version: the interpreter
    answers with that version, platform, pointer size and build (free-threaded or not), and an
    installer-made Python is registered under PEP 514 for that directory.  Another patch
    version there is upgraded in place (installers) or replaced (NuGet).

    + install: ``platforms.windows.PythonInstall`` as a dict (python, arch, version, kind,
      url, sha256, target, interpreter, platform, bits, free_threaded, registry_tag,
      registry_view)
    + cache_dir: where installers and packages are downloaded to
    + timeout, allow_reboot, reboot_timeout, retry_backoff: see ``_run_installer``

    **Example:**

    .. code:: python

        python_install(install=asdict(python_installs(selection)[0]) | {"interpreter": …},
                       cache_dir="C:\\\\wheelfleet\\\\cache")
    """
    expected = {k: install[k] for k in ("version", "platform", "bits", "free_threaded")}
    answer = host.get_fact(InterpreterAnswer, path=install["interpreter"])
    reg = None
    if install.get("registry_tag"):
        reg = host.get_fact(Pep514, tag=install["registry_tag"], view=install["registry_view"])
    runs = _disagreement(answer, expected) is None
    if runs and (install["kind"] == "nuget" or _registered(reg, install)):
        host.noop(f"Python {install['version']} ({install['arch']}) is installed in "
                  f"{install['target']}")
        return
    url = install.get("url")
    if not url:
        yield from _fail_host(reason=f"Python {install['python']} ({install['arch']}) comes from "
                              "NuGet and this host has no nuget_feed: set it to your NuGet v3 "
                              "flat container (the public feed's or your mirror's)")
        return
    if not install.get("sha256"):
        yield from _fail_host(reason=unlocked(f"Python {install['version']} "
                                               f"({install['arch']}) {install['kind']}", url))
        return
    local = f"{cache_dir}\\{file_name(url)}"
    yield from verified_download._inner(url=url, sha256=install["sha256"], dest=local)
    what = f"Python {install['version']} ({install['arch']}) {file_name(url)}"
    log = f"{cache_dir}\\{file_name(url)}.log"
    if answer is not None and answer.get("version") != install["version"]:
        yield FunctionCommand(_note, (f"{install['target']} holds Python "
                                      f"{answer.get('version')}: upgrading it to "
                                      f"{install['version']}",), {})
    if install["kind"] == "nuget":
        yield StringCommand(nuget_extract_script(local, install["target"]))
    else:
        if install["kind"] == "msi":
            program = "msiexec.exe"
            args = ["/i", local, "/qn", "ALLUSERS=1", f"TARGETDIR={install['target']}",
                    "/l*v", log]
        else:
            program = local
            args = ["/quiet", "InstallAllUsers=1", f"TargetDir={install['target']}",
                    "PrependPath=0", "Include_test=0", "Shortcuts=0", "Include_launcher=0",
                    *(["Include_freethreaded=1"] if install["free_threaded"] else []),
                    "/log", log]
        yield _installer_step(what, program, args, log, timeout, allow_reboot, reboot_timeout,
                              retry_backoff or [])
    yield FunctionCommand(_check_interpreter, (install["interpreter"], expected), {})
