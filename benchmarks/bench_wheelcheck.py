"""Benchmark: ``wheelfleet check-wheel`` against ``auditwheel show`` on the same Linux wheels.

Run: ``.venv/bin/python benchmarks/bench_wheelcheck.py``

Both tools run as a user would run them, as subprocesses of this venv:

* auditwheel: ``auditwheel show --json WHEEL``, once per wheel (it takes one wheel at a time);
* wheelcheck: ``check-wheel --json WHEEL...`` once over the whole batch (its normal use), and,
  for a like-for-like figure, also once per wheel.

The wheels are the pinned Linux wheels of tests/wheelcheck/test_real_wheels.py (downloaded
into ~/.cache/wheelfleet/pypi-wheels on first use). It prints wall times, the speed-up ratios,
and whether the two tools' verdicts (symbol versions fit the tag; external libraries to
bundle) agree for every wheel. Exit status 1 if any verdict differs. Not a timed test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests" / "wheelcheck"
sys.path.insert(0, str(TESTS))

from real_wheels import fetch_all  # noqa: E402
from test_real_wheels import (  # noqa: E402
    REAL_WHEELS,
    auditwheel_verdict_from_json,
    run_auditwheel_show,
    wheelcheck_verdict_from_problems,
)

from wheelfleet.wheelcheck import Problem  # noqa: E402

TARGET_RATIO = 10.0


def run_check_wheel(paths: list[Path], *options: str) -> list[dict]:
    """``check-wheel --json`` as a subprocess (the CLI module, which the console script calls)."""
    command = [sys.executable, "-m", "wheelfleet.wheelcheck.cli", "--json", *options]
    command += map(str, paths)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode not in (0, 1):
        raise SystemExit(f"check-wheel failed ({result.returncode}): {result.stderr}")
    return json.loads(result.stdout)


def main() -> int:
    wheels = [w for w in REAL_WHEELS if w.is_linux]
    paths = [fetch_all(wheels)[w] for w in wheels]
    total_mb = sum(p.stat().st_size for p in paths) / 1e6
    print(f"{len(paths)} Linux wheels, {total_mb:.0f} MB compressed\n")

    started = time.perf_counter()
    auditwheel_out = {}
    auditwheel_each = {}
    for path in paths:
        t0 = time.perf_counter()
        auditwheel_out[path.name] = run_auditwheel_show(path)
        auditwheel_each[path.name] = time.perf_counter() - t0
    auditwheel_total = time.perf_counter() - started

    started = time.perf_counter()
    batch = run_check_wheel(paths)
    wheelcheck_batch = time.perf_counter() - started

    # One worker: shows the speed-up does not come from using both cores.
    started = time.perf_counter()
    run_check_wheel(paths, "--jobs", "1")
    wheelcheck_one_job = time.perf_counter() - started

    started = time.perf_counter()
    for path in paths:
        run_check_wheel([path])
    wheelcheck_per_wheel = time.perf_counter() - started

    disagreements = 0
    print(f"{'wheel':<100} {'auditwheel':>10}  verdicts")
    for entry, path in zip(batch, paths, strict=True):
        problems = [Problem(**p) for p in entry["problems"]]
        ours = wheelcheck_verdict_from_problems(problems)
        theirs = auditwheel_verdict_from_json(path.name, auditwheel_out[path.name])
        agreed = ours == theirs
        disagreements += not agreed
        label = "agree" if agreed else f"DIFFER ours={ours} auditwheel={theirs}"
        print(f"{path.name:<100} {auditwheel_each[path.name]:>9.2f}s  {label}")

    batch_ratio = auditwheel_total / wheelcheck_batch
    one_job_ratio = auditwheel_total / wheelcheck_one_job
    per_wheel_ratio = auditwheel_total / wheelcheck_per_wheel
    print()
    print(f"auditwheel show, one process per wheel : {auditwheel_total:8.2f} s")
    print(f"check-wheel, one process for the batch : {wheelcheck_batch:8.2f} s")
    print(f"check-wheel, batch with --jobs 1       : {wheelcheck_one_job:8.2f} s")
    print(f"check-wheel, one process per wheel     : {wheelcheck_per_wheel:8.2f} s")
    print(f"speed-up (batch)                       : {batch_ratio:8.1f}x")
    print(f"speed-up (batch, --jobs 1)             : {one_job_ratio:8.1f}x")
    print(f"speed-up (per wheel)                   : {per_wheel_ratio:8.1f}x")
    print(f"target >= {TARGET_RATIO:.0f}x (batch)                : "
          f"{'met' if batch_ratio >= TARGET_RATIO else 'NOT met'}")
    print(f"verdicts agreed                        : {len(paths) - disagreements}/{len(paths)}")
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
