"""Facts read by the health check: the node's wheelhouse and the agent's verdicts."""

from __future__ import annotations

import json
from typing import Any

from pyinfra.api import FactBase


class WheelhouseFiles(FactBase):
    """
    Names of the wheels in a node's wheelhouse directory (empty when it does not exist).

    .. code:: python

        ["setuptools-80.9.0-py3-none-any.whl", "wheel-0.45.1-py3-none-any.whl"]
    """

    default = list

    def command(self, path: str) -> str:
        return f"ls -1 {path} 2>/dev/null || true"

    def process(self, output: list[str]) -> list[str]:
        return sorted(line.strip() for line in output if line.strip().endswith(".whl"))


class WheelHealthRecords(FactBase):
    """
    Runs the node's health agent over its plan and returns one record per check.

    Reading this fact builds, repairs, installs and imports the canary in throw-away containers
    and a scratch work dir; it changes nothing the fleet deploy manages.

    .. code:: python

        [{"image": "manylinux_2_28_x86_64", "python": "cp312-cp312", "status": "passed", …}]
    """

    default = list

    def command(self, agent: str, plan: str) -> str:
        # Always answer with JSON: a fact that fails while a deploy file loads would abort the
        # whole fleet's run, not just this host's.
        missing = json.dumps([{"status": "not-run", "reason": "health agent not installed: "
                               "converge the host with deploys/fleet.py"}])
        crashed = ('[{"status": "failed", "step": "agent", "diagnosis": '
                   '"health agent crashed (exit '"$rc"')"}]')
        return (f"if [ -f {agent} ] && [ -f {plan} ]; then python3 {agent} {plan}; rc=$?; "
                f"[ $rc = 0 ] || echo '{crashed}'; else echo '{missing}'; fi")

    def process(self, output: list[str]) -> list[dict[str, Any]]:
        for line in reversed(output):
            if line.strip().startswith("["):
                return list(json.loads(line))
        return [{"status": "failed", "step": "agent", "diagnosis": "health agent printed no "
                 "records", "output_tail": output[-25:]}]
