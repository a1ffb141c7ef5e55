"""Malformed matrices and inventories give one line naming the file, the key and what was
expected — never a traceback — and nothing connects."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

GOOD_LINUX = {"pythons": ["3.12"], "arches": ["x86_64"], "image_policies": ["manylinux_2_28"],
              "ssh_strict_host_key_checking": "yes"}  # check-inventory refuses unpinned keys


def inventory(tmp_path: Path, groups: dict[str, tuple[list, dict]], extra: str = "") -> Path:
    body = "\n".join(f"{name} = ({hosts!r}, {data!r})" for name, (hosts, data) in groups.items())
    path = tmp_path / "fleet.py"
    path.write_text(body + "\n" + extra)
    return path


def check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wheelfleet.cli", "check-inventory", str(path)],
                          capture_output=True, text=True, timeout=120)


def linux(**changes) -> dict[str, tuple[list, dict]]:
    data = dict(GOOD_LINUX)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return {"linux": (["b1"], data)}


OVERLAY_IMAGE = """
images:
  - policy: manylinux_2_36
    arch: x86_64
    repository: 127.0.0.1:5000/pypa/manylinux_2_36_x86_64
    digest: {digest}
    state: test
    pythons: [cp311-cp311]
"""

CASES = [
    # (id, groups, overlay text or None, expected key, expected words)
    ("unknown-python", linux(pythons=["3.12", "3.99"]), None, "b1.pythons[1]",
     "unknown Python '3.99'"),
    ("typo-key", linux(pyhtons=["3.12"]), None, "b1.pyhtons", "did you mean 'pythons'"),
    ("pythons-not-list", linux(pythons="3.12"), None, "b1.pythons", "expected a list"),
    ("pythons-empty", linux(pythons=[]), None, "b1.pythons", "empty"),
    ("pythons-missing", linux(pythons=None), None, "b1.pythons", "missing"),
    ("arch-unknown", linux(arches=["x86-64"]), None, "b1.arches[0]", "linux has no arch"),
    ("policy-unknown", linux(image_policies=["manylinux_2_99"]), None, "b1.image_policies[0]",
     "no pinned image for policy"),
    ("policy-eol", linux(image_policies=["manylinux1"]), None, "b1.image_policies[0]",
     "EOL since 2022-01-01"),
    ("policy-lacks-arch", linux(arches=["aarch64"], image_policies=["manylinux_2_34"]), None,
     "b1.image_policies[0]", "no pinned aarch64 image"),
    ("python-not-in-images", linux(pythons=["3.4"]), None, "b1.pythons",
     "in none of the selected images"),
    ("engine-unknown", linux(container_engine="rkt"), None, "b1.container_engine",
     "expected one of podman, docker"),
    ("mirror-is-url", linux(registry_mirrors={"quay.io": "https://mirror/x"}), None,
     "b1.registry_mirrors.quay.io", "expected host[:port]"),
    ("timeout-negative", linux(pull_timeout=-5), None, "b1.pull_timeout",
     "positive integer"),
    ("no-platform-group", {"builders": (["b1"], GOOD_LINUX)}, None, "b1",
     "no platform group"),
    ("two-platform-groups", {"linux": (["b1"], GOOD_LINUX), "macos": (["b1"], {})}, None, "b1",
     "several platform groups"),
    ("windows-arch-missing", {"windows": (["w1"], {"pythons": ["3.10"], "arches": ["arm64"]})},
     None, "w1.arches[0]", "Python 3.10 has no arm64 (win_arm64) interpreter"),
    ("windows-linux-arch", {"windows": (["w1"], {"pythons": ["3.12"], "arches": ["x86_64"]})},
     None, "w1.arches[0]", "windows has no arch 'x86_64'"),
    ("macos-universal2-38", {"macos": (["m1"], {"pythons": ["3.8"], "arches": ["universal2"]})},
     None, "m1.arches[0]", "Python 3.8 has no universal2 build"),
    ("macos-universal2-27", {"macos": (["m1"], {"pythons": ["2.7"], "arches": ["universal2"]})},
     None, "m1.arches[0]", "Python 2.7 has no universal2 build"),
    ("macos-arm64-310-unlocked", {"macos": (["m1"], {"pythons": ["3.10"], "arches": ["arm64"]})},
     None, "m1.pythons[0]", "Python 3.10's macOS installer has no sha256 in the matrix"),
    ("macos-mirror-with-path", {"macos": (["m1"], {
        "pythons": ["3.12"], "arches": ["arm64"],
        "artifact_mirrors": {"https://www.python.org": "http://127.0.0.1:8080/x"}})},
     None, "m1.artifact_mirrors.https://www.python.org", "expected an origin"),
    ("overlay-missing-file", linux(matrix_overlay="nope.yaml"), None, "b1.matrix_overlay",
     "does not exist"),
    ("overlay-digest-missing", linux(image_policies=["manylinux_2_36"],
                                     matrix_overlay="overlay.yaml"),
     OVERLAY_IMAGE.replace("    digest: {digest}\n", ""), "images[0].digest",
     "pinned by digest"),
    ("overlay-digest-tag", linux(image_policies=["manylinux_2_36"],
                                 matrix_overlay="overlay.yaml"),
     OVERLAY_IMAGE.format(digest="latest"), "images[0].digest", "got 'latest'"),
    ("overlay-bad-yaml", linux(matrix_overlay="overlay.yaml"), "images: [\n  - {policy: x",
     "line", "invalid YAML"),
    ("overlay-unknown-key", linux(matrix_overlay="overlay.yaml"), "imagez: []\n", "imagez",
     "did you mean 'images'"),
    ("overlay-new-python", linux(matrix_overlay="overlay.yaml"),
     "pythons:\n  '3.99': {version: '3.99.0'}\n", "pythons.3.99", "unknown Python"),
    ("overlay-bad-sha256", linux(matrix_overlay="overlay.yaml"),
     "pythons:\n  '3.11':\n    macos: {sha256: abc}\n", "pythons.3.11.macos.sha256",
     "64 lowercase hex"),
    ("overlay-image-arch", linux(matrix_overlay="overlay.yaml"),
     OVERLAY_IMAGE.replace("arch: x86_64", "arch: amd64").format(digest="sha256:" + "a" * 64),
     "images[0].arch", "unknown Linux arch 'amd64'"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_line(tmp_path, case):
    _, groups, overlay, key, words = case
    if overlay is not None:
        (tmp_path / "overlay.yaml").write_text(overlay)
    path = inventory(tmp_path, groups)
    out = check(path)
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "Traceback" not in out.stderr
    assert key in lines[0], lines[0]
    assert words in lines[0], lines[0]
    # The line names the file where the problem is.
    assert ("overlay.yaml" if overlay is not None and "overlay" in case[0]
            and case[0] != "overlay-missing-file" else "fleet.py") in lines[0]


def test_a_good_overlay_adds_a_selectable_image(tmp_path):
    (tmp_path / "overlay.yaml").write_text(OVERLAY_IMAGE.format(digest="sha256:" + "b" * 64))
    path = inventory(tmp_path, linux(pythons=["3.11"], image_policies=["manylinux_2_36"],
                                     matrix_overlay="overlay.yaml"))
    out = check(path)
    assert out.returncode == 0, out.stderr
    assert "images=manylinux_2_36_x86_64" in out.stdout


def test_pyinfra_refuses_a_bad_inventory_before_connecting(tmp_path):
    """The guard in an inventory file stops pyinfra itself: one line, exit 2, no connection."""
    path = inventory(tmp_path, linux(pythons=["3.99"]),
                     extra=textwrap.dedent("""
                         from wheelfleet.fleetfile import guard
                         guard(__file__)
                     """))
    pyinfra = Path(sys.executable).parent / "pyinfra"
    out = subprocess.run([str(pyinfra), "-y", str(path), "exec", "--", "true"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "unknown Python '3.99'" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    assert "Connecting" not in out.stdout + out.stderr


def test_example_inventory_is_valid():
    root = Path(__file__).resolve().parents[1]
    out = check(root / "inventory" / "example.py")
    assert out.returncode == 0, out.stderr
    assert "ok: 8 hosts" in out.stdout
