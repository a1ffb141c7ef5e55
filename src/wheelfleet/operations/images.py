"""Operations keeping a builder host's container images exactly as the matrix pins them."""

from __future__ import annotations

from typing import Any

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation

from wheelfleet.facts.containers import ContainerStore, image_age_days
from wheelfleet.facts.once import read_once

PULL_SCRIPT = "/usr/local/libexec/wheelfleet/pull-pinned"


def _store(engine: str) -> dict[str, Any]:
    # Read once per host: the engine operation before these has usually read it already.
    store = read_once(ContainerStore, engine=engine)
    return store or {"runnable": False, "error": "no answer", "images": []}


def _holding(images: list[dict], local_name: str, digest: str) -> dict | None:
    for image in images:
        if local_name in image["names"] and digest in image["digests"]:
            return image
    return None


@operation()
def pinned_image(ref: str, digest: str, local_name: str, engine: str = "podman",
                 pull_timeout: int = 900, tag_ref: str | None = None):
    """
    Ensure the image ``ref`` (``repository@sha256:…``) is in the local store, verified against
    ``digest`` and tagged ``local_name``.

    + ref: what to pull, pinned by digest (possibly rewritten through a registry mirror)
    + digest: the digest the matrix pins (``sha256:…``)
    + local_name: the stable local name builds use
    + engine: ``podman`` or ``docker``
    + pull_timeout: seconds before the pull is abandoned
    + tag_ref: ``repository:tag`` of the same image, used only to explain a missing digest

    **Example:**

    .. code:: python

        pinned_image(
            ref="quay.io/pypa/manylinux_2_28_x86_64@sha256:e0ad…",
            digest="sha256:e0ad…",
            local_name="wheelfleet/manylinux_2_28_x86_64:pinned",
        )
    """
    # An engine that cannot list its images holds none: the pull then fails with its error.
    held = _holding(_store(engine)["images"], local_name, digest)
    if held:
        age = image_age_days(held["created"])
        host.noop(f"{local_name} holds {digest[:19]}… (image built {held['created'] or '?'}"
                  + (f", {age} days old)" if age is not None else ")"))
        return
    args = [engine, ref, digest, local_name, str(pull_timeout)] + ([tag_ref] if tag_ref else [])
    yield StringCommand(PULL_SCRIPT, *(QuoteString(a) for a in args))


@operation()
def unselected_images_removed(keep: list[str], managed_prefix: str = "wheelfleet/",
                              engine: str = "podman"):
    """
    Remove images wheelfleet manages (named ``managed_prefix…``) that are no longer selected.

    + keep: local names that stay (the host's current selection)
    + managed_prefix: only images carrying a name with this prefix are considered
    + engine: ``podman`` or ``docker``

    **Example:**

    .. code:: python

        unselected_images_removed(keep=["wheelfleet/manylinux_2_28_x86_64:pinned"])
    """
    store = _store(engine)
    if not store["runnable"]:
        host.noop(f"{engine} cannot list its images ({store['error']}): nothing to remove")
        return
    removed = 0
    for image in store["images"]:
        ours = [n for n in image["names"] if n.removeprefix("localhost/").startswith(
            managed_prefix)]
        if not ours:
            continue
        if any(n.removeprefix("localhost/") in keep for n in ours):
            continue
        # By ID: removes the digest reference and our tag together.
        removed += 1
        yield StringCommand(engine, "rmi", "-f", QuoteString(image["id"]))
    if not removed:
        host.noop("no unselected managed images")
