"""``wheelfleet onboard INVENTORY HOST``: take one host from bare to verified.

1. the host is in the inventory and its selection is valid, and it connects only with a
   verified host key (strict checking, unless the inventory opts out); nothing connects
   otherwise;
2. its SSH host key is pinned before any command runs: the key it presents must match
   ``--host-key SHA256:...`` (read on the host's console: ``ssh-keygen -lf
   /etc/ssh/ssh_host_ed25519_key.pub``), or with ``--trust-on-first-use`` it is recorded as
   shown and its fingerprint printed; either goes into the host's known_hosts file.  Without
   either, the key must already be pinned there;
3. it answers, and its real platform (``uname -s``) is the one its inventory group claims —
   a Linux box listed under ``macos`` stops here, before any change;
4. ``deploys/fleet.py`` converges it (``--limit HOST``);
5. ``wheelfleet verify --limit HOST`` checks it: drift-free and every canary check passed.

Exit status 0 only when the host is verified; 1 when it was converged or verified but failed
(the report says why) or could not be reached; 2 for bad input, including a platform mismatch
and a host key that is not the expected or pinned one.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wheelfleet.errors import USAGE, WheelfleetError
from wheelfleet.fleetfile import load_fleet, ssh_target
from wheelfleet.platforms import platform
from wheelfleet.pyinfra_run import RunResult, repo_file, run_deploy
from wheelfleet.report import Report
from wheelfleet.verify.hostkeys import HostKeyError, expected_fingerprint, pin_host_key
from wheelfleet.verify.logscan import last_line, progress_lines
from wheelfleet.verify.probe import probe_host
from wheelfleet.verify.progress import Echo
from wheelfleet.verify.run import HEARTBEAT_S, run_verify


class Refused(WheelfleetError):
    """Onboarding stopped before changing the host (bad input); str is the one line to print."""

    status = USAGE


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("inventory", help="pyinfra inventory file that lists the host")
    parser.add_argument("host", help="the host's name in the inventory")
    parser.add_argument("--out", metavar="DIR", help="write the verify report here")
    parser.add_argument("--reports-root", default="reports", metavar="DIR")
    parser.add_argument("--timeout", type=int, default=3600, metavar="SECONDS",
                        help="limit for the converge and for each verify run (default: 3600)")
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument("--host-key", metavar="SHA256:...",
                       help="the fingerprint the host's SSH key must have (ssh-keygen -lf "
                       "/etc/ssh/ssh_host_ed25519_key.pub on its console); pinned in its "
                       "known_hosts when it matches")
    trust.add_argument("--trust-on-first-use", action="store_true",
                       help="record the key the host presents in its known_hosts unverified "
                       "and print its fingerprint")


def execute(args: argparse.Namespace) -> int:
    host_key = expected_fingerprint(args.host_key) if args.host_key else None
    code, _report, _paths = onboard(args.inventory, args.host, out=args.out,
                                    reports_root=args.reports_root, timeout=args.timeout,
                                    echo=lambda line: print(line, flush=True),
                                    host_key=host_key,
                                    trust_first_use=args.trust_on_first_use)
    return code


def check_platform(inventory: str | Path, host: str, expected: str) -> str:
    """The host's real platform; Refused when it is not ``expected`` (nothing changed yet)."""
    # The platform says which fact answers in uname -s's place (Windows: $env:OS).
    probe = probe_host(inventory, host, fact=platform(expected).kernel_fact)
    if probe.platform is None:
        raise Refused(f"{inventory}: {host}: cannot tell the host's platform from uname -s "
                      f"({probe.kernel or 'no answer'}); expected {expected}; nothing was changed")
    if probe.platform != expected:
        raise Refused(f"{inventory}: {host}: listed in the '{expected}' group but the host runs "
                      f"{probe.kernel} ({probe.platform}); fix the inventory; nothing was changed")
    return probe.platform


