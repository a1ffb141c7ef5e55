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


MISSING = "wheelfleet-agent-missing"
EXIT = "wheelfleet-agent-exit="
TAIL = 25


class WheelHealthRecords(FactBase):
    """
    Runs the node's health agent over its plan and says what came of it.

    Reading this fact builds, repairs, installs and imports the canary in throw-away containers
    and a scratch work dir; it changes nothing the fleet deploy manages.  The answer is one of:

    .. code:: python

        {"state": "ok", "records": [{"image": "manylinux_2_28_x86_64", "status": "passed", …}]}
        {"state": "missing", "detail": "no /opt/wheelfleet/health/agent.py"}
        {"state": "crashed", "exit_code": 1, "output_tail": ["Traceback …", …]}
        {"state": "garbled", "exit_code": 0, "output_tail": […]}   # exit 0 but no records

    The controller turns every state but ``ok`` into one record per planned check
    (``wheelfleet.health.records``): a node that cannot answer is that host's failure alone.
    """

    def command(self, agent: str, plan: str) -> str:
        # Always exit 0 with the agent's exit status as text: a fact command that fails while
        # a deploy file loads would abort the whole fleet's run, not just this host's.  Its
        # stderr is folded in so that a crash's traceback reaches the report.
        return (f"if [ -f {agent} ] && [ -f {plan} ]; then python3 {agent} {plan} 2>&1; "
                f'echo "{EXIT}$?"; else echo {MISSING}; '
                f"[ -f {agent} ] || echo 'no {agent}'; [ -f {plan} ] || echo 'no {plan}'; fi")

    def process(self, output: list[str]) -> dict[str, Any]:
        lines = [line.rstrip() for line in output]
        if lines and lines[0].strip() == MISSING:
            return {"state": "missing", "detail": "; ".join(x for x in lines[1:] if x)}
        exit_code = None
        for line in reversed(lines):
            if line.startswith(EXIT):
                text = line[len(EXIT):].strip()
                exit_code = int(text) if text.isdigit() else None
                break
        noise = [x for x in lines if x.strip() and not x.startswith(EXIT)]
        records = _records(lines)
        if exit_code == 0 and records is not None:
            return {"state": "ok", "records": records}
        state = "garbled" if exit_code == 0 else "crashed"
        return {"state": state, "exit_code": exit_code, "output_tail": noise[-TAIL:]}


def _records(lines: list[str]) -> list[Any] | None:
    """The agent's JSON list of records (its last list line), or None when there is none."""
    for line in reversed(lines):
        if line.lstrip().startswith("["):
            try:
                value = json.loads(line)
            except ValueError:
                return None
            return value if isinstance(value, list) else None
    return None
