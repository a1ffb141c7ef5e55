"""The nightly report's schema (``wheelfleet.report/1``): types, validation, loading.

The report is a plain JSON-able dict so that ``report.json`` written tonight can be read back by
next week's code (the trend section reads old nights).  :func:`validate_report` is strict on
purpose: a typo'd key or a wrong status would otherwise render as a silently empty cell.  Every
error is one line naming the JSON path (``$.hosts[1].checks[0].status: ...``) so the caller can
print it as is.  SCHEMA.md next to this file is the human-readable version of the same rules.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict, cast

SCHEMA_ID = "wheelfleet.report/1"

VERDICTS = ("passed", "failed")
HOST_STATUSES = ("passed", "failed", "unreachable", "not-run")
CHECK_STATUSES = ("passed", "failed", "not-run")
PLATFORMS = ("linux", "macos", "windows")
VARIANTS = ("default", "abi3")
# "agent": the node's health agent (missing, crashed, unusable output, work directory);
# "engine": the container engine cannot run; "container": a check's container never reached
# the runner's first step.  The rest are the canary's own steps, in the order they run.
STEPS = ("agent", "engine", "image", "container", "interpreter", "build", "repair", "validate",
         "install", "import")

_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
_DIGEST = re.compile(r"^[a-z0-9]+:[0-9a-f]{32,}$")


class Drift(TypedDict):
    """Whether the host still matches its deploy: pending pyinfra changes, one line each."""

    checked: bool
    changes: list[str]
    error: str | None


class Check(TypedDict):
    """One health check: build, repair, validate and import the canary on one matrix cell."""

    host: str
    image: str
    image_digest: str | None
    python: str
    arch: str
    variant: Literal["default", "abi3"]
    status: Literal["passed", "failed", "not-run"]
    step: str | None
    exit_code: int | None
    output_tail: list[str]
    diagnosis: str | None
    reason: str | None
    duration_s: float | None
    versions: dict[str, Any]
    wheel: str | None
    bundled_libs: list[str]
    wheelcheck: list[str]
    answer: str | None


class HostResult(TypedDict):
    """Everything verify learned about one host."""

    host: str
    platform: str
    status: Literal["passed", "failed", "unreachable", "not-run"]
    error: str | None
    drift: Drift
    tools: dict[str, str | None]
    checks: list[Check]
    duration_s: NotRequired[float | None]


class Report(TypedDict):
    """A whole night: the normalized form every renderer in this package works on."""

    schema: str
    generated_at: str
    inventory: str
    verdict: Literal["passed", "failed"]
    hosts: list[HostResult]
    wheelfleet_version: NotRequired[str | None]
    duration_s: NotRequired[float | None]


# Field tables: name -> (validator, default).  ``_REQUIRED`` marks fields without a default.
_REQUIRED = object()
_Validator = Callable[[Any, str], None]


def _fail(path: str, message: str) -> None:
    raise ValueError(f"{path}: {message}")


def _describe(value: Any) -> str:
    # repr() of an arbitrary value could be huge or span lines; the message must stay one line.
    text = repr(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= 60 else text[:57] + "..."


def _string(value: Any, path: str) -> None:
    if not isinstance(value, str):
        _fail(path, f"expected a string, got {_describe(value)}")
    if not value.strip():
        _fail(path, "must not be empty")


def _one_line(value: Any, path: str) -> None:
    _string(value, path)
    if "\n" in value or "\r" in value:
        _fail(path, "must be a single line")


def _optional(validator: _Validator) -> _Validator:
    def check(value: Any, path: str) -> None:
        if value is not None:
            validator(value, path)

    return check


def _enum(choices: tuple[str, ...]) -> _Validator:
    def check(value: Any, path: str) -> None:
        if value not in choices:
            allowed = ", ".join(repr(c) for c in choices)
            _fail(path, f"expected one of {allowed}, got {_describe(value)}")

    return check


def _bool(value: Any, path: str) -> None:
    if not isinstance(value, bool):
        _fail(path, f"expected true or false, got {_describe(value)}")


def _int(value: Any, path: str) -> None:
    # bool is an int subclass in Python, but ``true`` is never a meaningful exit code.
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(path, f"expected an integer, got {_describe(value)}")


def _seconds(value: Any, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(path, f"expected a number of seconds, got {_describe(value)}")
    if value < 0:
        _fail(path, f"must not be negative, got {value}")


def _timestamp(value: Any, path: str) -> None:
    _string(value, path)
    if not _TIMESTAMP.match(value):
        _fail(path, f"expected a UTC timestamp like 2026-11-27T02:00:00Z, got {_describe(value)}")
    try:
        parse_timestamp(value)
    except ValueError:
        _fail(path, f"not a valid date/time: {_describe(value)}")


def _digest(value: Any, path: str) -> None:
    _string(value, path)
    if not _DIGEST.match(value):
        _fail(path, f"expected a digest like sha256:<hex>, got {_describe(value)}")


def _list_of(item: _Validator) -> _Validator:
    def check(value: Any, path: str) -> None:
        if not isinstance(value, list):
            _fail(path, f"expected a list, got {_describe(value)}")
        for index, element in enumerate(value):
            item(element, f"{path}[{index}]")

    return check


def _line(value: Any, path: str) -> None:
    # Log lines may be empty; they only have to be strings without embedded newlines.
    if not isinstance(value, str):
        _fail(path, f"expected a string, got {_describe(value)}")
    if "\n" in value:
        _fail(path, "must be a single line (split the log into lines)")


def _mapping_of(value_check: _Validator) -> _Validator:
    def check(value: Any, path: str) -> None:
        if not isinstance(value, dict):
            _fail(path, f"expected an object, got {_describe(value)}")
        for key, element in value.items():
            _string(key, f"{path} (key)")
            value_check(element, f"{path}.{key}")

    return check


def _flag_value(value: Any, path: str) -> None:
    # sysconfig config vars are ints, strings or None; nothing else comes out of them.
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | str)):
        _fail(path, f"expected an integer, string or null, got {_describe(value)}")


def _versions(value: Any, path: str) -> None:
    """Tool name -> version string (or null if absent); ``build_flags`` is sysconfig vars."""
    if not isinstance(value, dict):
        _fail(path, f"expected an object, got {_describe(value)}")
    for key, element in value.items():
        _string(key, f"{path} (key)")
        if key == "build_flags":
            _mapping_of(_flag_value)(element, f"{path}.build_flags")
        else:
            _optional(_string)(element, f"{path}.{key}")


_DRIFT_FIELDS: dict[str, tuple[_Validator, Any]] = {
    "checked": (_bool, _REQUIRED),
    "changes": (_list_of(_one_line), []),
    "error": (_optional(_one_line), None),
}

_CHECK_FIELDS: dict[str, tuple[_Validator, Any]] = {
    "host": (_string, _REQUIRED),
    "image": (_one_line, _REQUIRED),
    "image_digest": (_optional(_digest), None),
    "python": (_one_line, _REQUIRED),
    "arch": (_one_line, _REQUIRED),
    "variant": (_enum(VARIANTS), _REQUIRED),
    "status": (_enum(CHECK_STATUSES), _REQUIRED),
    "step": (_optional(_enum(STEPS)), None),
    "exit_code": (_optional(_int), None),
    "output_tail": (_list_of(_line), []),
    "diagnosis": (_optional(_one_line), None),
    "reason": (_optional(_one_line), None),
    "duration_s": (_optional(_seconds), None),
    "versions": (_versions, {}),
    "wheel": (_optional(_one_line), None),
    "bundled_libs": (_list_of(_one_line), []),
    "answer": (_optional(_one_line), None),
    "wheelcheck": (_list_of(_one_line), []),
}

_HOST_FIELDS: dict[str, tuple[_Validator, Any]] = {
    "host": (_one_line, _REQUIRED),
    "platform": (_enum(PLATFORMS), _REQUIRED),
    "status": (_enum(HOST_STATUSES), _REQUIRED),
    "error": (_optional(_one_line), None),
    "drift": (lambda v, p: _object(v, p, _DRIFT_FIELDS), {"checked": False}),
    "tools": (_mapping_of(_optional(_string)), {}),
    "checks": (_list_of(lambda v, p: _object(v, p, _CHECK_FIELDS)), []),
    "duration_s": (_optional(_seconds), None),
}

_REPORT_FIELDS: dict[str, tuple[_Validator, Any]] = {
    "schema": (_string, _REQUIRED),
    "generated_at": (_timestamp, _REQUIRED),
    "inventory": (_one_line, _REQUIRED),
    "verdict": (_enum(VERDICTS), _REQUIRED),
    "hosts": (_list_of(lambda v, p: _object(v, p, _HOST_FIELDS)), _REQUIRED),
    "wheelfleet_version": (_optional(_one_line), None),
    "duration_s": (_optional(_seconds), None),
}


def _object(value: Any, path: str, fields: Mapping[str, tuple[_Validator, Any]]) -> None:
    if not isinstance(value, dict):
        _fail(path, f"expected an object, got {_describe(value)}")
    for key in value:
        if key not in fields:
            # Unknown keys are rejected so a misspelt field fails loudly instead of vanishing.
            _fail(f"{path}.{key}", "unknown field")
    for key, (validator, default) in fields.items():
        if key in value:
            validator(value[key], f"{path}.{key}")
        elif default is _REQUIRED:
            _fail(f"{path}.{key}", "required field is missing")


def _check_consistency(check: Mapping[str, Any], host: str, path: str) -> None:
    if check["host"] != host:
        _fail(f"{path}.host", f"is {check['host']!r} but the check is listed under {host!r}")
    if check["status"] == "failed" and check.get("step") is None:
        _fail(f"{path}.step", "a failed check must name the step that failed")
    if check["status"] == "not-run" and check.get("reason") is None:
        _fail(f"{path}.reason", "a not-run check must say why it did not run")


def derive_host_status(host: Mapping[str, Any]) -> str:
    """The status a host's own data implies; verify can use this to fill ``status``.

    ``unreachable`` when there is a connection error, ``passed`` only if the drift check ran
    clean and every check passed (a host with no checks at all has proven nothing, so it fails),
    ``not-run`` when nothing at all was attempted, otherwise ``failed``.
    """
    if host.get("error") is not None:
        return "unreachable"
    drift = host.get("drift") or {"checked": False}
    checks = host.get("checks") or []
    statuses = {check["status"] for check in checks}
    if not drift.get("checked") and statuses <= {"not-run"} and drift.get("error") is None:
        return "not-run"
    drift_clean = drift.get("checked") and not drift.get("changes") and drift.get("error") is None
    if drift_clean and checks and statuses == {"passed"}:
        return "passed"
    return "failed"


def compute_verdict(hosts: Sequence[Mapping[str, Any]]) -> str:
    """``passed`` only if there is at least one host and every host passed."""
    # An empty fleet verified nothing; calling that a pass would hide a broken inventory.
    if hosts and all(host["status"] == "passed" for host in hosts):
        return "passed"
    return "failed"


def validate_check(check: Any, path: str = "$") -> None:
    """Raise ``ValueError("<path>.<key>: <problem>")`` if *check* is not a valid check record."""
    _object(check, path, _CHECK_FIELDS)
    _check_consistency(check, check["host"], path)


def validate_host(host: Any, path: str = "$") -> None:
    """Raise ``ValueError`` (one line) if *host* is not a valid host result of a report.

    Verify validates each host on its own first, so one host's bad data is that host's
    failure, never the whole night's.
    """
    _object(host, path, _HOST_FIELDS)
    _check_host_consistency(host, path)


def _check_host_consistency(host: Mapping[str, Any], path: str) -> None:
    status = host["status"]
    if status == "unreachable" and host.get("error") is None:
        _fail(f"{path}.error", "an unreachable host must carry the connection error")
    if status != "unreachable" and host.get("error") is not None:
        _fail(f"{path}.status", f"is {status!r} but the host has a connection error")
    derived = derive_host_status(host)
    if status == "passed" and derived != "passed":
        _fail(f"{path}.status", f"is 'passed' but drift/checks say {derived!r}")
    seen: set[tuple[str, str, str, str]] = set()
    for index, check in enumerate(host.get("checks", [])):
        check_path = f"{path}.checks[{index}]"
        _check_consistency(check, host["host"], check_path)
        # The matrix cell is the identity of a check: a duplicate would mean one overwrote another.
        cell = (check["image"], check["python"], check["arch"], check["variant"])
        if cell in seen:
            _fail(check_path, "duplicate check (same image, python, arch and variant)")
        seen.add(cell)


def validate_report(data: Any) -> None:
    """Raise ``ValueError("<json path>: <problem>")`` (one line) if *data* is not a valid report."""
    if not isinstance(data, dict):
        _fail("$", f"expected an object, got {_describe(data)}")
    if "schema" in data and data["schema"] != SCHEMA_ID:
        # Checked before anything else: a future schema should be named, not mis-diagnosed.
        _fail("$.schema", f"expected {SCHEMA_ID!r}, got {_describe(data['schema'])}")
    _object(data, "$", _REPORT_FIELDS)
    seen: set[str] = set()
    for index, host in enumerate(data["hosts"]):
        path = f"$.hosts[{index}]"
        if host["host"] in seen:
            _fail(f"{path}.host", f"duplicate host {host['host']!r}")
        seen.add(host["host"])
        _check_host_consistency(host, path)
    expected = compute_verdict(data["hosts"])
    if data["verdict"] != expected:
        _fail("$.verdict", f"is {data['verdict']!r} but the hosts say {expected!r}")


def _fill(value: dict[str, Any], fields: Mapping[str, tuple[_Validator, Any]]) -> None:
    for key, (_validator, default) in fields.items():
        if key not in value and default is not _REQUIRED:
            value[key] = copy.deepcopy(default)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _encodable(value: Any) -> Any:
    """A deep copy with lone surrogates replaced by U+FFFD.

    Output decoded with ``errors="surrogateescape"`` carries them, and they would make the
    UTF-8 encoding of report.json and index.html fail after all the work of a night's run.
    """
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_encodable(item) for item in value]
    if isinstance(value, dict):
        return {_encodable(key): _encodable(item) for key, item in value.items()}
    return copy.deepcopy(value)


class _Normalized(dict):  # type: ignore[type-arg]
    """A report :func:`normalize_report` already validated and filled: not done twice."""


def normalize_report(data: Any) -> Report:
    """Validate *data* and return a deep copy with every optional field filled in.

    Renderers only ever see this form, so they can index fields instead of guessing defaults.
    A report that is already normalised is returned as it is: report.json, JUnit, HTML and the
    summary all take the one normalised copy that verify made.
    """
    if isinstance(data, _Normalized):
        return cast(Report, data)
    validate_report(data)
    report = _encodable(data)
    _fill(report, _REPORT_FIELDS)
    for host in report["hosts"]:
        _fill(host, _HOST_FIELDS)
        _fill(host["drift"], _DRIFT_FIELDS)
        for check in host["checks"]:
            _fill(check, _CHECK_FIELDS)
    return cast(Report, _Normalized(report))


def load_report(path: str | Path) -> Report:
    """Read, validate and normalize a ``report.json``; ``ValueError`` names the file and problem."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: cannot read: {err}") from err
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON: {err}") from err
    try:
        return normalize_report(data)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err


def parse_timestamp(value: str) -> datetime:
    """Parse the schema's ``YYYY-MM-DDTHH:MM:SS[.fff]Z`` into an aware UTC datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def check_counts(report: Mapping[str, Any]) -> dict[str, int]:
    """Checks per status over the whole report (unreachable hosts' checks count as not-run)."""
    counts = dict.fromkeys(CHECK_STATUSES, 0)
    for host in report["hosts"]:
        for check in host.get("checks", []):
            status = "not-run" if host["status"] == "unreachable" else check["status"]
            counts[status] += 1
    return counts
