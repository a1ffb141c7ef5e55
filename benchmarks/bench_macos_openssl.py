"""Benchmark the universal OpenSSL recipe of roles/macos_openssl: the full build, cold.

    .venv/bin/python benchmarks/bench_macos_openssl.py [--with-fast]

Runs ``src/wheelfleet/macos/openssl_universal.sh`` on Debian's OpenSSL source (the tests'
cached tarball, fetched with ``apt-get source`` when absent) in a fresh temporary root — no
staged arch reused, an empty zig cache — with pyca's flags as OpenSSL 3.0 takes them,
``make build_sw`` and ``make install_sw`` per arch with ``zig cc``, ``llvm-lipo-14`` for
libcrypto.a, libssl.a and the openssl program, then the member-by-member verification.
Prints, all from this one run:

* the cross-build time of each arch (the script's own clock) and their ratio;
* the verification time (libraries and program, every member object) and its share of the
  build; the verifier alone again on the installed files;
* the re-run with the same inputs (re-verifies, rebuilds nothing) against the cold run;
* with ``--with-fast``, the tests' fast mode (libcrypto only, fewer algorithms, -O0) cold too,
  as a ratio to the full build.

The machine's load average is printed too: on 2 shared cores it moves every number.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "macos"))

from macos_builders import (  # noqa: E402
    FAST_EXTRA_FLAGS,
    FLOORS,
    ScriptRun,
    openssl_source,
    require_tools,
    run,
    run_script,
)

from wheelfleet.macos import MANIFEST_NAME, VERIFIER  # noqa: E402

TIMEOUT = 4 * 3600


def build(root: Path, mode: str, extra: str) -> tuple[ScriptRun, dict]:
    source = openssl_source()
    # A zig cache of its own: zig reuses any C compilation it has seen (like ccache), and a
    # cold build must compile every object.
    done = run_script(source, root, work=root / ".work", mode=mode, extra_flags=extra,
                      keep_stages=False, timeout=TIMEOUT, zig_cache_dir=root / ".zig-cache")
    if done.returncode != 0:
        raise SystemExit(f"{mode} build failed: {done.stderr.strip()[-2000:]}")
    prefix = root / f"{source.version}-{source.sha256[:12]}"
    return done, json.loads((prefix / MANIFEST_NAME).read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--with-fast", action="store_true",
                        help="also build the tests' fast mode, cold, for a ratio")
    args = parser.parse_args()
    require_tools()
    state = Path(tempfile.mkdtemp(prefix="wf-bench-openssl-"))
    try:
        load_before = os.getloadavg()[0]
        cold, manifest = build(state / "full", "full", "")
        prefix = Path(manifest["prefix"])
        files = [prefix / f for f in (*manifest["libraries"], "bin/openssl")
                 if (prefix / f).is_file()]
        started = time.monotonic()
        alone = run([sys.executable, str(VERIFIER),
                     *(f"--floor={a}={f}" for a, f in FLOORS.items()), *map(str, files)],
                    timeout=600)
        verify_alone = time.monotonic() - started
        if alone.returncode != 0:
            raise SystemExit(f"verification of the installed build failed: {alone.stderr}")
        rerun, _ = build(state / "full", "full", "")
        seconds = manifest["build_seconds"]
        verification = manifest["verification"]
        members = sum(a["members"] for a in verification["per_arch"].values())
        print(f"universal OpenSSL {manifest['version']}, full build (pyca flags for 3.0), "
              f"zig cc, {os.cpu_count()} cores, load average {load_before:.1f} at start")
        for arch in ("x86_64", "arm64"):
            print(f"  cross-build {arch:<7}                   : {seconds[arch]:7.1f} s "
                  f"(minimum macOS {manifest['max_minos'][arch]}, floor "
                  f"{manifest['min_macos'][arch]})")
        print(f"  ratio arm64/x86_64                     : "
              f"{seconds['arm64'] / seconds['x86_64']:7.2f}x")
        print(f"  verification                           : "
              f"{verification['seconds']:7.2f} s in the script ({len(files)} files, {members} "
              f"member objects); {verify_alone:.2f} s alone, process start included")
        build_total = seconds["x86_64"] + seconds["arm64"]
        print(f"  verification / build                   : "
              f"{verification['seconds'] / build_total:7.4f}")
        print(f"  whole script, cold                     : {cold.seconds:7.1f} s")
        print(f"  re-run, same inputs (re-verify only)   : {rerun.seconds:7.1f} s "
              f"({cold.seconds / rerun.seconds:.0f}x faster)")
        if args.with_fast:
            fast, fast_manifest = build(state / "fast", "libcrypto", FAST_EXTRA_FLAGS)
            fast_seconds = fast_manifest["build_seconds"]
            print(f"  tests' fast mode, cold (libcrypto only): {fast.seconds:7.1f} s "
                  f"(x86_64 {fast_seconds['x86_64']} s, arm64 {fast_seconds['arm64']} s); "
                  f"full/fast {cold.seconds / fast.seconds:.2f}x")
        print(f"  load average at the end                : {os.getloadavg()[0]:7.1f}")
        return 0
    finally:
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
