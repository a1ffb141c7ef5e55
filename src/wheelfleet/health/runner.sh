#!/bin/sh
# Runs inside a manylinux-style container, offline (--network none): every check of one image
# in one container, so the container, the tool probe and each Python's build requirements are
# paid once per image, not once per check.
#   CHECKS  the checks, space-separated ID:PYTHON_TAG:ABI3, e.g. "0:cp311-cp311:0 1:cp311-cp311:1"
#           (ABI3 1 builds the limited-API variant); interpreter /opt/python/<tag>/bin/python
#   PLAT    auditwheel platform, e.g. manylinux_2_28_x86_64
#   INPUT   canary input (text); the expected answer is compared by the agent, not here
# Each step of check ID writes /out/ID/steps/<step>.log, .rc (exit code) and .t ("start end",
# epoch seconds); the node agent reads them, so a failing step is named with its exit code and
# output, and a check's later steps are never claimed.  A failed check stops; the others go on.
# Order: every check is built, repaired, validated and installed first; then the system's
# libcrypto is hidden (/out/hide.*) and every installed check is imported.
set -u
export PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1

now() { date +%s.%N; }

step() {  # step NAME COMMAND... ; for check $ID, returns the step's exit code
    s_name=$1; shift
    s_start=$(now)
    ( "$@" ) >"/out/$ID/steps/$s_name.log" 2>&1
    s_rc=$?
    echo "$s_start $(now)" >"/out/$ID/steps/$s_name.t"
    echo "$s_rc" >"/out/$ID/steps/$s_name.rc"
    return "$s_rc"
}

tools() {  # the image's tools, probed once for all its checks
    echo "gcc: $(gcc -dumpfullversion 2>/dev/null || echo missing)"
    echo "libc: $(ldd --version 2>&1 | head -n 1)"
    echo "auditwheel: $(auditwheel --version 2>/dev/null | awk 'NR==1 {print $2}')"
    echo "patchelf: $(patchelf --version 2>/dev/null | awk '{print $2}')"
}

probe() {
    "$PY" - <<'PYEOF' || return $?
import json, platform, sys, sysconfig
flags = {k: sysconfig.get_config_var(k) for k in ("Py_GIL_DISABLED", "SOABI", "Py_DEBUG")}
print(json.dumps({"python": platform.python_version(), "implementation": sys.implementation.name,
                  "maxunicode": sys.maxunicode, "build_flags": flags}))
PYEOF
    cat /tmp/wf/tools
}

build() {
    mkdir -p "/tmp/wf/$ID" && cp -r /canary/. "/tmp/wf/$ID/src/" || return
    # Build dependencies come from the node's wheelhouse (the check runs offline), installed
    # once per Python: into /bdeps when the agent mounts its cache there (kept between runs,
    # named after the image and the wheelhouse's content), else for this container only.
    cache=/bdeps; [ -d "$cache" ] || cache=/tmp/wf/bdeps
    bdeps=$cache/$TAG
    if [ ! -f "$bdeps.ok" ]; then
        rm -rf "$bdeps" "$bdeps.new" &&
        "$PY" -m pip install --quiet --find-links /wheelhouse --target "$bdeps.new" \
            setuptools wheel && mv "$bdeps.new" "$bdeps" && touch "$bdeps.ok" || return
    fi
    # The PEP 517 backend called directly, as `pip wheel --no-build-isolation` would call it
    # in a subprocess (a second interpreter and pip's start-up saved); a setuptools older than
    # build_meta (exit 3) is left to pip's legacy path.
    cd "/tmp/wf/$ID/src" && PYTHONPATH=$bdeps CANARY_ABI3=$ABI3 "$PY" - "/out/$ID/dist" \
        <<'PYEOF'
import sys
try:
    from setuptools import build_meta
except ImportError:
    sys.exit(3)
print(build_meta.build_wheel(sys.argv[1]))
PYEOF
    rc=$?
    [ "$rc" = 3 ] || return "$rc"
    PYTHONPATH=$bdeps CANARY_ABI3=$ABI3 "$PY" -m pip wheel --no-deps --no-build-isolation \
        -w "/out/$ID/dist" "/tmp/wf/$ID/src"
}

