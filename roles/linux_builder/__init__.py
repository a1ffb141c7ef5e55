"""linux_builder: a container engine holding exactly the manylinux/musllinux images pinned."""

from __future__ import annotations

from importlib import resources

from pyinfra import host, logger
from pyinfra.api import deploy
from pyinfra.operations import apt, files, pip

from wheelfleet.operations.engine import runnable_engine
from wheelfleet.operations.images import PULL_SCRIPT, pinned_image, unselected_images_removed
from wheelfleet.platforms.linux import LinuxSettings
from wheelfleet.selection import Selection

TOOLS_VENV = "/opt/wheelfleet/tools"
ENGINE_PACKAGES = {"podman": ["podman", "skopeo"], "docker": ["docker.io", "skopeo"]}


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
    apt.packages(name=f"Install container engine ({', '.join(packages)})", packages=packages,
                 no_recommends=True, _env={"DEBIAN_FRONTEND": "noninteractive"},
                 _timeout=1800)
    # A static name: one read at load time to name this operation disagreed, in two real-host
    # runs, with what the operation itself saw on the same host; only the operation decides.
    runnable_engine(name=f"Reinstall the container engine if not runnable ({engine})",
                    engine=engine, packages=ENGINE_PACKAGES[engine], _timeout=1800)

    if engine == "podman":
        files.directory(name="Registries drop-in directory",
                        path="/etc/containers/registries.conf.d")
        files.template(name="Insecure (local mirror) registries", src=_template(
            "registries.conf.j2"), dest="/etc/containers/registries.conf.d/50-wheelfleet.conf",
            insecure_registries=insecure)
        files.template(name="Engine settings (runtime, cgroups, ulimits)",
                       src=_template("containers.conf.j2"),
                       dest="/etc/containers/containers.conf", default_ulimits=ulimits,
                       runtime=runtime, cgroup_manager=settings.container_cgroup_manager,
                       events_logger=settings.container_events_logger)
        if settings.container_storage_driver:
            files.template(name="Image storage", src=_template("storage.conf.j2"),
                           dest="/etc/containers/storage.conf",
                           driver=settings.container_storage_driver,
                           graphroot=settings.container_storage_root)
    else:
        docker_ulimits = {u.name: {"Name": u.name, "Soft": u.soft, "Hard": u.hard}
                          for u in settings.container_default_ulimits}
        files.template(name="Docker daemon settings", src=_template("daemon.json.j2"),
                       dest="/etc/docker/daemon.json", insecure_registries=insecure,
                       default_ulimits=ulimits, docker_ulimits=docker_ulimits,
                       storage_driver=settings.container_storage_driver)

    files.put(name="Pinned-image pull helper",
              src=str(resources.files("wheelfleet").joinpath("scripts/pull-pinned.sh")),
              dest=PULL_SCRIPT, mode="755", create_remote_dir=True)

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

    tools = [f"{name}=={version}" for name, version
             in selection.matrix.tool_pins(selection.platform).items()]
    pip.venv(name="Venv for pinned repair tools", path=TOOLS_VENV, python="python3",
             _timeout=300)
    pip.packages(name=f"Pinned repair tools ({', '.join(tools)})", packages=tools,
                 virtualenv=TOOLS_VENV, virtualenv_kwargs={"python": "python3", "venv": True},
                 _timeout=900)
