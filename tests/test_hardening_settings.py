"""Strict settings, safe templates (issue 14, item 2).

Every string setting matches a grammar over the whole string (a pattern ending in ``$`` also
accepts a trailing newline), no setting holds a control character, matrix overlay fields have
their own grammars, config files are written with escaping for their format, and errors never
echo credentials inside URLs.

Proof level: the real ``wheelfleet check-inventory`` CLI on real inventory and overlay files
(nothing to connect to), and the real templates rendered by pyinfra's own jinja2 loader and
parsed back with ``tomllib`` / ``json``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from pyinfra.api.util import get_template

from wheelfleet.cli import main
from wheelfleet.lab import podman
from wheelfleet.selection import select_for_host
from wheelfleet.settings import redact
from wheelfleet.templating import jinja_env, toml_string

TEMPLATES = Path(__file__).resolve().parents[1] / "src" / "wheelfleet" / "templates"
LINUX = {"pythons": ["3.12"], "arches": ["x86_64"], "image_policies": ["manylinux_2_28"],
         "ssh_strict_host_key_checking": "yes"}
INJECTION = 'runc"\nhooks_dir = ["/tmp/evil"]'


def check(tmp_path: Path, data: dict, overlay: str | None = None,
          capsys: pytest.CaptureFixture[str] | None = None) -> subprocess.CompletedProcess:
    """``wheelfleet check-inventory`` on a one-host inventory: in this process through the
    CLI's one entry point when ``capsys`` is given (fast), else as a subprocess."""
    if overlay is not None:
        (tmp_path / "overlay.yaml").write_text(overlay)
        data = {**data, "matrix_overlay": "overlay.yaml"}
    path = tmp_path / "fleet.py"
    path.write_text(f"linux = ([('b1', {data!r})], {{}})\n")
    if capsys is not None:
        capsys.readouterr()
        code = main(["check-inventory", str(path)])
        out = capsys.readouterr()
        return subprocess.CompletedProcess([], code, out.out, out.err)
    return subprocess.run([sys.executable, "-m", "wheelfleet.cli", "check-inventory", str(path)],
                          capture_output=True, text=True, timeout=120)


def one_line(out: subprocess.CompletedProcess) -> str:
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    return lines[0]


SETTINGS = [
    # (id, key, value, words in the error)
    ("runtime-injection", "container_runtime", INJECTION, "control character"),
    ("runtime-trailing-newline", "container_runtime", "runc\n", "control character"),
    ("runtime-quote", "container_runtime", 'runc"', "expected a name"),
    ("cgroup-newline", "container_cgroup_manager", "systemd\n", "expected one of systemd"),
    ("events-unknown", "container_events_logger", "syslog", "expected one of file"),
    ("driver-newline", "container_storage_driver", "overlay\n", "control character"),
    ("storage-root-relative", "container_storage_root", "var/lib/x", "an absolute path"),
    ("storage-root-dotdot", "container_storage_root", "/var/lib/../../etc", "without . or .."),
    ("storage-root-quote", "container_storage_root", '/var/lib/x"\ny = 1', "control character"),
    ("work-dir-newline", "work_dir", "/var/tmp/wf\n", "control character"),
    ("work-dir-space", "work_dir", "/var/tmp/w f", "an absolute path"),
    ("package-newline", "linux_base_packages", ["gcc\n"], "control character"),
    ("package-shell", "linux_base_packages", ["gcc;reboot"], "a Debian package name"),
    ("mirror-newline", "registry_mirrors", {"quay.io": "mirror:5000\n"}, "control character"),
    ("mirror-key-newline", "registry_mirrors", {"quay.io\n": "mirror:5000"},
     "control character"),
    ("insecure-newline", "insecure_registries", ["mirror:5000\n"], "control character"),
    ("ulimit-newline", "container_default_ulimits", ["nofile=1:2\n"], "NAME=SOFT:HARD"),
    ("ca-bundle-newline", "trusted_ca_bundle", "/etc/ssl/ca.pem\n", "control character"),
    ("trust-unknown", "host_key_trust", "sometimes", "expected one of pinned, first-use"),
]


