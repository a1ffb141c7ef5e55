"""Operations for macOS build hosts: verified downloads, python.org installers, the wide 2.7.

Every download goes through ``fetch-verified`` (uploaded by roles/macos_base): a file is used
only after its sha256 matched the matrix's, and a matrix entry without a sha256 is refused
before anything is fetched.  Every step that can hang (installer, softwareupdate, builds) is
given a timeout by the role that calls it.
"""

from __future__ import annotations

from io import StringIO

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation
from pyinfra.operations import files

from wheelfleet.facts.macos import (
    CommandLineTools,
    CommandLineToolsLabel,
    FileSha256,
    Interpreter,
    JsonManifest,
    MacosVersion,
    PkgReceipt,
    PyenvVersion,
    RosettaReady,
)
from wheelfleet.operations.fleet import refuse, unlocked

FETCH = "/usr/local/libexec/wheelfleet/fetch-verified"
SYSTEM_CA = "/etc/ssl/cert.pem"  # macOS's own CA bundle, kept current by the OS


# A refusal fails this host when the operation runs, never the whole fleet's run: raising
# while pyinfra prepares operations would stop every host.
_fail_host = refuse._inner


@operation()
def verified_download(url: str, sha256: str | None, dest: str, timeout: int = 1800):
    """
    ``dest`` holds the file at ``url`` whose sha256 is ``sha256``: fetched, hashed and moved
    into place only on a match (a mismatch deletes it and fails the host, naming both hashes).

    + url: where to fetch it (already rewritten through the fleet's artifact mirror)
    + sha256: the matrix's hash; ``None`` is refused
    + dest: the cached file on the host
    + timeout: seconds the transfer may take

    **Example:**

    .. code:: python

        verified_download(url="https://www.python.org/ftp/python/3.12.10/python-3.12.10-…pkg",
                          sha256="8373e58d…", dest="/Library/Caches/wheelfleet/python-….pkg")
    """
    if not sha256:
        yield from _fail_host(reason=unlocked(dest.rpartition("/")[2], url))
        return
    if host.get_fact(FileSha256, path=dest) == sha256:
        host.noop(f"{dest} is cached with the pinned sha256")
        return
    yield StringCommand(FETCH, QuoteString(url), QuoteString(str(sha256)), QuoteString(dest),
                        str(timeout))


def _python_runs(info: dict | None, version: str, universal2: bool) -> bool:
    if not info or info.get("version") != version:
        return False
    return not universal2 or {"x86_64", "arm64"} <= set(info.get("archs") or [])


@operation()
def python_pkg(version: str, url: str, sha256: str | None, receipt: str, interpreter: str,
               cache_dir: str, universal2: bool = False, choices_xml: str | None = None):
    """
    A python.org Python installed from its ``.pkg`` at exactly ``version``: the receipt and the
    interpreter both say so, it has both arches when the matrix says universal2, and it trusts
    the system's CA certificates (the step python.org's installer leaves to the user).

    + version: the patch version the matrix pins; another one installed is upgraded
    + url, sha256: the installer and its pinned hash
    + receipt: the pkgutil package id of this flavour (free-threaded builds have their own)
    + interpreter: the absolute path the installer puts the interpreter at
    + cache_dir: where installers are downloaded to
    + universal2: check ``lipo`` reports x86_64 and arm64
    + choices_xml: the installer's choice changes (selects the free-threaded framework)

    ``installer`` has hung for hours on real fleets: give the operation ``_timeout``.

    **Example:**

    .. code:: python

        python_pkg(version="3.12.10", url="…/python-3.12.10-macos11.pkg", sha256="8373…",
                   receipt="org.python.Python.PythonFramework-3.12",
                   interpreter="/Library/Frameworks/Python.framework/Versions/3.12/bin/python3.12",
                   cache_dir="/Library/Caches/wheelfleet", universal2=True, _sudo=True)
    """
    have = host.get_fact(PkgReceipt, package_id=receipt)
    info = host.get_fact(Interpreter, path=interpreter)
    installed = bool(have and have.get("version") == version) and \
        _python_runs(info, version, universal2)
    if installed and info and info.get("cafile_exists"):
        host.noop(f"Python {version} is installed ({receipt})")
        return
    if not installed:
        if not sha256:
            yield from _fail_host(reason=unlocked(f"Python {version} installer", url))
            return
        pkg = f"{cache_dir}/{url.rstrip('/').rpartition('/')[2]}"
        yield from verified_download._inner(url=url, sha256=sha256, dest=pkg)
        choice_args: list[str | QuoteString] = []
        if choices_xml:
            choices = f"{cache_dir}/{receipt}.choices.xml"
            yield from files.put._inner(src=StringIO(choices_xml), dest=choices)
            choice_args = ["-applyChoiceChangesXML", QuoteString(choices)]
        yield StringCommand("/usr/sbin/installer", "-pkg", QuoteString(pkg), *choice_args,
                            "-target", "/")
        check = (f"import platform, sys; v = platform.python_version(); sys.exit(0 if v == "
                 f"{version!r} else 'installed Python reports ' + v + ', expected {version}')")
        yield StringCommand(QuoteString(interpreter), "-c", QuoteString(check))
        if universal2:
            yield StringCommand("/usr/bin/lipo", QuoteString(interpreter), "-verify_arch",
                                "x86_64", "arm64")
    # python.org leaves the CA step to the user ("Install Certificates.command" fetches certifi
    # from the network); pointing OpenSSL's cafile at the system bundle works offline.
    cafile = ("import ssl; print(ssl.get_default_verify_paths().openssl_cafile)")
    yield StringCommand("cafile=$(", QuoteString(interpreter), "-c", QuoteString(cafile), ")",
                        "&&", 'mkdir -p "$(dirname "$cafile")"', "&&",
                        "ln", "-sf", SYSTEM_CA, '"$cafile"')


