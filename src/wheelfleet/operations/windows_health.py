"""Operations of a Windows host's health check: an OpenSSL archive unpacked where the builds
find it, the tools venv holding the pinned delvewheel, and the wheelhouse of the canary's
pinned build requirements its offline builds install from.

Each is idempotent from a read-only fact: the unpacked archive carries a marker holding the
archive's sha256 (asked with ``FileSha256``), the venv is asked which packages it holds
(``VenvPackages``), the wheelhouse which wheels it holds (``WindowsWheelhouseFiles``).
Downloads go through ``operations.windows.verified_download`` (hashed on the host before
anything uses them); pip downloads and installs only the files ``wheelfleet lock`` hashed.
"""

from __future__ import annotations

import hashlib

from pyinfra import host
from pyinfra.api import StringCommand, operation

from wheelfleet.facts.windows import FileSha256, ps_script
from wheelfleet.facts.windows_health import VenvPackages, WindowsWheelhouseFiles
from wheelfleet.lock.records import canonical, canonical_pin, requirement_lines
from wheelfleet.operations.fleet import refuse
from wheelfleet.operations.wheelhouse import locked_pins, missing_per_python, pins_per_python
from wheelfleet.operations.windows import verified_download

# A refusal fails this host when the operation runs, never the whole fleet's run.
_refuse = refuse._inner

MARKER = "wheelfleet-archive.sha256"  # in an unpacked archive: the sha256 it came from


def marker_text(sha256: str) -> str:
    return sha256 + "\n"


def unpack_script(archive: str, sha256: str, target: str) -> str:
    """Unpack a zip beside ``target``, record its sha256 in the marker, then swap it in: an
    interrupted unpack never leaves half an OpenSSL where the builds look."""
    return ps_script("unpack-archive", {"archive": archive, "target": target,
                                        "marker": marker_text(sha256).strip()}, [
        "$ErrorActionPreference = 'Stop'",
        "$part = $target + '.wfpart'",
        "if (Test-Path -LiteralPath $part) { Remove-Item -LiteralPath $part -Recurse -Force }",
        "Add-Type -AssemblyName System.IO.Compression.FileSystem",
        "[System.IO.Compression.ZipFile]::ExtractToDirectory($archive, $part)",
        f"[IO.File]::WriteAllText((Join-Path $part '{MARKER}'), $marker + \"`n\")",
        "if (Test-Path -LiteralPath $target) { Remove-Item -LiteralPath $target -Recurse -Force }",
        "Move-Item -LiteralPath $part -Destination $target",
    ])


@operation()
def unpacked_archive(archive: str, sha256: str, target: str):
    """
    ``target`` holds the contents of the zip ``archive`` whose sha256 is ``sha256`` (its
    marker says so); another archive's contents there are replaced.

    + archive: the verified zip on the host (``verified_download`` first)
    + sha256: its pinned hash, recorded in ``target``'s marker
    + target: the directory the builds read

    **Example:**

    .. code:: python

        unpacked_archive(archive="C:\\\\wheelfleet\\\\cache\\\\openssl-3.0.22-vc14-x64.zip",
                         sha256="…", target="C:\\\\wheelfleet\\\\openssl\\\\vc14-x64")
    """
    want = hashlib.sha256(marker_text(sha256).encode()).hexdigest()
    if host.get_fact(FileSha256, path=f"{target}\\{MARKER}") == want:
        host.noop(f"{target} holds the archive {sha256[:12]}…")
        return
    yield StringCommand(unpack_script(archive, sha256, target))


def tools_venv_script(python: str, venv: str, lines: list[str]) -> str:
    """Create the venv (when it has no Python) and pip-install the locked files only."""
    return ps_script("tools-venv", {"python": python, "venv": venv,
                                    "requirements": "\n".join(lines)}, [
        "$ErrorActionPreference = 'Stop'",
        "$venvPython = Join-Path $venv 'Scripts\\python.exe'",
        "if (-not (Test-Path -LiteralPath $venvPython -PathType Leaf)) {",
        "    & $python -m venv $venv",
        "    if ($LASTEXITCODE) { exit $LASTEXITCODE }",
        "}",
        "$req = Join-Path $venv 'wheelfleet-requirements.txt'",
        "Set-Content -LiteralPath $req -Value $requirements -Encoding ASCII",
        "& $venvPython -m pip install --disable-pip-version-check --no-input "
        "'--only-binary=:all:' --require-hashes -r $req",
        "exit $LASTEXITCODE",
    ])


