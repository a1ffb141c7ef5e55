"""Read the controller's own apt configuration, so the test hosts use the same mirror.

Nothing here names a mirror: the URIs come from this machine's
``/etc/apt/sources.list.d/*.sources`` (deb822) and ``/etc/apt/sources.list`` at run time,
and a few ``Acquire::`` options (proxy, snapshot validity) from ``apt-config dump``.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import LabError

APT_ETC = Path("/etc/apt")

# Options copied into the hosts' apt config when the controller sets them. A snapshot
# mirror needs the Valid-Until/Date checks off; a proxy must be used by the hosts too.
_COPIED_OPTIONS = (
    "Acquire::Check-Valid-Until",
    "Acquire::Check-Date",
    "Acquire::http::Proxy",
    "Acquire::https::Proxy",
    "Acquire::Retries",
)


@dataclass(frozen=True)
class Source:
    """One ``deb`` source: a URI and the suites/components it serves."""

    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]


def _deb822_stanzas(text: str) -> list[dict[str, str]]:
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if current:
                stanzas.append(current)
            current, key = {}, ""
        elif raw[0] in " \t" and key:  # continuation line of a multi-line field
            current[key] += " " + raw.strip()
        elif ":" in raw:
            key, _, value = raw.partition(":")
            key = key.strip().lower()
            current[key] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def parse_deb822(text: str) -> list[Source]:
    """``deb`` sources of a deb822 ``.sources`` file (disabled stanzas skipped)."""
    found = []
    for st in _deb822_stanzas(text):
        if "deb" not in st.get("types", "").split() or st.get("enabled", "yes") == "no":
            continue
        suites = tuple(st.get("suites", "").split())
        comps = tuple(st.get("components", "").split())
        for uri in st.get("uris", "").split():
            found.append(Source(uri.rstrip("/"), suites, comps))
    return found


def parse_one_line(text: str) -> list[Source]:
    """``deb`` lines of a classic ``sources.list`` (``[options]`` ignored)."""
    found = []
    for line in text.splitlines():
        words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
        if len(words) >= 3 and words[0] == "deb":
            found.append(Source(words[1].rstrip("/"), (words[2],), tuple(words[3:])))
    return found


def controller_sources(apt_etc: Path = APT_ETC) -> list[Source]:
    """Every ``deb`` source configured on this machine."""
    found: list[Source] = []
    legacy = apt_etc / "sources.list"
    if legacy.is_file():
        found += parse_one_line(legacy.read_text(errors="replace"))
    parts = apt_etc / "sources.list.d"
    if parts.is_dir():
        for path in sorted(parts.iterdir()):
            if path.suffix == ".sources":
                found += parse_deb822(path.read_text(errors="replace"))
            elif path.suffix == ".list":
                found += parse_one_line(path.read_text(errors="replace"))
    return found


@dataclass(frozen=True)
class Mirrors:
    """Where the hosts get Debian *suite* from: the main archive and, if any, security."""

    archive: str
    security: str | None


def mirrors_for(suite: str, apt_etc: Path = APT_ETC) -> Mirrors:
    """The controller's mirror URIs that serve *suite* (and ``suite-security``)."""
    sources = controller_sources(apt_etc)
    archive = next((s.uri for s in sources if suite in s.suites), None)
    if archive is None:
        raise LabError(
            f"no apt source for suite {suite!r} in {apt_etc}/sources.list(.d); "
            "the test hosts use the controller's own mirror"
        )
    security = next((s.uri for s in sources if f"{suite}-security" in s.suites), None)
    return Mirrors(archive, security)


def main_archive(apt_etc: Path = APT_ETC) -> str:
    """URI of the controller's main Debian archive, for any suite it carries (debootstrap of
    a suite the controller does not use itself, e.g. trixie for a test image)."""
    for source in controller_sources(apt_etc):
        # The security archive has its own layout (suite-security only): never a bootstrap base.
        if source.suites and not all(s.endswith("-security") for s in source.suites):
            return source.uri.rstrip("/")
    raise LabError(f"no Debian archive among the apt sources in {apt_etc}")


def render_sources(suite: str, mirrors: Mirrors) -> str:
    """A deb822 ``debian.sources`` for a host root using *mirrors*."""
    keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    text = (
        f"Types: deb\nURIs: {mirrors.archive}\nSuites: {suite} {suite}-updates\n"
        f"Components: main\nSigned-By: {keyring}\n"
    )
    if mirrors.security:
        text += (
            f"\nTypes: deb\nURIs: {mirrors.security}\nSuites: {suite}-security\n"
            f"Components: main\nSigned-By: {keyring}\n"
        )
    return text


def controller_apt_options() -> str:
    """The controller's relevant ``Acquire::`` options as an ``apt.conf`` snippet."""
    try:
        dump = subprocess.run(
            ["apt-config", "dump"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    wanted = {o.lower() for o in _COPIED_OPTIONS}
    lines = []
    for line in dump.splitlines():
        key, _, value = line.partition(" ")
        if key.lower() in wanted:
            lines.append(f"{key} {value}")
    return "\n".join(lines) + ("\n" if lines else "")
