#!/bin/sh
# openssl_universal.sh: build, verify and install a universal (x86_64 + arm64) static OpenSSL.
#
#   sh openssl_universal.sh --source openssl-3.0.22.tar.gz --sha256 HEX --version 3.0.22 \
#       --root /opt/wheelfleet/openssl --min-macos x86_64=10.12 --min-macos arm64=11.0 \
#       --flags "no-ssl3 no-ssl3-method no-zlib no-shared no-module no-comp ..." \
#       [--arch-cflags x86_64=-march=core2] [--extra-flags "no-..."] [--mode full|libcrypto] \
#       [--work DIR] [--keep-stages] [--jobs N] [--openssldir DIR] [--step-timeout SECONDS] \
#       [--lock-wait SECONDS]
#
# The recipe is pyca/infra's: the tarball's sha256 is checked before anything is extracted; each
# arch is configured on its own (`Configure darwin64-x86_64-cc` / `darwin64-arm64-cc` with the
# flags, `-mmacosx-version-min=<that arch's floor>` and MACOSX_DEPLOYMENT_TARGET) and installed
# into a staging directory (`make install_sw DESTDIR=…`; mode `libcrypto` builds and installs only
# libcrypto.a and the headers, a fast mode for tests); `lipo -create` fuses libcrypto.a, libssl.a
# and the openssl program.  Then every fused file is verified: `lipo -verify_arch x86_64 arm64`,
# and verify_universal.py (beside this script) checks that every member object of every slice is
# a Mach-O object of that slice's arch whose minimum macOS is at or below that arch's floor.
#
# Installed as <root>/<version>-<first 12 of sha256>, prefix baked in; the build manifest is
# <root>/<version>-<sha12>/wheelfleet-openssl.json, and <root>/current points at the verified
# build.  A build is assembled beside the root and moved in only after verification passed, and
# `current` is switched only then: a failed or half build never replaces a good one.  A second
# run with the same inputs re-verifies the installed build and changes nothing.
#
# Tools come from the environment: CC (cc) or CC_X86_64 / CC_ARM64 per arch, LIPO (lipo),
# AR / RANLIB (the target's defaults when unset), PYTHON (python3), MAKE (make), PERL (perl).
# Also WF_OPENSSL_EXTRA_FLAGS, WF_OPENSSL_MODE, WF_OPENSSL_KEEP_STAGES=1 as the options.
# With --keep-stages each arch's staged install is kept in the work dir under a key of every
# input that shapes it, and reused by a later run with the same key.
#
# Exit status: 0 installed or already current; 2 usage; 3 source refused (missing, sha256
# mismatch); 4 a build step failed or timed out; 5 verification failed; 6 another build holds the
# lock.  Every failure is one line on stderr starting "wheelfleet: openssl_universal:".
set -u
set -f  # flags are split on spaces, never globbed

MANIFEST=wheelfleet-openssl.json
ARCHES="x86_64 arm64"
say() { echo "wheelfleet: openssl_universal: $*" >&2; }
fail() { status=$1; shift; say "$*"; exit "$status"; }
usage() { fail 2 "$*; see the header of $0 for usage"; }

source_file='' want_sha='' version='' root='' flags='' work='' openssldir='' jobs=''
extra_flags=${WF_OPENSSL_EXTRA_FLAGS:-}
mode=${WF_OPENSSL_MODE:-full}
keep_stages=${WF_OPENSSL_KEEP_STAGES:-0}
step_timeout=${WF_OPENSSL_STEP_TIMEOUT:-3600}
lock_wait=0
floor_x86_64='' floor_arm64='' cflags_x86_64='' cflags_arm64='' floor='' cflags=''

