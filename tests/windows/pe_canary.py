"""Cross-build the project's canary as real Windows PE extension modules and pack them as wheels.

What is real: ``canary.c`` (the health check's own source) compiled by clang-14 for
``{i686,x86_64,aarch64}-w64-windows-gnu`` against CPython's own Windows ``pyconfig.h``
(``PC/pyconfig.h`` of the CPython 3.11.2 release tarball Debian ships) and OpenSSL 3.0's headers
configured for Windows by OpenSSL's own ``Configure mingw``/``mingw64`` (from Debian's OpenSSL
source, as the macOS tests fetch it), linked by lld-link-14 into a PE DLL for that machine,
importing by name: the interpreter DLL (``pythonXY.dll``), the OpenSSL 3 DLL
(``libcrypto-3[-x64|-arm64].dll``) and the C runtime of one compiler family — import libraries
made by llvm-dlltool-14 from .def files listing exactly the symbols the objects need.

What stands in, labelled: MSVC's CRT startup (``_DllMainCRTStartup`` importing ``_initterm``
and ``memset`` from the family's runtime DLLs, which is what MSVC's startup code imports) and
libcrypto itself (a small DLL of the same name exporting the three functions the canary calls,
built the same way).  The Python headers are 3.11's for every 3.x tag (the C API the canary
uses is the same across 3.x); a ``cp27`` module is the Python 3 module body importing
``python27.dll`` (no Python 2 headers exist here) — what wheelcheck judges (machine, C runtime
and interpreter DLL imports) is real, its Python 2 init symbol is not.  Nothing loads them:
there is no Windows here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "macos"))

from canary_wheel import pack_canary_wheel
from macos_builders import BuildError, openssl_source, sha256_file  # noqa: E402

import wheelfleet.canary  # noqa: E402
from wheelfleet.lab.roots import cache_home  # noqa: E402

CANARY_SOURCE = Path(wheelfleet.canary.__file__).parent / "project" / "src" / "canary.c"
MINGW_INCLUDE = "/usr/share/mingw-w64/include"
TIMEOUT = 300


@dataclass(frozen=True)
class Arch:
    triple: str  # clang's
    machine: str  # lld-link /machine:
    dlltool: str  # llvm-dlltool -m
    platform: str  # wheel platform tag
    ssl_config: str  # OpenSSL Configure target that writes this arch's configuration.h
    suffix: str  # CPython 3.5+ extension suffix part
    entry: str  # the DLL entry point's decorated name


ARCHES = {
    "x86": Arch("i686-w64-windows-gnu", "x86", "i386", "win32", "mingw", "win32",
                "_DllMainCRTStartup@12"),
    "x64": Arch("x86_64-w64-windows-gnu", "x64", "i386:x86-64", "win_amd64", "mingw64",
                "win_amd64", "_DllMainCRTStartup"),
    "arm64": Arch("aarch64-w64-windows-gnu", "arm64", "arm64", "win_arm64", "mingw64",
                  "win_arm64", "_DllMainCRTStartup"),
}
LIBCRYPTO = {"x86": "libcrypto-3.dll", "x64": "libcrypto-3-x64.dll",
             "arm64": "libcrypto-3-arm64.dll"}
# The DLLs MSVC's DLL startup code imports _initterm and memset from, per compiler family.
CRT_IMPORTS = {
    "vc9": {"MSVCR90.dll": ["_initterm", "memset"]},
    "vc10": {"MSVCR100.dll": ["_initterm", "memset"]},
    "vc14": {"api-ms-win-crt-runtime-l1-1-0.dll": ["_initterm"], "VCRUNTIME140.dll": ["memset"]},
}
CRT_STARTUP_SOURCE = """\
/* Stand-in for MSVC's DLL CRT startup (no MSVC here): imports what it imports. */
typedef void (__cdecl *_PVFV)(void);
__declspec(dllimport) void __cdecl _initterm(_PVFV *, _PVFV *);
__declspec(dllimport) void *__cdecl memset(void *, int, __SIZE_TYPE__);
static _PVFV table[1];
int __stdcall _DllMainCRTStartup(void *module, unsigned long reason, void *reserved) {
    char scratch[8];
    (void)module; (void)reserved;
    if (reason == 1) { _initterm(table, table); memset(scratch, 0, sizeof scratch); }
    return 1;
}
"""
LIBCRYPTO_STAND_IN_SOURCE = """\
/* Stand-in for OpenSSL's libcrypto DLL (its name and the functions the canary calls). */
__declspec(dllexport) int EVP_Digest(const void *d, __SIZE_TYPE__ n, unsigned char *md,
                                     unsigned int *len, const void *type, void *engine) {
    (void)d; (void)n; (void)md; (void)type; (void)engine; *len = 0; return 0; }