@operation()
def pyenv_python_ucs4(root: str, pyenv_version: str, pyenv_url: str,
                      pyenv_sha256: str | None, version: str, source_url: str,
                      source_sha256: str | None, configure_opts: str, cache_dir: str,
                      expected_maxunicode: int = 1114111, deployment_target: str | None = None,
                      arch: str | None = None):
    """
    A wide-unicode (UCS-4, ``cp27mu``) CPython ``version`` built by pyenv under ``root`` from a
    sha256-pinned source tarball, for the matrix's deployment target and arch; a narrow build,
    or one configured for another deployment target, found there is reported and rebuilt.

    + root: PYENV_ROOT
    + pyenv_version, pyenv_url, pyenv_sha256: the pyenv release tarball
    + version, source_url, source_sha256: the CPython source python-build compiles
    + configure_opts: ``--enable-unicode=ucs4`` (pyenv stopped adding it on macOS)
    + cache_dir: where the verified tarballs are kept (python-build's cache)
    + expected_maxunicode: 1114111 for a wide build
    + deployment_target: MACOSX_DEPLOYMENT_TARGET the interpreter is configured with (the
      matrix's ``min_macos`` of 2.7's arch).  It must not exceed the health check's target:
      2.7's distutils refuses to build extensions for an older macOS than its own
    + arch: build under ``/usr/bin/arch -<arch>`` (2.7 is x86_64 only: Rosetta on Apple
      silicon)

    python-build is told to take the ``.tgz`` this operation verified (it prefers a ``.tar.xz``
    it would fetch itself) and to leave Homebrew out (its libraries target the host's macOS
    and arch).  The compile takes minutes: give the operation ``_timeout``.

    **Example:**

    .. code:: python

        pyenv_python_ucs4(root="/opt/wheelfleet/pyenv", pyenv_version="2.6.12", …,
                          version="2.7.18", configure_opts="--enable-unicode=ucs4", …,
                          deployment_target="10.9", arch="x86_64")
    """
    interp = f"{root}/versions/{version}/bin/python"
    info = host.get_fact(Interpreter, path=interp)
    wide = bool(info and info.get("maxunicode") == expected_maxunicode)
    target_ok = deployment_target is None or bool(
        info and info.get("deployment_target") == deployment_target)
    if info and info.get("version") == version and wide and target_ok:
        host.noop(f"wide Python {version} (cp27mu) is built in {root}")
        return
    for what, url, pin, key in (
            (f"pyenv {pyenv_version}", pyenv_url, pyenv_sha256, "macos.pyenv.sha256"),
            (f"Python {version} source", source_url, source_sha256,
             "macos.pyenv_ucs4.source_sha256")):
        if not pin:
            yield from _fail_host(reason=unlocked(what, url, key))
            return
    if host.get_fact(PyenvVersion, root=root) != pyenv_version:
        tarball = f"{cache_dir}/pyenv-{pyenv_version}.tar.gz"
        yield from verified_download._inner(url=pyenv_url, sha256=pyenv_sha256, dest=tarball)
        # Unpacked over the root: its versions/ (the builds) are kept.
        yield StringCommand("mkdir", "-p", QuoteString(root), "&&", "tar", "-xzf",
                            QuoteString(tarball), "-C", QuoteString(root),
                            "--strip-components", "1")
    yield from verified_download._inner(
        url=source_url, sha256=source_sha256,
        dest=f"{cache_dir}/{source_url.rstrip('/').rpartition('/')[2]}")
    env = [f"PYENV_ROOT={root}", f"PYTHON_BUILD_CACHE_PATH={cache_dir}",
           QuoteString(f"PYTHON_CONFIGURE_OPTS={configure_opts}"),
           # python-build would fetch Python-X.tar.xz itself; the .tgz above is the verified one.
           "_PYTHON_BUILD_FORCE_SKIP_XZ=1", "PYTHON_BUILD_SKIP_HOMEBREW=1"]
    if deployment_target:
        env.append(f"MACOSX_DEPLOYMENT_TARGET={deployment_target}")
    run_as = ["/usr/bin/arch", f"-{arch}"] if arch else []
    if info is not None:
        if not wide:
            why = (f"is not a wide build (maxunicode {info.get('maxunicode')}); rebuilding it "
                   f"with {configure_opts}")
        elif info.get("version") != version:
            why = f"reports {info.get('version')}; rebuilding {version}"
        else:
            why = (f"was configured for macOS {info.get('deployment_target') or 'unknown'}, "
                   f"not the matrix's {deployment_target}; rebuilding it")
        yield StringCommand("echo", QuoteString(
            f"wheelfleet: Python {info.get('version')} in {root} {why}"), ">&2")
        yield StringCommand("env", *env, f"{root}/bin/pyenv", "uninstall", "-f", version)
    yield StringCommand(*run_as, "env", *env, f"{root}/bin/pyenv", "install", "-s", version)
    check = (f"import sys, sysconfig; u = sys.maxunicode == {expected_maxunicode}; "
             "m = bool(sysconfig.get_config_var('WITH_PYMALLOC')); "
             "tag = 'cp27' + ('m' if m else '') + ('u' if u else ''); "
             "sys.exit(0 if tag == 'cp27mu' else "
             "'built ABI tag is %s, expected cp27mu' % tag)")
    yield StringCommand(QuoteString(interp), "-c", QuoteString(check))
    if deployment_target:
        target = ("import sys, sysconfig; t = sysconfig.get_config_var("
                  f"'MACOSX_DEPLOYMENT_TARGET'); sys.exit(0 if t == {deployment_target!r} else "
                  f"'built for macOS %s, expected {deployment_target}' % t)")
        yield StringCommand(QuoteString(interp), "-c", QuoteString(target))


