"""The report as JUnit XML, so any CI server can chart the nightly verification.

One ``<testsuite>`` per host.  A reachable host contributes a ``drift`` testcase plus one
testcase per check; an unreachable host contributes exactly one failing ``connect`` testcase,
because nothing else about it is known.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .files import atomic_write
from .schema import normalize_report
from .text import check_name, clean_line, diagnosis_or_fallback, failure_text


def _case(suite: ET.Element, host: str, name: str, seconds: float | None = None) -> ET.Element:
    case = ET.SubElement(suite, "testcase", classname=f"wheelfleet.{host}", name=name)
    case.set("time", f"{seconds or 0:.3f}")
    return case


def _drift_case(suite: ET.Element, host: Mapping[str, Any]) -> None:
    case = _case(suite, host["host"], "drift")
    drift = host["drift"]
    if drift["error"] is not None:
        failure = ET.SubElement(case, "failure", type="drift-error")
        failure.set("message", f"drift check failed: {drift['error']}")
    elif not drift["checked"]:
        ET.SubElement(case, "skipped", message="drift was not checked")
    elif drift["changes"]:
        count = len(drift["changes"])
        failure = ET.SubElement(case, "failure", type="drift")
        failure.set("message", f"{count} pending change{'s' if count != 1 else ''}")
        failure.text = "\n".join(drift["changes"])


def _check_case(suite: ET.Element, check: Mapping[str, Any]) -> None:
    case = _case(suite, check["host"], check_name(check), check["duration_s"])
    if check["status"] == "failed":
        failure = ET.SubElement(case, "failure", type=str(check["step"] or "check"))
        failure.set("message", diagnosis_or_fallback(check))
        failure.text = failure_text(check)
    elif check["status"] == "not-run":
        ET.SubElement(case, "skipped", message=check["reason"] or "not run")


def _suite(parent: ET.Element, host: Mapping[str, Any], timestamp: str) -> ET.Element:
    suite = ET.SubElement(parent, "testsuite", name=f"wheelfleet.{host['host']}")
    suite.set("hostname", host["host"])
    suite.set("timestamp", timestamp.removesuffix("Z"))  # JUnit's XSD wants no zone suffix
    if host["status"] == "unreachable":
        case = _case(suite, host["host"], "connect")
        failure = ET.SubElement(case, "failure", type="unreachable")
        failure.set("message", host["error"])
    else:
        _drift_case(suite, host)
        for check in host["checks"]:
            _check_case(suite, check)
    return suite


def _count(element: ET.Element) -> None:
    """Fill tests/failures/errors/skipped/time on a suite from its testcases."""
    cases = element.findall(".//testcase")
    element.set("tests", str(len(cases)))
    element.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    element.set("errors", "0")
    element.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    element.set("time", f"{sum(float(c.get('time', '0')) for c in cases):.3f}")


def build_junit(report: Mapping[str, Any]) -> ET.Element:
    """The JUnit ``<testsuites>`` element for *report* (validated and normalized first)."""
    normalized = normalize_report(report)
    root = ET.Element("testsuites", name="wheelfleet verify")
    for host in normalized["hosts"]:
        _count(_suite(root, host, normalized["generated_at"]))
    _count(root)
    _clean_tree(root)
    ET.indent(root)
    return root


def _clean_tree(root: ET.Element) -> None:
    """Remove characters XML 1.0 cannot carry from every attribute and text node.

    ElementTree happily serializes e.g. ``\x1b`` from a coloured compiler log, and then every
    JUnit parser rejects the whole file; one pass here protects every field at once.
    """
    for element in root.iter():
        if element.text:
            element.text = clean_line(element.text)
        for key, value in list(element.attrib.items()):
            element.set(key, clean_line(value))


def write_junit(report: Mapping[str, Any], path: str | Path) -> Path:
    """Write *report* as JUnit XML to *path* (atomically) and return the path."""
    root = build_junit(report)
    return atomic_write(Path(path), ET.tostring(root, encoding="utf-8", xml_declaration=True))
