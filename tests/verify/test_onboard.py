"""``wheelfleet onboard`` on real hosts: refuse a host whose real platform is not its inventory
group's (before changing anything), then take a bare host to verified."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from wheelfleet.report import load_report

pytestmark = [pytest.mark.fleet, pytest.mark.slow]

# What a converge would change on a bare host: packages, /etc, /opt/wheelfleet, the wheelhouse.
SNAPSHOT = ("dpkg-query -W -f '${Package} ${Version}\\n' | sha256sum; "
            "find /etc /opt /usr /var/cache /var/lib/dpkg -newer /root/.wf-before | head -5; "
            "test -e /opt/wheelfleet && echo converged || echo bare")


def test_onboard_refuses_a_host_whose_platform_is_not_its_group(verify_fleet):
    vf = verify_fleet
    inventory = vf.inventory("wrong.py", {
        "linux": ([("tf1", vf.host("tf1"))], vf.group_data),
        "macos": ([("tf3", vf.host("tf3"))], {"pythons": ["3.12"], "arches": ["arm64"]}),
    })
    assert vf.ssh("tf3", "touch /root/.wf-before && sleep 1").returncode == 0
    before = vf.ssh("tf3", SNAPSHOT).stdout
    assert before.rstrip().endswith("bare"), before
    proc = vf.wheelfleet("onboard", str(inventory), "tf3", "--reports-root",
                         str(vf.work / "wrong-reports"), timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = proc.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert line.startswith(f"wheelfleet: {inventory}: tf3: listed in the 'macos' group but "
                           "the host runs Linux (linux)"), line
    assert line.endswith("nothing was changed")
    assert vf.ssh("tf3", SNAPSHOT).stdout == before  # same packages, no file newer, still bare
    assert not (vf.work / "wrong-reports").exists()


def test_onboard_takes_a_bare_host_to_verified(verify_fleet):
    vf = verify_fleet
    # The rest of the fleet, the down host included, is in the inventory but never touched.
    inventory = vf.inventory("onboard.py", {"linux": ([
        ("tf1", vf.host("tf1")), ("tf3", vf.host("tf3")), ("tf9", vf.down_host()),
    ], vf.group_data)})
    assert vf.ssh("tf3", "test -e /opt/wheelfleet").returncode != 0  # bare
    root = vf.work / "onboard-reports"
    started = time.monotonic()
    proc = vf.wheelfleet("onboard", str(inventory), "tf3", "--reports-root", str(root),
                         timeout=1800)
    elapsed = time.monotonic() - started
    print(f"onboard tf3 (bare -> verified): {elapsed:.1f}s\n{proc.stdout}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    verdict = proc.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"onboard tf3: VERIFIED \(2/2 checks passed, no drift\); report: (.+)",
                         verdict)
    assert match, verdict
    report = load_report(Path(match[1]) / "report.json")
    assert report["verdict"] == "passed"
    assert [h["host"] for h in report["hosts"]] == ["tf3"]
    assert report["hosts"][0]["drift"] == {"checked": True, "changes": [], "error": None}
