"""wheelfleet health agent, Windows host mode: stdlib only, uploaded beside agent.py.

``agent.py`` hands a plan with ``"kind": "host", "os": "windows"``
(``wheelfleet.health.windows_plan``) to this module, passing itself as ``core`` (its runner,
diagnoses and record helpers) so that nothing here imports the agent back.  Per check, on the
Windows host itself: probe the interpreter (platform, pointer size, the MSC version it was
built with), open the compiler environment of its family (``vcvarsall.bat`` found through
vswhere, SDK 7.1's ``SetEnv.cmd`` or VCForPython27's ``vcvarsall.bat``, run by ``cmd.exe``
and its resulting environment read back with ``set``), build the canary against the OpenSSL
archive for that family and arch, repair with delvewheel, check the repaired wheel's tag and
that libcrypto is bundled, install it into a fresh venv offline, import and call it.  The
controller judges the kept wheel with wheelcheck (arch, C runtime, pythonXY.dll).

Must start under Python 3.9: no newer syntax at run time; the code it hands a check's
interpreter runs under CPython 2.7 too.

Proof level: unit.  tests/test_windows_health.py runs it on Linux with labelled stand-ins for
cmd.exe, vcvarsall.bat, vswhere and delvewheel, and this machine's Python and gcc as the
interpreter and compiler; no Windows host has run it (there is none here).
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import time

# Windows' own names for a process's arch -> the matrix's arch names.
PROCESSOR_ARCH = {"AMD64": "x64", "ARM64": "arm64", "X86": "x86"}
NATIVE_MACHINE = {0x8664: "x64", 0xAA64: "arm64", 0x14C: "x86"}  # IMAGE_FILE_MACHINE_*
# What a Windows program needs from the environment to start at all; the rest is dropped.
KEEP_ENV = {"SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "COMSPEC", "PATHEXT", "PATH", "TEMP", "TMP",
            "USERPROFILE", "APPDATA", "LOCALAPPDATA", "PROGRAMDATA", "PROGRAMFILES",
            "PROGRAMFILES(X86)", "COMMONPROGRAMFILES", "COMMONPROGRAMFILES(X86)", "HOME",
            "USERNAME", "NUMBER_OF_PROCESSORS", "PROCESSOR_ARCHITECTURE", "LANG", "TMPDIR"}
# What each node arch executes: Windows 11 on arm64 emulates x64 and x86; x64 runs x86 (WOW64).
EXECUTES = {"arm64": ("arm64", "x64", "x86"), "x64": ("x64", "x86"), "x86": ("x86",)}
WINDOWS_TOOLS = {"cmd": os.environ.get("ComSpec") or "C:\\Windows\\System32\\cmd.exe"}
DEFAULT_TIMEOUTS = {"interpreter": 120, "environment": 300, "build": 900, "repair": 600,
                    "install": 600, "import": 300}
ENV_MARK = "===wheelfleet-environment==="
# _MSC_VER of an interpreter -> its compiler family (VC14.x: 1900 up to 19xx).
FAMILY_OF_MSC = (("vc9", 1500, 1500), ("vc10", 1600, 1600), ("vc14", 1900, 1999))

# Windows output patterns -> one-line diagnosis, tried before the agent's general ones.
WINDOWS_DIAGNOSES = [
    (r"Microsoft Visual C\+\+ [\d.]+ or greater is required|Unable to find vcvarsall\.bat",
     "setuptools found no MSVC: the compiler environment was not applied to the build"),
    (r"'cl(\.exe)?' is not recognized|command '?[\w:\\/. ()-]*cl\.exe'? failed: No such file",
     "compiler missing: cl.exe not found in the MSVC environment (converge the host: "
     "windows_msvc)"),
    (r"C1083: Cannot open include file: 'openssl/",
     "OpenSSL headers missing from the OpenSSL archive (converge the host: windows_health)"),
    (r"LNK1181: cannot open input file '(lib)?crypto\.lib'",
     "libcrypto import library missing from the OpenSSL archive (converge the host: "
     "windows_health)"),
    (r"LNK1112: module machine type",
     "an object or library for another arch was linked (the OpenSSL archive or the compiler "
     "environment is for the wrong arch)"),
    (r"C1083: Cannot open include file: '(Python\.h|stdio\.h|windows\.h)'",
     "compiler headers missing: the MSVC environment (INCLUDE) is incomplete"),
    (r"Unable to find library: ",
     "delvewheel could not find a DLL the module imports (the OpenSSL archive's bin "
     "directory)"),
    (r"No such file or directory: '?\S*delvewheel|delvewheel(\.exe)?'? is not recognized",
     "delvewheel missing from the tools venv (converge the host: windows_health)"),
    (r"is not a supported wheel on this platform",
     "the installing interpreter does not accept the wheel's tag (arch or Python)"),
    (r"DLL load failed|ImportError: DLL",
     "a DLL the wheel needs is not bundled in it (import fails: DLL load failed)"),
    (r"(?i)requires? a different python",
     "the wheelhouse's pinned build requirements do not support this Python (Requires-Python)"),
    (r"No module named '?(pip|ensurepip)'?",
     "the interpreter has no pip: the build and install steps need it"),
]

# Run by each check's interpreter, CPython 2.7 included: no f-strings.
PROBE = """\
import json, platform, struct, sys, sysconfig
flags = dict((k, sysconfig.get_config_var(k)) for k in ("Py_GIL_DISABLED", "SOABI", "Py_DEBUG"))
try:
    import pip
    pip_version = pip.__version__
