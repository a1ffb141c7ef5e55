"""macos_openssl: the universal OpenSSL every macOS canary (and wheel) links statically."""

from __future__ import annotations

from importlib import resources

from pyinfra.api import deploy
from pyinfra.operations import files

from wheelfleet.operations.macos import universal_openssl
from wheelfleet.platforms.macos import MacosSettings, source_builds
from wheelfleet.selection import Selection

SCRIPT_DIR = "/opt/wheelfleet/libexec"


@deploy("macos_openssl")
def macos_openssl(selection: Selection) -> None:
    """
    The build-and-verify script and its verifier uploaded, then the matrix's OpenSSL built for
    x86_64 and arm64 with their own deployment targets, fused, verified, and switched in.

    + selection: the host's validated selection

    **Example:**

    .. code:: python

        macos_openssl(selection=current_selection())
    """
    settings = selection.settings
    assert isinstance(settings, MacosSettings)
    ssl = source_builds(selection.matrix, settings)["openssl"]
    for name in ("openssl_universal.sh", "verify_universal.py"):
        files.put(name=f"OpenSSL build helper {name}",
                  src=str(resources.files("wheelfleet").joinpath(f"macos/{name}")),
                  dest=f"{SCRIPT_DIR}/{name}", mode="755", create_remote_dir=True, _sudo=True)
    universal_openssl(name=f"Universal OpenSSL {ssl.version}", root=settings.openssl_root,
                      version=ssl.version, url=ssl.url, sha256=ssl.sha256,
                      configure_flags=list(ssl.extra["configure_flags"]),
                      min_macos=dict(ssl.extra["min_macos"]),
                      arch_cflags=dict(ssl.extra["arch_cflags"]),
                      cache_dir=settings.cache_dir, script_dir=SCRIPT_DIR,
                      _sudo=True, _timeout=4 * 3600)
