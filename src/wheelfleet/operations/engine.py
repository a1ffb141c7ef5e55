"""Operation keeping a builder host's container engine runnable, not merely installed."""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation
from pyinfra.facts.deb import DebPackages

from wheelfleet.facts.containers import ContainerStore
from wheelfleet.facts.once import forget, read_once


@operation()
def runnable_engine(engine: str, packages: list[str]):
    """
    Reinstall the engine's packages when they are registered as installed but the engine does
    not run (its binary deleted, its files damaged): the package database alone would call
    such a host converged while every health check fails.  The engine runs when it lists its
    images (``ContainerStore``, read once per host and shared with the image operations).

    + engine: ``podman`` or ``docker``
    + packages: the Debian packages that provide it (already installed by an earlier operation)

    **Example:**

    .. code:: python

        runnable_engine(name="Reinstall the container engine if not runnable",
                        engine="podman",
                        packages=["podman", "skopeo"])
    """
    # Always this operation's own read, remembered for the image operations after it: a run
    # that prepares every operation before executing it would otherwise judge the engine at
    # execution by what it was before the package operation ran (a needless reinstall).  In a
    # ``-y`` run this is the first read of the store anyway.
    forget(ContainerStore, engine=engine)
    store = read_once(ContainerStore, engine=engine)
    if store and store["runnable"]:
        host.noop(f"{engine} runs")
        return
    installed = host.get_fact(DebPackages) or {}
    absent = [p for p in packages if p not in installed]
    if absent:
        # Not installed yet (a bare host): the package operation before this one installs it.
        host.noop(f"{', '.join(absent)} not installed yet")
        return
    # The remembered "not runnable, no images" is stale once the engine is reinstalled: the
    # image operations after this one must read the store again.
    forget(ContainerStore, engine=engine)
    yield StringCommand("DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q",
                        "--reinstall", *(QuoteString(p) for p in packages))
