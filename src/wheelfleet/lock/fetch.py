"""Fetch what gets locked: one URL's sha256, and the exact files pip picks for a target.

Both are bounded in time.  Artifacts are streamed into the hash (an installer is never held in
memory or kept); pip runs as the controller's own ``python -m pip download`` against whatever
index pip is configured with, into a temporary directory that is removed afterwards.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from wheelfleet.errors import WheelfleetError
from wheelfleet.lock.records import canonical

DOWNLOAD_TIMEOUT = 1800  # seconds one artifact may take in all (installers are ~50 MB)
READ_TIMEOUT = 60  # seconds the server may stay silent
PIP_TIMEOUT = 900  # seconds one pip download may take
CHUNK = 1 << 20


class FetchError(WheelfleetError):
    """A download that did not give a hash; ``str`` is one line."""


def redact(url: str) -> str:
    """``https://user:secret@mirror/…`` -> ``https://***@mirror/…``: never print credentials."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", r"\1***@", url, flags=re.I)


def url_sha256(url: str, timeout: float = DOWNLOAD_TIMEOUT,
               read_timeout: float = READ_TIMEOUT) -> str:
    """The sha256 of the bytes served at ``url`` (http or https), within ``timeout`` seconds."""
    shown = redact(url)
    if not re.match(r"^https?://", url, flags=re.I):
        raise FetchError(f"download {shown}: expected an http:// or https:// URL")
    deadline = time.monotonic() + timeout
    digest = hashlib.sha256()
    size = 0
    request = urllib.request.Request(url, headers={"User-Agent": "wheelfleet-lock"})
    try:
        with urllib.request.urlopen(request, timeout=read_timeout) as response:  # noqa: S310
            expected = response.headers.get("Content-Length")
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                if time.monotonic() > deadline:
                    raise FetchError(f"download {shown}: not finished after {timeout:g} s")
    except urllib.error.HTTPError as err:
        raise FetchError(f"download {shown}: HTTP {err.code} {err.reason}") from None
    except urllib.error.URLError as err:
        raise FetchError(f"download {shown}: {err.reason}") from None
    except (OSError, ValueError) as err:  # timeouts, resets, truncated bodies
        raise FetchError(f"download {shown}: {err or type(err).__name__}") from None
    if expected is not None and expected.isdigit() and int(expected) != size:
        raise FetchError(f"download {shown}: got {size} bytes, the server announced {expected}")
    return digest.hexdigest()


@dataclass(frozen=True)
class PipFile:
    pin: str  # canonical NAME==VERSION
    file: str
    sha256: str


def pip_platforms(platform: str) -> list[str]:
    """pip ``--platform`` values for a target platform.

    pip (23) expands macOS tags itself, and ``manylinux2014`` to its legacy aliases, but not the
    PEP 600 names: a glibc Linux target lists them, newest first (the order pip prefers them).
    """
    if platform.startswith("manylinux_2_17_"):
        arch = platform[len("manylinux_2_17_"):]
        return [f"manylinux_2_28_{arch}", f"manylinux_2_17_{arch}", f"manylinux2014_{arch}",
                f"manylinux_2_5_{arch}"]
    return [platform]


def pip_download(requirements: list[str], python: str, platform: str, *, no_deps: bool,
                 timeout: float = PIP_TIMEOUT) -> list[PipFile]:
    """The wheels pip picks for ``requirements`` on CPython ``python`` / ``platform``, hashed.

    With ``no_deps`` only the requirements themselves (already a full, pinned set).
    """
    what = f"pip download {' '.join(requirements)} for Python {python} on {platform}"
    with tempfile.TemporaryDirectory(prefix="wheelfleet-lock-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check",
                   "--no-input", "--only-binary=:all:", "--implementation", "cp",
                   "--python-version", python,
                   *(f"--platform={p}" for p in pip_platforms(platform)),
                   "--dest", tmp, *(["--no-deps"] if no_deps else []), *requirements]
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise FetchError(f"{what}: not finished after {timeout:g} s") from None
        if proc.returncode != 0:
            errors = [ln.strip() for ln in proc.stderr.splitlines()
                      if ln.strip().startswith("ERROR:")]
            last = errors[-1] if errors else (proc.stderr.strip().splitlines() or ["?"])[-1]
            raise FetchError(f"{what}: {redact(last)}")
        found = []
        for path in sorted(Path(tmp).iterdir()):
            try:
                name, version, _, _ = parse_wheel_filename(path.name)
            except InvalidWheelFilename:
                raise FetchError(f"{what}: pip saved {path.name}, which is not a wheel") from None
            digest = hashlib.sha256()
            with path.open("rb") as f:
                while chunk := f.read(CHUNK):
                    digest.update(chunk)
            found.append(PipFile(f"{canonical(name)}=={version}", path.name,
                                 digest.hexdigest()))
    return found
