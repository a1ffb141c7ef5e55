"""Mirror discovery from apt configuration (no root, no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wheelfleet.testregistry.mirror import debian_mirror


def test_deb822_skips_security_archive(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d/debian.sources").write_text(
        "Types: deb\n# comment\nURIs: http://security.invalid/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.invalid/debian/\nSuites: bookworm bookworm-updates\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )
    assert debian_mirror(tmp_path) == "http://mirror.invalid/debian"


def test_legacy_sources_list_with_options(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(
        "# deb http://commented.invalid/debian bookworm main\n"
        "deb http://security.invalid/debian-security bookworm-security main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.invalid/debian bookworm main\n"
    )
    assert debian_mirror(tmp_path) == "http://mirror.invalid/debian"


def test_no_mirror_configured(tmp_path: Path) -> None:
    with pytest.raises(LookupError):
        debian_mirror(tmp_path)
