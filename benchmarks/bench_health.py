"""Benchmark the health check on one real local test host (needs root).

    .venv/bin/python benchmarks/bench_health.py

Brings up a registry with the two manylinux-like test images and one test host, converges it,
then times the health check (2 images x {default, abi3} = 4 checks):

* cold: page cache dropped first (``echo 3 > /proc/sys/vm/drop_caches``), checks one at a time;
* warm: the same again, straight after;
* parallel: warm, with ``health_parallel: 2`` (this machine has 2 cores).

Prints seconds per check and the ratios cold/warm and serial/parallel, all from this one run.
Everything it started is stopped at the end.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from wheelfleet.health.run import run_health
from wheelfleet.lab import bring_up, tear_down, write_inventory
from wheelfleet.pyinfra_run import repo_file, run_deploy

POLICIES = ["manylinux_2_36", "manylinux_2_41"]


def timed_health(inventory: Path) -> tuple[float, list[dict]]:
    started = time.monotonic()
    docs, run = run_health(inventory)
    wall = time.monotonic() - started
    records = [c for doc in docs.values() for c in doc["checks"]]
    failed = [c for c in records if c["status"] != "passed"]
    if run.returncode != 0 or not records or failed:
        raise SystemExit(f"health check did not pass: {failed or run.log[-2000:]}")
    return wall, records


def main() -> int:
    state = Path(tempfile.mkdtemp(prefix="wfb", dir="/tmp"))
    try:
        local = bring_up(state, hosts=1, policies=POLICIES, first_octet_offset=100,
                         port=5058)
        assert local.fleet is not None
        serial = write_inventory(state / "serial.py", local.fleet,
                                 {**local.group_data, "health_parallel": 1})
        parallel = write_inventory(state / "parallel.py", local.fleet,
                                   {**local.group_data, "health_parallel": 2})
        result = run_deploy(serial, repo_file("deploys/fleet.py"))  # puts the serial plan
        if result.returncode != 0:
            raise SystemExit(f"converge failed:\n{result.log[-3000:]}")

        subprocess.run(["sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches"], check=True,
                       timeout=60)
        cold, cold_records = timed_health(serial)
        warm, warm_records = timed_health(serial)
        run_deploy(parallel, repo_file("deploys/fleet.py"))
        par, _ = timed_health(parallel)

        checks = len(warm_records)
        per_cold = sum(c["duration_s"] for c in cold_records) / checks
        per_warm = sum(c["duration_s"] for c in warm_records) / checks
        print(f"health check, {checks} checks on one host (2 images x default/abi3)")
        print(f"  cold (page cache dropped), serial : {cold:6.1f} s wall, "
              f"{per_cold:5.1f} s per check")
        print(f"  warm, serial                      : {warm:6.1f} s wall, "
              f"{per_warm:5.1f} s per check")
        print(f"  warm, 2 Pythons in parallel       : {par:6.1f} s wall")
        print(f"  ratio cold/warm per check         : {per_cold / per_warm:5.2f}x")
        print(f"  speed-up of parallel over serial  : {warm / par:5.2f}x (wall)")
        return 0
    finally:
        tear_down(state)
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