repair() {
    auditwheel repair --plat "$PLAT" -w "/out/$ID/wheelhouse" "/out/$ID"/dist/*.whl
}

validate() {
    # The repaired wheel must carry the requested policy tag.  Whether it really bundles
    # what it needs is proven by the import step, which runs without the system's libcrypto.
    "$PY" - "/out/$ID/wheelhouse" <<'PYEOF'
import glob, json, os, sys, zipfile
wheels = glob.glob(sys.argv[1] + "/*.whl")
if len(wheels) != 1:
    sys.exit("expected one repaired wheel, found %d" % len(wheels))
name = os.path.basename(wheels[0])
names = zipfile.ZipFile(wheels[0]).namelist()
libs = [n for n in names if ".libs/" in n and not n.endswith("/")]
print(json.dumps({"wheel": name, "bundled_libs": libs}))
platforms = name[:-len(".whl")].split("-")[-1].split(".")
if os.environ["PLAT"] not in platforms:
    sys.exit("repaired wheel %s is not tagged %s" % (name, os.environ["PLAT"]))
PYEOF
}

install() {
    # A fresh venv without pip; the image's pip installs into it from outside (pip >= 22.3
    # has --python), which saves bootstrapping pip into every venv.  Older pip: ensurepip.
    venv=/tmp/wf/$ID/venv
    if "$PY" -c "import pip, sys; sys.exit(tuple(map(int, pip.__version__.split('.')[:2])) \
< (22, 3))" 2>/dev/null; then
        "$PY" -m venv --without-pip "$venv" &&
        "$PY" -m pip --python "$venv/bin/python" install --no-deps "/out/$ID"/wheelhouse/*.whl
    else
        "$PY" -m venv "$venv" &&
        "$venv/bin/python" -m pip install --no-deps "/out/$ID"/wheelhouse/*.whl
    fi
}

loader_dirs() {  # every directory the dynamic loader searches for a library, one a line
    printf '%s\n' "${LD_LIBRARY_PATH:-}" | tr ':' '\n'
    # the ld.so cache (what ldconfig found), and what it was made from
    ldconfig -p 2>/dev/null | awk '/libcrypto\.so/ {print $NF}' | sed 's|/[^/]*$||'
    cat /etc/ld.so.conf /etc/ld.so.conf.d/*.conf 2>/dev/null | grep '^/'
    # the loader's built-in directories, with the multiarch ones (Debian: lib/x86_64-linux-gnu)
    printf '%s\n' /lib /lib64 /usr/lib /usr/lib64 /lib/*-linux-gnu* /usr/lib/*-linux-gnu*
    # the interpreters' own RPATH/RUNPATH (an executable's RPATH serves the modules it loads)
    for entry in $CHECKS; do
        py=/opt/python/$(echo "$entry" | cut -d: -f2)/bin/python
        real=$(readlink -f "$py" 2>/dev/null) || continue
        readelf -d "$real" 2>/dev/null | sed -n 's/.*(R[UN]*PATH).*\[\(.*\)\]$/\1/p' |
            tr ':' '\n' | sed "s|\$ORIGIN|$(dirname "$real")|; s|\${ORIGIN}|$(dirname "$real")|"
    done
}

hide() {
    # Take the system's libcrypto away (this container is thrown away afterwards): the import
    # must be served by the copy the repair bundled, or it proves nothing.  Only where the
    # loader looks; the import step also checks which libcrypto the process really mapped.
    # Each directory once, by its real path (/lib is /usr/lib on a merged-/usr image).
    for dir in $(loader_dirs | grep '^/' | while read -r d; do readlink -f "$d"; done |
                 sort -u); do
        echo "searched: $dir"
        for lib in "$dir"/libcrypto.so*; do
            case $lib in *.wheelfleet-hidden) continue ;; esac
            if [ -e "$lib" ] || [ -L "$lib" ]; then
                mv "$lib" "$lib.wheelfleet-hidden" && echo "hidden: $lib" || return
            fi
        done
    done
}

import_check() {
    cd / && "/tmp/wf/$ID/venv/bin/python" - "$INPUT" <<'PYEOF'
import os, sys
import wheelfleet_canary as c
print(c.sha256_hex(sys.argv[1].encode()))
print(c.openssl_version())
# Which libcrypto did the process map?  Only the wheel's own copy proves the bundling.
libs = os.path.realpath(os.path.join(os.path.dirname(c.__file__), "wheelfleet_canary.libs"))
with open("/proc/self/maps") as maps:
    mapped = {line.split(None, 5)[-1].strip() for line in maps if "libcrypto" in line}
stray = sorted(p for p in mapped if not p.startswith(libs + os.sep))
if stray:
    sys.exit("libcrypto mapped from %s, not from the wheel: it is not bundled" % stray[0])
PYEOF
}

mkdir -p /tmp/wf/bdeps
tools >/tmp/wf/tools 2>&1
installed=
for entry in $CHECKS; do
    ID=${entry%%:*}; ABI3=${entry##*:}; TAG=${entry#*:}; TAG=${TAG%:*}
    PY=/opt/python/$TAG/bin/python
    mkdir -p "/out/$ID/steps" "/out/$ID/dist" "/out/$ID/wheelhouse"
    step interpreter probe && step build build && step repair repair &&
        step validate validate && step install install && installed="$installed $entry"
done
[ -n "$installed" ] || exit 0
h_start=$(now)
hide >/out/hide.log 2>&1
echo $? >/out/hide.rc
echo "$h_start $(now)" >/out/hide.t
for entry in $installed; do
    ID=${entry%%:*}
    if [ "$(cat /out/hide.rc)" = 0 ]; then
        step import import_check
    else
        cp /out/hide.log "/out/$ID/steps/import.log"
        cp /out/hide.rc "/out/$ID/steps/import.rc"
    fi
done
