"""Benchmark the health check on one real local test host (needs root).

    .venv/bin/python benchmarks/bench_health.py

Brings up a registry with the two manylinux-like test images and one test host, converges it,
then times the health check (2 images x {default, abi3} = 4 checks, one Python per image):

* cold: page cache dropped first (``echo 3 > /proc/sys/vm/drop_caches``), serial
  (``health_parallel: 1``); the first run also fills the node's build-requirements cache;
* warm: the same again, straight after;
* parallel: warm, with ``health_parallel: 2`` (this machine has 2 cores): one container per
  image, the two images at once.

Prints, all from this one run: wall seconds of each run; per step, the mean seconds a check
spent in it (warm, serial; from the node agent's own records, ``step_s``, where ``shared`` is
a check's part of its container's start, tool probe and libcrypto hiding); seconds per check
and per Python (its default and abi3 checks together); the ratios cold/warm and
serial/parallel.  Everything it started is stopped at the end.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from wheelfleet.health.agent import STEPS
from wheelfleet.health.run import run_health
from wheelfleet.lab import bring_up, tear_down, write_inventory
from wheelfleet.lab.fleet import Fleet
from wheelfleet.platforms.linux import LinuxSettings
from wheelfleet.pyinfra_run import repo_file, run_deploy

POLICIES = ["manylinux_2_36", "manylinux_2_41"]


def node_records(fleet: Fleet, host: str) -> list[dict]:
    """The agent's own records of its last run (``records.jsonl`` in the node's work dir),
    with the per-step seconds the report's schema does not carry."""
    record = next(r for r in fleet.hosts if r.name == host)
    work = LinuxSettings().work_dir
    proc = subprocess.run(
        ["ssh", "-q", "-i", str(fleet.client_key), "-o", f"UserKnownHostsFile={fleet.known_hosts}",
         "-o", "BatchMode=yes", "-p", str(record.port), f"root@{record.address}",
         f"cat {work}/records.jsonl"], capture_output=True, text=True, timeout=60, check=True)
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return [line["record"] for line in lines if line.get("event") == "record"]


def timed_health(inventory: Path, fleet: Fleet) -> tuple[float, list[dict]]:
    started = time.monotonic()
    docs, run = run_health(inventory)
    wall = time.monotonic() - started
    records = [c for doc in docs.values() for c in doc["checks"]]
    failed = [c for c in records if c["status"] != "passed"]
    if run.returncode != 0 or not records or failed:
        raise SystemExit(f"health check did not pass: {failed or run.log[-2000:]}")
    raw = [r for host in docs for r in node_records(fleet, host)]
    if len(raw) != len(records):
        raise SystemExit(f"the node's records.jsonl holds {len(raw)} records, the report "
                         f"{len(records)}")
    return wall, raw


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def per_python(records: list[dict]) -> float:
    """Seconds per Python: every check of a (image, Python) together, averaged."""
    pythons: dict[tuple[str, str], float] = {}
    for rec in records:
        key = (rec["image"], rec["python"])
        pythons[key] = pythons.get(key, 0.0) + rec["duration_s"]
    return mean(list(pythons.values()))


def main() -> int:
    state = Path(tempfile.mkdtemp(prefix="wfb", dir="/tmp"))
    try:
        local = bring_up(state, hosts=1, policies=POLICIES, first_octet_offset=100,
                         port=5058)
        fleet = local.fleet
        assert fleet is not None
        serial = write_inventory(state / "serial.py", fleet,
                                 {**local.group_data, "health_parallel": 1})
        parallel = write_inventory(state / "parallel.py", fleet,
                                   {**local.group_data, "health_parallel": 2})
        result = run_deploy(serial, repo_file("deploys/fleet.py"))  # puts the serial plan
        if result.returncode != 0:
            raise SystemExit(f"converge failed:\n{result.log[-3000:]}")

        subprocess.run(["sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches"], check=True,
                       timeout=60)
        cold, cold_records = timed_health(serial, fleet)
        warm, warm_records = timed_health(serial, fleet)
        run_deploy(parallel, repo_file("deploys/fleet.py"))
        par, par_records = timed_health(parallel, fleet)

        checks = len(warm_records)
        pythons = len({(r["image"], r["python"]) for r in warm_records})
        per_cold = mean([c["duration_s"] for c in cold_records])
        per_warm = mean([c["duration_s"] for c in warm_records])
        per_par = mean([c["duration_s"] for c in par_records])
        print(f"health check, {checks} checks on one host ({len(POLICIES)} images x "
              f"default/abi3, {pythons} Pythons)")
        print(f"  cold (page cache dropped), serial : {cold:6.1f} s wall, "
              f"{per_cold:5.2f} s per check, {per_python(cold_records):5.2f} s per Python")
        print(f"  warm, serial                      : {warm:6.1f} s wall, "
              f"{per_warm:5.2f} s per check, {per_python(warm_records):5.2f} s per Python")
        print(f"  warm, 2 images in parallel        : {par:6.1f} s wall, "
              f"{per_par:5.2f} s per check, {per_python(par_records):5.2f} s per Python")
        print("  per step, warm serial (mean s per check; shared = container start, tool "
              "probe, hiding)")
        for step in [*STEPS, "shared"]:
            seconds = mean([r["step_s"].get(step, 0.0) for r in warm_records])
            print(f"    {step:<12}: {seconds:5.2f}")
        print(f"  ratio cold/warm per check         : {per_cold / per_warm:5.2f}x")
        print(f"  speed-up of parallel over serial  : {warm / par:5.2f}x (wall); check seconds "
              f"summed: {sum(c['duration_s'] for c in warm_records):.1f} serial, "
              f"{sum(c['duration_s'] for c in par_records):.1f} parallel (2 cores shared)")
        return 0
    finally:
        tear_down(state)
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