need_value() { [ "$#" -ge 2 ] || usage "$1 needs a value"; }
while [ "$#" -gt 0 ]; do
    case "$1" in
        --source) need_value "$@"; source_file=$2 ;;
        --sha256) need_value "$@"; want_sha=$2 ;;
        --version) need_value "$@"; version=$2 ;;
        --root) need_value "$@"; root=$2 ;;
        --flags) need_value "$@"; flags=$2 ;;
        --extra-flags) need_value "$@"; extra_flags=$2 ;;
        --mode) need_value "$@"; mode=$2 ;;
        --work) need_value "$@"; work=$2 ;;
        --openssldir) need_value "$@"; openssldir=$2 ;;
        --jobs) need_value "$@"; jobs=$2 ;;
        --step-timeout) need_value "$@"; step_timeout=$2 ;;
        --lock-wait) need_value "$@"; lock_wait=$2 ;;
        --keep-stages) keep_stages=1; shift; continue ;;
        --min-macos|--arch-cflags)
            need_value "$@"
            # shellcheck disable=SC2034  # value is read by the eval below
            arch=${2%%=*} value=${2#*=}
            [ "$arch" != "$2" ] || usage "$1 wants ARCH=VALUE, got '$2'"
            case "$arch" in x86_64|arm64) ;; *) usage "$1: unknown arch '$arch' (x86_64, arm64)" ;; esac
            if [ "$1" = --min-macos ]; then eval "floor_$arch=\$value"; else eval "cflags_$arch=\$value"; fi
            ;;
        *) usage "unknown argument '$1'" ;;
    esac
    shift 2
done

[ -n "$source_file" ] || usage "--source is required"
[ -n "$version" ] || usage "--version is required"
[ -n "$root" ] || usage "--root is required"
[ -n "$flags" ] || usage "--flags is required (the matrix's configure_flags)"
case "$want_sha" in
    *[!0-9a-f]*|"") usage "--sha256 must be 64 lowercase hex digits, got '$want_sha'" ;;
esac
[ "${#want_sha}" = 64 ] || usage "--sha256 must be 64 lowercase hex digits, got '$want_sha'"
case "$version" in *[!0-9A-Za-z.-]*) usage "--version '$version' is not a version" ;; esac
for arch in $ARCHES; do
    eval "floor=\$floor_$arch"
    case "$floor" in
        "") usage "--min-macos $arch=VERSION is required" ;;
        *[!0-9.]*|.*|*.|*..*) usage "--min-macos $arch: '$floor' is not a macOS version" ;;
    esac