__declspec(dllexport) const void *EVP_sha256(void) { return 0; }
__declspec(dllexport) const char *OpenSSL_version(int t) { (void)t; return "stand-in"; }
"""


def run(args: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=TIMEOUT)
    if done.returncode != 0:
        raise BuildError(f"{Path(str(args[0])).name} failed: {(done.stderr or done.stdout)[-600:]}")
    return done.stdout


def cache() -> Path:
    path = cache_home() / "windows-canary"
    path.mkdir(parents=True, exist_ok=True)
    return path


def python_source() -> Path:
    """CPython 3.11.2's release tarball from Debian's source archive, its sha256 from apt's
    signed source index (never from hashing what arrived)."""
    listing = run(["apt-cache", "showsrc", "python3.11"])
    for stanza in listing.split("\n\n"):
        version = re.search(r"^Version: (\S+)", stanza, re.M)
        sums = re.search(r"^Checksums-Sha256:\n((?: .*\n?)+)", stanza, re.M)
        for line in (sums.group(1).splitlines() if sums and version else []):
            sha, _, name = line.split()
            if not name.endswith(".orig.tar.gz"):
                continue
            path = cache() / name
            if not (path.is_file() and sha256_file(path) == sha):
                subprocess.run(["apt-get", "source", "--download-only", "-q",
                                f"python3.11={version.group(1)}"], cwd=cache(),
                               capture_output=True, timeout=600)
            if path.is_file() and sha256_file(path) == sha:
                return path
            path.unlink(missing_ok=True)
    raise BuildError("no CPython 3.11 source from Debian's source archive: add a deb-src "
                     "entry (bash .ci/setup does) and run apt-get update")


def python_headers() -> Path:
    """CPython's Include/ with its Windows pyconfig.h (PC/pyconfig.h)."""
    out = cache() / "python-include"
    if (out / "pyconfig.h").is_file():
        return out
    tarball = python_source()
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/", 1)
            rel = parts[1] if len(parts) == 2 else ""
            if member.isfile() and (rel.startswith("Include/") or rel == "PC/pyconfig.h"):
                target = tmp / (rel[len("Include/"):] if rel.startswith("Include/")
                                else "pyconfig.h")
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                target.write_bytes(source.read())
    tmp.rename(out)
    return out


def openssl_headers(config: str) -> Path:
    """OpenSSL's public headers as its own Configure writes them for ``config``."""
    out = cache() / f"openssl-include-{config}"
    if (out / "openssl" / "configuration.h").is_file():
        return out
    source = openssl_source()
    work = cache() / f"openssl-configure-{config}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    with tarfile.open(source.path) as tar:
        tar.extractall(work, filter="data")
    (tree,) = work.iterdir()
    run(["perl", "Configure", config, "no-asm", "no-shared"], cwd=tree)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "openssl").mkdir(parents=True)
    for header in (tree / "include" / "openssl").iterdir():
        if header.suffix == ".h":
            shutil.copy(header, tmp / "openssl" / header.name)
        elif header.name.endswith(".h.in"):
            text = run(["perl", "-I.", "-Mconfigdata", "util/dofile.pl", "-oMakefile",
                        f"include/openssl/{header.name}"], cwd=tree)
            (tmp / "openssl" / header.name[:-3]).write_text(text)
    tmp.rename(out)
    shutil.rmtree(work, ignore_errors=True)
    return out


def compile_c(arch: str, source: Path, out: Path, *flags: str, msvc: bool = False) -> Path:
    """clang-14 for ``arch``: mingw-w64's headers (the canary), or the MSVC triple for the
    freestanding stand-ins (which include nothing)."""
    triple = ARCHES[arch].triple.replace("w64-windows-gnu", "pc-windows-msvc") if msvc else \
        ARCHES[arch].triple
    run(["clang-14", f"--target={triple}", "-isystem", MINGW_INCLUDE, "-O2", "-fno-builtin",
         *flags, "-c", source, "-o", out])
    return out