@operation()
def command_line_tools():
    """
    The Xcode Command Line Tools are installed (compilers, headers, ``lipo``), from the label
    ``softwareupdate`` offers; when it offers none the host fails with what to do.

    Installing takes minutes: give the operation ``_timeout`` (and ``_sudo``).

    **Example:**

    .. code:: python

        command_line_tools(_sudo=True, _timeout=3600)
    """
    found = host.get_fact(CommandLineTools)
    if found.get("path") and found.get("version"):
        host.noop(f"Command Line Tools {found.get('version')} at {found.get('path')}")
        return
    label = host.get_fact(CommandLineToolsLabel).get("label")
    if not label:
        yield from _fail_host(reason="Xcode Command Line Tools are missing and softwareupdate "
                              "offers none: run `xcode-select --install` in the Mac's GUI "
                              "session (or install Xcode), then converge again")
        return
    flag = CommandLineToolsLabel.FLAG
    yield StringCommand("touch", flag, "&&", "/usr/sbin/softwareupdate", "--install",
                        QuoteString(label), "--verbose;", "status=$?;", "rm", "-f", flag, ";",
                        "exit", "$status")


@operation()
def rosetta(needed: bool):
    """
    Rosetta 2 is installed when x86_64 code must run on an Apple silicon host (x86_64 or
    universal2 checks are selected); Intel hosts run x86_64 natively.

    + needed: whether the host's selection runs x86_64 code

    **Example:**

    .. code:: python

        rosetta(needed=True, _sudo=True, _timeout=1800)
    """
    if not needed:
        host.noop("no x86_64 checks selected")
        return
    if host.get_fact(RosettaReady).get("x86_64_runs"):
        host.noop("x86_64 code runs on this host")
        return
    mac = host.get_fact(MacosVersion)
    if mac.get("arch") != "arm64":
        yield from _fail_host(reason=f"x86_64 code does not run on this "
                              f"{mac.get('arch') or 'unknown'} host and Rosetta 2 only exists "
                              "on Apple silicon")
        return
    yield "/usr/sbin/softwareupdate --install-rosetta --agree-to-license"


