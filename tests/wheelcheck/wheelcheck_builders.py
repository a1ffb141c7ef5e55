"""Build real binaries (gcc, clang/lld for Mach-O and foreign ELF, mingw for PE) and wheels.

Everything here runs the real toolchains at test time; nothing is a canned binary. The
``Toolchain`` compiles each artefact once per session into a temporary directory.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import shutil
import stat
import struct
import subprocess
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.tags import parse_tag

from wheelfleet.wheelcheck.budgets import DEFAULT_BUDGETS, Deadline, ParseLimits

# C sources. Extension modules declare the CPython functions they call instead of including
# Python.h, so no Python headers are needed; the symbols stay undefined, as in a real module.
EXT_SOURCE = """
extern void *PyLong_FromLong(long);
void *PyInit_ext(void) { return PyLong_FromLong(1); }
"""
EXT_GETRANDOM_SOURCE = """
#include <sys/random.h>
extern void *PyLong_FromLong(long);
void *PyInit_ext(void) { char b[4]; getrandom(b, sizeof b, 0); return PyLong_FromLong(b[0]); }
"""
EXT_USES_HELPER_SOURCE = """
extern void *PyLong_FromLong(long);
extern long wf_helper(void);
void *PyInit_ext(void) { return PyLong_FromLong(wf_helper()); }
"""
EXT_USES_LIBCRYPTO_SOURCE = """
extern void *PyLong_FromLong(long);
extern unsigned long OpenSSL_version_num(void);
void *PyInit_ext(void) { return PyLong_FromLong((long)OpenSSL_version_num()); }
"""
EXT_ABI3_SINCE_310_SOURCE = """
extern void *PyLong_FromLong(long);
extern const char *PyUnicode_AsUTF8AndSize(void *, long *);
void *PyInit_ext(void) { PyUnicode_AsUTF8AndSize(0, 0); return PyLong_FromLong(1); }
"""
EXT_NOT_LIMITED_SOURCE = """
extern void *PyLong_FromLong(long);
extern void **_PyObject_GetDictPtr(void *);
void *PyInit_ext(void) { _PyObject_GetDictPtr(0); return PyLong_FromLong(1); }
"""
EXT_PY2_WIDE_SOURCE = """
extern void *PyUnicodeUCS4_FromStringAndSize(const char *, long);
void initext(void) { PyUnicodeUCS4_FromStringAndSize("x", 1); }
"""
EXT_PY2_NARROW_SOURCE = """
extern void *PyUnicodeUCS2_FromStringAndSize(const char *, long);
void initext(void) { PyUnicodeUCS2_FromStringAndSize("x", 1); }
"""
# Calls into the C runtime (malloc/free) that the compiler cannot fold away, so the DLL
# imports them from whichever CRT it is linked against.
EXT_USES_CRT_SOURCE = """
#include <stdlib.h>
extern void *PyLong_FromLong(long);
__declspec(dllexport) void *PyInit_ext(void) { void *p = malloc(16); free(p); return 0; }
"""
HELPER_SOURCE = "long wf_helper(void) { return 42; }\n"
PYTHON3_DLL_SOURCE = """
__declspec(dllexport) void *PyLong_FromLong(long v) { return 0; }
__declspec(dllexport) const char *PyUnicode_AsUTF8AndSize(void *o, long *n) { return 0; }
__declspec(dllexport) void **_PyObject_GetDictPtr(void *o) { return 0; }
"""


def limits(name: str = "ext.so") -> ParseLimits:
    """The default budgets for calling a binary reader directly."""
    return ParseLimits(DEFAULT_BUDGETS, Deadline(DEFAULT_BUDGETS.seconds), name)


class ToolMissing(Exception):
    """A compiler or linker needed for a fixture is not installed."""


def run(*command: str | Path, cwd: Path | None = None) -> None:
    """Run a build command; a failure shows the tool's own output."""
    args = [str(c) for c in command]
    if shutil.which(args[0]) is None:
        raise ToolMissing(args[0])
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}")


