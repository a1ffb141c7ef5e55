"""Small text helpers shared by the renderers: check naming and cleaning untrusted log text."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Compiler and pip output is often coloured; escape sequences are noise in a report.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]")
# Characters XML 1.0 forbids outright (and that terminals would interpret): drop them.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace (newlines included), drop colour codes, cut to ``limit`` characters."""
    flat = " ".join(_ANSI.sub("", text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def clean_line(text: str) -> str:
    """Strip ANSI colour codes and control characters from one line of untrusted output."""
    return _CONTROL.sub("", _ANSI.sub("", text))


def clean_tail(lines: list[str]) -> str:
    """A log tail as one newline-joined block, cleaned line by line."""
    return "\n".join(clean_line(line) for line in lines)


def check_name(check: Mapping[str, Any]) -> str:
    """The name of a check within its host, e.g. ``manylinux_2_36_x86_64 cp311-cp311 default``.

    The arch is appended only when the image name does not already carry it, so the common
    Linux case stays short while macOS ``universal2`` / ``arm64`` cells stay distinct.
    """
    image, python, arch, variant = check["image"], check["python"], check["arch"], check["variant"]
    label = image if arch in image else f"{image} {arch}"
    return f"{label} {python} {variant}"


def failure_text(check: Mapping[str, Any]) -> str:
    """Step, exit code and log tail of a failed check, as plain text."""
    lines = [f"step: {check.get('step') or 'unknown'}"]
    if check.get("exit_code") is not None:
        lines.append(f"exit code: {check['exit_code']}")
    tail = check.get("output_tail") or []
    if tail:
        lines.append("")
        lines.append(clean_tail(tail))
    return "\n".join(lines)


def diagnosis_or_fallback(check: Mapping[str, Any]) -> str:
    """The one-line diagnosis, or a generic one naming the step when verify had none."""
    if check.get("diagnosis"):
        return clean_line(str(check["diagnosis"]))
    return f"failed at step {check.get('step') or 'unknown'}"