@pytest.mark.parametrize("case", SETTINGS, ids=[c[0] for c in SETTINGS])
def test_a_setting_outside_its_grammar_is_refused_with_one_line(tmp_path, capsys, case):
    """The CLI's entry point, real inventory: exit 2, one line naming file and key; before the
    fix a trailing newline passed every ``^…$`` check and ``text`` took any string."""
    _, key, value, words = case
    line = one_line(check(tmp_path, {**LINUX, key: value}, capsys=capsys))
    assert "fleet.py" in line and f"b1.{key}" in line, line
    assert words in line, line


def test_the_issue_s_injection_is_refused_by_check_inventory(tmp_path):
    """The value from the issue, exactly, through the installed CLI in a subprocess: refused,
    one line, the value shown escaped."""
    line = one_line(check(tmp_path, {**LINUX, "container_runtime": INJECTION}))
    assert line.startswith("wheelfleet: ") and "b1.container_runtime" in line
    assert "hooks_dir" in line and "\\n" in line  # shown as repr, on the one line


def test_other_platforms_settings_get_the_control_character_sweep():
    """A newline in a macOS mirror never reaches a host: refused (by the origin grammar, which
    matches the whole string, or else by HostSettings.from_data's sweep of every string)."""
    from wheelfleet.errors import InputError

    with pytest.raises(InputError, match="control character|expected an origin"):
        select_for_host("m1", ["macos"], {
            "pythons": ["3.12"], "arches": ["arm64"],
            "artifact_mirrors": {"https://www.python.org": "http://127.0.0.1:8080\n"}},
            "fleet.py")


def test_the_sweep_refuses_what_a_lenient_reader_lets_through():
    """HostSettings.from_data itself: a setting read with no grammar at all still cannot
    carry a control character (unit: a settings class defined here for the purpose)."""
    from dataclasses import dataclass

    from wheelfleet.errors import InputError
    from wheelfleet.matrix.reader import Reader
    from wheelfleet.settings import HostSettings, setting

    @dataclass(frozen=True)
    class Lenient(HostSettings):
        note: object = setting(None, read=lambda r, key: r.raw(key))

    assert Lenient.from_data(Reader({"note": "fine"}, "fleet.py")).note == "fine"
    with pytest.raises(InputError, match="control character"):
        Lenient.from_data(Reader({"note": {"k": ["ok", "bad\x1b[31m"]}}, "fleet.py"))


def test_credentials_in_urls_are_never_echoed(tmp_path, capsys):
    """A mirror given as a URL with a password: refused, and the line shows ``***``."""
    line = one_line(check(tmp_path, {**LINUX, "registry_mirrors": {
        "quay.io": "https://bob:s3cret-pw@mirror.internal:5000/pypa"}}, capsys=capsys))
    assert "s3cret-pw" not in line and "bob" not in line, line
    assert "https://***@mirror.internal:5000/pypa" in line, line


def test_credentials_are_redacted_in_macos_errors_too(tmp_path):
    """macOS's own reader formats the value itself; the CLI's one wrapper still redacts
    (installed CLI, subprocess)."""
    path = tmp_path / "fleet.py"
    path.write_text("macos = ([('m1', {'pythons': ['3.12'], 'arches': ['arm64'], "
                    "'ssh_strict_host_key_checking': 'yes', 'artifact_mirrors': "
                    "{'https://www.python.org': 'http://alice:hunter2@127.0.0.1:8080/py'}})], "
                    "{})\n")
    line = one_line(subprocess.run(
        [sys.executable, "-m", "wheelfleet.cli", "check-inventory", str(path)],
        capture_output=True, text=True, timeout=120))
    assert "hunter2" not in line and "alice" not in line and "***@127.0.0.1" in line, line


@pytest.mark.parametrize("message,expected", [
    ("got 'https://bob:pw@h/x'", "got 'https://***@h/x'"),
    ("got 'bob:pw@mirror:5000'", "got '***@mirror:5000'"),
    ("{'a': 'http://tok@h'}", "{'a': 'http://***@h'}"),
    ("quay.io/pypa/x@sha256:00", "quay.io/pypa/x@sha256:00"),  # a digest is no credential
    ("mirror.internal:5000", "mirror.internal:5000"),
])
def test_redact(message, expected):
    """Unit level: what is and is not a credential."""
    assert redact(message) == expected


