"""Issue 4 on real hosts: every node proves, per selected image x Python, that it builds a wheel
that repairs, installs and imports — and faults are caught at the right step, alone."""

from __future__ import annotations

import pytest
from lab.faults import push_variant

from wheelfleet.canary import expected_digest
from wheelfleet.health.agent import STEPS
from wheelfleet.health.run import run_health
from wheelfleet.lab import overlay_text

pytestmark = [pytest.mark.fleet, pytest.mark.slow]


def records_by_host(docs):
    return {host: {(c["image"], c["python"], c["variant"]): c for c in doc["checks"]}
            for host, doc in docs.items()}


def assert_all_passed(records):
    for key, rec in records.items():
        assert rec["status"] == "passed", (key, rec.get("step"), rec.get("diagnosis"),
                                           rec.get("output_tail"))


@pytest.fixture(scope="module")
def healthy(converged):
    docs, run = run_health(converged.inventory())
    assert run.returncode == 0, run.log[-2000:]
    return converged, records_by_host(docs), docs


def test_every_selected_python_passes_with_libcrypto_grafted(healthy):
    fleet, by_host, docs = healthy
    for host in fleet.hosts:
        recs = by_host[host]
        # Both images, their Python, default and abi3 variants: nothing left out.
        assert set(recs) == {("manylinux_2_36_x86_64", "cp311-cp311", "default"),
                             ("manylinux_2_36_x86_64", "cp311-cp311", "abi3"),
                             ("manylinux_2_41_x86_64", "cp313-cp313", "default"),
                             ("manylinux_2_41_x86_64", "cp313-cp313", "abi3")}
        assert_all_passed(recs)
        for (image, python, variant), rec in recs.items():
            assert rec["answer"] == expected_digest()
            # The controller fetched the repaired wheel and wheelcheck found nothing wrong.
            assert rec["wheelcheck"] == [], rec["wheelcheck"]
            assert any(lib.startswith("wheelfleet_canary.libs/libcrypto-")
                       for lib in rec["bundled_libs"]), rec["bundled_libs"]
            policy = image.removesuffix("_x86_64")
            tag = "cp38-abi3" if variant == "abi3" else python
            assert rec["wheel"].startswith(f"wheelfleet_canary-1.0.0-{tag}-")
            # auditwheel may add older compatible tags; the requested policy must be there.
            platforms = rec["wheel"].removesuffix(".whl").split("-")[-1].split(".")
            assert f"{policy}_x86_64" in platforms, rec["wheel"]
            versions = rec["versions"]
            assert versions["auditwheel"] == "6.8.2" and versions["gcc"]
            assert versions["glibc"] == {"manylinux_2_36": "2.36", "manylinux_2_41": "2.41"}[
                policy]
        assert docs[host]["tools"]["podman"]


def run_round(fleet, name, host_data=None):
    docs, run = run_health(fleet.inventory(f"{name}.py", host_data=host_data))
    assert set(docs) == set(fleet.hosts), run.log[-2000:]
    return records_by_host(docs)


def converge_with(fleet, name, host_data=None):
    result = fleet.converge(fleet.inventory(f"{name}.py", host_data=host_data))
    assert result.returncode == 0, result.log[-2000:]


def assert_fault(records, step, words, image="manylinux_2_41_x86_64"):
    """The faulted image fails at ``step``; the host's other image still passes."""
    faulty = {k: r for k, r in records.items() if image in (None, k[0])}
    assert faulty and all(r["status"] == "failed" for r in faulty.values()), faulty
    for rec in faulty.values():
        assert rec["step"] == step, (rec["step"], rec["diagnosis"], rec["output_tail"])
        assert words in rec["diagnosis"], rec["diagnosis"]
        assert rec["output_tail"], "a failed step carries its output"
    assert_all_passed({k: r for k, r in records.items() if k not in faulty})


