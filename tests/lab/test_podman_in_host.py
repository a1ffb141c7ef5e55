"""Stretch: podman (runtime runc) runs a container inside a test host.

Installs podman in the host from the controller's mirror (~20 s), imports a tiny image
made from the host's own dash + libc, and runs it with ``--network none`` (the hosts share
the controller's network namespace: a bridge network would change its firewall).
"""

from __future__ import annotations

import pytest

from wheelfleet.lab import Fleet

from .fleet_fixture import fleet_fixture, run_pyinfra

pytestmark = [pytest.mark.fleet, pytest.mark.slow]

podman_fleet = fleet_fixture(1, first_octet_offset=80, scope="module")

# What a host needs beyond the mounts testfleet provides (/sys/fs/cgroup, /run and
# /dev/shm tmpfs, /var/lib/containers on a non-overlay fs): no systemd, so cgroupfs and
# file events; explicit ulimits because this machine's root lacks CAP_SYS_RESOURCE and
# podman's default nofile=1048576 cannot be set ("error setting rlimit type 7").
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""

SCRIPT = f"""set -e
export DEBIAN_FRONTEND=noninteractive
log=/tmp/podman-install.log
apt-get install -y -q podman runc >$log 2>&1 || {{ tail -5 $log; exit 1; }}
mkdir -p /etc/containers
cat > /etc/containers/containers.conf <<'CONF'
{CONTAINERS_CONF}CONF
img=$(mktemp -d)
mkdir -p $img/usr/bin $img/lib/x86_64-linux-gnu $img/lib64
cp /usr/bin/dash $img/usr/bin/
cp /lib/x86_64-linux-gnu/libc.so.6 $img/lib/x86_64-linux-gnu/
cp /lib64/ld-linux-x86-64.so.2 $img/lib64/
tar -C $img -cf /tmp/tiny.tar .
podman import -q /tmp/tiny.tar localhost/tiny:latest >/dev/null
podman --runtime runc run --rm --network none localhost/tiny \\
    /usr/bin/dash -c 'echo CONTAINER-OK pid=$$'
podman info --format 'DRIVER={{{{.Store.GraphDriverName}}}} CGROUPS={{{{.Host.CgroupsVersion}}}}'
"""


def test_podman_runc_runs_inside_a_host(podman_fleet: Fleet) -> None:
    if not (podman_fleet.hosts[0].root / "lib64/ld-linux-x86-64.so.2").exists():
        pytest.skip("the tiny image recipe is for x86_64")
    result = run_pyinfra(podman_fleet, "exec", "--", SCRIPT, timeout=900)
    assert result.returncode == 0, result.stdout
    assert "CONTAINER-OK pid=1" in result.stdout, result.stdout
    assert "DRIVER=overlay" in result.stdout, result.stdout