def test_valid_settings_still_pass():
    """The lab's own engine settings and typical fleet values are accepted unchanged."""
    sel = select_for_host("b1", ["linux"], {
        **LINUX, **podman.HOST_DATA, "container_storage_driver": "overlay",
        "container_storage_root": "/var/lib/containers/storage", "work_dir": "/var/tmp/wf",
        "registry_mirrors": {"quay.io": "127.0.0.1:5057"},
        "insecure_registries": ["127.0.0.1:5057"],
        "linux_base_packages": ["build-essential", "podman=4.3.1+ds1-8", "g++"],
        "trusted_ca_bundle": "/etc/ssl/certs/ca-certificates.crt"}, "fleet.py")
    assert sel.settings.container_runtime == "runc"  # type: ignore[attr-defined]
    assert sel.settings.host_key_trust == "pinned"


# --- overlays ---------------------------------------------------------------------------------

IMAGE = """images:
  - policy: {policy}
    arch: x86_64
    repository: "{repository}"
    digest: "{digest}"
    tag: "{tag}"
    state: test
    pythons: [cp311-cp311]
"""
GOOD = {"policy": "manylinux_2_36", "repository": "127.0.0.1:5000/pypa/manylinux_2_36_x86_64",
        "digest": "sha256:" + "b" * 64, "tag": "2026.10.26-1"}

OVERLAYS = [
    # (id, overlay text, key, words)
    ("tool-version-newline", 'tools:\n  auditwheel: {version: "6.8.2\\n"}\n',
     "tools.auditwheel.version", "control character"),
    ("tool-version-not-pep440", "tools:\n  auditwheel: {version: latest}\n",
     "tools.auditwheel.version", "PEP 440"),
    ("tool-version-spaces", 'tools:\n  auditwheel: {version: " 6.8.2"}\n',
     "tools.auditwheel.version", "PEP 440"),
    ("requirement-unpinned", "canary:\n  build_requirements: ['setuptools>=70']\n",
     "canary.build_requirements[0]", "NAME==VERSION"),
    ("requirement-url", "canary:\n  build_requirements: ['setuptools @ http://x/s.whl']\n",
     "canary.build_requirements[0]", "NAME==VERSION"),
    ("image-policy", IMAGE.format(**{**GOOD, "policy": "many linux"}), "images[0].policy",
     "a policy name"),
    ("image-repository-upper", IMAGE.format(**{**GOOD, "repository": "quay.io/PyPA/X"}),
     "images[0].repository", "an OCI repository"),
    ("image-repository-newline", IMAGE.format(**{**GOOD, "repository": "quay.io/pypa/x\\n"}),
     "images[0].repository", "control character"),
    # The matrix model's own digest grammar (anchored at the very end) answers first.
    ("image-digest-newline", IMAGE.format(**{**GOOD, "digest": "sha256:" + "b" * 64 + "\\n"}),
     "images[0].digest", "images are pinned by digest"),
    ("image-tag", IMAGE.format(**{**GOOD, "tag": "latest;rm"}), "images[0].tag",
     "an OCI tag"),
    ("mac-suffix-path", "pythons:\n  '3.12':\n    macos: {pkg_suffix: ../../evil}\n",
     "pythons.3.12.macos.pkg_suffix", "a file-name part"),
    ("eol-policy-name", "eol_policies:\n  'bad policy': '2020-01-01'\n",
     "eol_policies.bad policy", "a policy name"),
    ("url-with-space", "macos:\n  pyenv: {url: 'https://h/x y.tar.gz'}\n", "macos.pyenv.url",
     "an http(s) URL"),
]


@pytest.mark.parametrize("case", OVERLAYS, ids=[c[0] for c in OVERLAYS])
def test_an_overlay_field_outside_its_grammar_is_refused(tmp_path, capsys, case):
    """The CLI's entry point, real overlay file: one line naming the overlay and the field."""
    _, text, key, words = case
    line = one_line(check(tmp_path, LINUX, text, capsys=capsys))
    assert "overlay.yaml" in line and key in line and words in line, line


