"""Benchmark: ``wheelfleet check-wheel`` over a corpus of real wheels of every platform, per
platform, and against ``auditwheel show`` on its Linux wheels, all measured in one run.

Run: ``.venv/bin/python benchmarks/bench_wheelcheck.py``

The corpus is the pinned real wheels of tests/wheelcheck/test_real_wheels.py plus the pinned
``CORPUS_EXTRA`` below: over 250 wheels (manylinux x86_64/i686/aarch64/ppc64le/s390x,
musllinux x86_64/aarch64, macOS x86_64/arm64/universal2, win32, win_amd64, win_arm64, pure),
fetched by name and sha256 (tests/wheelcheck/real_wheels.sha256) with pip into
~/.cache/wheelfleet/pypi-wheels on first use, exactly like the tests' real wheels. Every tool
runs as a user would run it, as a subprocess of this venv:

* check-wheel over the whole corpus as one batch (its normal use) and with ``--jobs 1``:
  seconds, wheels/s, MB/s (compressed wheel bytes), peak memory of the process and its workers;
* per platform (Linux, macOS, Windows), check-wheel ``--jobs 1`` over that platform's wheels:
  wheels/s, MB/s and MB per CPU-second (CPU time of the process and its workers, which the
  other processes on a shared machine do not inflate), and how far Windows is behind the
  fastest other platform (the target is within 1.5x);
* on the Linux wheels: ``auditwheel show --json WHEEL`` once per wheel (it takes one at a
  time), and check-wheel as one batch, with ``--jobs 1`` and once per wheel; the speed-up
  ratios, and whether the two tools' verdicts (symbol versions fit the tag; external libraries
  to bundle) agree on every wheel.

Exit status 1 if a verdict differs or a pinned test wheel reports other than its known
violations. Not a timed test: the figures are printed, not asserted.
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests" / "wheelcheck"
sys.path.insert(0, str(TESTS))

from hostile_builders import Measured, run_measured  # noqa: E402
from real_wheels import RealWheel, fetch_all  # noqa: E402
from test_real_wheels import (  # noqa: E402
    KNOWN_VIOLATIONS,
    REAL_WHEELS,
    auditwheel_verdict_from_json,
    run_auditwheel_show,
    wheelcheck_verdict_from_problems,
)

from wheelfleet.wheelcheck import Problem  # noqa: E402

TARGET_RATIO = 10.0  # check-wheel batch vs auditwheel show, Linux wheels
WINDOWS_TARGET = 1.5  # Windows MB per CPU-second at most this far behind the fastest other
TIMEOUT = 3600
MIN_CORPUS = 150


# (requirement, pip --platform, the file pip must pick), all for CPython 3.12
_EXTRA = [
    (
        "ujson==5.10.0",
        "manylinux2014_x86_64",
        "ujson-5.10.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "ujson==5.10.0",
        "manylinux2014_aarch64",
        "ujson-5.10.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    ("ujson==5.10.0", "musllinux_1_2_x86_64", "ujson-5.10.0-cp312-cp312-musllinux_1_2_x86_64.whl"),
    ("ujson==5.10.0", "macosx_11_0_arm64", "ujson-5.10.0-cp312-cp312-macosx_11_0_arm64.whl"),
    ("ujson==5.10.0", "macosx_10_13_x86_64", "ujson-5.10.0-cp312-cp312-macosx_10_9_x86_64.whl"),
    ("ujson==5.10.0", "win_amd64", "ujson-5.10.0-cp312-cp312-win_amd64.whl"),
    ("ujson==5.10.0", "win32", "ujson-5.10.0-cp312-cp312-win32.whl"),
    (
        "simplejson==3.19.3",
        "manylinux2014_x86_64",
        "simplejson-3.19.3-cp312-cp312-manylinux_2_5_x86_64.manylinux1_x86_64.manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "simplejson==3.19.3",
        "manylinux2014_aarch64",
        "simplejson-3.19.3-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    (
        "simplejson==3.19.3",
        "musllinux_1_2_x86_64",
        "simplejson-3.19.3-cp312-cp312-musllinux_1_2_x86_64.whl",
    ),
    (
        "simplejson==3.19.3",
        "macosx_11_0_arm64",
        "simplejson-3.19.3-cp312-cp312-macosx_11_0_arm64.whl",
    ),
    (
        "simplejson==3.19.3",
        "macosx_10_13_x86_64",
        "simplejson-3.19.3-cp312-cp312-macosx_10_9_x86_64.whl",
    ),
    ("simplejson==3.19.3", "win_amd64", "simplejson-3.19.3-cp312-cp312-win_amd64.whl"),
    ("simplejson==3.19.3", "win32", "simplejson-3.19.3-cp312-cp312-win32.whl"),
    (
        "wrapt==1.17.0",
        "manylinux2014_x86_64",
        "wrapt-1.17.0-cp312-cp312-manylinux_2_5_x86_64.manylinux1_x86_64.manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "wrapt==1.17.0",
        "manylinux2014_aarch64",
        "wrapt-1.17.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    ("wrapt==1.17.0", "musllinux_1_2_x86_64", "wrapt-1.17.0-cp312-cp312-musllinux_1_2_x86_64.whl"),
    ("wrapt==1.17.0", "macosx_11_0_arm64", "wrapt-1.17.0-cp312-cp312-macosx_11_0_arm64.whl"),
    ("wrapt==1.17.0", "macosx_10_13_x86_64", "wrapt-1.17.0-py3-none-any.whl"),
    ("wrapt==1.17.0", "win_amd64", "wrapt-1.17.0-cp312-cp312-win_amd64.whl"),
    ("wrapt==1.17.0", "win32", "wrapt-1.17.0-cp312-cp312-win32.whl"),
    (
        "frozenlist==1.5.0",
        "manylinux2014_x86_64",
        "frozenlist-1.5.0-cp312-cp312-manylinux_2_5_x86_64.manylinux1_x86_64.manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "frozenlist==1.5.0",
        "manylinux2014_aarch64",
        "frozenlist-1.5.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    (
        "frozenlist==1.5.0",
        "musllinux_1_2_x86_64",
        "frozenlist-1.5.0-cp312-cp312-musllinux_1_2_x86_64.whl",
    ),
    (
        "frozenlist==1.5.0",
        "macosx_11_0_arm64",
        "frozenlist-1.5.0-cp312-cp312-macosx_11_0_arm64.whl",
    ),
    (
        "frozenlist==1.5.0",
        "macosx_10_13_x86_64",
        "frozenlist-1.5.0-cp312-cp312-macosx_10_13_x86_64.whl",
    ),
    ("frozenlist==1.5.0", "win_amd64", "frozenlist-1.5.0-cp312-cp312-win_amd64.whl"),
    ("frozenlist==1.5.0", "win32", "frozenlist-1.5.0-cp312-cp312-win32.whl"),
    (
        "multidict==6.1.0",
        "manylinux2014_x86_64",
        "multidict-6.1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "multidict==6.1.0",
        "manylinux2014_aarch64",
        "multidict-6.1.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    (
        "multidict==6.1.0",
        "musllinux_1_2_x86_64",
        "multidict-6.1.0-cp312-cp312-musllinux_1_2_x86_64.whl",
    ),
    ("multidict==6.1.0", "macosx_11_0_arm64", "multidict-6.1.0-cp312-cp312-macosx_11_0_arm64.whl"),
    (
        "multidict==6.1.0",
        "macosx_10_13_x86_64",
        "multidict-6.1.0-cp312-cp312-macosx_10_9_x86_64.whl",
    ),
    ("multidict==6.1.0", "win_amd64", "multidict-6.1.0-cp312-cp312-win_amd64.whl"),
    ("multidict==6.1.0", "win32", "multidict-6.1.0-cp312-cp312-win32.whl"),
    (
        "yarl==1.18.3",
        "manylinux2014_x86_64",
        "yarl-1.18.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "yarl==1.18.3",
        "manylinux2014_aarch64",
        "yarl-1.18.3-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    ("yarl==1.18.3", "musllinux_1_2_x86_64", "yarl-1.18.3-cp312-cp312-musllinux_1_2_x86_64.whl"),
    ("yarl==1.18.3", "macosx_11_0_arm64", "yarl-1.18.3-cp312-cp312-macosx_11_0_arm64.whl"),
    ("yarl==1.18.3", "macosx_10_13_x86_64", "yarl-1.18.3-cp312-cp312-macosx_10_13_x86_64.whl"),
    ("yarl==1.18.3", "win_amd64", "yarl-1.18.3-cp312-cp312-win_amd64.whl"),
    ("yarl==1.18.3", "win32", "yarl-1.18.3-cp312-cp312-win32.whl"),
    (
        "aiohttp==3.11.11",
        "manylinux2014_x86_64",
        "aiohttp-3.11.11-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "aiohttp==3.11.11",
        "manylinux2014_aarch64",
        "aiohttp-3.11.11-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    (
        "aiohttp==3.11.11",
        "musllinux_1_2_x86_64",
        "aiohttp-3.11.11-cp312-cp312-musllinux_1_2_x86_64.whl",
    ),
    ("aiohttp==3.11.11", "macosx_11_0_arm64", "aiohttp-3.11.11-cp312-cp312-macosx_11_0_arm64.whl"),
    (
        "aiohttp==3.11.11",
        "macosx_10_13_x86_64",
        "aiohttp-3.11.11-cp312-cp312-macosx_10_13_x86_64.whl",
    ),
    ("aiohttp==3.11.11", "win_amd64", "aiohttp-3.11.11-cp312-cp312-win_amd64.whl"),
    ("aiohttp==3.11.11", "win32", "aiohttp-3.11.11-cp312-cp312-win32.whl"),
    (
        "rpds-py==0.22.3",
        "manylinux2014_x86_64",
        "rpds_py-0.22.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "rpds-py==0.22.3",
        "manylinux2014_aarch64",
        "rpds_py-0.22.3-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    (
        "rpds-py==0.22.3",
        "musllinux_1_2_x86_64",
        "rpds_py-0.22.3-cp312-cp312-musllinux_1_2_x86_64.whl",
    ),
    ("rpds-py==0.22.3", "macosx_11_0_arm64", "rpds_py-0.22.3-cp312-cp312-macosx_11_0_arm64.whl"),
    (
        "rpds-py==0.22.3",
        "macosx_10_13_x86_64",
        "rpds_py-0.22.3-cp312-cp312-macosx_10_12_x86_64.whl",
    ),
    ("rpds-py==0.22.3", "win_amd64", "rpds_py-0.22.3-cp312-cp312-win_amd64.whl"),
    ("rpds-py==0.22.3", "win32", "rpds_py-0.22.3-cp312-cp312-win32.whl"),
    (
        "xxhash==3.5.0",
        "manylinux2014_x86_64",
        "xxhash-3.5.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "xxhash==3.5.0",
        "manylinux2014_aarch64",
        "xxhash-3.5.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    ("xxhash==3.5.0", "musllinux_1_2_x86_64", "xxhash-3.5.0-cp312-cp312-musllinux_1_2_x86_64.whl"),
    ("xxhash==3.5.0", "macosx_11_0_arm64", "xxhash-3.5.0-cp312-cp312-macosx_11_0_arm64.whl"),
    ("xxhash==3.5.0", "macosx_10_13_x86_64", "xxhash-3.5.0-cp312-cp312-macosx_10_9_x86_64.whl"),
    ("xxhash==3.5.0", "win_amd64", "xxhash-3.5.0-cp312-cp312-win_amd64.whl"),
    ("xxhash==3.5.0", "win32", "xxhash-3.5.0-cp312-cp312-win32.whl"),
    (
        "mmh3==5.0.1",
        "manylinux2014_x86_64",
        "mmh3-5.0.1-cp312-cp312-manylinux_2_5_x86_64.manylinux1_x86_64.manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "mmh3==5.0.1",
        "manylinux2014_aarch64",
        "mmh3-5.0.1-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    ("mmh3==5.0.1", "musllinux_1_2_x86_64", "mmh3-5.0.1-cp312-cp312-musllinux_1_2_x86_64.whl"),
    ("mmh3==5.0.1", "macosx_11_0_arm64", "mmh3-5.0.1-cp312-cp312-macosx_11_0_arm64.whl"),
    ("mmh3==5.0.1", "macosx_10_13_x86_64", "mmh3-5.0.1-cp312-cp312-macosx_10_13_x86_64.whl"),
    ("mmh3==5.0.1", "win_amd64", "mmh3-5.0.1-cp312-cp312-win_amd64.whl"),
    ("mmh3==5.0.1", "win32", "mmh3-5.0.1-cp312-cp312-win32.whl"),
    (
        "brotli==1.1.0",
        "manylinux2014_x86_64",
        "Brotli-1.1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "brotli==1.1.0",
        "manylinux2014_aarch64",
        "Brotli-1.1.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    ("brotli==1.1.0", "musllinux_1_2_x86_64", "Brotli-1.1.0-cp312-cp312-musllinux_1_2_x86_64.whl"),
    ("brotli==1.1.0", "macosx_11_0_arm64", "Brotli-1.1.0-cp312-cp312-macosx_10_13_universal2.whl"),
    ("brotli==1.1.0", "macosx_10_13_x86_64", "Brotli-1.1.0-cp312-cp312-macosx_10_13_x86_64.whl"),
    ("brotli==1.1.0", "win_amd64", "Brotli-1.1.0-cp312-cp312-win_amd64.whl"),
    ("brotli==1.1.0", "win32", "Brotli-1.1.0-cp312-cp312-win32.whl"),
    (
        "websockets==14.1",
        "manylinux2014_x86_64",
        "websockets-14.1-cp312-cp312-manylinux_2_5_x86_64.manylinux1_x86_64.manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "websockets==14.1",
        "manylinux2014_aarch64",
        "websockets-14.1-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    (
        "websockets==14.1",
        "musllinux_1_2_x86_64",
        "websockets-14.1-cp312-cp312-musllinux_1_2_x86_64.whl",
    ),
    ("websockets==14.1", "macosx_11_0_arm64", "websockets-14.1-cp312-cp312-macosx_11_0_arm64.whl"),
    (
        "websockets==14.1",
        "macosx_10_13_x86_64",
        "websockets-14.1-cp312-cp312-macosx_10_13_x86_64.whl",
    ),
    ("websockets==14.1", "win_amd64", "websockets-14.1-cp312-cp312-win_amd64.whl"),
    ("websockets==14.1", "win32", "websockets-14.1-cp312-cp312-win32.whl"),
    (
        "setproctitle==1.3.4",
        "manylinux2014_x86_64",
        "setproctitle-1.3.4-cp312-cp312-manylinux_2_5_x86_64.manylinux1_x86_64.manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "setproctitle==1.3.4",
        "manylinux2014_aarch64",
        "setproctitle-1.3.4-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    (
        "setproctitle==1.3.4",
        "musllinux_1_2_x86_64",
        "setproctitle-1.3.4-cp312-cp312-musllinux_1_2_x86_64.whl",
    ),
    (
        "setproctitle==1.3.4",
        "macosx_11_0_arm64",
        "setproctitle-1.3.4-cp312-cp312-macosx_11_0_arm64.whl",
    ),
    (
        "setproctitle==1.3.4",
        "macosx_10_13_x86_64",
        "setproctitle-1.3.4-cp312-cp312-macosx_10_13_universal2.whl",
    ),
    ("setproctitle==1.3.4", "win_amd64", "setproctitle-1.3.4-cp312-cp312-win_amd64.whl"),
    ("setproctitle==1.3.4", "win32", "setproctitle-1.3.4-cp312-cp312-win32.whl"),
    (
        "zope.interface==7.2",
        "manylinux2014_x86_64",
        "zope.interface-7.2-cp312-cp312-manylinux_2_5_x86_64.manylinux1_x86_64.manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "zope.interface==7.2",
        "manylinux2014_aarch64",
        "zope.interface-7.2-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    (
        "zope.interface==7.2",
        "macosx_11_0_arm64",
        "zope.interface-7.2-cp312-cp312-macosx_11_0_arm64.whl",
    ),
    (
        "zope.interface==7.2",
        "macosx_10_13_x86_64",
        "zope.interface-7.2-cp312-cp312-macosx_10_9_x86_64.whl",
    ),
    ("zope.interface==7.2", "win_amd64", "zope.interface-7.2-cp312-cp312-win_amd64.whl"),
    (
        "propcache==0.2.1",
        "manylinux2014_x86_64",
        "propcache-0.2.1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "propcache==0.2.1",
        "manylinux2014_aarch64",
        "propcache-0.2.1-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    (
        "propcache==0.2.1",
        "musllinux_1_2_x86_64",
        "propcache-0.2.1-cp312-cp312-musllinux_1_2_x86_64.whl",
    ),
    ("propcache==0.2.1", "macosx_11_0_arm64", "propcache-0.2.1-cp312-cp312-macosx_11_0_arm64.whl"),
    (
        "propcache==0.2.1",
        "macosx_10_13_x86_64",
        "propcache-0.2.1-cp312-cp312-macosx_10_13_x86_64.whl",
    ),
    ("propcache==0.2.1", "win_amd64", "propcache-0.2.1-cp312-cp312-win_amd64.whl"),
    ("propcache==0.2.1", "win32", "propcache-0.2.1-cp312-cp312-win32.whl"),
    (
        "lz4==4.3.3",
        "manylinux2014_x86_64",
        "lz4-4.3.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "lz4==4.3.3",
        "manylinux2014_aarch64",
        "lz4-4.3.3-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    ("lz4==4.3.3", "macosx_11_0_arm64", "lz4-4.3.3-cp312-cp312-macosx_11_0_arm64.whl"),
    ("lz4==4.3.3", "macosx_10_13_x86_64", "lz4-4.3.3-cp312-cp312-macosx_10_9_x86_64.whl"),
    ("lz4==4.3.3", "win_amd64", "lz4-4.3.3-cp312-cp312-win_amd64.whl"),
    ("lz4==4.3.3", "win32", "lz4-4.3.3-cp312-cp312-win32.whl"),
    (
        "ruamel.yaml.clib==0.2.12",
        "manylinux2014_x86_64",
        "ruamel.yaml.clib-0.2.12-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    ("ruamel.yaml.clib==0.2.12", "win_amd64", "ruamel.yaml.clib-0.2.12-cp312-cp312-win_amd64.whl"),
    ("ruamel.yaml.clib==0.2.12", "win32", "ruamel.yaml.clib-0.2.12-cp312-cp312-win32.whl"),
    (
        "bitarray==3.0.0",
        "manylinux2014_x86_64",
        "bitarray-3.0.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "bitarray==3.0.0",
        "manylinux2014_aarch64",
        "bitarray-3.0.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    (
        "bitarray==3.0.0",
        "musllinux_1_2_x86_64",
        "bitarray-3.0.0-cp312-cp312-musllinux_1_2_x86_64.whl",
    ),
    ("bitarray==3.0.0", "macosx_11_0_arm64", "bitarray-3.0.0-cp312-cp312-macosx_11_0_arm64.whl"),
    (
        "bitarray==3.0.0",
        "macosx_10_13_x86_64",
        "bitarray-3.0.0-cp312-cp312-macosx_10_13_x86_64.whl",
    ),
    ("bitarray==3.0.0", "win_amd64", "bitarray-3.0.0-cp312-cp312-win_amd64.whl"),
    ("bitarray==3.0.0", "win32", "bitarray-3.0.0-cp312-cp312-win32.whl"),
    (
        "crc32c==2.7.1",
        "manylinux2014_x86_64",
        "crc32c-2.7.1-cp312-cp312-manylinux_2_5_x86_64.manylinux1_x86_64.manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "crc32c==2.7.1",
        "manylinux2014_aarch64",
        "crc32c-2.7.1-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    ("crc32c==2.7.1", "musllinux_1_2_x86_64", "crc32c-2.7.1-cp312-cp312-musllinux_1_2_x86_64.whl"),
    ("crc32c==2.7.1", "macosx_11_0_arm64", "crc32c-2.7.1-cp312-cp312-macosx_11_0_arm64.whl"),
    ("crc32c==2.7.1", "macosx_10_13_x86_64", "crc32c-2.7.1-cp312-cp312-macosx_10_13_x86_64.whl"),
    ("crc32c==2.7.1", "win_amd64", "crc32c-2.7.1-cp312-cp312-win_amd64.whl"),
    ("crc32c==2.7.1", "win32", "crc32c-2.7.1-cp312-cp312-win32.whl"),
    (
        "pycryptodome==3.21.0",
        "manylinux2014_x86_64",
        "pycryptodome-3.21.0-cp36-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "pycryptodome==3.21.0",
        "manylinux2014_aarch64",
        "pycryptodome-3.21.0-cp36-abi3-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    (
        "pycryptodome==3.21.0",
        "musllinux_1_2_x86_64",
        "pycryptodome-3.21.0-cp36-abi3-musllinux_1_2_x86_64.whl",
    ),
    (
        "pycryptodome==3.21.0",
        "macosx_11_0_arm64",
        "pycryptodome-3.21.0-cp36-abi3-macosx_10_9_universal2.whl",
    ),
    (
        "pycryptodome==3.21.0",
        "macosx_10_13_x86_64",
        "pycryptodome-3.21.0-cp36-abi3-macosx_10_9_x86_64.whl",
    ),
    ("pycryptodome==3.21.0", "win_amd64", "pycryptodome-3.21.0-cp36-abi3-win_amd64.whl"),
    ("pycryptodome==3.21.0", "win32", "pycryptodome-3.21.0-cp36-abi3-win32.whl"),
    (
        "pynacl==1.5.0",
        "manylinux2014_x86_64",
        "PyNaCl-1.5.0-cp36-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "pynacl==1.5.0",
        "manylinux2014_aarch64",
        "PyNaCl-1.5.0-cp36-abi3-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    ("pynacl==1.5.0", "macosx_11_0_arm64", "PyNaCl-1.5.0-cp36-abi3-macosx_10_10_universal2.whl"),
    ("pynacl==1.5.0", "win_amd64", "PyNaCl-1.5.0-cp36-abi3-win_amd64.whl"),
    ("pynacl==1.5.0", "win32", "PyNaCl-1.5.0-cp36-abi3-win32.whl"),
    (
        "argon2-cffi-bindings==21.2.0",
        "manylinux2014_x86_64",
        "argon2_cffi_bindings-21.2.0-cp36-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "argon2-cffi-bindings==21.2.0",
        "manylinux2014_aarch64",
        "argon2_cffi_bindings-21.2.0-cp36-abi3-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    (
        "argon2-cffi-bindings==21.2.0",
        "macosx_11_0_arm64",
        "argon2_cffi_bindings-21.2.0-cp38-abi3-macosx_10_9_universal2.whl",
    ),
    (
        "argon2-cffi-bindings==21.2.0",
        "win_amd64",
        "argon2_cffi_bindings-21.2.0-cp36-abi3-win_amd64.whl",
    ),
    ("argon2-cffi-bindings==21.2.0", "win32", "argon2_cffi_bindings-21.2.0-cp36-abi3-win32.whl"),
    (
        "tornado==6.4.2",
        "manylinux2014_x86_64",
        "tornado-6.4.2-cp38-abi3-manylinux_2_5_x86_64.manylinux1_x86_64.manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "tornado==6.4.2",
        "manylinux2014_aarch64",
        "tornado-6.4.2-cp38-abi3-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    ("tornado==6.4.2", "musllinux_1_2_x86_64", "tornado-6.4.2-cp38-abi3-musllinux_1_2_x86_64.whl"),
    ("tornado==6.4.2", "macosx_11_0_arm64", "tornado-6.4.2-cp38-abi3-macosx_10_9_universal2.whl"),
    ("tornado==6.4.2", "macosx_10_13_x86_64", "tornado-6.4.2-cp38-abi3-macosx_10_9_x86_64.whl"),
    ("tornado==6.4.2", "win_amd64", "tornado-6.4.2-cp38-abi3-win_amd64.whl"),
    ("tornado==6.4.2", "win32", "tornado-6.4.2-cp38-abi3-win32.whl"),
    (
        "msgpack==1.1.0",
        "manylinux2014_x86_64",
        "msgpack-1.1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "msgpack==1.1.0",
        "manylinux2014_aarch64",
        "msgpack-1.1.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    (
        "msgpack==1.1.0",
        "musllinux_1_2_x86_64",
        "msgpack-1.1.0-cp312-cp312-musllinux_1_2_x86_64.whl",
    ),
    ("msgpack==1.1.0", "macosx_11_0_arm64", "msgpack-1.1.0-cp312-cp312-macosx_11_0_arm64.whl"),
    ("msgpack==1.1.0", "macosx_10_13_x86_64", "msgpack-1.1.0-cp312-cp312-macosx_10_9_x86_64.whl"),
    ("msgpack==1.1.0", "win_amd64", "msgpack-1.1.0-cp312-cp312-win_amd64.whl"),
    ("msgpack==1.1.0", "win32", "msgpack-1.1.0-cp312-cp312-win32.whl"),
    (
        "markupsafe==3.0.2",
        "manylinux2014_aarch64",
        "MarkupSafe-3.0.2-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    (
        "markupsafe==3.0.2",
        "musllinux_1_2_x86_64",
        "MarkupSafe-3.0.2-cp312-cp312-musllinux_1_2_x86_64.whl",
    ),
    (
        "markupsafe==3.0.2",
        "macosx_11_0_arm64",
        "MarkupSafe-3.0.2-cp312-cp312-macosx_11_0_arm64.whl",
    ),
    ("markupsafe==3.0.2", "win_amd64", "MarkupSafe-3.0.2-cp312-cp312-win_amd64.whl"),
    (
        "pyyaml==6.0.2",
        "manylinux2014_x86_64",
        "PyYAML-6.0.2-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "pyyaml==6.0.2",
        "manylinux2014_aarch64",
        "PyYAML-6.0.2-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    ("pyyaml==6.0.2", "macosx_11_0_arm64", "PyYAML-6.0.2-cp312-cp312-macosx_11_0_arm64.whl"),
    ("pyyaml==6.0.2", "macosx_10_13_x86_64", "PyYAML-6.0.2-cp312-cp312-macosx_10_9_x86_64.whl"),
    ("pyyaml==6.0.2", "win_amd64", "PyYAML-6.0.2-cp312-cp312-win_amd64.whl"),
    ("pyyaml==6.0.2", "win32", "PyYAML-6.0.2-cp312-cp312-win32.whl"),
    (
        "cffi==1.17.1",
        "manylinux2014_x86_64",
        "cffi-1.17.1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "cffi==1.17.1",
        "manylinux2014_aarch64",
        "cffi-1.17.1-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    ("cffi==1.17.1", "macosx_11_0_arm64", "cffi-1.17.1-cp312-cp312-macosx_11_0_arm64.whl"),
    ("cffi==1.17.1", "macosx_10_13_x86_64", "cffi-1.17.1-cp312-cp312-macosx_10_9_x86_64.whl"),
    ("cffi==1.17.1", "win_amd64", "cffi-1.17.1-cp312-cp312-win_amd64.whl"),
    ("cffi==1.17.1", "win32", "cffi-1.17.1-cp312-cp312-win32.whl"),
    (
        "charset-normalizer==3.4.1",
        "manylinux2014_x86_64",
        "charset_normalizer-3.4.1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    (
        "charset-normalizer==3.4.1",
        "manylinux2014_aarch64",
        "charset_normalizer-3.4.1-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ),
    (
        "charset-normalizer==3.4.1",
        "musllinux_1_2_x86_64",
        "charset_normalizer-3.4.1-cp312-cp312-musllinux_1_2_x86_64.whl",
    ),
    (
        "charset-normalizer==3.4.1",
        "macosx_11_0_arm64",
        "charset_normalizer-3.4.1-cp312-cp312-macosx_10_13_universal2.whl",
    ),
    (
        "charset-normalizer==3.4.1",
        "win_amd64",
        "charset_normalizer-3.4.1-cp312-cp312-win_amd64.whl",
    ),
    ("charset-normalizer==3.4.1", "win32", "charset_normalizer-3.4.1-cp312-cp312-win32.whl"),
]
CORPUS_EXTRA = [
    RealWheel(requirement, platform, "3.12", filename) for requirement, platform, filename in _EXTRA
]


@dataclass
class Run:
    """One check-wheel run: its output and what it cost."""

    reports: list[dict]
    seconds: float
    cpu_seconds: float  # user + system of the process and the workers it waited for
    peak_mb: float


def check_wheel_cli(paths: list[Path], *options: str) -> Run:
    """``check-wheel --json`` as a subprocess (the CLI module the console script runs)."""
    command = [sys.executable, "-m", "wheelfleet.wheelcheck.cli", "--json", *options]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result: Measured = run_measured([*command, *map(str, paths)], TIMEOUT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode not in (0, 1):
        raise SystemExit(f"check-wheel failed ({result.returncode}): {result.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(json.loads(result.stdout), result.seconds, cpu, result.peak_mb)


def platform_of(filename: str) -> str:
    """The OS family a wheel is for: linux, macos, windows or pure."""
    if "linux" in filename:
        return "linux"
    if "macosx" in filename:
        return "macos"
    if "-win" in filename:
        return "windows"
    return "pure"


def tag_family(filename: str) -> str:
    """A finer label for the corpus summary: manylinux_x86_64, win_arm64, macos_universal2 …"""
    platform = filename[: -len(".whl")].rsplit("-", 1)[-1].split(".")[0]
    if "linux" in platform:
        kind = "musllinux" if platform.startswith("musllinux") else "manylinux"
        arch = re.search(r"(x86_64|i686|aarch64|ppc64le|s390x|armv7l)$", platform)
        return f"{kind}_{arch[1] if arch else platform}"
    if platform.startswith("macosx"):
        return "macos_" + platform.split("_", 3)[-1]
    return platform


def mb(paths: list[Path]) -> float:
    return sum(p.stat().st_size for p in paths) / 1e6


def main() -> int:
    corpus = [*REAL_WHEELS, *CORPUS_EXTRA]
    fetched = fetch_all(corpus)
    paths = [fetched[w] for w in corpus]
    if len(paths) < MIN_CORPUS:
        raise SystemExit(f"the corpus has {len(paths)} wheels; the benchmark needs {MIN_CORPUS}")
    by_platform: dict[str, list[Path]] = {}
    for path in paths:
        by_platform.setdefault(platform_of(path.name), []).append(path)
    families: dict[str, int] = {}
    for path in paths:
        families[tag_family(path.name)] = families.get(tag_family(path.name), 0) + 1
    summary = ", ".join(f"{name} {count}" for name, count in sorted(families.items()))
    print(f"corpus: {len(paths)} real wheels, {mb(paths):.0f} MB compressed, fetched by name "
          f"and sha256\n  {summary}\n")

    failures = 0
    print(f"{'check-wheel over the corpus':<34} {'seconds':>8} {'wheels/s':>9} {'MB/s':>7} "
          f"{'peak MB':>8}")
    reports: list[dict] = []
    runs: list[tuple[str, tuple[str, ...]]] = [("one batch (default --jobs)", ()),
                                               ("one batch, --jobs 1", ("--jobs", "1"))]
    for label, options in runs:
        run = check_wheel_cli(paths, *options)
        reports = run.reports
        print(f"{label:<34} {run.seconds:8.2f} {len(paths) / run.seconds:9.1f} "
              f"{mb(paths) / run.seconds:7.1f} {run.peak_mb:8.0f}")
    pinned = {w.filename for w in REAL_WHEELS}
    for report in reports:
        problems = [Problem(**p) for p in report["problems"]]
        if report["wheel"] in pinned:
            if problems != KNOWN_VIOLATIONS.get(report["wheel"], []):
                failures += 1
                print(f"  UNEXPECTED {report['wheel']}: {problems}")
        elif problems:
            print(f"  {report['wheel']}: {', '.join(sorted({p.code for p in problems}))}")
    bad = sum(not r["ok"] for r in reports)
    print(f"  {len(reports) - bad} ok, {bad} with problems\n")

    print(f"{'per platform, --jobs 1':<22} {'wheels':>6} {'MB':>6} {'seconds':>8} {'wheels/s':>9} "
          f"{'MB/s':>7} {'CPU s':>7} {'MB/CPU-s':>9}")
    per_cpu: dict[str, float] = {}
    for platform in ("linux", "macos", "windows"):
        group = by_platform.get(platform, [])
        run = check_wheel_cli(group, "--jobs", "1")
        per_cpu[platform] = mb(group) / run.cpu_seconds
        print(f"  {platform:<20} {len(group):6d} {mb(group):6.0f} {run.seconds:8.2f} "
              f"{len(group) / run.seconds:9.1f} {mb(group) / run.seconds:7.1f} "
              f"{run.cpu_seconds:7.2f} {per_cpu[platform]:9.1f}")
    fastest_other = max(per_cpu["linux"], per_cpu["macos"])
    behind = fastest_other / per_cpu["windows"]
    print(f"  Windows behind the fastest other platform (MB per CPU-second): {behind:.2f}x, "
          f"target <= {WINDOWS_TARGET}x: {'met' if behind <= WINDOWS_TARGET else 'NOT met'}\n")

    linux = by_platform["linux"]
    linux_mb = mb(linux)
    auditwheel_out: dict[str, str | None] = {}
    started = time.perf_counter()
    for path in linux:
        try:
            auditwheel_out[path.name] = run_auditwheel_show(path)
        except subprocess.CalledProcessError as failed:
            auditwheel_out[path.name] = None  # no verdict to compare with
            print(f"  auditwheel show failed on {path.name}: {failed.stderr.splitlines()[-1]}")
    auditwheel_seconds = time.perf_counter() - started
    batch = check_wheel_cli(linux)
    one_job = check_wheel_cli(linux, "--jobs", "1")
    started = time.perf_counter()
    for path in linux:
        check_wheel_cli([path])
    per_wheel_seconds = time.perf_counter() - started

    agreed = 0
    judged = [name for name, output in auditwheel_out.items() if output is not None]
    for entry, path in zip(batch.reports, linux, strict=True):
        output = auditwheel_out[path.name]
        if output is None:
            continue
        ours = wheelcheck_verdict_from_problems([Problem(**p) for p in entry["problems"]])
        theirs = auditwheel_verdict_from_json(path.name, output)
        if ours == theirs:
            agreed += 1
        else:
            failures += 1
            print(f"  DIFFER {path.name}: ours={ours} auditwheel={theirs}")

    print(f"{len(linux)} Linux wheels, {linux_mb:.0f} MB, side by side {'seconds':>12} "
          f"{'wheels/s':>9} {'MB/s':>7} {'speed-up':>9}")
    rows = [
        ("auditwheel show, one process per wheel", auditwheel_seconds),
        ("check-wheel, one batch", batch.seconds),
        ("check-wheel, one batch, --jobs 1", one_job.seconds),
        ("check-wheel, one process per wheel", per_wheel_seconds),
    ]
    for label, seconds in rows:
        print(f"  {label:<50} {seconds:8.2f} {len(linux) / seconds:9.1f} "
              f"{linux_mb / seconds:7.1f} {auditwheel_seconds / seconds:8.1f}x")
    ratio = auditwheel_seconds / batch.seconds
    met = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"  target >= {TARGET_RATIO:.0f}x (batch): {met}")
    print(f"  verdicts agreed: {agreed}/{len(judged)} (auditwheel judged {len(judged)})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
