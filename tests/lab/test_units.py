"""Fast checks of the lab's pure parts (no root, no hosts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wheelfleet.lab import LabError, aptsources, cli, inventory, keys, mounts
from wheelfleet.lab.host_root import HostRoot
from wheelfleet.lab.image_root import ImageRoot
from wheelfleet.lab.roots import cache_key

DEB822 = """\
Types: deb
# a comment between fields
URIs: http://mirror.invalid/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb-src
URIs: http://src.invalid/debian
Suites: bookworm

Types: deb
URIs: http://mirror.invalid/debian-security/
Suites: bookworm-security
Components: main
"""


def test_deb822_sources_are_read_with_security(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d/debian.sources").write_text(DEB822)
    mirrors = aptsources.mirrors_for("bookworm", tmp_path)
    assert mirrors == aptsources.Mirrors(
        "http://mirror.invalid/debian", "http://mirror.invalid/debian-security"
    )
    text = aptsources.render_sources("bookworm", mirrors)
    assert "URIs: http://mirror.invalid/debian\n" in text
    assert "Suites: bookworm-security" in text


def test_one_line_sources_with_options(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(
        "# deb http://old.invalid/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://one.invalid/debian bookworm main\n"
    )
    assert aptsources.mirrors_for("bookworm", tmp_path).archive == "http://one.invalid/debian"


def test_missing_suite_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="no apt source for suite 'bookworm'"):
        aptsources.mirrors_for("bookworm", tmp_path)


def test_root_cache_key_depends_on_inputs_not_order() -> None:
    m = aptsources.Mirrors("http://a.invalid/debian", None)
    a = HostRoot(include=("python3", "openssh-server"), mirrors=m)
    b = HostRoot(include=("openssh-server", "python3"), mirrors=m)
    c = HostRoot(include=("openssh-server",), mirrors=m)
    d = HostRoot(include=("openssh-server",), mirrors=aptsources.Mirrors("http://b.invalid", None))
    assert cache_key(a) == cache_key(b) != cache_key(c) != cache_key(d)
    assert cache_key(a).startswith("host-bookworm-")


def test_both_recipes_share_one_cache_scheme() -> None:
    image = ImageRoot(suite="bookworm", python="3.11", glibc="2.36")
    assert cache_key(image).startswith("image-bookworm-cp311-")
    assert cache_key(image) != cache_key(ImageRoot(suite="trixie", python="3.13", glibc="2.41"))


def test_known_hosts_names_follow_openssh() -> None:
    text = keys.render_known_hosts(
        [("127.0.0.11", 22, ["ssh-ed25519 AAAA1"]), ("127.0.0.12", 2222, ["ssh-ed25519 B"])]
    )
    assert text == "127.0.0.11 ssh-ed25519 AAAA1\n[127.0.0.12]:2222 ssh-ed25519 B\n"


def test_client_key_is_private_and_reused(tmp_path: Path) -> None:
    pub = keys.ensure_client_key(tmp_path / "id_ed25519")
    assert pub.startswith("ssh-ed25519 ")
    assert (tmp_path / "id_ed25519").stat().st_mode & 0o077 == 0
    assert keys.ensure_client_key(tmp_path / "id_ed25519") == pub


def test_inventory_is_python_with_group_data(tmp_path: Path) -> None:
    data = inventory.host_data("127.0.0.11", 22, tmp_path / "k", tmp_path / "kh", tmp_path)
    source = inventory.render([("tf1", data)], {"pythons": ["3.12", "3.13t"], "n": 1})
    namespace: dict[str, object] = {}
    exec(compile(source, "inventory.py", "exec"), namespace)
    hosts, group = namespace["linux"]  # type: ignore[misc]
    assert hosts == [("tf1", data)]
    assert group == {"pythons": ["3.12", "3.13t"], "n": 1}
    assert data["ssh_strict_host_key_checking"] == "yes"
    assert not Path(data["ssh_config_file"]).exists()


def test_inventory_refuses_non_literal_group_data() -> None:
    with pytest.raises(LabError, match="literals"):
        inventory.render([], {"path": Path("/x")})


def test_mountinfo_octal_escapes_are_decoded() -> None:
    assert mounts._unescape(r"/a\040b") == "/a b"


def test_cli_usage_error_returns_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["frobnicate"]) == 2
    assert cli.main(["up"]) == 2


def test_cli_not_root_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert cli.main(["up", "2", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs root" in err and "Traceback" not in err


def test_cli_bad_count_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    assert cli.main(["up", "0", "--dir", str(tmp_path)]) == 1
    assert "at least 1" in capsys.readouterr().err
    assert cli.main(["up", "300", "--dir", str(tmp_path)]) == 1
    assert "do not fit" in capsys.readouterr().err


def test_status_of_missing_fleet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["status", "--dir", str(tmp_path / "none")]) == 0
    assert "no fleet" in capsys.readouterr().out


def test_main_archive_skips_the_security_archive(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d/debian.sources").write_text(
        "Types: deb\nURIs: http://security.invalid/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.invalid/debian/\nSuites: bookworm bookworm-updates\n"
        "Components: main\n")
    assert aptsources.main_archive(tmp_path) == "http://mirror.invalid/debian"


def test_main_archive_from_a_legacy_sources_list(tmp_path):
    (tmp_path / "sources.list").write_text(
        "deb http://security.invalid/debian-security bookworm-security main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.invalid/debian bookworm main\n")
    assert aptsources.main_archive(tmp_path) == "http://mirror.invalid/debian"


def test_a_deep_podman_store_keeps_its_run_root_within_podmans_limit(tmp_path):
    """Real podman: a store under a directory deeper than podman's 50-character run-root limit
    (a parallel test worker's temp dir is one) still works; a short one keeps its run root
    inside the store, as before."""
    import shutil
    import subprocess

    from wheelfleet.lab.podman import RUNROOT_LIMIT, PodmanEnv

    short = PodmanEnv(Path("/tmp/wfpm-x"))
    assert short.runroot == Path("/tmp/wfpm-x/run")
    deep = PodmanEnv(tmp_path / ("d" * 40) / "pm")
    assert len(str(deep.base / "run")) > RUNROOT_LIMIT
    assert len(str(deep.runroot)) <= RUNROOT_LIMIT
    assert deep.runroot == PodmanEnv(tmp_path / ("d" * 40) / "pm").runroot  # stable
    assert deep.runroot != PodmanEnv(tmp_path / ("e" * 40) / "pm").runroot  # its own
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    deep.setup()
    try:
        listed = subprocess.run(deep.argv("images", "--quiet"), env=deep.env, timeout=120,
                                capture_output=True, text=True)
        assert listed.returncode == 0, listed.stderr
    finally:
        shutil.rmtree(deep.runroot, ignore_errors=True)