except Exception:
    pip_version = None
print(json.dumps({"python": platform.python_version(), "compiler": platform.python_compiler(),
                  "bits": struct.calcsize("P") * 8, "build_flags": flags,
                  "platform": sysconfig.get_platform(), "pip": pip_version}))
"""


def tools(plan: dict) -> dict:
    return dict(WINDOWS_TOOLS, **(plan.get("tools") or {}))


def native_arch(environ: dict) -> str:
    """The machine's own arch, not the agent's process's: an x64 Python emulated on arm64
    Windows is told ``AMD64`` by ``PROCESSOR_ARCHITECTURE``; ``IsWow64Process2`` (Windows 10
    1709+) names the native machine.  The environment is the fallback (WOW64 sets
    ``PROCESSOR_ARCHITEW6432`` for a 32-bit process on a 64-bit host)."""
    try:
        import ctypes
        from ctypes import wintypes

        kernel32 = ctypes.WinDLL("kernel32")  # type: ignore[attr-defined]
        process, native = wintypes.USHORT(), wintypes.USHORT()
        if kernel32.IsWow64Process2(kernel32.GetCurrentProcess(), ctypes.byref(process),
                                    ctypes.byref(native)):
            found = NATIVE_MACHINE.get(native.value)
            if found:
                return found
    except (ImportError, AttributeError, OSError):
        pass  # not Windows, or a Windows too old to say: the environment decides
    name = environ.get("PROCESSOR_ARCHITEW6432") or environ.get("PROCESSOR_ARCHITECTURE") or ""
    return PROCESSOR_ARCH.get(name.upper(), "x64")


def node_info(core, plan: dict, environ: dict | None = None) -> dict:
    """What the Windows host is: its native arch, its version and the tools venv's
    delvewheel.  Asked once per run, never raising."""
    env = os.environ if environ is None else environ
    node = {"arch": native_arch(dict(env)), "windows": platform.version() or None,
            "delvewheel": None}
    code, out = core.run([venv_python(plan["tools_venv"]), "-c",
                          "import importlib.metadata as m; print(m.version('delvewheel'))"], 60)
    if code == 0 and out.strip():
        node["delvewheel"] = out.strip().splitlines()[-1].strip()
    return node


def win_env(extra: dict | None = None) -> dict:
    """Every command's environment: what Windows programs need to start (SystemRoot, TEMP,
    the profile dirs …), pip offline, and nothing that changes how Python or pip behave."""
    env = {key: value for key, value in os.environ.items() if key.upper() in KEEP_ENV}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1",
               PYTHONDONTWRITEBYTECODE="1")
    env.update(extra or {})
    return env


def venv_python(venv: str) -> str:
    return os.path.join(venv, "Scripts", "python.exe") if os.name == "nt" else os.path.join(
        venv, "bin", "python")


def family_of(compiler: str) -> str | None:
    """``MSC v.1916 64 bit (AMD64)`` -> ``vc14``; None for anything else (gcc, clang …)."""
    found = re.search(r"MSC v\.(\d{4})", compiler or "")
    if not found:
        return None
    msc = int(found.group(1))
    return next((f for f, low, high in FAMILY_OF_MSC if low <= msc <= high), None)


def interpreter_problem(check: dict, info: dict) -> str | None:
    """Why this interpreter cannot serve the check (one line), or None."""
    if info.get("platform") != check["platform"] or info.get("bits") != check["bits"]:
        return (f"interpreter is {info.get('platform')} ({info.get('bits')}-bit), the check "
                f"needs {check['platform']} ({check['bits']}-bit): another arch's Python is "
                "installed where this one belongs")
    family = family_of(info.get("compiler") or "")
    if family != check["family"]:
        return (f"interpreter was built with {info.get('compiler') or 'an unknown compiler'}, "
                f"not {check['family'].upper()} (_MSC_VER {check['msc_ver']}) as the matrix "
                "says: its extensions would need another C runtime")
    if not info.get("pip"):
        return "the interpreter has no pip: the build and install steps need it"
    return None


def vcvars_arch(node_arch: str, target: str) -> str:
    """vcvarsall.bat's argument: the target alone when native, else ``host_target``."""
    return target if node_arch == target else f"{node_arch}_{target}"


