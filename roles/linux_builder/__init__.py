"""linux_builder: a container engine holding exactly the manylinux/musllinux images pinned."""

from __future__ import annotations

from importlib import resources

from pyinfra import host, logger
from pyinfra.api import deploy

from wheelfleet.facts.once import prefetch, prefetch_files
from wheelfleet.facts.python import VenvDistributions
from wheelfleet.lock.needs import locked, tool_requirements, tools_key
from wheelfleet.operations.engine import runnable_engine
from wheelfleet.operations.files import managed_directory, managed_file, rendered
from wheelfleet.operations.fleet import refuse
from wheelfleet.operations.hashed_pip import hashed_packages
from wheelfleet.operations.images import PULL_SCRIPT, pinned_image, unselected_images_removed
from wheelfleet.operations.packages import debian_packages
from wheelfleet.platforms.linux import ENGINE_PACKAGES, LinuxSettings
from wheelfleet.selection import Selection
from wheelfleet.templating import jinja_env

TOOLS_VENV = "/opt/wheelfleet/tools"
REGISTRIES_D = "/etc/containers/registries.conf.d"
REGISTRIES_CONF = f"{REGISTRIES_D}/50-wheelfleet.conf"
CONTAINERS_CONF = "/etc/containers/containers.conf"
STORAGE_CONF = "/etc/containers/storage.conf"
DAEMON_JSON = "/etc/docker/daemon.json"


def _template(name: str) -> str:
    return str(resources.files("wheelfleet").joinpath(f"templates/{name}"))


@deploy("linux_builder")
def linux_builder(selection: Selection) -> None:
    """
    Container engine configured from host data, the selected images pulled by digest (through
    the fleet's registry mirror), unselected managed images removed, pinned repair tools.

    + selection: the host's validated matrix selection (``wheelfleet.deploying``)

    **Example:**

    .. code:: python

        linux_builder(selection=current_selection())
    """
    settings = selection.settings
    assert isinstance(settings, LinuxSettings)
    engine = settings.container_engine
    runtime = settings.container_runtime
    insecure = list(settings.insecure_registries)
    ulimits = [str(u) for u in settings.container_default_ulimits]

    packages = list(ENGINE_PACKAGES[engine]) + ([runtime] if runtime else [])
    debian_packages(name=f"Install container engine ({', '.join(packages)})",
                    packages=packages, cache_time=settings.apt_cache_time, _timeout=1800)

    if engine == "podman":
        managed = [REGISTRIES_D, REGISTRIES_CONF, CONTAINERS_CONF, STORAGE_CONF, PULL_SCRIPT]
    else:
        managed = [DAEMON_JSON, PULL_SCRIPT]
    # One read of every file this role manages answers all of its file operations.
    prefetch_files(managed)
    if engine == "podman":
        managed_directory(name="Registries drop-in directory", path=REGISTRIES_D)
        managed_file(name="Insecure (local mirror) registries", dest=REGISTRIES_CONF,
                     src=rendered(_template("registries.conf.j2"), jinja_env(),
                                  insecure_registries=insecure))
        managed_file(name="Engine settings (runtime, cgroups, ulimits)", dest=CONTAINERS_CONF,
                     src=rendered(_template("containers.conf.j2"), jinja_env(),
                                  default_ulimits=ulimits, runtime=runtime,
                                  cgroup_manager=settings.container_cgroup_manager,
                                  events_logger=settings.container_events_logger))
        if settings.container_storage_driver:
            managed_file(name="Image storage", dest=STORAGE_CONF,
                         src=rendered(_template("storage.conf.j2"), jinja_env(),
                                      driver=settings.container_storage_driver,
                                      graphroot=settings.container_storage_root))
    else:
        docker_ulimits = {u.name: {"Name": u.name, "Soft": u.soft, "Hard": u.hard}
                          for u in settings.container_default_ulimits}
        managed_file(name="Docker daemon settings", dest=DAEMON_JSON,
                     src=rendered(_template("daemon.json.j2"), jinja_env(),
                                  insecure_registries=insecure, default_ulimits=ulimits,
                                  docker_ulimits=docker_ulimits,
                                  storage_driver=settings.container_storage_driver))

    managed_file(name="Pinned-image pull helper",
                 src=str(resources.files("wheelfleet").joinpath("scripts/pull-pinned.sh")),
                 dest=PULL_SCRIPT, mode="755")

    # After the engine's configuration is written (a storage.conf about to be fixed must not
    # make it look broken), before the images: its one read of the store answers them too.
    # A static name: one read at load time to name this operation disagreed, in two real-host
    # runs, with what the operation itself saw on the same host; only the operation decides.
    runnable_engine(name=f"Reinstall the container engine if not runnable ({engine})",
                    engine=engine, packages=list(ENGINE_PACKAGES[engine]), _timeout=1800)

    mirrors = selection.registry_mirrors
    for image in selection.images:
        if image.eol_since:
            logger.warning(f"[{host.name}] {image.platform_tag}: policy {image.policy} is EOL "
                           f"since {image.eol_since}; plan to drop it")
        if image.state == "alpha":
            logger.warning(f"[{host.name}] {image.platform_tag}: image is alpha upstream")
        tag_ref = None
        if image.tag:
            repo = image.ref_via(mirrors).rpartition("@")[0]
            tag_ref = f"{repo}:{image.tag}"
        pinned_image(name=f"Pinned image {image.platform_tag}", ref=image.ref_via(mirrors),
                     digest=image.digest, local_name=image.local_name, engine=engine,
                     pull_timeout=settings.pull_timeout, tag_ref=tag_ref)

    if settings.prune_unselected_images:
        unselected_images_removed(name="Remove images no longer selected",
                                  keep=[i.local_name for i in selection.images], engine=engine)

    tools = tool_requirements(selection.matrix, selection.platform)
    key = tools_key(selection.platform)
    hashes, unlocked = locked(selection.matrix, [(key, tools)])
    if unlocked:  # never installed from unhashed files: this host fails, the others go on
        refuse(name=f"Pinned repair tools ({', '.join(tools)})", reason=unlocked)
    else:
        prefetch(VenvDistributions, venv=TOOLS_VENV)
        hashed_packages(name=f"Pinned repair tools ({', '.join(tools)})", venv=TOOLS_VENV,
                        packages=hashes, lock_key=f"python_locks.{key}", create_with="python3",
                        _timeout=900)
