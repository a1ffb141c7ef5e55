"""Find the Debian mirror this machine already uses.

The mirror is never written into the project: it is read at run time from the
machine's own apt configuration, deb822 ``*.sources`` files first, then the classic
one-line ``sources.list``.
"""

from __future__ import annotations

from pathlib import Path

APT_DIR = Path("/etc/apt")


def _deb822_stanzas(text: str) -> list[dict[str, str]]:
    stanzas: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if cur:
                stanzas.append(cur)
            cur = {}
            continue
        if line.lstrip().startswith("#") or line[0].isspace() or ":" not in line:
            continue  # comments and continuation lines carry nothing we need
        key, _, value = line.partition(":")
        cur[key.strip().lower()] = value.strip()
    if cur:
        stanzas.append(cur)
    return stanzas


def debian_mirror(apt_dir: Path = APT_DIR) -> str:
    """URI of the main Debian archive (not the security archive) apt is configured with.

    Raises LookupError if none is configured.
    """
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        for st in _deb822_stanzas(path.read_text()):
            suites = st.get("suites", "").split()
            if "deb" not in st.get("types", "").split() or not st.get("uris"):
                continue
            # The security archive has a different layout (suite-security only);
            # debootstrap needs the main archive.
            if suites and all(s.endswith("-security") for s in suites):
                continue
            return st["uris"].split()[0].rstrip("/")
    legacy = apt_dir / "sources.list"
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            line = line.split("#", 1)[0]
            if not line.split() or line.split()[0] != "deb":
                continue
            # drop the "deb" word and an optional "[opt=val ...]" block
            rest = line.split(None, 1)[1]
            if rest.startswith("["):
                rest = rest.split("]", 1)[1]
            words = rest.split()
            if len(words) < 2:
                continue
            uri, suite = words[0], words[1]
            if not suite.endswith("-security"):
                return uri.rstrip("/")
    raise LookupError(f"no Debian mirror found in {apt_dir}/sources.list[.d]")
