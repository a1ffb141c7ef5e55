"""Facts read by the health check: the node's wheelhouse and the agent's verdicts."""

from __future__ import annotations

import json
import shlex
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
RUN_ENV = "WHEELFLEET_RUN"  # the agent's run id (health/agent.py RUN_ENV)
RUN_LABEL = "wheelfleet.health.run"  # on the agent's containers (health/agent.py RUN_LABEL)
RECORDS = "records.jsonl"  # in the work dir (health/agent.py RECORDS)
PIDFILE = "agent.pid"  # in the work dir: "PID PGID RUN" (health/agent.py PIDFILE)
SALVAGE = "wheelfleet-salvage"
ENGINES = ("podman", "docker")
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

    def command(self, agent: str, plan: str, run: str = "") -> str:
        # Always exit 0 with the agent's exit status as text: a fact command that fails while
        # a deploy file loads would abort the whole fleet's run, not just this host's.  Its
        # stderr is folded in so that a crash's traceback reaches the report.  ``run`` names
        # this run in the records the agent writes as it goes (WheelHealthSalvage reads them).
        env = f"{RUN_ENV}={shlex.quote(run)} " if run else ""
        return (f"if [ -f {agent} ] && [ -f {plan} ]; then {env}python3 {agent} {plan} 2>&1; "
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


class WheelHealthSalvage(FactBase):
    """
    After the controller's read of the agent timed out: stop that run on the node and read the
    records it wrote so far (``records.jsonl`` in the work dir, one line per event).

    Stops the agent's process group (only when the pidfile names this ``run``, the process is
    the agent and the group is not the salvage's own; dash's ``kill`` takes ``-PGID`` without
    ``--``), then stops and removes every container labelled with the run, then prints the
    records file.  A timeout so costs only the checks in flight, and leaves nothing running.

    .. code:: python

        {"run": "5f0c…", "records": [{"image": …, "status": "passed", …}],
         "started": [{"image": "manylinux_2_28_x86_64", "python": "cp312-cp312", …}],
         "stopped": True}
        {"run": None, "records": [], "started": [], "stopped": False}   # nothing written
    """

    def command(self, work_dir: str, run: str, engine: str = "") -> str:
        work = shlex.quote(work_dir)
        label = shlex.quote(f"label={RUN_LABEL}={run}")
        stop = (f'if [ -r {work}/{PIDFILE} ]; then read pid pgid prun < {work}/{PIDFILE}; '
                f'if [ "$prun" = {shlex.quote(run)} ] && [ -n "$pgid" ] && '
                f'[ "$pgid" != "$(ps -o pgid= -p $$ | tr -d " ")" ] && '
                f'ps -o args= -p "$pid" 2>/dev/null | grep -q agent; then '
                f'kill -TERM "-$pgid" 2>/dev/null && echo {SALVAGE}-stopped; fi; fi; ')
        remove = ""
        if engine:
            if engine not in ENGINES:
                raise ValueError(f"unknown container engine {engine!r}")
            # Bounded: an engine that hangs is not allowed to hang the salvage too.
            remove = (f"ids=$(timeout 60 {engine} ps -aq --filter {label} 2>/dev/null); "
                      f'[ -z "$ids" ] || timeout 120 {engine} rm -f $ids >/dev/null 2>&1; ')
        return (stop + remove + f"echo {SALVAGE}-records; cat {work}/{RECORDS} 2>/dev/null; "
                "true")

    def process(self, output: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {"run": None, "records": [], "started": [],
                                 "stopped": any(line.strip() == f"{SALVAGE}-stopped"
                                                for line in output)}
        lines = [line.strip() for line in output]
        body = lines[lines.index(f"{SALVAGE}-records") + 1:] \
            if f"{SALVAGE}-records" in lines else []
        for line in body:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a line cut short by the stop: that check was in flight
            if not isinstance(event, dict):
                continue
            kind = event.get("event")
            if kind == "run" and found["run"] is None:
                found["run"] = event.get("run")
            elif kind == "start":
                found["started"].append({k: event.get(k) for k in
                                         ("image", "python", "arch", "variant")})
            elif kind == "record" and isinstance(event.get("record"), dict):
                found["records"].append(event["record"])
        return found