def openssl_current(manifest: dict | None, version: str, sha256: str, flags: list[str],
                    min_macos: dict[str, str]) -> bool:
    """Whether the installed universal OpenSSL's manifest says it is the matrix's build."""
    if not manifest or manifest.get("mode", "full") != "full":
        return False
    return (manifest.get("version") == version and manifest.get("source_sha256") == sha256
            and list(manifest.get("configure_flags") or []) == list(flags)
            and dict(manifest.get("min_macos") or {}) == dict(min_macos)
            and {"x86_64", "arm64"} <= set(manifest.get("arches") or []))


@operation()
def universal_openssl(root: str, version: str, url: str, sha256: str | None,
                      configure_flags: list[str], min_macos: dict[str, str],
                      arch_cflags: dict[str, str], cache_dir: str, script_dir: str,
                      step_timeout: int = 3600):
    """
    A universal (x86_64 + arm64) static OpenSSL under ``root``/current, built per arch with the
    matrix's flags and deployment targets, fused with ``lipo``, verified slice by slice (both
    arches; every member object's minimum macOS at or below the floor) before ``current``
    switches; a failed or half build never replaces a good one.

    + root: where builds live (``<version>-<sha12>/`` each, ``current`` the verified one)
    + version, url, sha256: the OpenSSL release tarball the matrix pins
    + configure_flags: pyca's static-build flags
    + min_macos: per-arch floor, e.g. ``{"x86_64": "10.12", "arm64": "11.0"}``
    + arch_cflags: extra CFLAGS per arch (``-march=core2`` for x86_64)
    + cache_dir: where the tarball is downloaded to
    + script_dir: where ``openssl_universal.sh`` and ``verify_universal.py`` were uploaded
    + step_timeout: seconds each configure/make step may take (the script enforces it)

    **Example:**

    .. code:: python

        universal_openssl(root="/opt/wheelfleet/openssl", version="3.0.22", url="…",
                          sha256="67eb…", configure_flags=["no-shared", …],
                          min_macos={"x86_64": "10.12", "arm64": "11.0"},
                          arch_cflags={"x86_64": "-march=core2"},
                          cache_dir="/Library/Caches/wheelfleet",
                          script_dir="/opt/wheelfleet/libexec", _sudo=True)
    """
    manifest = host.get_fact(JsonManifest, path=f"{root}/current/wheelfleet-openssl.json")
    if sha256 and openssl_current(manifest, version, sha256, configure_flags, min_macos):
        host.noop(f"universal OpenSSL {version} is built and verified in {root}/current")
        return
    if not sha256:
        yield from _fail_host(reason=unlocked(f"OpenSSL {version} source", url))
        return
    tarball = f"{cache_dir}/{url.rstrip('/').rpartition('/')[2]}"
    yield from verified_download._inner(url=url, sha256=sha256, dest=tarball)
    args: list[str | QuoteString] = [
        "sh", QuoteString(f"{script_dir}/openssl_universal.sh"),
        "--source", QuoteString(tarball), "--sha256", QuoteString(str(sha256)),
        "--version", QuoteString(version), "--root", QuoteString(root),
        "--flags", QuoteString(" ".join(configure_flags)),
        "--step-timeout", str(step_timeout)]
    for arch, floor in sorted(min_macos.items()):
        args += ["--min-macos", QuoteString(f"{arch}={floor}")]
    for arch, cflags in sorted(arch_cflags.items()):
        args += ["--arch-cflags", QuoteString(f"{arch}={cflags}")]
    yield StringCommand(*args)
