"""The universal OpenSSL recipe of roles/macos_openssl, run here for real.

Proof level: **real artifact**.  ``src/wheelfleet/macos/openssl_universal.sh`` — the file the
role uploads to a Mac — builds Debian's copy of the upstream OpenSSL release for
``darwin64-x86_64-cc`` and ``darwin64-arm64-cc`` with ``zig cc`` (macOS headers and
``libSystem.tbd`` from the ziglang wheel), fuses the slices with ``llvm-lipo-14`` and verifies
every member object.  What is not a Mac: the compiler driver (zig's clang, not Xcode's), the
archiver (llvm-ar) and lipo (llvm-lipo); the script, the source, the objects and the
verification are the real ones.  Fast mode (libcrypto.a only, fewer algorithms, -O0) keeps the
cold run to a few minutes; ``benchmarks/bench_macos_openssl.py`` does the full build.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from macos_builders import (
    FAST_EXTRA_FLAGS,
    FLOORS,
    LIPO,
    OPENSSL30_FLAGS,
    UniversalOpenSSL,
    debian_orig_tarballs,
    lipo_archs,
    objdump_minos,
    run,
    run_script,
    sha256_file,
    tree_digest,
    zig_cc,
)

from wheelfleet.macos import MANIFEST_NAME, VERIFIER
from wheelfleet.macos.openssl_manifest import parse_manifest, why_stale

pytestmark = pytest.mark.slow


def verify(*files: Path, floors: dict[str, str] = FLOORS) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, str(VERIFIER)]
    for arch, floor in floors.items():
        args += ["--floor", f"{arch}={floor}"]
    return run(args + [str(f) for f in files], timeout=300)


def test_good_build_is_fused_verified_and_current(openssl_build: UniversalOpenSSL) -> None:
    """Proof level: real artifact.  Both slices, every object within its arch's floor (as an
    independent reader, llvm-objdump, sees it too), the manifest says so, and ``current``
    points at the versioned prefix."""
    build = openssl_build
    assert (build.root / "current").readlink() == Path(build.prefix.name)
    assert build.prefix.name == f"{build.source.version}-{build.source.sha256[:12]}"
    assert sorted(lipo_archs(build.libcrypto)) == ["arm64", "x86_64"]
    done = run([LIPO, str(build.libcrypto), "-verify_arch", "x86_64", "arm64"], timeout=60)
    assert done.returncode == 0, done.stderr

    manifest = build.manifest
    assert manifest["schema"] == "wheelfleet.macos-openssl/1"
    assert manifest["version"] == build.source.version
    # The pin is apt's signed source index, not a hash of whatever file we got.
    assert manifest["source_sha256"] in {s.sha256 for s in debian_orig_tarballs()} | {
        build.source.sha256}
    assert manifest["source_sha256"] == sha256_file(build.source.path)
    assert manifest["configure_flags"] == (OPENSSL30_FLAGS + " " + FAST_EXTRA_FLAGS).split()
    assert manifest["mode"] == "libcrypto"
    assert manifest["arches"] == ["arm64", "x86_64"]
    assert manifest["min_macos"] == FLOORS
    assert manifest["libraries"] == ["lib/libcrypto.a"]
    assert manifest["arch_cflags"] == {"x86_64": "-march=core2", "arm64": ""}
    for arch, floor in FLOORS.items():
        facts = manifest["verification"]["per_arch"][arch]
        assert facts["members"] > 400, facts  # every object of libcrypto, not a sample
        assert facts["unversioned_members"] == 0
        # zig stamps exactly the triple's version: LC_VERSION_MIN_MACOSX for 10.12 (x86_64),
        # LC_BUILD_VERSION for 11.0 (arm64); llvm-objdump agrees with our own reader.
        assert manifest["max_minos"][arch] == floor
        assert objdump_minos(build.libcrypto, arch) == {floor}
    assert (build.prefix / "include" / "openssl" / "evp.h").is_file()
    assert all(isinstance(s, int) and s > 0 for s in manifest["build_seconds"].values())
    assert set(manifest["build_seconds"]) == {"x86_64", "arm64"}
    assert json.loads((build.root / "current" / MANIFEST_NAME).read_text()) == manifest


def test_second_run_reverifies_and_changes_nothing(openssl_build: UniversalOpenSSL) -> None:
    """Proof level: real artifact.  The same inputs again: the installed build is verified
    again (not trusted), nothing is rebuilt or rewritten."""
    before = tree_digest(openssl_build.root)
    again = run_script(openssl_build.source, openssl_build.root, work=openssl_build.work)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("up to date: "), again.stdout
    assert "verified lib/libcrypto.a" in again.stdout
    assert "building" not in again.stdout
    assert tree_digest(openssl_build.root) == before
    assert again.seconds < 120


def test_sha256_mismatch_refuses_before_anything_is_created(
        openssl_build: UniversalOpenSSL, tmp_path: Path) -> None:
    """Proof level: real artifact.  A tarball whose sha256 is not the pinned one is refused
    with one line naming both hashes; no root, no extraction, nothing installed — and an
    existing good build is untouched."""
    source = openssl_build.source
    wrong = source.sha256[:-1] + ("0" if source.sha256[-1] != "0" else "1")
    fresh = tmp_path / "openssl"
    refused = run_script(source, fresh, sha256=wrong, timeout=120)
    assert refused.returncode == 3
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert f"expected {wrong}, got {source.sha256}" in lines[0]
    assert "nothing was extracted or installed" in lines[0]
    assert not fresh.exists()

    before = tree_digest(openssl_build.root)
    again = run_script(source, openssl_build.root, work=openssl_build.work, sha256=wrong,
                       timeout=120)
    assert again.returncode == 3
    assert tree_digest(openssl_build.root) == before


def test_slice_built_for_too_new_macos_fails_and_current_stays(
        openssl_build: UniversalOpenSSL) -> None:
    """Proof level: real artifact.  The arm64 slice compiled for macOS 13.0 (what a compiler
    that ignores the deployment target produces — zig takes it from the triple only) fails
    verification with a message naming the slice, the version found and the floor; the good
    build and ``current`` are exactly as before."""
    before = tree_digest(openssl_build.root)
    too_new = {"x86_64": zig_cc("x86_64", FLOORS["x86_64"]), "arm64": zig_cc("arm64", "13.0")}
    failed = run_script(openssl_build.source, openssl_build.root, work=openssl_build.work,
                        cc=too_new)
    assert failed.returncode == 5, failed.stderr
    assert "x86_64: reusing the staged build" in failed.stdout  # only arm64 was rebuilt
    message = failed.stderr.strip().splitlines()
    assert len(message) == 2, failed.stderr  # the verifier's line, then the script's
    assert "lib/libcrypto.a: arm64 slice:" in message[0]
    assert "need a newer macOS than the floor 11.0 (highest 13.0 in " in message[0]
    assert "LC_BUILD_VERSION" in message[0]
    assert "current is unchanged" in message[1]
    assert tree_digest(openssl_build.root) == before
    assert not list(openssl_build.root.glob(".incoming-*"))
    assert not (openssl_build.root / ".lock").exists()


def test_failed_build_step_never_replaces_the_good_build(
        openssl_build: UniversalOpenSSL) -> None:
    """Proof level: real artifact.  A build that dies half-way (the arm64 compiler missing)
    stops with exit 4 naming the arch, the step and its log; nothing is installed or switched,
    and no half-staged arch is kept for reuse."""
    before = tree_digest(openssl_build.root)
    broken = {"x86_64": zig_cc("x86_64", FLOORS["x86_64"]),
              "arm64": "/nonexistent/wheelfleet-cc"}
    failed = run_script(openssl_build.source, openssl_build.root, work=openssl_build.work,
                        cc=broken, timeout=600)
    assert failed.returncode == 4, failed.stderr
    line = failed.stderr.strip().splitlines()[-1]
    assert line.startswith("wheelfleet: openssl_universal: arm64: "), line
    assert "failed (exit" in line and "log: " in line
    assert tree_digest(openssl_build.root) == before
    assert not list(openssl_build.work.glob("stage-arm64-*.part"))
    assert not list(openssl_build.work.glob("build-*"))


def test_flags_this_openssl_does_not_know_fail_in_one_line(openssl_build: UniversalOpenSSL,
                                                          tmp_path: Path) -> None:
    """Proof level: real artifact.  pyca's current flag list (OpenSSL 3.2+) given to a 3.0
    source: Configure refuses, and the one line says which options, for which arch, where the
    log is; nothing is installed."""
    pyca_current = ("no-zlib no-shared no-module no-comp no-apps no-docs no-sm2-precomp "
                    "no-atexit enable-ec_nistp_64_gcc_128")
    root = tmp_path / "openssl"
    failed = run_script(openssl_build.source, root, flags=pyca_current, extra_flags="",
                        mode="full", keep_stages=False, timeout=600)
    assert failed.returncode == 4, failed.stderr
    (line,) = failed.stderr.strip().splitlines()
    assert line.startswith("wheelfleet: openssl_universal: x86_64: Configure "
                           "darwin64-x86_64-cc failed (exit 255): ***** Unsupported options: ")
    assert {"no-sm2-precomp", "no-apps", "no-docs"} <= set(
        line.partition("Unsupported options: ")[2].partition(";")[0].split(", "))
    assert sorted(p.name for p in root.iterdir()) == [".work"]
    assert [p.name for p in (root / ".work").iterdir()] == ["logs"]


def test_installed_build_reduced_to_one_arch_is_caught_and_rebuilt(
        openssl_build: UniversalOpenSSL) -> None:
    """Proof level: real artifact.  The installed libcrypto.a replaced by its x86_64 slice
    alone: a rerun's re-verification refuses it, rebuilds from the staged arches and installs
    a verified universal build again."""
    libcrypto = openssl_build.libcrypto
    thin = libcrypto.with_name("libcrypto.thin")
    done = run([LIPO, str(libcrypto), "-thin", "x86_64", "-output", str(thin)], timeout=120)
    assert done.returncode == 0, done.stderr
    thin.replace(libcrypto)
    healed = run_script(openssl_build.source, openssl_build.root, work=openssl_build.work)
    assert healed.returncode == 0, healed.stderr
    assert healed.stderr.strip().splitlines() == [
        "wheelfleet: verification failed: lib/libcrypto.a: not universal: a thin x86_64 file; "
        "needs slices arm64, x86_64 (missing arm64)",
        f"wheelfleet: openssl_universal: the installed {openssl_build.prefix.name} failed "
        "re-verification (line above); rebuilding it"]
    assert healed.stdout.count("reusing the staged build") == 2
    assert healed.stdout.splitlines()[-1].startswith(f"installed {openssl_build.prefix} ")
    assert sorted(lipo_archs(libcrypto)) == ["arm64", "x86_64"]
    assert verify(libcrypto).returncode == 0


def test_one_arch_archives_fail_verification(openssl_build: UniversalOpenSSL,
                                             tmp_path: Path) -> None:
    """Proof level: real artifact.  The verifier on its own (as the script calls it): a thin
    x86_64 archive and a fat archive holding only arm64 both fail, one line each."""
    thin = tmp_path / "libcrypto-x86_64.a"
    one_slice = tmp_path / "libcrypto-arm64-fat.a"
    arm64 = tmp_path / "libcrypto-arm64.a"
    for args in ([str(openssl_build.libcrypto), "-thin", "x86_64", "-output", str(thin)],
                 [str(openssl_build.libcrypto), "-thin", "arm64", "-output", str(arm64)],
                 ["-create", "-output", str(one_slice), str(arm64)]):
        done = run([LIPO, *args], timeout=120)
        assert done.returncode == 0, done.stderr

    refused = verify(thin)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        f"wheelfleet: verification failed: {thin}: not universal: a thin x86_64 file; "
        "needs slices arm64, x86_64 (missing arm64)"]
    refused = verify(one_slice)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        f"wheelfleet: verification failed: {one_slice}: missing the x86_64 slice (has arm64); "
        "needs arm64, x86_64"]


def test_one_stray_object_for_a_newer_macos_is_found(openssl_build: UniversalOpenSSL,
                                                     tmp_path: Path) -> None:
    """Proof level: real artifact.  One object compiled for macOS 13.0 added to the arm64
    slice of the real libcrypto.a: ``lipo -verify_arch`` still passes, a linker would stamp
    the output with its own target, and only the member-by-member check names it."""
    arm64, x86_64 = tmp_path / "arm64.a", tmp_path / "x86_64.a"
    for arch, out in (("arm64", arm64), ("x86_64", x86_64)):
        done = run([LIPO, str(openssl_build.libcrypto), "-thin", arch, "-output", str(out)],
                   timeout=120)
        assert done.returncode == 0, done.stderr
    stray_c = tmp_path / "wf_stray.c"
    stray_c.write_text("int wf_stray(void) { return 13; }\n")
    stray = tmp_path / "wf_stray.o"
    done = run([*zig_cc("arm64", "13.0").split(), "-c", str(stray_c), "-o", str(stray)],
               timeout=300)
    assert done.returncode == 0, done.stderr
    done = run(["llvm-ar-14", "r", str(arm64), str(stray)], timeout=120)
    assert done.returncode == 0, done.stderr
    fused = tmp_path / "libcrypto.a"
    done = run([LIPO, "-create", "-output", str(fused), str(x86_64), str(arm64)], timeout=120)
    assert done.returncode == 0, done.stderr
    assert run([LIPO, str(fused), "-verify_arch", "x86_64", "arm64"],
               timeout=60).returncode == 0

    refused = verify(fused)
    assert refused.returncode == 1
    members = openssl_build.manifest["verification"]["per_arch"]["arm64"]["members"]
    assert refused.stderr.strip() == (
        f"wheelfleet: verification failed: {fused}: arm64 slice: 1 of {members + 1} member "
        "objects need a newer macOS than the floor 11.0 (highest 13.0 in wf_stray.o, "
        "LC_BUILD_VERSION)")


def test_manifest_tells_the_role_whether_to_rebuild(openssl_build: UniversalOpenSSL) -> None:
    """Proof level: real artifact (the manifest the script wrote) read by the parser the
    macos_openssl fact uses: current for exactly its inputs, stale for anything else."""
    manifest = openssl_build.manifest
    build = parse_manifest(manifest)
    assert build.deployment_floor("x86_64") == (10, 12, 0)
    flags = manifest["configure_flags"]
    wanted = {"version": build.version, "sha256": build.source_sha256,
              "configure_flags": flags, "min_macos": FLOORS,
              "arch_cflags": {"x86_64": "-march=core2"}}
    # A test build is never what the matrix asks for ...
    assert why_stale(manifest, **wanted) == (
        "OpenSSL was built in 'libcrypto' mode (a test build), not the full build")
    full = {**manifest, "mode": "full"}
    assert why_stale(full, **wanted) is None
    assert why_stale(None, **wanted) is not None
    assert why_stale(full, **{**wanted, "version": "3.0.99"}) == (
        f"OpenSSL {build.version} is installed; the matrix pins 3.0.99")
    assert "no-ec" not in flags
    assert why_stale(full, **{**wanted, "configure_flags": [*flags, "no-ec"]}) == (
        "configure flags changed (+no-ec)")
    assert why_stale(full, **{**wanted, "min_macos": {**FLOORS, "x86_64": "10.9"}}) == (
        "x86_64 was built for macOS 10.12; the matrix's floor is 10.9")
    assert "sha256" in (why_stale(full, **{**wanted, "sha256": "0" * 64}) or "")
    assert why_stale({"schema": "other"}, **wanted) == (
        "unreadable OpenSSL build manifest: not a wheelfleet.macos-openssl/1 manifest "
        "(schema 'other')")