def environment_script(script: str, args: list) -> str:
    """The .cmd file that opens one compiler environment and prints it (``set``)."""
    quoted = " ".join(args)
    return (f'@echo off\r\ncall "{script}" {quoted}\r\n'
            "if errorlevel 1 exit /b %errorlevel%\r\n"
            f"echo {ENV_MARK}\r\nset\r\n")


def parse_set(output: str) -> dict:
    """``NAME=value`` lines after the marker (cmd's ``set``), as a dict."""
    _, _, after = output.partition(ENV_MARK)
    found = {}
    for line in after.splitlines():
        name, sep, value = line.strip("\r").partition("=")
        if sep and name and not name.startswith("="):
            found[name] = value
    return found


def open_environment(core, plan: dict, check: dict, node: dict, out_dir: str,
                     timeout: int) -> tuple:
    """The compiler environment of the check's family for its arch:
    ``(env, None, None, "")`` or ``(None, exit code, diagnosis, output)``."""
    spec = check["environment"]
    output = ""
    if spec["kind"] == "vcvarsall":
        cmd = [tools(plan).get("vswhere") or spec["vswhere"], "-latest", "-products", "*",
               "-requires", *spec["requires"], "-property", "installationPath"]
        code, out = core.run(cmd, min(120, timeout))
        output += out
        path = out.strip().splitlines()[-1].strip() if code == 0 and out.strip() else ""
        if not path:
            return None, code, ("no Visual Studio instance has " + ", ".join(spec["requires"])
                                + " (vswhere found none; converge the host: windows_msvc)"), out
        script = os.path.join(path, *spec["vcvarsall"].split("\\"))
        args = [vcvars_arch(node["arch"], spec["target"]), *spec.get("args", [])]
    else:
        script, args = spec["script"], list(spec["args"])
    if not os.path.isfile(script):
        return None, None, (f"{script} is missing: the {check['family'].upper()} compiler "
                            "environment cannot be opened (converge the host: windows_msvc)"), \
            output
    env_cmd = os.path.join(out_dir, "environment.cmd")
    with open(env_cmd, "w") as handle:
        handle.write(environment_script(script, args))
    code, out = core.run([tools(plan)["cmd"], "/d", "/e:on", "/v:on", "/c", env_cmd], timeout,
                         env=win_env())
    output += out
    env = parse_set(out)
    if code != 0 or not env:
        why = (f"{os.path.basename(script)} {' '.join(args)} failed (exit {code}): "
               f"{core.first_words(out, 140)}")
        return None, code, f"opening the {check['family'].upper()} environment: {why}", output
    env.update(spec.get("env") or {})
    return env, None, None, output


