"""Operation keeping a builder host's container engine runnable, not merely installed."""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation
from pyinfra.facts.deb import DebPackages

from wheelfleet.facts.containers import ContainerEngineRunnable


@operation()
def runnable_engine(engine: str, packages: list[str]):
    """
    Reinstall the engine's packages when they are registered as installed but the engine does
    not run (its binary deleted, its files damaged): the package database alone would call
    such a host converged while every health check fails.

    + engine: ``podman`` or ``docker``
    + packages: the Debian packages that provide it (already installed by an earlier operation)

    **Example:**

    .. code:: python

        runnable_engine(name="Reinstall the container engine if not runnable",
                        engine="podman",
                        packages=["podman", "skopeo"])
    """
    runs = host.get_fact(ContainerEngineRunnable, engine=engine)
    if runs and runs["runnable"]:
        host.noop(f"{engine} runs")
        return
    installed = host.get_fact(DebPackages) or {}
    absent = [p for p in packages if p not in installed]
    if absent:
        # Not installed yet (a bare host): the package operation before this one installs it.
        host.noop(f"{', '.join(absent)} not installed yet")
        return
    yield StringCommand("DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q",
                        "--reinstall", *(QuoteString(p) for p in packages))
