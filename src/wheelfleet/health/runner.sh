#!/bin/sh
# Runs inside a manylinux-style container, offline (--network none), one Python per run.
# Each step writes /out/steps/<step>.log and /out/steps/<step>.rc; the node agent reads them,
# so a failing step is named with its exit code and output, and later steps are never claimed.
#   PY      interpreter, e.g. /opt/python/cp311-cp311/bin/python
#   PLAT    auditwheel platform, e.g. manylinux_2_28_x86_64
#   INPUT   canary input (text); EXPECTED is compared by the agent, not here
#   ABI3    1 to build the limited-API variant
set -u
mkdir -p /out/steps /out/dist /out/wheelhouse /tmp/src
export PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 CANARY_ABI3="${ABI3:-0}"

step() {  # step NAME COMMAND... ; stops the run at the first failure
    name=$1; shift
    ( "$@" ) >"/out/steps/$name.log" 2>&1
    rc=$?
    echo "$rc" >"/out/steps/$name.rc"
    [ "$rc" = 0 ] || exit 0
}

probe() {
    "$PY" - <<'PYEOF' || return $?
import json, platform, sys, sysconfig
flags = {k: sysconfig.get_config_var(k) for k in ("Py_GIL_DISABLED", "SOABI", "Py_DEBUG")}
print(json.dumps({"python": platform.python_version(), "implementation": sys.implementation.name,
                  "maxunicode": sys.maxunicode, "build_flags": flags}))
PYEOF
    echo "gcc: $(gcc -dumpfullversion 2>/dev/null || echo missing)"
    echo "libc: $(ldd --version 2>&1 | head -n 1)"
    echo "auditwheel: $(auditwheel --version 2>/dev/null | awk 'NR==1 {print $2}')"
    echo "patchelf: $(patchelf --version 2>/dev/null | awk '{print $2}')"
}

build() {
    cp -r /canary/. /tmp/src/
    # Build dependencies come from the node's wheelhouse: the check runs offline.
    "$PY" -m pip install --quiet --find-links /wheelhouse --target /tmp/bdeps setuptools wheel &&
    PYTHONPATH=/tmp/bdeps "$PY" -m pip wheel --no-deps --no-build-isolation -w /out/dist /tmp/src
}

repair() {
    auditwheel repair --plat "$PLAT" -w /out/wheelhouse /out/dist/*.whl
}

validate() {
    # The repaired wheel must carry the requested policy tag.  Whether it really bundles
    # what it needs is proven by the import step, which runs without the system's libcrypto.
    "$PY" - <<'PYEOF'
import glob, json, os, sys, zipfile
wheels = glob.glob("/out/wheelhouse/*.whl")
if len(wheels) != 1:
    sys.exit(f"expected one repaired wheel, found {len(wheels)}")
name = os.path.basename(wheels[0])
names = zipfile.ZipFile(wheels[0]).namelist()
libs = [n for n in names if ".libs/" in n and not n.endswith("/")]
print(json.dumps({"wheel": name, "bundled_libs": libs}))
platforms = name[:-len(".whl")].split("-")[-1].split(".")
if os.environ["PLAT"] not in platforms:
    sys.exit(f"repaired wheel {name} is not tagged {os.environ['PLAT']}")
PYEOF
}

install() {
    "$PY" -m venv /tmp/venv && /tmp/venv/bin/python -m pip install --no-deps /out/wheelhouse/*.whl
}

import_check() {
    # Take the system's libcrypto away (this container is thrown away afterwards): the import
    # must be served by the copy the repair bundled, or it proves nothing.
    find / -xdev \( -path /proc -o -path /tmp/venv \) -prune -o -name 'libcrypto.so*' -print \
        2>/dev/null | while read -r lib; do mv "$lib" "$lib.wheelfleet-hidden"; done
    cd / && /tmp/venv/bin/python -c "
import sys, wheelfleet_canary as c
print(c.sha256_hex(sys.argv[1].encode()))
print(c.openssl_version())" "$INPUT"
}

step interpreter probe
step build build
step repair repair
step validate validate
step install install
step import import_check