def build_env(plan: dict, check: dict, compiler_env: dict, out_dir: str) -> dict:
    """The canary's build environment: the compiler's, OpenSSL's headers and import library
    prepended to INCLUDE and LIB, build requirements from the wheelhouse, pip offline.

    setuptools asks the linker for ``crypto.lib`` (the canary's ``libraries=["crypto"]``);
    OpenSSL's Windows build names it ``libcrypto.lib``.  A copy under the scratch dir bridges
    the name: an import library names its DLL inside, so the copy's name changes nothing."""
    env = dict(compiler_env)
    ssl = check.get("openssl") or {}
    libdir = os.path.join(out_dir, "lib")
    os.makedirs(libdir, exist_ok=True)
    source = os.path.join(ssl.get("dir", ""), "lib", ssl.get("import_library", "libcrypto.lib"))
    if os.path.isfile(source):
        shutil.copyfile(source, os.path.join(libdir, "crypto.lib"))
    env["INCLUDE"] = os.pathsep.join(
        x for x in (os.path.join(ssl.get("dir", ""), "include"), env.get("INCLUDE")) if x)
    env["LIB"] = os.pathsep.join(x for x in (libdir, env.get("LIB")) if x)
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1",
               PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=os.path.join(out_dir, "bdeps"))
    for key in ("PYTHONHOME", "PYTHONSTARTUP", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        env.pop(key, None)
    return env


def build_commands(plan: dict, check: dict, out_dir: str, pip_version=None) -> list:
    """The check's pinned build requirements from the wheelhouse, then the wheel; pip before
    10 (2.7, 3.3 and 3.4's) has no ``--no-build-isolation`` and never isolates a build."""
    python = [check["interpreter"], "-m", "pip"]
    major = (pip_version or "").split(".")[0]
    isolation = [] if major.isdigit() and int(major) < 10 else ["--no-build-isolation"]
    return [python + ["install", "--no-index", "--find-links", plan["wheelhouse"], "--target",
                      os.path.join(out_dir, "bdeps"), *check["build_requirements"]],
            python + ["wheel", "-v", "--no-deps", *isolation, "--no-index", "-w",
                      os.path.join(out_dir, "dist"), os.path.join(out_dir, "src")]]


def repair_command(plan: dict, check: dict, wheel: str, out_dir: str) -> list:
    tool = tools(plan).get("delvewheel") or os.path.join(
        plan["tools_venv"], "Scripts" if os.name == "nt" else "bin",
        "delvewheel.exe" if os.name == "nt" else "delvewheel")
    return [tool, "repair", "--add-path",
            os.path.join((check.get("openssl") or {}).get("dir", ""), "bin"),
            "-w", os.path.join(out_dir, "wheelhouse"), wheel]


def installed_python(check: dict, out_dir: str) -> tuple:
    """The fresh venv's Python, or (no venv module: CPython 2.7) the interpreter itself,
    without user site, with the --target dir on its path."""
    if check.get("install", "venv") == "venv":
        return [venv_python(os.path.join(out_dir, "venv"))], {}
    return [check["interpreter"], "-s"], {"PYTHONPATH": os.path.join(out_dir, "site")}


def install_commands(check: dict, wheel: str, out_dir: str) -> list:
    pip_install = ["-m", "pip", "install", "--no-index", "--no-deps"]
    if check.get("install", "venv") == "venv":
        return [[check["interpreter"], "-m", "venv", os.path.join(out_dir, "venv")],
                installed_python(check, out_dir)[0] + pip_install + [wheel]]
    return [[check["interpreter"]] + pip_install + ["--target", os.path.join(out_dir, "site"),
                                                    wheel]]


def validate_repaired(core, wheel_dir: str, check: dict) -> tuple:
    """The repaired wheel and the DLLs it bundles, and the problem (one line) when it is not
    one readable wheel with the plan's tag that bundles the check's libcrypto DLL."""
    name, info, problem = core.read_repaired(
        wheel_dir, lambda member: member.lower().endswith(".dll"))
    if problem:
        return info, problem
    want_py, want_abi, want_plat = check["wheel_tag"].split("-")
    pys, abis, plats = core.wheel_tags(name)
    if want_plat not in plats or want_abi not in abis or want_py not in pys:
        return info, f"repaired wheel {name} is not tagged {check['wheel_tag']}"
    dll = (check.get("openssl") or {}).get("dll")
    if dll:
        stem = dll.lower()[:-len(".dll")]
        if not any(os.path.basename(n).lower().startswith(stem) for n in info["bundled_libs"]):
            return info, (f"repaired wheel {name} does not bundle {dll}: delvewheel left "
                          "libcrypto out")
    return info, None


def run_check(core, plan: dict, check: dict, record: dict, done, node: dict) -> dict:
    """One check on the Windows host: interpreter, build (environment included), repair,
    validate, install, import.  Never raises for what the node does (``core.check_one``
    turns a surprise into this check's own record)."""
    deadline = time.monotonic() + int(plan.get("timeout", 900))
    timeouts = dict(DEFAULT_TIMEOUTS, **(plan.get("timeouts") or {}))
    patterns = WINDOWS_DIAGNOSES + core.DIAGNOSES

    def limit(step: str) -> int:
        return max(1, min(int(timeouts[step]), int(deadline - time.monotonic())))

    def failed(step: str, code, out: str, why: str | None = None) -> dict:
        return done(status="failed", step=step, exit_code=code, output_tail=core.tail(out),
                    diagnosis=why or core.diagnose(step, out, code, patterns))

    if check["arch"] not in EXECUTES.get(node["arch"], ()):
        return done(reason=f"{check['arch']} Python not executable on this {node['arch']} "
                           f"node: {check['plat']} wheels need a native {check['arch']} node")
    out_dir, unusable = core.scratch_dir(
        plan, f"{check['image']}-{check['python']}-{check['arch']}-", done)
    if unusable is not None:
        return unusable
    try:
        code, out = core.run([check["interpreter"], "-c", PROBE], limit("interpreter"),
                             env=win_env())
        info = core.probe_info(out) if code == 0 else None
        if info is None:
            return failed("interpreter", code, out, None if code else
                          f"interpreter probe printed no JSON: {core.first_words(out, 160)}")
        record["versions"] = {
            "python": info.get("python"), "build_flags": info.get("build_flags") or {},
            "platform": info.get("platform"), "compiler": info.get("compiler"),
            "node_arch": node.get("arch"), "windows": node.get("windows"),
            "delvewheel": node.get("delvewheel"),
            "openssl": (check.get("openssl") or {}).get("version")}
        problem = interpreter_problem(check, info)
        if problem:
            return failed("interpreter", None, out, problem)

        if not check.get("openssl"):
            return failed("build", None, "", f"the matrix has no OpenSSL archive for "
                          f"{check['family']} on {check['arch']} (windows_openssl)")
        env, code, why, out = open_environment(core, plan, check, node, out_dir,
                                               limit("environment"))
        if env is None:
            return failed("build", code, out, why)
        record["versions"]["msvc"] = env.get("VCToolsVersion") or env.get("VSCMD_VER") or \
            check["family"].upper()
        record["versions"]["windows_sdk"] = (env.get("WindowsSDKVersion") or "").strip(
            "\\") or None
        shutil.copytree(plan["canary_dir"], os.path.join(out_dir, "src"))
        code, out = core.run_all(build_commands(plan, check, out_dir, info.get("pip")),
                                 limit("build"),
                                 env=build_env(plan, check, env, out_dir))
        if code != 0:
            return failed("build", code, out)

        unpinned = core.tool_pin_problem(plan, node, "delvewheel", "windows_health")
        if unpinned:
            return failed("repair", None, "", unpinned)
        built, why = core.the_built_wheel(out_dir)
        if why:
            return failed("build", code, out, why)
        code, out = core.run(repair_command(plan, check, built, out_dir), limit("repair"),
                             env=win_env())
        if code != 0:
            return failed("repair", code, out)

        info, problem = validate_repaired(core, os.path.join(out_dir, "wheelhouse"), check)
        record.update(wheel=info.get("wheel"), bundled_libs=info.get("bundled_libs", []))
        if problem:
            return failed("validate", None, problem, problem)
        wheel = os.path.join(out_dir, "wheelhouse", info["wheel"])

        code, out = core.run_all(install_commands(check, wheel, out_dir), limit("install"),
                                 env=win_env())
        if code != 0:
            return failed("install", code, out)

        python, extra = installed_python(check, out_dir)
        code, out = core.run(python + ["-c", core.IMPORT, plan["input"]], limit("import"),
                             env=win_env(extra), cwd=out_dir)
        if code != 0:
            return failed("import", code, out)
        lines = out.strip().splitlines()
        record["answer"] = lines[0].strip() if lines else ""
        if len(lines) > 1:
            record["versions"]["openssl_bundled"] = lines[1].strip()
        if record["answer"] != plan["expected"]:
            return failed("import", 0, out, f"wrong answer from the canary: "
                          f"{record['answer'][:70]!r}")
        core.keep_wheel(plan, check, out_dir, record,
                        name=f"{check['python']}-{check['arch']}-{check['variant']}.whl")
        return done(status="passed")
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
