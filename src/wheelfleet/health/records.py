"""One shape for a health-check record, built once where the node's answer comes in.

The node's agent prints plain dicts; a node can also be missing its agent, crash, print
something else, or time out.  Whatever happened, this module turns it into schema-valid
``Check`` records (``wheelfleet.report.schema``), one per planned matrix cell, so that a host
that cannot answer is that host's failure alone and never the whole night's report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from wheelfleet.report.schema import Check, validate_check
from wheelfleet.report.text import one_line

# The keys that name a matrix cell: a check's identity within its host.
CELL_KEYS = ("image", "python", "arch", "variant")
_TEXT_KEYS = ("image", "python", "arch", "diagnosis", "reason", "wheel", "answer")
_TAIL = 25

Cell = Mapping[str, str]


def cell_of(record: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(record.get(key)) for key in CELL_KEYS)


def blank_check(cell: Cell, host: str) -> Check:
    """A check of ``cell`` on ``host`` with every field at its schema default."""
    return {"host": host, "image": cell["image"], "image_digest": None,
            "python": cell["python"], "arch": cell["arch"],
            "variant": cell["variant"],  # type: ignore[typeddict-item]
            "status": "not-run", "step": None, "exit_code": None, "output_tail": [],
            "diagnosis": None, "reason": None, "duration_s": None, "versions": {},
            "wheel": None, "bundled_libs": [], "wheelcheck": [], "answer": None}


def host_level(cells: Iterable[Cell], host: str, cause: str, *, status: str = "failed",
               step: str = "agent", output_tail: Sequence[str] = ()) -> list[Check]:
    """Every planned cell with the same host-level outcome: ``failed`` at ``step`` with the
    cause as diagnosis, or ``not-run`` with the cause as reason."""
    checks = []
    for cell in cells:
        check = blank_check(cell, host)
        if status == "not-run":
            check["reason"] = one_line(cause, 500)
        else:
            check["status"] = "failed"
            check["step"] = step
            check["diagnosis"] = one_line(cause, 500)
            check["output_tail"] = tail_lines(output_tail)
        checks.append(check)
    return checks


def tail_lines(lines: Iterable[Any]) -> list[str]:
    """A log tail as the schema wants it: strings, one line each, the last 25."""
    flat = [str(line).replace("\r", "") for chunk in lines for line in str(chunk).split("\n")]
    return flat[-_TAIL:]


def versions_record(versions: Mapping[str, Any]) -> dict[str, Any]:
    """Tool versions as the schema types them: strings or null; build_flags int/str/null.

    The node reports some values as numbers (``maxunicode``: 1114111); the schema keeps
    versions textual so that a report renders the same whatever the node's Python produced.
    """
    def flag(value: Any) -> int | str | None:
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        return int(value) if isinstance(value, bool) else str(value)

    typed: dict[str, Any] = {}
    for key, value in versions.items():
        if key == "build_flags" and isinstance(value, dict):
            typed[key] = {str(k): flag(v) for k, v in value.items()}
        elif value is None or (isinstance(value, str) and value.strip()):
            typed[str(key)] = value
        elif isinstance(value, str):
            typed[str(key)] = None  # an empty answer is "unknown", not a version
        else:
            typed[str(key)] = str(value)
    return typed


def from_node(raw: Mapping[str, Any], host: str) -> Check:
    """One record the node printed, shaped and validated; ``ValueError`` (one line) if the
    record cannot be a check (a missing cell key, a wrong type, an unknown status)."""
    missing = [key for key in CELL_KEYS if not isinstance(raw.get(key), str) or not raw[key]]
    if missing:
        raise ValueError(f"{missing[0]}: required field is missing")
    check: dict[str, Any] = dict(blank_check(raw, host))
    for key in check:
        if key in raw and key != "host":
            check[key] = raw[key]
    for key in _TEXT_KEYS:
        if isinstance(check.get(key), str):
            check[key] = one_line(check[key], limit=500)
    if isinstance(check["output_tail"], list):
        check["output_tail"] = tail_lines(check["output_tail"])
    if isinstance(check["versions"], dict):
        check["versions"] = versions_record(check["versions"])
    if check["status"] == "not-run" and not check.get("reason"):
        check["reason"] = "the node did not say why"
    validate_check(check)
    return check  # type: ignore[return-value]


def checks_from_answer(answer: Mapping[str, Any], cells: Sequence[Cell],
                       host: str) -> list[Check]:
    """The host's checks from what its agent answered (``facts.health.WheelHealthRecords``).

    Every planned cell gets exactly one record: the node's own when it is usable, otherwise a
    ``failed`` (or, for a missing agent, ``not-run``) record saying what happened.  Records of
    cells the controller did not plan (the node's plan is older than the inventory) are kept.
    """
    state = answer.get("state")
    said = list(answer.get("output_tail") or [])
    last = next((one_line(str(x), 200) for x in reversed(said) if str(x).strip()), "no output")
    if state == "missing":
        return host_level(cells, host, status="not-run",
                          cause="health agent not installed on the node (converge the host "
                          f"with deploys/fleet.py): {answer.get('detail') or 'not found'}")
    if state == "crashed":
        return host_level(cells, host, output_tail=said,
                          cause=f"health agent crashed (exit {answer.get('exit_code')}): {last}")
    if state != "ok":
        return host_level(cells, host, output_tail=said,
                          cause=f"health agent printed no records (exit "
                          f"{answer.get('exit_code')}): {last}")
    shaped: dict[tuple[str, ...], Check] = {}
    problems: list[str] = []
    for index, raw in enumerate(answer.get("records") or []):
        if not isinstance(raw, Mapping):
            problems.append(f"record {index} is not an object")
            continue
        try:
            check = from_node(raw, host)
        except ValueError as err:
            problems.append(f"record {index}: {err}")
            continue
        shaped.setdefault(cell_of(check), check)
    checks = []
    planned = {cell_of(cell) for cell in cells}
    for cell in cells:
        found = shaped.get(cell_of(cell))
        if found is not None:
            checks.append(found)
            continue
        why = "; ".join(problems[:3]) if problems else "no record for this check"
        checks += host_level([cell], host, cause=f"the health agent's answer is not usable: "
                             f"{why}")
    checks += [check for key, check in shaped.items() if key not in planned]
    return checks


def salvaged_answer(salvage: Mapping[str, Any] | None, cells: Sequence[Cell], run: str,
                    cause: str) -> dict[str, Any]:
    """An ``ok`` answer made of what a timed-out agent run wrote before it was stopped
    (``facts.health.WheelHealthSalvage``), for :func:`checks_from_answer`.

    Finished checks keep their own records; the check(s) still in flight are ``failed`` at
    ``agent`` with ``cause`` (``timed out after N s at health agent``); checks that had not
    started are ``not-run``.  When nothing of this run can be read, every cell says so.
    """
    if not salvage or salvage.get("run") != run:
        why = ("the records written so far could not be read" if not salvage else
               "the node holds no records of this run")
        return {"state": "ok", "records": [_synthetic(cell, "failed", f"{cause}; {why}")
                                           for cell in cells]}
    records = [r for r in salvage.get("records") or [] if isinstance(r, Mapping)]
    done = {cell_of(r) for r in records}
    started = {cell_of(c) for c in salvage.get("started") or [] if isinstance(c, Mapping)}
    for cell in cells:
        key = cell_of(cell)
        if key in done:
            continue
        if key in started:
            records.append(_synthetic(cell, "failed", f"{cause}: this check was still running; "
                                      "the agent was stopped and its containers removed"))
        else:
            records.append(_synthetic(cell, "not-run", f"{cause} before this check started"))
    return {"state": "ok", "records": records}


def _synthetic(cell: Cell, status: str, why: str) -> dict[str, Any]:
    record: dict[str, Any] = {key: cell[key] for key in CELL_KEYS}
    record["status"] = status
    if status == "failed":
        record.update(step="agent", diagnosis=why)
    else:
        record["reason"] = why
    return record
