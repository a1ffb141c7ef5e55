"""Real wheels from the package index: all must pass, except documented known violations.

The Linux ones are also run through ``auditwheel show`` (the reference tool) to check that
our symbol-policy and external-library verdicts agree with its verdicts.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from auditwheel.libc import Libc
from auditwheel.policy import WheelPolicies
from auditwheel.wheeltools import get_wheel_architecture, get_wheel_platforms
from real_wheels import DownloadFailed, RealWheel, fetch_all
from wheelcheck_builders import (
    EXT_GETRANDOM_SOURCE,
    EXT_USES_LIBCRYPTO_SOURCE,
    limits,
    make_wheel,
)

from wheelfleet.wheelcheck import Problem, check_wheel, windows_dlls
from wheelfleet.wheelcheck.binary_facts import PEFacts
from wheelfleet.wheelcheck.pe_reader import read_pe
from wheelfleet.wheelcheck.report import (
    EXTERNAL_LIBRARY_NOT_BUNDLED,
    MACOS_MIN_VERSION_ABOVE_TAG,
    PYTHON_ABI_MISMATCH,
    SYMBOLS_TOO_NEW,
    TAG_METADATA_MISMATCH,
)

REAL_WHEELS = [
    # manylinux x86_64: manylinux1, manylinux2014 (incl. multi-tag) and manylinux_2_28
    RealWheel(
        "numpy==1.26.4",
        "manylinux2014_x86_64",
        "3.11",
        "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    RealWheel(
        "numpy==2.3.2",
        "manylinux_2_28_x86_64",
        "3.12",
        "numpy-2.3.2-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
    ),
    RealWheel(
        "cffi==1.17.1",
        "manylinux2014_x86_64",
        "3.11",
        "cffi-1.17.1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    RealWheel(
        "pyyaml==6.0.2",
        "manylinux2014_x86_64",
        "3.11",
        "PyYAML-6.0.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    RealWheel(
        "markupsafe==3.0.2",
        "manylinux2014_x86_64",
        "3.12",
        "MarkupSafe-3.0.2-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    RealWheel(
        "msgpack==1.1.0",
        "manylinux2014_x86_64",
        "3.11",
        "msgpack-1.1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    RealWheel(
        "psutil==7.0.0",
        "manylinux2014_x86_64",
        "3.11",
        "psutil-7.0.0-cp36-abi3-manylinux_2_12_x86_64.manylinux2010_x86_64.manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    RealWheel(
        "lxml==5.3.0",
        "manylinux_2_28_x86_64",
        "3.12",
        "lxml-5.3.0-cp312-cp312-manylinux_2_28_x86_64.whl",
    ),
    RealWheel(
        "pillow==11.1.0",
        "manylinux_2_28_x86_64",
        "3.12",
        "pillow-11.1.0-cp312-cp312-manylinux_2_28_x86_64.whl",
    ),
    RealWheel(
        "cryptography==44.0.0",
        "manylinux_2_28_x86_64",
        "3.11",
        "cryptography-44.0.0-cp39-abi3-manylinux_2_28_x86_64.whl",
    ),
    RealWheel(
        "orjson==3.10.15",
        "manylinux2014_x86_64",
        "3.11",
        "orjson-3.10.15-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    RealWheel(
        "pydantic-core==2.27.2",
        "manylinux2014_x86_64",
        "3.11",
        "pydantic_core-2.27.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    RealWheel(
        "zstandard==0.23.0",
        "manylinux2014_x86_64",
        "3.11",
        "zstandard-0.23.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    RealWheel(
        "charset-normalizer==3.4.1",
        "manylinux2014_x86_64",
        "3.11",
        "charset_normalizer-3.4.1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    RealWheel(
        "regex==2024.11.6",
        "manylinux2014_x86_64",
        "3.11",
        "regex-2024.11.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    RealWheel(
        "bcrypt==4.2.1",
        "manylinux_2_28_x86_64",
        "3.11",
        "bcrypt-4.2.1-cp39-abi3-manylinux_2_28_x86_64.whl",
    ),
    RealWheel(
        "msgpack==1.0.2",
        "manylinux1_x86_64",
        "3.9",
        "msgpack-1.0.2-cp39-cp39-manylinux1_x86_64.whl",
    ),
    # manylinux i686 and aarch64
    RealWheel(
        "cffi==1.17.1",
        "manylinux2014_i686",
        "3.11",
        "cffi-1.17.1-cp311-cp311-manylinux_2_12_i686.manylinux2010_i686.manylinux_2_17_i686.manylinux2014_i686.whl",
    ),
    RealWheel(
        "numpy==2.3.2",
        "manylinux_2_28_aarch64",
        "3.12",
        "numpy-2.3.2-cp312-cp312-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl",
    ),
    RealWheel(
        "cryptography==44.0.0",
        "manylinux_2_28_aarch64",
        "3.11",
        "cryptography-44.0.0-cp39-abi3-manylinux_2_28_aarch64.whl",
    ),
    RealWheel(
        "psutil==7.0.0",
        "manylinux2014_aarch64",
        "3.11",
        "psutil-7.0.0-cp36-abi3-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    RealWheel(
        "pyyaml==6.0.2",
        "manylinux2014_aarch64",
        "3.11",
        "PyYAML-6.0.2-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    RealWheel(
        "zstandard==0.23.0",
        "manylinux2014_aarch64",
        "3.11",
        "zstandard-0.23.0-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    # musllinux
    RealWheel(
        "numpy==2.3.2",
        "musllinux_1_2_x86_64",
        "3.12",
        "numpy-2.3.2-cp312-cp312-musllinux_1_2_x86_64.whl",
    ),
    RealWheel(
        "cffi==1.17.1",
        "musllinux_1_1_x86_64",
        "3.12",
        "cffi-1.17.1-cp312-cp312-musllinux_1_1_x86_64.whl",
    ),
    RealWheel(
        "markupsafe==3.0.2",
        "musllinux_1_2_aarch64",
        "3.12",
        "MarkupSafe-3.0.2-cp312-cp312-musllinux_1_2_aarch64.whl",
    ),
    RealWheel(
        "orjson==3.10.15",
        "musllinux_1_2_x86_64",
        "3.11",
        "orjson-3.10.15-cp311-cp311-musllinux_1_2_x86_64.whl",
    ),
    RealWheel(
        "msgpack==1.1.0",
        "musllinux_1_2_x86_64",
        "3.11",
        "msgpack-1.1.0-cp311-cp311-musllinux_1_2_x86_64.whl",
    ),
    # macOS x86_64, arm64, universal2 (and one pure wheel pip prefers for that platform)
    RealWheel(
        "numpy==2.3.2", "macosx_14_0_arm64", "3.12", "numpy-2.3.2-cp312-cp312-macosx_14_0_arm64.whl"
    ),
    RealWheel(
        "numpy==2.3.2",
        "macosx_10_13_x86_64",
        "3.12",
        "numpy-2.3.2-cp312-cp312-macosx_10_13_x86_64.whl",
    ),
    RealWheel(
        "cryptography==44.0.0",
        "macosx_10_9_universal2",
        "3.11",
        "cryptography-44.0.0-cp39-abi3-macosx_10_9_universal2.whl",
    ),
    RealWheel(
        "charset-normalizer==3.4.1",
        "macosx_10_9_universal2",
        "3.12",
        "charset_normalizer-3.4.1-py3-none-any.whl",
    ),
    RealWheel(
        "regex==2024.11.6",
        "macosx_10_13_universal2",
        "3.12",
        "regex-2024.11.6-cp312-cp312-macosx_10_13_universal2.whl",
    ),
    RealWheel(
        "markupsafe==3.0.2",
        "macosx_10_13_universal2",
        "3.12",
        "MarkupSafe-3.0.2-cp312-cp312-macosx_10_13_universal2.whl",
    ),
    RealWheel(
        "pillow==11.1.0",
        "macosx_11_0_arm64",
        "3.12",
        "pillow-11.1.0-cp312-cp312-macosx_11_0_arm64.whl",
    ),
    RealWheel(
        "pillow==11.1.0",
        "macosx_10_13_x86_64",
        "3.12",
        "pillow-11.1.0-cp312-cp312-macosx_10_13_x86_64.whl",
    ),
    RealWheel(
        "psutil==7.0.0", "macosx_11_0_arm64", "3.11", "psutil-7.0.0-cp36-abi3-macosx_11_0_arm64.whl"
    ),
    RealWheel(
        "lxml==5.3.0",
        "macosx_10_9_universal2",
        "3.12",
        "lxml-5.3.0-cp312-cp312-macosx_10_9_universal2.whl",
    ),
    RealWheel(
        "bcrypt==4.2.1",
        "macosx_10_12_universal2",
        "3.11",
        "bcrypt-4.2.1-cp39-abi3-macosx_10_12_universal2.whl",
    ),
    # Windows win32, win_amd64, win_arm64
    RealWheel("numpy==2.3.2", "win_amd64", "3.12", "numpy-2.3.2-cp312-cp312-win_amd64.whl"),
    RealWheel("numpy==2.3.2", "win_arm64", "3.12", "numpy-2.3.2-cp312-cp312-win_arm64.whl"),
    RealWheel("numpy==2.2.6", "win32", "3.12", "numpy-2.2.6-cp312-cp312-win32.whl"),
    RealWheel("pillow==11.1.0", "win32", "3.12", "pillow-11.1.0-cp312-cp312-win32.whl"),
    RealWheel("pillow==11.1.0", "win_amd64", "3.12", "pillow-11.1.0-cp312-cp312-win_amd64.whl"),
    RealWheel("pillow==11.1.0", "win_arm64", "3.12", "pillow-11.1.0-cp312-cp312-win_arm64.whl"),
    RealWheel("markupsafe==3.0.2", "win32", "3.12", "MarkupSafe-3.0.2-cp312-cp312-win32.whl"),
    RealWheel(
        "cryptography==44.0.0", "win_amd64", "3.11", "cryptography-44.0.0-cp39-abi3-win_amd64.whl"
    ),
    RealWheel("cryptography==44.0.0", "win32", "3.11", "cryptography-44.0.0-cp39-abi3-win32.whl"),
    RealWheel("psutil==7.0.0", "win_amd64", "3.11", "psutil-7.0.0-cp37-abi3-win_amd64.whl"),
    RealWheel("psutil==7.1.0", "win_arm64", "3.12", "psutil-7.1.0-cp37-abi3-win_arm64.whl"),
    RealWheel("pyyaml==6.0.2", "win_amd64", "3.11", "PyYAML-6.0.2-cp311-cp311-win_amd64.whl"),
    RealWheel("pyyaml==6.0.3", "win_arm64", "3.12", "pyyaml-6.0.3-cp312-cp312-win_arm64.whl"),
    RealWheel("orjson==3.10.15", "win_amd64", "3.11", "orjson-3.10.15-cp311-cp311-win_amd64.whl"),
    # free-threaded CPython (cp313t, cp314t) on every platform
    RealWheel(
        "numpy==2.3.2",
        "manylinux_2_28_x86_64",
        "3.13",
        "numpy-2.3.2-cp313-cp313t-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
        abi="cp313t",
    ),
    RealWheel(
        "numpy==2.3.2",
        "musllinux_1_2_x86_64",
        "3.13",
        "numpy-2.3.2-cp313-cp313t-musllinux_1_2_x86_64.whl",
        abi="cp313t",
    ),
    RealWheel(
        "numpy==2.3.2",
        "macosx_14_0_arm64",
        "3.13",
        "numpy-2.3.2-cp313-cp313t-macosx_14_0_arm64.whl",
        abi="cp313t",
    ),
    RealWheel(
        "numpy==2.3.2", "win_amd64", "3.13", "numpy-2.3.2-cp313-cp313t-win_amd64.whl", abi="cp313t"
    ),
    RealWheel(
        "numpy==2.3.2", "win_arm64", "3.13", "numpy-2.3.2-cp313-cp313t-win_arm64.whl", abi="cp313t"
    ),
    RealWheel(
        "markupsafe==3.0.2",
        "manylinux2014_x86_64",
        "3.13",
        "MarkupSafe-3.0.2-cp313-cp313t-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        abi="cp313t",
    ),
    RealWheel(
        "pyyaml==6.0.3",
        "manylinux2014_x86_64",
        "3.14",
        "pyyaml-6.0.3-cp314-cp314t-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl",
        abi="cp314t",
    ),
    RealWheel(
        "pyyaml==6.0.3",
        "macosx_11_0_arm64",
        "3.14",
        "pyyaml-6.0.3-cp314-cp314t-macosx_11_0_arm64.whl",
        abi="cp314t",
    ),
    RealWheel(
        "pyyaml==6.0.3",
        "win_amd64",
        "3.14",
        "pyyaml-6.0.3-cp314-cp314t-win_amd64.whl",
        abi="cp314t",
    ),
    RealWheel(
        "cffi==2.0.0", "win_amd64", "3.14", "cffi-2.0.0-cp314-cp314t-win_amd64.whl", abi="cp314t"
    ),
    # CPython 2.7: wide (cp27mu) and narrow (cp27m) Linux builds, VC9 Windows builds, macOS
    RealWheel(
        "cffi==1.15.1",
        "manylinux1_x86_64",
        "2.7",
        "cffi-1.15.1-cp27-cp27mu-manylinux1_x86_64.whl",
        abi="cp27mu",
    ),
    RealWheel(
        "cffi==1.15.1",
        "manylinux1_x86_64",
        "2.7",
        "cffi-1.15.1-cp27-cp27m-manylinux1_x86_64.whl",
        abi="cp27m",
    ),
    RealWheel(
        "numpy==1.16.6",
        "manylinux1_x86_64",
        "2.7",
        "numpy-1.16.6-cp27-cp27mu-manylinux1_x86_64.whl",
        abi="cp27mu",
    ),
    RealWheel(
        "psutil==5.9.8",
        "manylinux2010_x86_64",
        "2.7",
        "psutil-5.9.8-cp27-cp27mu-manylinux2010_x86_64.whl",
        abi="cp27mu",
    ),
    RealWheel(
        "cffi==1.15.1", "win_amd64", "2.7", "cffi-1.15.1-cp27-cp27m-win_amd64.whl", abi="cp27m"
    ),
    RealWheel("cffi==1.15.1", "win32", "2.7", "cffi-1.15.1-cp27-cp27m-win32.whl", abi="cp27m"),
    RealWheel(
        "numpy==1.16.6", "win_amd64", "2.7", "numpy-1.16.6-cp27-cp27m-win_amd64.whl", abi="cp27m"
    ),
    RealWheel(
        "psutil==5.9.8", "win_amd64", "2.7", "psutil-5.9.8-cp27-none-win_amd64.whl", abi="cp27m"
    ),
    RealWheel(
        "cffi==1.15.1",
        "macosx_10_9_x86_64",
        "2.7",
        "cffi-1.15.1-cp27-cp27m-macosx_10_9_x86_64.whl",
        abi="cp27m",
    ),
    RealWheel(
        "markupsafe==1.1.1",
        "macosx_10_6_intel",
        "2.7",
        "MarkupSafe-1.1.1-cp27-cp27m-macosx_10_6_intel.whl",
        abi="cp27m",
    ),
    # CPython 3.4 (VC10, MSVCR100), including the old "cpXY-none" Windows spelling
    RealWheel("numpy==1.15.4", "win_amd64", "3.4", "numpy-1.15.4-cp34-none-win_amd64.whl"),
    RealWheel("numpy==1.15.4", "win32", "3.4", "numpy-1.15.4-cp34-none-win32.whl"),
    RealWheel("pyyaml==5.1.2", "win_amd64", "3.4", "PyYAML-5.1.2-cp34-cp34m-win_amd64.whl"),
    RealWheel(
        "markupsafe==1.1.1",
        "manylinux1_x86_64",
        "3.4",
        "MarkupSafe-1.1.1-cp34-cp34m-manylinux1_x86_64.whl",
    ),
    # more abi3, PyPy, ppc64le/s390x, musllinux aarch64, multi-tag macOS
    RealWheel(
        "cryptography==44.0.0",
        "musllinux_1_2_x86_64",
        "3.11",
        "cryptography-44.0.0-cp39-abi3-musllinux_1_2_x86_64.whl",
        abi="abi3",
    ),
    RealWheel(
        "cryptography==44.0.0",
        "musllinux_1_2_aarch64",
        "3.11",
        "cryptography-44.0.0-cp39-abi3-musllinux_1_2_aarch64.whl",
        abi="abi3",
    ),
    RealWheel(
        "bcrypt==4.2.1", "win_amd64", "3.11", "bcrypt-4.2.1-cp39-abi3-win_amd64.whl", abi="abi3"
    ),
    RealWheel(
        "pydantic-core==2.27.2",
        "manylinux2014_x86_64",
        "3.10",
        "pydantic_core-2.27.2-pp310-pypy310_pp73-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        abi="pypy310_pp73",
        implementation="pp",
    ),
    RealWheel(
        "numpy==2.3.2",
        "win_amd64",
        "3.11",
        "numpy-2.3.2-pp311-pypy311_pp73-win_amd64.whl",
        abi="pypy311_pp73",
        implementation="pp",
    ),
    RealWheel(
        "cffi==1.17.1",
        "manylinux2014_ppc64le",
        "3.12",
        "cffi-1.17.1-cp312-cp312-manylinux_2_17_ppc64le.manylinux2014_ppc64le.whl",
    ),
    RealWheel(
        "cffi==1.17.1",
        "manylinux2014_s390x",
        "3.12",
        "cffi-1.17.1-cp312-cp312-manylinux_2_17_s390x.manylinux2014_s390x.whl",
    ),
    RealWheel(
        "numpy==2.3.2",
        "musllinux_1_2_aarch64",
        "3.12",
        "numpy-2.3.2-cp312-cp312-musllinux_1_2_aarch64.whl",
    ),
    RealWheel(
        "orjson==3.10.15",
        "macosx_15_0_arm64",
        "3.11",
        "orjson-3.10.15-cp311-cp311-macosx_10_15_x86_64.macosx_11_0_arm64.macosx_10_15_universal2.whl",
    ),
    RealWheel(
        "ruamel.yaml.clib==0.2.12",
        "manylinux2014_aarch64",
        "3.12",
        "ruamel.yaml.clib-0.2.12-cp312-cp312-manylinux2014_aarch64.whl",
    ),
    RealWheel("lxml==5.3.0", "win_amd64", "3.12", "lxml-5.3.0-cp312-cp312-win_amd64.whl"),
    RealWheel("greenlet==3.1.1", "win_amd64", "3.12", "greenlet-3.1.1-cp312-cp312-win_amd64.whl"),
    # A false alarm once: arrow.dll imports webservices.dll, in System32 since Windows 7 (and
    # in delvewheel's x64 list), which a hand-written list of system DLLs lacked.
    RealWheel("pyarrow==26.0.1", "win_amd64", "3.12", "pyarrow-26.0.1-cp312-cp312-win_amd64.whl"),
]

# Real wheels that genuinely break a rule. The check is not weakened for them: the exact
# problems are asserted, so a fix upstream (or a regression here) shows up.
KNOWN_VIOLATIONS: dict[str, list[Problem]] = {
    # The Rust extension's x86_64 slice carries LC_VERSION_MIN_MACOSX 10.13 (rustc's default
    # deployment target since 1.74), yet the wheel is tagged macosx_10_9: pip installs it on
    # macOS 10.9-10.12, where dyld refuses to load it. `otool -l` shows "version 10.13".
    "cryptography-44.0.0-cp39-abi3-macosx_10_9_universal2.whl": [
        Problem(
            MACOS_MIN_VERSION_ABOVE_TAG,
            "cryptography/hazmat/bindings/_rust.abi3.so",
            "x86_64 slice needs macOS 10.13 (LC_VERSION_MIN_MACOSX) but the tag allows "
            "macOS 10.9 for x86_64",
        )
    ],
    # The 32-bit build imports the C++ runtime MSVCP140.dll without bundling it (the
    # win_amd64 build of numpy 2.3.2 bundles numpy.libs/msvcp140-<hash>.dll). CPython ships
    # only vcruntime140.dll, so the import fails where no VC++ redistributable is installed.
    "numpy-2.2.6-cp312-cp312-win32.whl": [
        Problem(
            EXTERNAL_LIBRARY_NOT_BUNDLED,
            f"numpy/{module}.cp312-win32.pyd",
            "imports MSVCP140.dll, which is neither bundled in the wheel nor a Windows system "
            "DLL, API set or a DLL that CPython ships",
        )
        for module in ("_core/_multiarray_umath", "fft/_pocketfft_umath")
    ],
    # The Rust-built module's DT_NEEDED is "libc.so", not musl's soname
    # libc.musl-x86_64.so.1 that auditwheel's musllinux policy whitelists. auditwheel 6.8.2
    # agrees ("libs_to_eliminate": ["libc.so"], overall tag linux_x86_64); musl's own loader
    # happens to map the reserved name libc.so to itself, which is why it imports on Alpine.
    # psutil's own build wrote a filename tag (cp27-none) other than its WHEEL Tag line
    # (cp27-cp27m): `unzip -p … psutil-5.9.8.dist-info/WHEEL` shows "Tag: cp27-cp27m-win_amd64".
    "psutil-5.9.8-cp27-none-win_amd64.whl": [
        Problem(
            TAG_METADATA_MISMATCH,
            "psutil-5.9.8.dist-info/WHEEL",
            "filename has cp27-none-win_amd64 not in WHEEL; WHEEL has cp27-cp27m-win_amd64 "
            "not in the filename",
        )
    ],
    # The aarch64 wheel's extension is AArch64 code (`readelf -h`: "Machine: AArch64") named
    # with the x86_64 multiarch triplet, so CPython on aarch64, which looks for
    # .cpython-312-aarch64-linux-gnu.so, never imports it (ruamel.yaml silently falls back to
    # its pure-Python loader).
    "ruamel.yaml.clib-0.2.12-cp312-cp312-manylinux2014_aarch64.whl": [
        Problem(
            PYTHON_ABI_MISMATCH,
            "_ruamel_yaml.cpython-312-x86_64-linux-gnu.so",
            "extension suffix .cpython-312-x86_64-linux-gnu is for x86_64 Linux; the wheel is "
            "tagged for aarch64",
        )
    ],
    "orjson-3.10.15-cp311-cp311-musllinux_1_2_x86_64.whl": [
        Problem(
            EXTERNAL_LIBRARY_NOT_BUNDLED,
            "orjson/orjson.cpython-311-x86_64-linux-musl.so",
            "needs libc.so, which is neither bundled (searched RUNPATH/RPATH <none>) nor "
            "allowed by musllinux_1_2_x86_64",
        )
    ],
}

LINUX_WHEELS = [w for w in REAL_WHEELS if w.is_linux]
PYARROW_WIN_AMD64 = "pyarrow-26.0.1-cp312-cp312-win_amd64.whl"
CRYPTOGRAPHY_MACOS_10_9 = "cryptography-44.0.0-cp39-abi3-macosx_10_9_universal2.whl"
NUMPY_WIN32_MSVCP140 = "numpy-2.2.6-cp312-cp312-win32.whl"


@pytest.fixture(scope="session")
def real_wheel_paths() -> dict[RealWheel, Path]:
    try:
        return fetch_all(REAL_WHEELS)
    except DownloadFailed as failure:
        pytest.fail(f"cannot download the pinned real wheels: {failure}")


def test_the_real_wheel_set_covers_every_platform_family() -> None:
    names = [w.filename for w in REAL_WHEELS]

    def count(pattern: str) -> int:
        return sum(1 for name in names if re.search(pattern, name))

    assert len(names) >= 80
    assert count(r"manylinux2014_x86_64") >= 5
    assert count(r"manylinux_2_28_x86_64") >= 3
    assert count(r"manylinux2014_aarch64") >= 2
    assert count(r"manylinux_2_28_aarch64") >= 2
    assert count(r"musllinux_1_\d_x86_64") >= 3
    assert count(r"musllinux_1_\d_aarch64") >= 1
    assert count(r"macosx_\d+_\d+_x86_64") >= 2
    assert count(r"macosx_\d+_\d+_arm64") >= 2
    assert count(r"universal2") >= 3
    assert count(r"-win32\.whl") >= 3
    assert count(r"-win_amd64\.whl") >= 3
    assert count(r"-win_arm64\.whl") >= 3
    assert count(r"-abi3-") >= 10
    assert count(r"-cp31\dt-") >= 9  # free-threaded
    assert count(r"-cp27-") >= 10
    assert count(r"-cp34-") >= 3  # VC10's MSVCR100
    assert count(r"-pp3\d+-") >= 2  # PyPy
    assert set(KNOWN_VIOLATIONS) <= set(names)
    # The false alarm and the two real defects found over 172 real wheels (issue 17).
    assert {PYARROW_WIN_AMD64, CRYPTOGRAPHY_MACOS_10_9, NUMPY_WIN32_MSVCP140} <= set(names)
    assert {CRYPTOGRAPHY_MACOS_10_9, NUMPY_WIN32_MSVCP140} <= set(KNOWN_VIOLATIONS)


@pytest.mark.parametrize("wheel", REAL_WHEELS, ids=str)
def test_real_wheel_is_ok_or_a_known_violation(
    wheel: RealWheel, real_wheel_paths: dict[RealWheel, Path]
) -> None:
    report = check_wheel(real_wheel_paths[wheel])
    assert report.wheel == wheel.filename
    assert report.problems == KNOWN_VIOLATIONS.get(wheel.filename, [])
    assert report.ok is (wheel.filename not in KNOWN_VIOLATIONS)


def _pe_member(path: Path, member: str) -> PEFacts:
    with zipfile.ZipFile(path) as wheel:
        return read_pe(wheel.read(member), limits(member))


def test_pyarrow_imports_a_system_dll_a_hand_written_list_missed(
    real_wheel_paths: dict[RealWheel, Path],
) -> None:
    """Real artifact (pyarrow's win_amd64 wheel): the import that made the false alarm is
    still there, and is allowed because delvewheel's x64 data lists it."""
    path = next(p for w, p in real_wheel_paths.items() if w.filename == PYARROW_WIN_AMD64)
    arrow = _pe_member(path, "pyarrow/arrow.dll")
    assert arrow.arch == "x64"
    assert "webservices.dll" in {dll.lower() for dll in arrow.needed}
    assert windows_dlls.is_system_dll("webservices.dll", "x64")
    assert check_wheel(path).problems == []


# --- agreement with auditwheel ----------------------------------------------------------------

Verdict = tuple[bool, frozenset[str]]  # (symbol versions fit the tag, external sonames)


def wheelcheck_linux_verdict(path: Path) -> Verdict:
    return wheelcheck_verdict_from_problems(check_wheel(path).problems)


def wheelcheck_verdict_from_problems(problems: list[Problem]) -> Verdict:
    """wheelcheck's verdict on the two things auditwheel also judges."""
    symbols_ok = all(p.code != SYMBOLS_TOO_NEW for p in problems)
    external = frozenset(
        match[1]
        for p in problems
        if p.code == EXTERNAL_LIBRARY_NOT_BUNDLED
        and (match := re.match(r"needs (\S+),", p.message))
    )
    return symbols_ok, external


def auditwheel_linux_verdict(path: Path) -> Verdict:
    """Run ``auditwheel show --json`` as a user would, and read its verdict for the tag."""
    return auditwheel_verdict_from_json(path.name, run_auditwheel_show(path))


def run_auditwheel_show(path: Path) -> str:
    """``auditwheel show --json WHEEL`` from this venv, as a subprocess; its stdout."""
    auditwheel = Path(sys.executable).with_name("auditwheel")
    result = subprocess.run(
        [str(auditwheel), "show", "--json", str(path)], capture_output=True, text=True, check=True
    )
    return result.stdout


def auditwheel_verdict_from_json(filename: str, output: str) -> Verdict:
    """auditwheel's verdict for the policy the wheel's platform tags claim."""
    shown = json.loads(output)
    platforms = get_wheel_platforms(filename)
    arch = get_wheel_architecture(filename)
    if platforms[0].startswith("musllinux_"):
        # Off a musl host auditwheel judges every musllinux wheel by the newest musl policy
        # it knows (musllinux_1_2: same whitelist as 1_1, no symbol versions) and says so in
        # sym_tag, or else in policy_upgrades.
        evaluated = next(
            name
            for name in [shown["sym_tag"], *shown["policy_upgrades"]]
            if name.startswith("musllinux_")
        )
        musl_policy = "_".join(evaluated.split("_")[:3])
        policies = WheelPolicies(libc=Libc.MUSL, arch=arch, musl_policy=musl_policy)
        claimed = policies.get_policy_by_name(evaluated)
    else:
        policies = WheelPolicies(libc=Libc.GLIBC, arch=arch)
        # The wheel promises the strictest of its platform tags (auditwheel resolves aliases).
        claimed = max(policies.get_policy_by_name(p) for p in platforms)
    symbols_ok = policies.get_policy_by_name(shown["sym_tag"]).priority >= claimed.priority
    upgrade = shown["policy_upgrades"].get(claimed.name, {})
    return symbols_ok, frozenset(upgrade.get("libs_to_eliminate", []))


@pytest.mark.slow  # auditwheel show takes up to ~15 s on a numpy wheel
@pytest.mark.parametrize("wheel", LINUX_WHEELS, ids=str)
def test_real_linux_wheel_verdict_agrees_with_auditwheel(
    wheel: RealWheel, real_wheel_paths: dict[RealWheel, Path]
) -> None:
    path = real_wheel_paths[wheel]
    assert wheelcheck_linux_verdict(path) == auditwheel_linux_verdict(path)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("glibc-2.25-in-manylinux2014", (False, frozenset())),
        ("glibc-2.25-in-manylinux_2_28", (True, frozenset())),
        ("helper-not-bundled", (True, frozenset({"libwfhelper.so.1"}))),
        ("helper-bundled", (True, frozenset())),
    ],
)
def test_fixture_wheel_verdict_agrees_with_auditwheel(
    case: str, expected: Verdict, tmp_path: Path, toolchain, built
) -> None:
    """Failing cases too: agreeing on good wheels alone would not show the checks bite."""
    getrandom = lambda: toolchain.gcc_ext("elf-getrandom", EXT_GETRANDOM_SOURCE)  # noqa: E731
    ext: bytes
    files: dict[str, bytes]
    tag = "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"
    if case == "glibc-2.25-in-manylinux2014":
        files = {"pkg/ext.so": built(getrandom).read_bytes()}
    elif case == "glibc-2.25-in-manylinux_2_28":
        tag = "cp311-cp311-manylinux_2_28_x86_64"
        files = {"pkg/ext.so": built(getrandom).read_bytes()}
    else:
        ext = built(toolchain.gcc_ext_linked_to_helper).read_bytes()
        files = {"pkg/ext.so": ext}
        if case == "helper-bundled":
            files["pkg.libs/libwfhelper.so.1"] = built(toolchain.gcc_helper_lib).read_bytes()
    wheel = make_wheel(tmp_path, tag, files)
    assert wheelcheck_linux_verdict(wheel) == expected
    assert auditwheel_linux_verdict(wheel) == expected


def test_unbundled_host_library_agrees_with_auditwheel_on_external_libs(
    tmp_path: Path, toolchain, built
) -> None:
    """libcrypto.so.3 exists on this host: both tools name it as the library to bundle.

    auditwheel also folds the host copy's own symbol versions (GLIBC_2.25 and newer on
    Debian 12) into its sym_tag, anticipating what `auditwheel repair` would graft; wheelcheck
    judges only what is in the wheel, and reports the missing library itself instead. So only
    the external-library verdict is compared here.
    """
    ext = built(lambda: toolchain.gcc_ext("elf-libcrypto", EXT_USES_LIBCRYPTO_SOURCE, "-lcrypto"))
    wheel = make_wheel(
        tmp_path, "cp311-cp311-manylinux2014_x86_64", {"pkg/ext.so": ext.read_bytes()}
    )
    ours = wheelcheck_linux_verdict(wheel)
    theirs = auditwheel_linux_verdict(wheel)
    assert ours == (True, frozenset({"libcrypto.so.3"}))
    assert theirs[1] == ours[1]
