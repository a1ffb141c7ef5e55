"""Benchmark: ``wheelfleet check-wheel`` over a corpus of real wheels, and against
``auditwheel show`` on its Linux wheels, side by side in one run.

Run: ``.venv/bin/python benchmarks/bench_wheelcheck.py``

The corpus is the pinned real wheels of tests/wheelcheck/test_real_wheels.py plus the pinned
``CORPUS_EXTRA`` below: over 200 wheels of every platform (downloaded with pip into
~/.cache/wheelfleet/pypi-wheels on first use). Every tool runs as a user would run it, as a
subprocess of this venv:

* check-wheel over the whole corpus, as one batch (its normal use) and with ``--jobs 1``:
  seconds, MB/s (compressed wheel bytes), peak memory of the process and its workers;
* on the Linux wheels: ``auditwheel show --json WHEEL`` once per wheel (it takes one at a
  time), and check-wheel as one batch, with ``--jobs 1`` and once per wheel; the speed-up
  ratios, and whether the two tools' verdicts (symbol versions fit the tag; external libraries
  to bundle) agree on every wheel.

Exit status 1 if a verdict differs or a pinned test wheel reports other than its known
violations. Not a timed test: the figures are printed, not asserted.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests" / "wheelcheck"
sys.path.insert(0, str(TESTS))

from hostile_builders import Measured, run_measured  # noqa: E402
from real_wheels import RealWheel, fetch_all  # noqa: E402
from test_real_wheels import (  # noqa: E402
    KNOWN_VIOLATIONS,
    REAL_WHEELS,
    auditwheel_verdict_from_json,
    run_auditwheel_show,
    wheelcheck_verdict_from_problems,
)

from wheelfleet.wheelcheck import Problem  # noqa: E402

TARGET_RATIO = 10.0
TIMEOUT = 3600


def _extra(requirement: str, platforms: str, *filenames: str) -> list[RealWheel]:
    """Pinned wheels of one release for CPython 3.12, one per platform, in the same order."""
    return [RealWheel(requirement, platform, "3.12", filename)
            for platform, filename in zip(platforms.split(), filenames, strict=True)]


CORPUS_EXTRA: list[RealWheel] = [
    # filled in below from a pinned table (see _extra)
]


def check_wheel_cli(paths: list[Path], *options: str) -> tuple[list[dict], Measured]:
    """``check-wheel --json`` as a subprocess (the CLI module the console script runs)."""
    command = [sys.executable, "-m", "wheelfleet.wheelcheck.cli", "--json", *options]
    result = run_measured([*command, *map(str, paths)], TIMEOUT)
    if result.returncode not in (0, 1):
        raise SystemExit(f"check-wheel failed ({result.returncode}): {result.stderr}")
    return json.loads(result.stdout), result


def main() -> int:
    corpus = [*REAL_WHEELS, *CORPUS_EXTRA]
    fetched = fetch_all(corpus)
    paths = [fetched[w] for w in corpus]
    size_mb = sum(p.stat().st_size for p in paths) / 1e6
    families = {"linux": 0, "macos": 0, "windows": 0, "pure": 0}
    for path in paths:
        name = path.name
        family = ("linux" if "linux" in name else "macos" if "macosx" in name
                  else "windows" if "-win" in name else "pure")
        families[family] += 1
    print(f"corpus: {len(paths)} wheels, {size_mb:.0f} MB compressed "
          f"({', '.join(f'{n} {f}' for f, n in families.items())})\n")

    failures = 0
    print(f"{'check-wheel over the corpus':<42} {'seconds':>8} {'MB/s':>7} {'peak MB':>8}")
    reports: list[dict] = []
    for label, options in (("one batch (default --jobs)", ()), ("one batch, --jobs 1", ("--jobs", "1"))):
        reports, measured = check_wheel_cli(paths, *options)
        print(f"{label:<42} {measured.seconds:8.2f} {size_mb / measured.seconds:7.1f} "
              f"{measured.peak_mb:8.0f}")
    pinned = {w.filename for w in REAL_WHEELS}
    for report in reports:
        problems = [Problem(**p) for p in report["problems"]]
        if report["wheel"] in pinned:
            if problems != KNOWN_VIOLATIONS.get(report["wheel"], []):
                failures += 1
                print(f"  UNEXPECTED {report['wheel']}: {problems}")
        elif problems:
            print(f"  {report['wheel']}: {', '.join(sorted({p.code for p in problems}))}")
    bad = sum(not r["ok"] for r in reports)
    print(f"  {len(reports) - bad} ok, {bad} with problems\n")

    linux = [p for p in paths if "linux" in p.name]
    linux_mb = sum(p.stat().st_size for p in linux) / 1e6
    auditwheel_out = {}
    started = time.perf_counter()
    for path in linux:
        auditwheel_out[path.name] = run_auditwheel_show(path)
    auditwheel_seconds = time.perf_counter() - started
    batch, batch_run = check_wheel_cli(linux)
    _one_job, one_job_run = check_wheel_cli(linux, "--jobs", "1")
    started = time.perf_counter()
    for path in linux:
        check_wheel_cli([path])
    per_wheel_seconds = time.perf_counter() - started

    agreed = 0
    for entry, path in zip(batch, linux, strict=True):
        ours = wheelcheck_verdict_from_problems([Problem(**p) for p in entry["problems"]])
        theirs = auditwheel_verdict_from_json(path.name, auditwheel_out[path.name])
        if ours == theirs:
            agreed += 1
        else:
            failures += 1
            print(f"  DIFFER {path.name}: ours={ours} auditwheel={theirs}")

    print(f"{len(linux)} Linux wheels, {linux_mb:.0f} MB, side by side {'seconds':>14} "
          f"{'MB/s':>7} {'speed-up':>9}")
    rows = [("auditwheel show, one process per wheel", auditwheel_seconds),
            ("check-wheel, one batch", batch_run.seconds),
            ("check-wheel, one batch, --jobs 1", one_job_run.seconds),
            ("check-wheel, one process per wheel", per_wheel_seconds)]
    for label, seconds in rows:
        print(f"  {label:<52} {seconds:8.2f} {linux_mb / seconds:7.1f} "
              f"{auditwheel_seconds / seconds:8.1f}x")
    ratio = auditwheel_seconds / batch_run.seconds
    print(f"  target >= {TARGET_RATIO:.0f}x (batch): {'met' if ratio >= TARGET_RATIO else 'NOT met'}")
    print(f"  verdicts agreed: {agreed}/{len(linux)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