class Toolchain:
    """Compiles fixture binaries on demand, once each, into ``workdir``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._built: dict[str, Path] = {}

    def _once(self, key: str, build: Callable[[Path], None], filename: str) -> Path:
        if key not in self._built:
            out_dir = self.workdir / key
            out_dir.mkdir(parents=True, exist_ok=True)
            output = out_dir / filename
            build(output)
            self._built[key] = output
        return self._built[key]

    def source(self, name: str, text: str) -> Path:
        path = self.workdir / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    # --- ELF (host gcc: x86_64 glibc) -------------------------------------------------------

    def gcc_ext(self, key: str, source: str, *flags: str) -> Path:
        """An x86_64 extension module built with the host gcc."""
        src = self.source(f"{key}.c", source)
        return self._once(
            key,
            lambda out: run("gcc", "-shared", "-fPIC", "-O1", "-o", out, src, *flags),
            "ext.so",
        )

    def gcc_helper_lib(self) -> Path:
        """libwfhelper.so.1: a library no manylinux policy whitelists."""
        src = self.source("helper.c", HELPER_SOURCE)
        return self._once(
            "elf-helper",
            lambda out: run(
                "gcc", "-shared", "-fPIC", "-Wl,-soname,libwfhelper.so.1", "-o", out, src
            ),
            "libwfhelper.so.1",
        )

    def gcc_ext_linked_to_helper(self) -> Path:
        """An extension that needs libwfhelper.so.1 via RUNPATH $ORIGIN/../pkg.libs."""
        helper = self.gcc_helper_lib()
        src = self.source("uses_helper.c", EXT_USES_HELPER_SOURCE)

        def build(out: Path) -> None:
            link_dir = out.parent / "link"
            link_dir.mkdir(exist_ok=True)
            shutil.copy(helper, link_dir / "libwfhelper.so")
            run(
                "gcc",
                "-shared",
                "-fPIC",
                "-o",
                out,
                src,
                f"-L{link_dir}",
                "-lwfhelper",
                "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../pkg.libs",
            )

        return self._once("elf-uses-helper", build, "ext.so")

    def gcc_shared_lib(self, soname: str, source: str = HELPER_SOURCE) -> Path:
        """A shared library with the given soname (e.g. a stand-in libpython3.12.so.1.0)."""
        src = self.source(f"{soname}.c", source)
        return self._once(
            f"elf-lib-{soname}",
            lambda out: run("gcc", "-shared", "-fPIC", f"-Wl,-soname,{soname}", "-o", out, src),
            soname,
        )

    def gcc_ext_linking(self, key: str, library: Path) -> Path:
        """An extension that needs ``library`` (by its soname)."""
        src = self.source(f"{key}.c", EXT_SOURCE)

        def build(out: Path) -> None:
            run("gcc", "-shared", "-fPIC", "-o", out, src, "-Wl,--no-as-needed", library)

        return self._once(key, build, "ext.so")

    def musl_ext(self) -> Path:
        """An x86_64 extension built against musl (Debian's musl-gcc) and named the way Alpine
        names musl (libc.musl-x86_64.so.1, as in musllinux images) with patchelf."""
        src = self.source("musl.c", EXT_GETRANDOM_SOURCE)

        def build(out: Path) -> None:
            run("musl-gcc", "-shared", "-fPIC", "-O1", "-o", out, src)
            run("patchelf", "--replace-needed", "libc.so", "libc.musl-x86_64.so.1", out)

        return self._once("elf-musl", build, "ext.so")

    def clang_elf(self, key: str, target: str, *flags: str) -> Path:
        """A freestanding extension for any ELF target (e.g. aarch64-linux-gnu), via lld."""
        src = self.source(f"{key}.c", EXT_SOURCE)
        return self._once(
            key,
            lambda out: run(
                "clang-14",
                f"--target={target}",
                "-nostdlib",
                "-shared",
                "-fPIC",
                "-fuse-ld=lld",
                "-o",
                out,
                src,
                *flags,
            ),
            "ext.so",
        )

    # --- Mach-O (clang-14 + ld64.lld-14, fused with llvm-lipo-14) ----------------------------

    def macho_system_stub(self, arch: str) -> Path:
        """A stand-in /usr/lib/libSystem.B.dylib to link against (macOS allows /usr/lib)."""
        src = self.source("libsystem.c", "int wf_system_marker;\n")
        return self._macho_dylib(
            f"macho-libsystem-{arch}",
            arch,
            src,
            "11.0",
            "/usr/lib/libSystem.B.dylib",
            "libSystem.B.dylib",
        )

    def macho_helper(self, arch: str, install_name: str, minos: str = "11.0") -> Path:
        src = self.source("helper.c", HELPER_SOURCE)
        key = f"macho-helper-{arch}-{re.sub(r'[^A-Za-z0-9]+', '_', install_name)}"
        return self._macho_dylib(key, arch, src, minos, install_name, "libhelper.dylib")

    def _macho_dylib(
        self, key: str, arch: str, src: Path, minos: str, install_name: str, filename: str
    ) -> Path:
        def build(out: Path) -> None:
            obj = out.with_suffix(".o")
            run("clang-14", "-target", f"{arch}-apple-macos{minos}", "-c", src, "-o", obj)
            run(
                "ld64.lld-14",
                "-arch",
                arch,
                "-platform_version",
                "macos",
                minos,
                minos,
                "-dylib",
                "-install_name",
                install_name,
                "-o",
                out,
                obj,
            )

        return self._once(key, build, filename)

    def macho_ext(
        self,
        arch: str,
        minos: str,
        *,
        source: str = EXT_SOURCE,
        link: Iterable[Path] = (),
        rpaths: Iterable[str] = (),
        key: str = "",
    ) -> Path:
        """A Python extension bundle (``-dylib -undefined dynamic_lookup``, like setuptools)."""
        link = list(link)
        rpaths = list(rpaths)
        name = key or f"macho-ext-{arch}-{minos}"
        src = self.source(f"{name}.c", source)

        def build(out: Path) -> None:
            obj = out.with_suffix(".o")
            run("clang-14", "-target", f"{arch}-apple-macos{minos}", "-c", src, "-o", obj)
            rpath_args = [arg for rpath in rpaths for arg in ("-rpath", rpath)]
            run(
                "ld64.lld-14",
                "-arch",
                arch,
                "-platform_version",
                "macos",
                minos,
                minos,
                "-dylib",
                "-undefined",
                "dynamic_lookup",
                "-o",
                out,
                obj,
                self.macho_system_stub(arch),
                *link,
                *rpath_args,
            )

        return self._once(name, build, "ext.so")

    def lipo(self, key: str, *thin: Path) -> Path:
        return self._once(
            key, lambda out: run("llvm-lipo-14", "-create", *thin, "-output", out), "ext.so"
        )

    # --- PE (mingw-w64 gcc; clang + lld-link for arm64) --------------------------------------

    def mingw_dll(
        self, key: str, arch: str, source: str, *link: Path, filename: str = "ext.pyd"
    ) -> Path:
        """A DLL built by ``{arch}-w64-mingw32-gcc``; ``link`` may name DLLs to import from."""
        src = self.source(f"{key}.c", source)
        compiler = f"{arch}-w64-mingw32-gcc"
        return self._once(
            key, lambda out: run(compiler, "-shared", "-o", out, src, *link), filename
        )

    def python3_dll(self, arch: str = "x86_64", filename: str = "python3.dll") -> Path:
        """A stub ``python3.dll`` exporting a few CPython functions, to link against."""
        return self.mingw_dll(f"pe-{filename}-{arch}", arch, PYTHON3_DLL_SOURCE, filename=filename)

    def mingw_crt_ext(self, arch: str, crt: str) -> Path:
        """A .pyd importing its C runtime from ``crt``: mingw-w64's import library of
        msvcr90, msvcr100 or the Universal CRT (ucrt: api-ms-win-crt-*.dll)."""
        src = self.source("crt.c", EXT_USES_CRT_SOURCE)
        compiler = f"{arch}-w64-mingw32-gcc"
        return self._once(
            f"pe-crt-{arch}-{crt}",
            lambda out: run(compiler, "-shared", "-nostdlib", "-o", out, src, f"-l{crt}",
                            "-lkernel32"),
            "ext.pyd",
        )

    def arm64_crt_ext(self, key: str, dlls: dict[str, list[str]]) -> Path:
        """An ARM64 .pyd (clang-14 + lld-link-14) importing malloc/free from ``dlls``: import
        libraries made by llvm-dlltool-14 from a .def file per DLL (name -> functions)."""
        src = self.source("arm64_crt.c", EXT_USES_CRT_SOURCE.replace("#include <stdlib.h>",
                          "typedef unsigned long long size_t;\nvoid *malloc(size_t);\n"
                          "void free(void *);"))

        def build(out: Path) -> None:
            libs = []
            for dll, functions in dlls.items():
                definition = out.parent / f"{dll}.def"
                definition.write_text(f"LIBRARY {dll}\nEXPORTS\n" + "\n".join(functions) + "\n")
                libs.append(out.parent / f"{dll}.lib")
                run("llvm-dlltool-14", "-m", "arm64", "-d", definition, "-l", libs[-1])
            obj = out.with_suffix(".obj")
            run("clang-14", "--target=aarch64-pc-windows-msvc", "-fno-builtin", "-c", src,
                "-o", obj)
            run("lld-link-14", "/dll", "/noentry", "/machine:arm64", f"/out:{out}", obj, *libs)

        return self._once(key, build, "ext.pyd")

    def mingw_exe(self, arch: str = "x86_64") -> Path:
        """A Windows console program (like the launchers pip ships in its pure wheel)."""
        src = self.source("main.c", "int main(void) { return 0; }\n")
        compiler = f"{arch}-w64-mingw32-gcc"
        return self._once(f"pe-exe-{arch}", lambda out: run(compiler, "-o", out, src), "t64.exe")

    def arm64_windows_dll(self) -> Path:
        """A freestanding ARM64 Windows DLL (clang-14 + lld-link-14, no CRT needed)."""
        src = self.source("arm64.c", "__declspec(dllexport) int PyInit_ext(void) { return 0; }\n")

        def build(out: Path) -> None:
            obj = out.with_suffix(".obj")
            run("clang-14", "--target=aarch64-pc-windows-msvc", "-c", src, "-o", obj)
            run("lld-link-14", "/dll", "/noentry", "/machine:arm64", f"/out:{out}", obj)

        return self._once("pe-arm64", build, "ext.pyd")


# --- wheel assembly ---------------------------------------------------------------------------

RecordEditor = Callable[[list[list[str]]], list[list[str]]]


def record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


@dataclass
class RawMember:
    """A zip entry written byte by byte, so that it can say what zipfile would never write:
    sizes or a CRC that are not its data's, another name in its local header, a symlink."""

    name: str
    data: bytes = b""
    method: int = zipfile.ZIP_DEFLATED
    compressed: bytes | None = None  # the stored bytes (default: ``data`` deflated)
    size: int | None = None  # declared uncompressed size (default: len(data))
    crc: int | None = None  # declared CRC-32 (default: that of ``data``)
    local_name: str | None = None  # name in the local header (default: ``name``)
    mode: int = stat.S_IFREG | 0o644
    record: str | None = None  # RECORD hash (default: sha256 of ``data``; "" = not listed)

    def stored(self) -> bytes:
        if self.compressed is not None:
            return self.compressed
        if self.method == zipfile.ZIP_STORED:
            return self.data
        deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        return deflate.compress(self.data) + deflate.flush()

    def record_row(self) -> list[str] | None:
        if self.record == "":
            return None
        digest = record_hash(self.data) if self.record is None else self.record
        return [self.name, digest, str(len(self.data) if self.size is None else self.size)]


def write_zip(path: Path, members: Sequence[RawMember]) -> None:
    """A plain (non-zip64) zip archive of ``members``, exactly as they describe themselves."""
    central = []
    with open(path, "wb") as out:
        for member in members:
            stored = member.stored()
            crc = zlib.crc32(member.data) if member.crc is None else member.crc
            size = len(member.data) if member.size is None else member.size
            name = member.name.encode()
            local_name = (member.local_name or member.name).encode()
            offset = out.tell()
            out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0x800, member.method, 0,
                                  0x21, crc, len(stored), size, len(local_name), 0))
            out.write(local_name)
            out.write(stored)
            central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 0x0314, 20, 0x800,
                                       member.method, 0, 0x21, crc, len(stored), size, len(name),
                                       0, 0, 0, 0, member.mode << 16, offset) + name)
        start = out.tell()
        for entry in central:
            out.write(entry)
        size = out.tell() - start
        count = len(central)
        if count > 0xFFFF:  # more entries than the end record can count: zip64's records
            end64 = out.tell()
            out.write(struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count,
                                  size, start))
            out.write(struct.pack("<4sLQL", b"PK\x06\x07", 0, end64, 1))
            count = 0xFFFF
        out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, size, start, 0))