def pin_key(inventory: str | Path, host: str, expected: str | None, trust_first_use: bool,
            echo: Echo) -> str:
    """The host's SSH key pinned (or found pinned) before anything runs; Refused if not."""
    target = ssh_target(inventory, host)
    if target is None:
        if expected or trust_first_use:
            raise Refused(f"{inventory}: {host}: not reached over SSH; --host-key and "
                          "--trust-on-first-use apply to SSH hosts only")
        return "not reached over SSH: no host key to pin"
    try:
        return pin_host_key(target, expected, trust_first_use, echo)
    except HostKeyError as err:
        raise Refused(f"{inventory}: {host}: {err}; nothing was changed") from None


def converge(inventory: str | Path, host: str, timeout: int, echo: Echo) -> RunResult | str:
    """``deploys/fleet.py --limit HOST`` with a heartbeat; a timeout comes back as text."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = run_deploy(inventory, repo_file("deploys/fleet.py"), limit=[host],
                                       timeout=timeout)
        except subprocess.TimeoutExpired:
            box["failure"] = f"converge timed out after {timeout}s"
        except OSError as err:
            box["failure"] = f"converge could not start pyinfra: {err}"

    started = time.monotonic()
    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(HEARTBEAT_S)
        if worker.is_alive():
            echo(f"... converging {host}: {time.monotonic() - started:.0f}s")
    if "failure" in box:
        return str(box["failure"])
    result: RunResult = box["result"]
    for line in progress_lines(result.log):
        echo(f"  pyinfra: {line}")
    echo(f"converged {host} in {time.monotonic() - started:.0f}s: "
         f"{result.change_count(host)} change(s), {len(result.errors.get(host, []))} error(s)")
    return result


def converge_problem(result: RunResult | str, host: str) -> str | None:
    """Why the converge did not succeed, one line; None when it did."""
    if isinstance(result, str):
        return result
    if result.errors.get(host):
        return f"converge failed at {result.errors[host][0]}"
    if result.returncode != 0 or host in result.failed_hosts:
        return f"converge exited {result.returncode}: {last_line(result.log)}"
    return None


def onboard(inventory: str | Path, host: str, *, out: str | Path | None = None,
            reports_root: str | Path = "reports", timeout: int = 3600,
            echo: Echo = print, host_key: str | None = None,
            trust_first_use: bool = False) -> tuple[int, Report, dict[str, Path]]:
    """Check, converge and verify ``host``: ``(exit status, report, report paths)``.

    ``host_key`` (``SHA256:...``) is the fingerprint the host's SSH key must have;
    ``trust_first_use`` records whatever key it presents instead.  Raises InputError /
    Refused / ProbeError before anything on the host changed.
    """
    (sel,) = load_fleet(inventory, [host], host_keys=True)
    echo(f"onboard {host}: {pin_key(inventory, host, host_key, trust_first_use, echo)}")
    echo(f"onboard {host}: inventory says {sel.platform}; asking the host (uname -s) ...")
    echo(f"onboard {host}: host runs {check_platform(inventory, host, sel.platform)}; "
         "converging (deploys/fleet.py) ...")
    problem = converge_problem(converge(inventory, host, timeout, echo), host)
    # Verify even after a failed converge: the report is the record of what is wrong.
    code, report, paths = run_verify(inventory, limit=[host], out=out,
                                     reports_root=reports_root, echo=echo, timeout=timeout)
    result = report["hosts"][0]
    passed = sum(c["status"] == "passed" for c in result["checks"])
    if problem is None and code == 0:
        echo(f"onboard {host}: VERIFIED ({passed}/{len(result['checks'])} checks passed, "
             f"no drift); report: {paths['json'].parent}")
        return 0, report, paths
    why = problem or f"verify says {result['status']}"
    echo(f"onboard {host}: NOT VERIFIED ({why}); report: {paths['json'].parent}")
    return 1, report, paths


def main(argv: Sequence[str] | None = None) -> int:
    """``wheelfleet onboard ARGV...`` (argv without the subcommand); return the exit status."""
    from wheelfleet.cli import run_as

    return run_as("onboard", argv)


if __name__ == "__main__":
    sys.exit(main())