@operation()
def tools_venv(python: str, venv: str, packages: dict[str, list[str]],
               lock_key: str = "python_locks"):
    """
    The venv at ``venv`` (made by ``python``) holds every ``NAME==VERSION`` of ``packages``,
    installed with ``pip --require-hashes`` from the locked files' sha256s only.

    + python: the interpreter that creates the venv (a Python the host has installed)
    + venv: the venv's directory
    + packages: pin -> sha256s, dependencies included (``wheelfleet.lock.needs.locked``)
    + lock_key: the matrix key named when the lock is empty

    **Example:**

    .. code:: python

        tools_venv(python="C:\\\\wheelfleet\\\\pythons\\\\3.12-x64\\\\python.exe",
                   venv="C:\\\\wheelfleet\\\\tools",
                   packages={"delvewheel==1.11.2": ["0e7f…"], "pefile==2024.8.26": ["76f8…"]},
                   _timeout=900)
    """
    unlocked = sorted(pin for pin, shas in packages.items() if not shas)
    if not packages or unlocked:
        yield from _refuse(reason=f"{venv}: {lock_key}: no locked sha256 for "
                           f"{', '.join(unlocked) or 'no packages'}; run `wheelfleet lock`")
        return
    have = host.get_fact(VenvPackages, venv=venv) or {}
    missing = [pin for pin in packages
               if have.get(canonical(pin.partition("==")[0])) != pin.partition("==")[2]]
    if not missing:
        host.noop(f"{venv} holds {', '.join(sorted(packages))}")
        return
    yield StringCommand(tools_venv_script(python, venv, requirement_lines(packages)))


@operation()
def openssl_archive(what: str, lock_key: str, url: str | None, sha256: str | None,
                    archive: str, target: str, timeout: int = 1800):
    """
    A prebuilt OpenSSL archive (one compiler family × arch) fetched through the fleet's
    artifact mirror, sha256-verified on the host, then unpacked to ``target``.  An unlocked
    archive (``sha256: null`` in the matrix) or a host without one artifact mirror is refused
    in one line with nothing downloaded; that host fails alone.

    + what: the archive's name in messages (``OpenSSL 3.0.22 (vc14, x64)``)
    + lock_key: its matrix key (``windows_openssl.builds.vc14.sha256.x64``)
    + url, sha256: where the mirror serves it and its pinned hash
    + archive: the cached zip on the host
    + target: where it is unpacked
    + timeout: seconds the transfer may take

    **Example:**

    .. code:: python

        openssl_archive(what="OpenSSL 3.0.22 (vc14, x64)",
                        lock_key="windows_openssl.builds.vc14.sha256.x64",
                        url="http://mirror.internal/openssl/3.0.22/openssl-3.0.22-vc14-x64.zip",
                        sha256="…", archive="C:\\\\wheelfleet\\\\cache\\\\openssl-….zip",
                        target="C:\\\\wheelfleet\\\\openssl\\\\vc14-x64")
    """
    if not sha256:
        yield from _refuse(reason=f"{lock_key}: {what} has no sha256: refusing to download it "
                           "unverified; run `wheelfleet lock` (or lock it in the fleet's matrix "
                           "overlay)")
        return
    if not url:
        yield from _refuse(reason=f"{what}: artifact_mirrors must name one mirror (the "
                           "health check's OpenSSL archives are served only from the fleet's "
                           "artifact mirror)")
        return
    yield from verified_download._inner(url=url, sha256=sha256, dest=archive, timeout=timeout)
    yield from unpacked_archive._inner(archive=archive, sha256=sha256, target=target)