done
case "$mode" in full|libcrypto) ;; *) usage "--mode must be full or libcrypto, got '$mode'" ;; esac
case "$step_timeout$lock_wait$jobs" in *[!0-9]*) usage "--step-timeout, --lock-wait and --jobs take whole numbers" ;; esac
case "$root" in /*) ;; *) usage "--root must be an absolute path, got '$root'" ;; esac
case "$root$work" in *[[:space:]]*) usage "--root and --work must not contain spaces (OpenSSL's build cannot take them)" ;; esac

PYTHON=${PYTHON:-python3} MAKE=${MAKE:-make} PERL=${PERL:-perl} LIPO=${LIPO:-lipo}
here=$(cd "$(dirname "$0")" && pwd)
verifier=$here/verify_universal.py
[ -f "$verifier" ] || fail 2 "verify_universal.py is missing beside $0"
[ -n "$jobs" ] || jobs=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)

sha256_of() {
    if command -v shasum >/dev/null 2>&1; then shasum -a 256 "$1"; else sha256sum "$1"; fi \
        | awk '{print $1}'
}
sha256_text() {
    if command -v shasum >/dev/null 2>&1; then shasum -a 256; else sha256sum; fi | awk '{print $1}'
}

# --- the source, before anything is created ----------------------------------------------------
[ -f "$source_file" ] || fail 3 "source tarball $source_file does not exist; nothing was installed"
got_sha=$(sha256_of "$source_file")
[ "$got_sha" = "$want_sha" ] || fail 3 "sha256 mismatch for $source_file: expected $want_sha, got $got_sha; nothing was extracted or installed"
source_file=$(cd "$(dirname "$source_file")" && pwd)/$(basename "$source_file")

name=$version-$(printf %s "$want_sha" | cut -c1-12)
prefix=$root/$name
[ -n "$openssldir" ] || openssldir=$prefix/ssl
[ -n "$work" ] || work=$root/.work
script_sha=$(sha256_of "$0")
verifier_sha=$(sha256_of "$verifier")
libraries="lib/libcrypto.a lib/libssl.a"
[ "$mode" = full ] || libraries="lib/libcrypto.a"

cc_for() { eval "printf %s \"\${CC_$(echo "$1" | tr '[:lower:]' '[:upper:]'):-\${CC:-cc}}\""; }
arch_inputs() {  # ARCH -> every input that shapes that arch's staged build
    eval "echo \"$1: floor \$floor_$1 | cflags \$cflags_$1\""
    echo "$1 cc: $(cc_for "$1") | ar ${AR:-} | ranlib ${RANLIB:-}"
    echo "wheelfleet.macos-openssl/1 $version $want_sha $mode | prefix $prefix $openssldir"
    echo "flags: $flags | $extra_flags | script $script_sha"
}
# Every input of the installed build: the manifest records it, a rerun compares it.
build_key=$( (arch_inputs x86_64; arch_inputs arm64; echo "lipo $LIPO | $verifier_sha") |
    sha256_text)

# --- lock, leftovers, cleanup ---------------------------------------------------------------------
mkdir -p "$root" "$work/logs" || fail 1 "cannot create $root or $work"
work=$(cd "$work" && pwd)
lock=$root/.lock
locked=0 incoming='' replaced=''
cleanup() {
    [ -n "$incoming" ] && rm -rf "$incoming"
    [ -n "$replaced" ] && [ -d "$replaced" ] && [ ! -e "$prefix" ] && mv "$replaced" "$prefix"
    if [ "$locked" = 1 ]; then
        set +f
        rm -rf "$work"/build-* "$work"/stage-*.part  # build trees are never reused
        [ "$keep_stages" = 1 ] || rm -rf "$work"/stage-*
        rm -rf "$lock"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
waited=0
while ! mkdir "$lock" 2>/dev/null; do
    holder=$(cat "$lock/pid" 2>/dev/null || echo "")
    if [ -n "$holder" ] && ! kill -0 "$holder" 2>/dev/null; then
        rm -rf "$lock"  # its holder is gone
        continue
    fi
    [ "$waited" -lt "$lock_wait" ] || fail 6 "another build holds $lock (pid ${holder:-unknown})"
    sleep 2
    waited=$((waited + 2))
done
locked=1
echo $$ >"$lock/pid"
set +f
for left in "$root"/.incoming-* "$root"/.current.*; do [ -e "$left" ] && rm -rf "$left"; done
for left in "$root"/.replaced-*; do
    [ -d "$left" ] || continue
    original=$root/$(basename "$left" | sed 's/^\.replaced-//; s/\.[0-9]*$//')
    if [ -e "$original" ]; then rm -rf "$left"; else mv "$left" "$original"; fi  # a run died mid-swap
done
set -f

# run_step LOG SECONDS COMMAND...: the command in its own process group, killed whole on timeout.
run_step() {
    log=$1 limit=$2
    shift 2
    "$PERL" -e '
        my $limit = shift;
        my $pid = fork // die "fork: $!";
        if (!$pid) { setpgrp(0, 0); exec { $ARGV[0] } @ARGV or die "cannot run $ARGV[0]: $!\n"; }
        my $stop = sub { kill "TERM", -$pid; sleep 2; kill "KILL", -$pid; exit $_[0] };
        $SIG{ALRM} = sub { $stop->(124) };
        $SIG{INT} = $SIG{TERM} = sub { $stop->(130) };
        alarm $limit;
        waitpid($pid, 0);
        exit(($? & 127) ? 128 + ($? & 127) : $? >> 8);
    ' "$limit" "$@" >>"$log" 2>&1
}

switch_current() {
    ln -s "$name" "$root/.current.$$" &&
        "$PYTHON" -c 'import os, sys; os.replace(sys.argv[1], sys.argv[2])' \
            "$root/.current.$$" "$root/current" ||
        fail 1 "could not point $root/current at $name"
}

# verify_tree DIR [VERIFIER-ARGS...]: lipo -verify_arch, then member by member.
verify_tree() {
    dir=$1
    shift
    files='' lipo_refused=''
    for f in $libraries bin/openssl; do
        if [ -f "$dir/$f" ]; then
            files="$files $dir/$f"
            # shellcheck disable=SC2086  # two words
            "$LIPO" "$dir/$f" -verify_arch $ARCHES >/dev/null 2>&1 || lipo_refused="$lipo_refused $f"
        elif [ "$f" != bin/openssl ]; then
            say "verification failed: $f is missing from $dir"
            return 1
        fi
    done
    floors="--floor=x86_64=$floor_x86_64 --floor=arm64=$floor_arm64"
    if [ -n "$lipo_refused" ]; then
        # The verifier's line says precisely what is wrong; lipo's verdict stands either way.
        # shellcheck disable=SC2086  # $floors and $files: words without spaces
        "$PYTHON" "$verifier" --base "$dir" $floors $files >/dev/null || return 1
        say "verification failed:$lipo_refused: lipo -verify_arch $ARCHES says no"
        return 1
    fi
    # shellcheck disable=SC2086
    "$PYTHON" "$verifier" --base "$dir" $floors "$@" $files
}

# --- already installed and current? ---------------------------------------------------------------
if [ -f "$prefix/$MANIFEST" ] && grep -q "\"build_key\": \"$build_key\"" "$prefix/$MANIFEST"; then
    if out=$(verify_tree "$prefix"); then
        [ "$(readlink "$root/current" 2>/dev/null)" = "$name" ] || switch_current
        echo "up to date: $prefix ($out); current -> $name"
        exit 0
    fi
    say "the installed $name failed re-verification (line above); rebuilding it"
fi

# --- one arch: configure, build, stage --------------------------------------------------------------
stage_dir() {  # ARCH -> its staging directory, keyed by that arch's inputs only
    echo "$work/stage-$1-$(arch_inputs "$1" | sha256_text | cut -c1-16)"
}

step_failed() {  # STATUS WHAT LOG: one line saying why, then exit 4
    if [ "$1" = 124 ]; then
        fail 4 "$2 timed out after $step_timeout s; log: $3"
    fi
    fail 4 "$2 failed (exit $1): $(tail -n 1 "$3" | cut -c1-240); log: $3"
}

build_stage() {
    arch=$1
    eval "floor=\$floor_$arch cflags=\$cflags_$arch"
    cc=$(cc_for "$arch")
    stage=$(stage_dir "$arch")
    if [ -f "$stage/.complete" ]; then
        echo "$arch: reusing the staged build $stage"
        return 0
    fi
    tag=$(basename "$stage")
    # One path per arch (a build holds the lock): zig and ccache-style caches see the same
    # file names from one build to the next.
    build=$work/build-$arch log=$work/logs/$tag.log
    rm -rf "$build" "$stage.part" && mkdir -p "$build" || fail 1 "cannot create $build"
    : >"$log"
    started=$(date +%s)
    echo "$arch: building in $build (log: $log)"
    run_step "$log" "$step_timeout" tar -xzf "$source_file" -C "$build" ||
        step_failed "$?" "$arch: extracting $source_file" "$log"
    src=$(dirname "$(find "$build" -maxdepth 2 -name Configure -type f | head -n 1)")
    [ -f "$src/Configure" ] || fail 4 "$arch: no Configure in $source_file"
    cd "$src" || fail 1 "cannot enter $src"
    MACOSX_DEPLOYMENT_TARGET=$floor
    export MACOSX_DEPLOYMENT_TARGET
    # shellcheck disable=SC2086  # flags are words
    run_step "$log" "$step_timeout" "$PERL" ./Configure "darwin64-$arch-cc" \
        --prefix="$prefix" --openssldir="$openssldir" $flags $extra_flags \
        "-mmacosx-version-min=$floor" $cflags "CC=$cc" ${AR:+"AR=$AR"} ${RANLIB:+"RANLIB=$RANLIB"} ||
        step_failed "$?" "$arch: Configure darwin64-$arch-cc" "$log"
    if [ "$mode" = full ]; then
        run_step "$log" "$step_timeout" "$MAKE" "-j$jobs" build_sw ||
            step_failed "$?" "$arch: make build_sw" "$log"
        run_step "$log" "$step_timeout" "$MAKE" install_sw "DESTDIR=$stage.part" ||
            step_failed "$?" "$arch: make install_sw" "$log"
    else
        run_step "$log" "$step_timeout" "$MAKE" "-j$jobs" build_generated ||
            step_failed "$?" "$arch: make build_generated" "$log"
        run_step "$log" "$step_timeout" "$MAKE" "-j$jobs" libcrypto.a ||
            step_failed "$?" "$arch: make libcrypto.a" "$log"
        set +f
        mkdir -p "$stage.part$prefix/lib" "$stage.part$prefix/include/openssl" &&
            cp libcrypto.a "$stage.part$prefix/lib/" &&
            cp include/openssl/*.h "$stage.part$prefix/include/openssl/" ||
            fail 4 "$arch: staging libcrypto.a and the headers failed"
        set -f
    fi
    cd "$work" || fail 1 "cannot enter $work"
    echo $(($(date +%s) - started)) >"$stage.part/.seconds"
    echo "$arch" >"$stage.part/.complete"
    mv "$stage.part" "$stage" || fail 1 "cannot move $stage.part into place"
    rm -rf "$build"
    echo "$arch: built in $(cat "$stage/.seconds") s"
}

for arch in $ARCHES; do build_stage "$arch"; done

# --- fuse, verify, install ------------------------------------------------------------------------
x86=$(stage_dir x86_64)$prefix arm=$(stage_dir arm64)$prefix
if ! diff -r "$x86/include" "$arm/include" >/dev/null 2>&1; then
    fail 5 "verification failed: the x86_64 and arm64 builds installed different headers ($(diff -rq "$x86/include" "$arm/include" 2>&1 | head -n 1))"
fi
incoming=$root/.incoming-$name.$$
cp -R "$x86" "$incoming" || fail 1 "cannot copy the x86_64 build to $incoming"
for f in $libraries bin/openssl; do
    [ -f "$x86/$f" ] || [ -f "$arm/$f" ] || continue
    rm -f "$incoming/$f"
    "$LIPO" -create -output "$incoming/$f" "$x86/$f" "$arm/$f" >>"$work/logs/lipo.log" 2>&1 ||
        fail 5 "verification failed: lipo -create $f: $(tail -n 1 "$work/logs/lipo.log")"
done
seconds_x86=$(cat "$(stage_dir x86_64)/.seconds") seconds_arm=$(cat "$(stage_dir arm64)/.seconds")
verified=$(verify_tree "$incoming" --manifest "$incoming/$MANIFEST" \
    --meta "version=$version" --meta "source_sha256=$want_sha" \
    --meta "configure_flags=$flags $extra_flags" --meta "mode=$mode" \
    --meta "libraries=$libraries" --meta "prefix=$prefix" --meta "build_key=$build_key" \
    --meta "arch_cflags.x86_64=$cflags_x86_64" --meta "arch_cflags.arm64=$cflags_arm64" \
    --meta "cc.x86_64=$(cc_for x86_64)" --meta "cc.arm64=$(cc_for arm64)" \
    --meta "build_seconds.x86_64=$seconds_x86" --meta "build_seconds.arm64=$seconds_arm" \
    --meta "built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)" --meta "script_sha256=$script_sha") ||
    fail 5 "the fused build was not installed; $root/current is unchanged"
if [ -e "$prefix" ]; then
    replaced=$root/.replaced-$name.$$
    mv "$prefix" "$replaced" || fail 1 "cannot move the old $prefix aside"
fi
mv "$incoming" "$prefix" || fail 1 "cannot move the verified build to $prefix"
incoming=
switch_current
[ -n "$replaced" ] && rm -rf "$replaced"
replaced=
echo "installed $prefix ($verified); current -> $name"