def make_wheel(
    directory: Path,
    tag: str,
    files: dict[str, bytes],
    *,
    dist: str = "pkg",
    version: str = "1.0",
    wheel_tags: list[str] | None = None,
    edit_record: RecordEditor | None = None,
    write_record: bool = True,
    root_is_purelib: bool = False,
    raw: Sequence[RawMember] = (),
) -> Path:
    """Assemble ``{dist}-{version}-{tag}.whl`` holding ``files`` plus a correct dist-info.

    ``wheel_tags`` overrides the WHEEL ``Tag:`` lines (default: the filename's tags expanded);
    ``edit_record`` may rewrite the RECORD rows before they are written. ``raw`` members are
    added byte by byte (``write_zip``) after the others, and listed in RECORD as they say.
    """
    dist_info = f"{dist}-{version}.dist-info"
    tag_lines = wheel_tags if wheel_tags is not None else sorted(str(t) for t in parse_tag(tag))
    metadata = f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n".encode()
    wheel_file = "Wheel-Version: 1.0\nGenerator: wheelfleet-tests\n"
    wheel_file += f"Root-Is-Purelib: {str(root_is_purelib).lower()}\n"
    wheel_file += "".join(f"Tag: {line}\n" for line in tag_lines)
    members = dict(files)
    members[f"{dist_info}/METADATA"] = metadata
    members[f"{dist_info}/WHEEL"] = wheel_file.encode()
    rows = [[name, record_hash(data), str(len(data))] for name, data in members.items()]
    rows += [row for member in raw if (row := member.record_row()) is not None]
    rows.append([f"{dist_info}/RECORD", "", ""])
    if edit_record is not None:
        rows = edit_record(rows)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    record = {f"{dist_info}/RECORD": out.getvalue().encode()} if write_record else {}
    path = directory / f"{dist}-{version}-{tag}.whl"
    if raw:
        regular = [RawMember(name, data) for name, data in members.items()]
        write_zip(path, [*regular, *raw, *(RawMember(n, d) for n, d in record.items())])
        return path
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in {**members, **record}.items():
            archive.writestr(name, data)
    return path