def wheelhouse_script(python: str, path: str, python_version: str, platforms: list[str],
                      lines: list[str]) -> str:
    """Download one target Python's locked pins into the wheelhouse with the host's pip:
    wheels only, no dependencies (the lock lists every file), each checked against its hash."""
    return ps_script("wheelhouse-download", {
        "python": python, "path": path, "pythonVersion": python_version,
        "platforms": " ".join(platforms), "requirements": "\n".join(lines)}, [
        "$ErrorActionPreference = 'Stop'",
        "New-Item -ItemType Directory -Force -Path $path | Out-Null",
        # pip takes hashes only from a requirements file; pip --find-links ignores it.
        "$req = Join-Path $path ('wheelfleet-requirements-' + $pythonVersion + '.txt')",
        "Set-Content -LiteralPath $req -Value $requirements -Encoding ASCII",
        "$targets = @()",
        "foreach ($platform in $platforms.Split(' ')) { $targets += @('--platform', $platform) }",
        "& $python -m pip download --disable-pip-version-check --no-input --no-deps "
        "'--only-binary=:all:' --require-hashes --python-version $pythonVersion @targets "
        "-d $path -r $req",
        "$code = $LASTEXITCODE",
        "Remove-Item -LiteralPath $req -Force",
        "exit $code",
    ])


@operation()
def wheelhouse(python: str, path: str, requirements: list[str],
               targets: dict[str, list[str]], hashes: dict[str, list[str]],
               lock_key: str = "python_locks"):
    """
    ``path`` holds a wheel of every pin each target Python needs of ``requirements``,
    downloaded by the host's pip (``--require-hashes --only-binary=:all: --no-deps``, with
    ``--python-version`` and ``--platform`` of that target, so pip checks tags and
    Requires-Python against the Python that installs them, not the one downloading).  A
    missing pin without a locked sha256 is refused in one line with nothing downloaded.

    + python: the interpreter whose pip downloads (the host's tools Python)
    + path: the wheelhouse directory the health agent builds from (``--find-links``)
    + requirements: the matrix's ``canary.build_requirements`` (pins, some with a
      ``python_version`` marker)
    + targets: target Python (``"2.7"``) -> the wheel platforms its checks build for
      (``["win32", "win_amd64"]``)
    + hashes: pin -> the sha256s ``wheelfleet lock`` recorded (``lock.needs.locked``)
    + lock_key: the matrix key named when a pin is not locked

    **Example:**

    .. code:: python

        wheelhouse(python="C:\\\\wheelfleet\\\\pythons\\\\3.12-x64\\\\python.exe",
                   path="C:\\\\wheelfleet\\\\cache\\\\wheelhouse",
                   requirements=["setuptools==44.1.1; python_version < '3'",
                                 "setuptools==80.9.0", "wheel==0.45.1"],
                   targets={"2.7": ["win_amd64"], "3.12": ["win32", "win_amd64"]},
                   hashes={"setuptools==44.1.1": ["e6a2…"], "setuptools==80.9.0": ["062d…"],
                           "wheel==0.45.1": ["708e…"]},
                   _timeout=900)
    """
    wanted = pins_per_python(requirements, sorted(targets))
    files = host.get_fact(WindowsWheelhouseFiles, path=path)
    downloads = missing_per_python(wanted, files)
    if not downloads:
        every = sorted(dict.fromkeys(pin for pins in wanted.values() for pin in pins))
        host.noop(f"wheelhouse {path} holds {', '.join(every)} for Python "
                  f"{', '.join(v for v in wanted if v is not None)}")
        return
    locked, unlocked = locked_pins(downloads, hashes)
    if unlocked:
        yield from _refuse(reason=f"wheelhouse {path}: {lock_key}: no locked sha256 for "
                           f"{', '.join(unlocked)}; run `wheelfleet lock`")
        return
    for version, missing in downloads.items():
        assert version is not None  # target Pythons were given
        lines = requirement_lines({pin: locked[canonical_pin(pin)] for pin in missing})
        yield StringCommand(wheelhouse_script(python, path, version,
                                              sorted(targets[version]), lines))
