"""Issues 2 and 3 on real hosts: deploys/fleet.py converges Linux builders idempotently, with
exactly the images the fleet pins (by digest), through the fleet's registry mirror."""

from __future__ import annotations

import time

import pytest
from lab.faults import delete_manifest, repush_different_bytes

from wheelfleet.lab import Registry, build_and_push

pytestmark = [pytest.mark.fleet, pytest.mark.slow]


def test_first_converge_pulls_pinned_images_and_second_changes_nothing(converged):
    fleet = converged
    for host in fleet.hosts:
        held = fleet.images_on(host)
        for policy, image in fleet.images.items():
            assert held[f"wheelfleet/{policy}_x86_64:pinned"] == image.digest
    # --debug: pyinfra logs every command it runs on a host, fact reads included.
    again = fleet.converge(fleet.inventory(), extra=["--debug"])
    assert again.returncode == 0, again.log[-2000:]
    # From pyinfra's own per-operation results, not its printed text.
    assert again.changes == {}, again.changes
    assert again.errors == {}
    assert all(again.unchanged[h] > 10 for h in fleet.hosts)
    # A converged host answers all of them in two reads: what its roles prefetched (packages,
    # every managed file, the tools venv, the wheelhouse) and the container store.
    for host in fleet.hosts:
        reads = [line for line in again.log.splitlines()
                 if f"Running command on {host}:" in line]
        assert len(reads) == 2, "\n".join(reads)
    dry = fleet.converge(fleet.inventory(), dry=True)
    assert dry.returncode == 0 and dry.changes == {}, dry.changes


def test_dropping_a_policy_removes_its_image_and_adding_it_pulls_again(converged):
    fleet = converged
    only_236 = fleet.converge(fleet.inventory("one.py", policies=["manylinux_2_36"]))
    assert only_236.returncode == 0, only_236.log[-2000:]
    assert all("linux_builder | Remove images no longer selected" in only_236.changes[h]
               for h in fleet.hosts)
    for host in fleet.hosts:
        assert list(fleet.images_on(host)) == ["wheelfleet/manylinux_2_36_x86_64:pinned"]
    both = fleet.converge(fleet.inventory())
    assert both.returncode == 0, both.log[-2000:]
    for host in fleet.hosts:
        assert fleet.images_on(host)["wheelfleet/manylinux_2_41_x86_64:pinned"] == \
            fleet.images["manylinux_2_41"].digest


def test_registry_serving_other_bytes_under_the_pin_fails_that_host_only(converged):
    fleet = converged
    pinned = fleet.images["manylinux_2_41"]
    tf1, tf2 = fleet.hosts
    # tf1 must pull (its copy is gone); tf2 still holds the pinned bytes.
    assert fleet.ssh(tf1, "podman rmi --all --force").returncode == 0
    repush = repush_different_bytes(fleet.registry, pinned.repository, pinned.tag)
    assert delete_manifest(fleet.registry, pinned.repository, pinned.digest) == 202
    try:
        result = fleet.converge(fleet.inventory())
        assert result.returncode != 0
        assert tf1 in result.failed_hosts and tf2 not in result.failed_hosts
        assert "linux_builder | Pinned image manylinux_2_41_x86_64" in result.errors[tf1]
        assert tf2 not in result.errors
        line = next(ln for ln in result.log.splitlines() if "wheelfleet: image" in ln)
        assert "manylinux_2_41_x86_64" in line
        assert f"expected digest {pinned.digest}" in line
        assert repush.new_digest in line
        # Nothing half-pulled is left under the stable name.
        assert "wheelfleet/manylinux_2_41_x86_64:pinned" not in fleet.images_on(tf1)
    finally:
        # The cached root pushes to the same digest again: the pin is served once more.
        assert build_and_push(fleet.registry, "manylinux_2_41", pinned.tag).digest == \
            pinned.digest
    healed = fleet.converge(fleet.inventory())
    assert healed.returncode == 0, healed.log[-2000:]
    assert fleet.images_on(tf1)["wheelfleet/manylinux_2_41_x86_64:pinned"] == pinned.digest


def test_registry_down_gives_a_clear_error_within_the_timeout(converged):
    fleet = converged
    tf1, tf2 = fleet.hosts
    # By ID: removing only the name may leave the bytes, and a pull by digest is then local.
    assert fleet.ssh(tf1, "podman rmi --all --force").returncode == 0
    fleet.registry.stop()
    try:
        started = time.monotonic()
        result = fleet.converge(fleet.inventory("down.py", pull_timeout=60))
        elapsed = time.monotonic() - started
        assert tf1 in result.failed_hosts and tf2 not in result.failed_hosts
        line = next(ln for ln in result.log.splitlines() if "wheelfleet: image" in ln)
        assert "manylinux_2_36_x86_64" in line and "connection refused" in line
        assert fleet.images["manylinux_2_36"].digest in line
        print(f"registry down: converge failed in {elapsed:.1f}s (pull_timeout 60s)")
    finally:
        fleet.registry = Registry.start(fleet.registry.state_dir, port=fleet.registry.port)
    healed = fleet.converge(fleet.inventory())
    assert healed.returncode == 0, healed.log[-2000:]
