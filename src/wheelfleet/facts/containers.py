"""Facts about a host's container engine and the images it holds."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from pyinfra.api import FactBase

ENGINES = ("podman", "docker")


class ContainerEngine(FactBase):
    """
    The container engine on the host and its version, or ``None`` when it is absent.

    .. code:: python

        {"engine": "podman", "version": "4.3.1"}
    """

    def requires_command(self, engine: str = "podman") -> str:
        return engine

    def command(self, engine: str = "podman") -> str:
        if engine not in ENGINES:
            raise ValueError(f"unknown container engine {engine!r}")
        # Only the client version: a docker client answers even when no daemon runs.
        return f"{engine} --version"

    def process(self, output: list[str]) -> dict[str, str] | None:
        for line in output:
            words = line.replace(",", " ").split()
            # "podman version 4.3.1" / "Docker version 28.2.2, build e6534b4"
            if len(words) >= 3 and words[1] == "version":
                return {"engine": words[0].lower(), "version": words[2]}
        return None


class ContainerEngineRunnable(FactBase):
    """
    Whether the engine really runs (``<engine> info`` answers), not only whether its package
    is registered: a deleted binary, a broken runtime or storage configuration all show here.

    .. code:: python

        {"runnable": False, "exit_code": 127, "error": "sh: 1: podman: not found"}
    """

    def command(self, engine: str = "podman") -> str:
        if engine not in ENGINES:
            raise ValueError(f"unknown container engine {engine!r}")
        # No requires_command: a missing binary is exactly what this fact must report.
        return (f"out=$(timeout 60 {engine} info 2>&1 >/dev/null); rc=$?; "
                f'echo "exit $rc"; printf "%s\\n" "$out" | tail -n 5')

    def process(self, output: list[str]) -> dict[str, Any]:
        code = None
        if output and output[0].startswith("exit "):
            text = output[0][len("exit "):].strip()
            code = int(text) if text.isdigit() else None
        said = [line.strip() for line in output[1:] if line.strip()]
        if code == 0:
            return {"runnable": True, "exit_code": 0, "error": None}
        if code == 124:
            error = "info did not answer within 60s"
        else:
            error = said[-1] if said else f"info exited {code} without a word"
        return {"runnable": False, "exit_code": code, "error": error[:200]}


class ContainerImages(FactBase):
    """
    Images in the engine's local store, with the digests they were pulled by.

    .. code:: python

        [{"id": "3f2c…", "names": ["wheelfleet/manylinux_2_28_x86_64:pinned"],
          "repo_digests": ["quay.io/pypa/manylinux_2_28_x86_64@sha256:e0ad…"],
          "digests": ["sha256:e0ad…"], "created": "2026-10-26T03:12:00+00:00"}]
    """

    default = list

    def requires_command(self, engine: str = "podman") -> str:
        return engine

    def command(self, engine: str = "podman") -> str:
        if engine == "docker":
            # One JSON object per line; RepoDigests need an inspect, so list IDs and inspect.
            return ("ids=$(docker images -q --no-trunc | sort -u); "
                    "[ -z \"$ids\" ] && echo '[]' || docker image inspect $ids")
        return "podman images --format json"

    def process(self, output: list[str]) -> list[dict[str, Any]]:
        text = "\n".join(output).strip() or "[]"
        images = []
        for raw in json.loads(text):
            # podman stores locally tagged names under "localhost/"; compare without it.
            names = [str(n).removeprefix("localhost/")
                     for n in (raw.get("Names") or raw.get("RepoTags") or [])]
            repo_digests = raw.get("RepoDigests") or []
            digests = sorted({d.rpartition("@")[2] for d in repo_digests if "@" in d}
                             | ({raw["Digest"]} if raw.get("Digest") else set()))
            images.append({"id": str(raw.get("Id", "")).removeprefix("sha256:"),
                           "names": list(names), "repo_digests": list(repo_digests),
                           "digests": digests, "created": _created(raw)})
        return images


def _created(raw: dict[str, Any]) -> str | None:
    value = raw.get("Created")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).isoformat()
    if isinstance(value, str) and value:
        return value
    return raw.get("CreatedAt")


def image_age_days(created: str | None, now: datetime | None = None) -> int | None:
    """Whole days since an image's creation time (ISO 8601), or None when unknown."""
    if not created:
        return None
    # docker prints nanoseconds; datetime takes at most microseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", created.replace("Z", "+00:00"))
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return ((now or datetime.now(UTC)) - when).days