def test_a_good_overlay_still_loads(tmp_path, capsys):
    """The grammars accept what a real overlay holds (the lab writes ones like it)."""
    out = check(tmp_path, {**LINUX, "pythons": ["3.11"], "image_policies": ["manylinux_2_36"]},
                IMAGE.format(**GOOD) + 'tools:\n  auditwheel: {version: "6.8.2"}\n',
                capsys=capsys)
    assert out.returncode == 0, out.stderr


def test_the_shipped_matrix_meets_the_overlay_grammar():
    """Sanity for the grammars themselves: every shipped value passes them."""
    from wheelfleet.matrix.load import check_overlay_fields, default_matrix_text, read_yaml
    from wheelfleet.matrix.reader import Reader

    check_overlay_fields(Reader(read_yaml("matrix.yaml", default_matrix_text()), "matrix.yaml"))


# --- templates --------------------------------------------------------------------------------

# Every C0 control, DEL, quotes, backslashes, a TOML table header, non-ASCII and astral.
HOSTILE = [INJECTION, 'a\\"b', "x\\", "".join(chr(c) for c in range(32)) + "\x7f",
           "]\n[engine]\nruntime = 'evil'", "ünïcødé ☃ 🐍", "'single' \"double\""]


def render(name: str, **data) -> str:
    """The template as the role renders it: pyinfra's loader, the role's environment."""
    return get_template(str(TEMPLATES / name), jinja_env()).render(data)


@pytest.mark.parametrize("value", HOSTILE)
def test_containers_conf_keeps_a_hostile_value_in_one_key(value):
    """Were validation bypassed, the value still is one TOML string of one key; the old
    template (``"{{ runtime }}"``) turned the issue's value into a second key."""
    parsed = tomllib.loads(render("containers.conf.j2", runtime=value, cgroup_manager=value,
                                  events_logger=value, default_ulimits=[value, "nofile=1:1"]))
    assert parsed == {"containers": {"default_ulimits": [value, "nofile=1:1"]},
                      "engine": {"runtime": value, "cgroup_manager": value,
                                 "events_logger": value}}


@pytest.mark.parametrize("value", HOSTILE)
def test_storage_and_registries_conf_keep_hostile_values(value):
    assert tomllib.loads(render("storage.conf.j2", driver=value, graphroot=value)) == {
        "storage": {"driver": value, "runroot": "/run/containers/storage", "graphroot": value}}
    parsed = tomllib.loads(render("registries.conf.j2", insecure_registries=[value, "r:5000"]))
    assert parsed == {"registry": [{"location": value, "insecure": True},
                                   {"location": "r:5000", "insecure": True}]}


@pytest.mark.parametrize("value", HOSTILE)
def test_daemon_json_keeps_hostile_values(value):
    parsed = json.loads(render("daemon.json.j2", insecure_registries=[value],
                               default_ulimits=["x"],
                               docker_ulimits={value: {"Name": value, "Soft": 1, "Hard": 2}},
                               storage_driver=value))
    assert parsed == {"insecure-registries": [value], "storage-driver": value,
                      "default-ulimits": {value: {"Name": value, "Soft": 1, "Hard": 2}}}


def test_templates_render_valid_settings_byte_for_byte_as_before():
    """No drift on converged hosts: ordinary values render as the old templates did."""
    assert render("containers.conf.j2", runtime="runc", cgroup_manager="cgroupfs",
                  events_logger="file", default_ulimits=["nofile=1024:1024"]) == (
        "# Managed by wheelfleet (roles/linux_builder) from host data; absent keys keep "
        "podman's defaults.\n[containers]\ndefault_ulimits = [\"nofile=1024:1024\"]\n\n"
        "[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\n"
        "events_logger = \"file\"\n\n")


def test_toml_string_refuses_what_toml_cannot_hold():
    with pytest.raises(ValueError, match="surrogate"):
        toml_string("\ud800")
