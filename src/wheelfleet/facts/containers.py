"""Facts about a host's container engine and the images it holds."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from pyinfra.api import FactBase

ENGINES = ("podman", "docker")
# Starts the line carrying the listing's exit status; no JSON line can start with it.
EXIT_MARK = "##wheelfleet-exit"


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


class ContainerStore(FactBase):
    """
    The images in the engine's local store, read by a command that also says whether the
    engine runs at all: listing the images fails exactly like ``<engine> info`` when the binary
    is gone (127), the OCI runtime is missing or the storage configuration is broken (125), so
    one read per host answers both questions.

    ``images`` is ``[]`` whenever ``runnable`` is false; ``error`` is one line (at most 200
    characters), ``None`` when the engine runs.

    .. code:: python

        store = read_once(ContainerStore, engine="podman")   # wheelfleet.facts.once

        {"runnable": True, "exit_code": 0, "error": None,
         "images": [{"id": "3f2c…", "names": ["wheelfleet/manylinux_2_28_x86_64:pinned"],
                     "repo_digests": ["quay.io/pypa/manylinux_2_28_x86_64@sha256:e0ad…"],
                     "digests": ["sha256:e0ad…"], "created": "2026-10-26T03:12:00+00:00"}]}

        {"runnable": False, "exit_code": 127,
         "error": "timeout: failed to run command 'podman': No such file or directory",
         "images": []}
    """

    # No requires_command: a missing binary is exactly what this fact must report.

    def command(self, engine: str = "podman") -> str:
        if engine not in ENGINES:
            raise ValueError(f"unknown container engine {engine!r}")
        if engine == "docker":
            # A pipe would lose the exit status of `docker images`, so the ids go through a
            # variable; RepoDigests need an inspect, which prints one JSON array for them all.
            listing = ("{ ids=$(timeout 60 docker images -q --no-trunc) || exit $?; "
                       "ids=$(printf '%s\\n' $ids | sort -u); "
                       "if [ -z \"$ids\" ]; then echo '[]'; "
                       "else timeout 60 docker image inspect $ids; fi; }")
        else:
            listing = "timeout 60 podman images --format json"
        # The listing's stdout goes straight to ours through fd 3 while its stderr is kept for
        # the error; the marker line starts on a fresh line even if the JSON ends without one.
        return (f"exec 3>&1; err=$({listing} 2>&1 >&3); rc=$?; "
                f"printf '\\n{EXIT_MARK} %s\\n' \"$rc\"; printf '%s\\n' \"$err\" | tail -n 5")

    def process(self, output: list[str]) -> dict[str, Any]:
        marks = [i for i, line in enumerate(output) if line.startswith(EXIT_MARK)]
        if not marks:
            return _not_runnable(None, "the image listing gave no exit status")
        at = marks[-1]
        text = output[at][len(EXIT_MARK):].strip()
        code = int(text) if text.isdigit() else None
        said = [line.strip() for line in output[at + 1:] if line.strip()]
        if code == 124:
            return _not_runnable(code, "images did not answer within 60s")
        if code != 0:
            return _not_runnable(code, said[-1] if said else f"images exited {code} without a word")
        listing = "\n".join(output[:at]).strip() or "[]"
        try:
            images = _images(json.loads(listing))
        except (ValueError, TypeError, AttributeError):
            first = listing.splitlines()[0].strip()
            return _not_runnable(code, f"images exited 0 but printed no image list: {first}")
        return {"runnable": True, "exit_code": 0, "error": None, "images": images}


def _not_runnable(code: int | None, error: str) -> dict[str, Any]:
    return {"runnable": False, "exit_code": code, "error": error[:200], "images": []}


def _images(raws: Any) -> list[dict[str, Any]]:
    if not isinstance(raws, list):
        raise TypeError("not a JSON array")
    images = []
    for raw in raws:
        # podman stores locally tagged names under "localhost/"; compare without it.
        names = [str(n).removeprefix("localhost/")
                 for n in (raw.get("Names") or raw.get("RepoTags") or [])]
        repo_digests = [str(d) for d in raw.get("RepoDigests") or []]
        digests = sorted({d.rpartition("@")[2] for d in repo_digests if "@" in d}
                         | ({str(raw["Digest"])} if raw.get("Digest") else set()))
        images.append({"id": str(raw.get("Id", "")).removeprefix("sha256:"),
                       "names": names, "repo_digests": repo_digests,
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