def import_library(arch: str, dll: str, names: list[str], workdir: Path) -> Path:
    definition = workdir / f"{dll}.def"
    lines = [f"{n} DATA" if n.startswith("PyExc_") else n for n in sorted(set(names))]
    definition.write_text(f"LIBRARY {dll}\nEXPORTS\n" + "\n".join(lines) + "\n")
    lib = workdir / f"{dll}.lib"
    run(["llvm-dlltool-14", "-m", ARCHES[arch].dlltool, "-d", definition, "-l", lib])
    return lib


def undefined(obj: Path, arch: str) -> list[str]:
    """The object's undefined symbols, import thunk prefix and x86's underscore removed."""
    names = []
    for line in run(["llvm-nm-14", "-u", obj]).splitlines():
        name = line.split()[-1].removeprefix("__imp_")
        if arch == "x86":
            name = name.removeprefix("_")
        names.append(name)
    return names


def link(arch: str, out: Path, objects: list[Path], libs: list[Path]) -> Path:
    spec = ARCHES[arch]
    # x86 mingw objects export undecorated names (-export:PyInit_…) for a decorated symbol
    # (_PyInit_…): lld-link resolves that only in its mingw mode.
    mingw = ["-lldmingw"] if arch == "x86" else []
    run(["lld-link-14", "/dll", *mingw, f"/machine:{spec.machine}", f"/entry:{spec.entry}",
         f"/out:{out}", *objects, *libs])
    return out


def extension_name(python_tag: str, arch: str) -> str:
    """``wheelfleet_canary.cp312-win_amd64.pyd`` (3.5+), ``wheelfleet_canary.pyd`` before."""
    digits = python_tag[2:].rstrip("t")
    if digits.startswith("2") or int(digits[1:]) < 5:
        return "wheelfleet_canary.pyd"
    return f"wheelfleet_canary.{python_tag}-{ARCHES[arch].suffix}.pyd"


@dataclass(frozen=True)
class Built:
    module: Path
    libcrypto: Path  # the stand-in DLL, to repair with


def build_canary(arch: str, family: str, python_dll: str, workdir: Path) -> Built:
    """The canary .pyd for ``arch`` importing ``family``'s C runtime and ``python_dll``, and
    a libcrypto stand-in beside it linked to the same runtime."""
    out = workdir / f"{arch}-{family}-{python_dll[:-4]}"
    if (out / "module.pyd").is_file() and (out / "dlls" / LIBCRYPTO[arch]).is_file():
        return Built(out / "module.pyd", out / "dlls" / LIBCRYPTO[arch])
    (out / "dlls").mkdir(parents=True, exist_ok=True)
    ms_win64 = [] if arch == "x86" else ["-DMS_WIN64"]
    canary = compile_c(arch, CANARY_SOURCE, out / "canary.o", *ms_win64,
                       "-I", str(python_headers()),
                       "-I", str(openssl_headers(ARCHES[arch].ssl_config)))
    startup_c = out / "crt_startup.c"
    startup_c.write_text(CRT_STARTUP_SOURCE)
    startup = compile_c(arch, startup_c, out / "crt_startup.o")
    crt_libs = [import_library(arch, dll, names, out)
                for dll, names in CRT_IMPORTS[family].items()]
    needed = undefined(canary, arch)
    py_names = [n for n in needed if n.startswith(("Py", "_Py"))]
    ssl_names = [n for n in needed if n not in py_names]
    libs = [import_library(arch, python_dll, py_names, out),
            import_library(arch, LIBCRYPTO[arch], ssl_names, out)]
    stand_in_c = out / "libcrypto_stand_in.c"
    stand_in_c.write_text(LIBCRYPTO_STAND_IN_SOURCE)
    stand_in = compile_c(arch, stand_in_c, out / "libcrypto_stand_in.o")
    link(arch, out / "dlls" / LIBCRYPTO[arch], [stand_in, startup], crt_libs)
    module = link(arch, out / "module.pyd", [canary, startup], libs + crt_libs)
    return Built(module, out / "dlls" / LIBCRYPTO[arch])


def pack_wheel(module: Path, tag: str, outdir: Path) -> Path:
    """A wheel holding ``module`` under its extension name, tagged ``tag`` (cpXY-ABI-PLAT)."""
    python_tag, _, plat = tag.split("-")
    arch = next(a for a, spec in ARCHES.items() if spec.platform == plat)
    return pack_canary_wheel(extension_name(python_tag, arch), module.read_bytes(), tag, outdir)