# Image faults, two per round: each host of the fleet gets its own broken variant of the
# manylinux_2_41 image, pinned by digest through a host-level overlay, built for real.
IMAGE_FAULTS = {
    "nocc": ("rm -f /usr/bin/gcc* /usr/bin/x86_64-linux-gnu-gcc* /usr/bin/cc",
             "build", "compiler missing in the image"),
    "badpython": ("rm -rf /usr/lib/python3.13/encodings", "interpreter", "interpreter is broken"),
    "nopatchelf": ("rm -f /usr/local/bin/patchelf /opt/_internal/auditwheel/bin/patchelf",
                   "repair", "patchelf"),
    # Bundling defeated: the repair tool is told to leave libcrypto out of the wheel.
    "nobundle": ("mv /usr/local/bin/auditwheel /usr/local/bin/auditwheel.real && printf "
                 "'#!/bin/sh\\nexec /usr/local/bin/auditwheel.real \"$@\" --exclude "
                 "libcrypto.so.3\\n' > /usr/local/bin/auditwheel && "
                 "chmod +x /usr/local/bin/auditwheel", "import", "not bundled"),
}


@pytest.mark.parametrize("faults", [("nocc", "badpython"), ("nopatchelf", "nobundle")],
                         ids=lambda f: "+".join(f))
def test_image_faults_fail_the_right_step_only_there(healthy, tmp_path, faults):
    fleet, _, _ = healthy
    host_data = {}
    for host, fault in zip(fleet.hosts, faults, strict=True):
        script = IMAGE_FAULTS[fault][0]
        broken = push_variant(fleet.registry, fleet.images["manylinux_2_41"], f"fault-{fault}",
                              script)
        overlay = tmp_path / f"{fault}.yaml"
        overlay.write_text(overlay_text([fleet.images["manylinux_2_36"], broken]))
        host_data[host] = {"matrix_overlay": str(overlay)}
    converge_with(fleet, "conv-" + "-".join(faults), host_data)
    by_host = run_round(fleet, "-".join(faults), host_data)
    for host, fault in zip(fleet.hosts, faults, strict=True):
        _, step, words = IMAGE_FAULTS[fault]
        assert_fault(by_host[host], step, words)


def test_digest_drift_and_disk_full_on_the_nodes(healthy):
    fleet, _, _ = healthy
    converge_with(fleet, "restore")  # back to the pinned images after the image faults
    tf1, tf2 = fleet.hosts
    # tf1: someone re-tagged the stable name to other bytes on the node.
    retag = fleet.ssh(tf1, "podman tag wheelfleet/manylinux_2_36_x86_64:pinned "
                           "wheelfleet/manylinux_2_41_x86_64:pinned")
    assert retag.returncode == 0, retag.stderr
    # tf2: a real full filesystem, a 600 KiB tmpfs over the node's work dir.
    work = "/var/tmp/wheelfleet/health"
    mount = fleet.ssh(tf2, f"mkdir -p {work} && mount -t tmpfs -o size=600k wf-full {work}")
    assert mount.returncode == 0, mount.stderr
    try:
        by_host = run_round(fleet, "drift-diskfull")
        assert_fault(by_host[tf1], "image", "drifted from the pin")
        rec = by_host[tf1][("manylinux_2_41_x86_64", "cp313-cp313", "default")]
        assert fleet.images["manylinux_2_41"].digest in rec["diagnosis"]
        assert fleet.images["manylinux_2_36"].digest in rec["diagnosis"]
        # The disk fills wherever the next write lands (usually repair, which grafts
        # libcrypto; with checks running in parallel it can be any step): whichever step that
        # is, the record names it and says why.
        for rec in by_host[tf2].values():
            assert rec["status"] == "failed" and rec["step"] in STEPS, rec
            assert rec["diagnosis"] == "disk full in the work directory", rec["diagnosis"]
            assert any("No space left on device" in line for line in rec["output_tail"])
    finally:
        fleet.ssh(tf2, f"umount {work}")
        converge_with(fleet, "restore-end")
