"""``ContainerStore``: one command lists the engine's images and says whether the engine runs.

Proof levels:

* real shell, stand-in engine: the fact's own command runs under ``sh -c`` on this machine
  against small labelled stand-in ``podman``/``docker`` scripts put first on PATH (in
  ``tmp_path``), which print JSON on stdout, words on stderr and exit as told; the real output
  lines go to ``process()``.  What is real: the shell plumbing (stdout through fd 3, stderr
  kept apart, the exit status carried past the pipe), ``timeout``, ``sort``, ``tail``.
* real: the same command against this machine's real podman (root here), and the real docker
  client pointed at a socket where no daemon listens; a real pyinfra ``@local`` host for
  ``read_once``/``forget`` and for a ``-y`` run of the engine and image operations that lists
  the store once (a labelled stand-in ``podman`` there only counts calls to the real one).
* spec: ``runnable_engine`` on a pyinfra-testing fake host, to show it makes the next
  ``read_once`` go back to the host after it decides to reinstall.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pyinfra.api import Config, Inventory, State
from pyinfra.api.connect import connect_all, disconnect_all
from pyinfra.api.operation import add_op
from pyinfra.api.operations import run_ops
from pyinfra.context import ctx_host, ctx_state
from pyinfra_testing.util import FakeState, create_host

from wheelfleet.facts.containers import EXIT_MARK, ContainerStore
from wheelfleet.facts.once import forget, read_once
from wheelfleet.operations.engine import runnable_engine
from wheelfleet.operations.images import unselected_images_removed

DIGEST = "sha256:" + "e0" * 32
PODMAN_JSON = [{"Id": "3f2c9a", "Names": ["localhost/wheelfleet/manylinux_2_28_x86_64:pinned"],
                "RepoDigests": [f"quay.io/pypa/manylinux_2_28_x86_64@{DIGEST}"],
                "Digest": DIGEST, "Created": 1761448320}]


def stand_in(tmp_path: Path, name: str, body: str) -> Path:
    """A labelled stand-in engine named *name*, first on the PATH this test gives ``sh``."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    script = bindir / name
    script.write_text(f"#!/bin/sh\n# stand-in {name} for tests/test_container_store.py\n{body}")
    script.chmod(0o755)
    return bindir


def run_fact(engine: str, path: str | None = None,
             env: dict[str, str] | None = None) -> tuple[list[str], dict[str, Any]]:
    """Run the fact's command as pyinfra would (``sh -c``); its lines and what they mean."""
    full = {**os.environ, **(env or {})}
    if path:
        full["PATH"] = f"{path}:{full['PATH']}"
    done = subprocess.run(["sh", "-c", ContainerStore().command(engine)], env=full,
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done  # the fact command itself always succeeds
    assert done.stderr == "", done.stderr  # the engine's stderr is all captured
    lines = done.stdout.splitlines()
    return lines, ContainerStore().process(lines)


def test_stdout_json_and_stderr_warning_are_kept_apart(tmp_path):
    """real shell, stand-in engine: JSON on stdout, a warning on stderr, exit 0."""
    bindir = stand_in(tmp_path, "podman", (
        f"[ \"$*\" = 'images --format json' ] || exit 99\n"
        f"echo 'time=\"x\" level=warning msg=\"cgroupv2 manager is systemd\"' >&2\n"
        f"cat <<'EOF'\n{json.dumps(PODMAN_JSON, indent=4)}\nEOF\n"))
    lines, store = run_fact("podman", str(bindir))
    assert store == {"runnable": True, "exit_code": 0, "error": None, "images": [
        {"id": "3f2c9a", "names": ["wheelfleet/manylinux_2_28_x86_64:pinned"],
         "repo_digests": [f"quay.io/pypa/manylinux_2_28_x86_64@{DIGEST}"],
         "digests": [DIGEST], "created": "2025-10-26T03:12:00+00:00"}]}
    mark = lines.index(f"{EXIT_MARK} 0")
    # The warning came after the exit line (from the captured stderr), never into the JSON.
    assert any("level=warning" in line for line in lines[mark + 1:]), lines
    assert not any("level=warning" in line for line in lines[:mark]), lines


def test_error_and_exit_status_reported(tmp_path):
    """real shell, stand-in engine: the runtime is missing, exit 125 with podman's words."""
    bindir = stand_in(tmp_path, "podman", (
        "echo 'time=\"x\" level=warning msg=\"noise first\"' >&2\n"
        "echo 'Error: default OCI runtime \"runc\" not found: invalid argument' >&2\n"
        "exit 125\n"))
    _, store = run_fact("podman", str(bindir))
    assert store == {"runnable": False, "exit_code": 125,
                     "error": 'Error: default OCI runtime "runc" not found: invalid argument',
                     "images": []}


def test_json_without_final_newline_still_parses(tmp_path):
    """real shell, stand-in engine: the exit line starts a line of its own."""
    bindir = stand_in(tmp_path, "podman", "printf '[]'\n")
    _, store = run_fact("podman", str(bindir))
    assert store == {"runnable": True, "exit_code": 0, "error": None, "images": []}


def test_hung_engine_is_cut_off_by_timeout(tmp_path):
    """real shell, stand-in engine and a stand-in ``timeout`` that keeps the real one but
    waits 1 s instead of 60 s: a hung listing ends as exit 124."""
    real_timeout = shutil.which("timeout")
    assert real_timeout
    stand_in(tmp_path, "timeout", f'shift\nexec {real_timeout} 1 "$@"\n')
    bindir = stand_in(tmp_path, "podman", "exec sleep 30\n")
    _, store = run_fact("podman", str(bindir))
    assert store == {"runnable": False, "exit_code": 124,
                     "error": "images did not answer within 60s", "images": []}


def test_docker_lists_ids_then_inspects_each_once(tmp_path):
    """real shell, stand-in engine: ``docker images -q`` repeats an id (one per tag); the
    inspect gets the sorted unique ids and its JSON array is the answer."""
    bindir = stand_in(tmp_path, "docker", (
        "if [ \"$*\" = 'images -q --no-trunc' ]; then\n"
        "  printf 'sha256:bb\\nsha256:aa\\nsha256:bb\\n'; exit 0; fi\n"
        "[ \"$1 $2\" = 'image inspect' ] || exit 99\n"
        "shift 2\n"
        "printf '[{\"Id\": \"%s\", \"RepoTags\": [\"%s\"], \"RepoDigests\": [],"
        " \"Created\": \"2025-10-26T03:12:00.123456789Z\"}]\\n' \"$*\" \"$#\"\n"))
    _, store = run_fact("docker", str(bindir))
    assert store["runnable"] is True, store
    [image] = store["images"]
    assert image["id"] == "aa sha256:bb"  # "sha256:aa sha256:bb": sorted, each once
    assert image["names"] == ["2"]
    assert image["created"] == "2025-10-26T03:12:00.123456789Z"


def test_docker_listing_exit_status_survives(tmp_path):
    """real shell, stand-in engine: ``docker images`` fails with 3; that status (not the
    status of a pipe's last command) is what the fact reports, and no inspect runs."""
    bindir = stand_in(tmp_path, "docker", (
        "[ \"$1\" = images ] || { echo 'inspect ran' >&2; exit 0; }\n"
        "echo 'permission denied while trying to connect' >&2\nexit 3\n"))
    _, store = run_fact("docker", str(bindir))
    assert store == {"runnable": False, "exit_code": 3,
                     "error": "permission denied while trying to connect", "images": []}


def test_docker_with_no_images_answers_an_empty_list(tmp_path):
    """real shell, stand-in engine: no ids, no inspect, ``[]``."""
    bindir = stand_in(tmp_path, "docker", "[ \"$1\" = images ] || exit 99\n")
    _, store = run_fact("docker", str(bindir))
    assert store == {"runnable": True, "exit_code": 0, "error": None, "images": []}


def test_real_podman_lists_its_store():
    """real: this machine's podman (root) runs and lists its store through the fact."""
    if not shutil.which("podman"):
        pytest.skip("podman is not installed (.ci/setup installs it)")
    _, store = run_fact("podman")
    assert store["runnable"] is True, store
    assert store["exit_code"] == 0 and store["error"] is None
    assert isinstance(store["images"], list)
    for image in store["images"]:
        assert set(image) == {"id", "names", "repo_digests", "digests", "created"}


def test_real_docker_client_without_daemon(tmp_path):
    """real: the docker client, pointed at a socket no daemon listens on."""
    if not shutil.which("docker"):
        pytest.skip("no docker client installed")
    _, store = run_fact("docker", env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert store["runnable"] is False and store["images"] == [], store
    assert store["exit_code"] == 1, store
    assert "Cannot connect to the Docker daemon" in store["error"], store


def test_read_once_and_forget_on_a_real_host():
    """real: a pyinfra ``@local`` host; the store is read once until forgotten, and forgetting
    one engine's answer keeps the other's."""
    if not shutil.which("podman"):
        pytest.skip("podman is not installed (.ci/setup installs it)")
    inventory = Inventory((["@local"], {}))
    state = State(inventory, Config())
    connect_all(state)
    try:
        local = inventory.get_host("@local")
        with ctx_state.use(state), ctx_host.use(local):
            first = read_once(ContainerStore, engine="podman")
            docker = read_once(ContainerStore, engine="docker")
            assert first["runnable"] is True, first
            assert read_once(ContainerStore, engine="podman") is first  # remembered
            forget(ContainerStore, engine="podman")
            again = read_once(ContainerStore, engine="podman")
            assert again is not first and again == first  # read again, same store
            assert read_once(ContainerStore, engine="docker") is docker
    finally:
        disconnect_all(state)


def _reads_after(store: dict[str, Any]) -> tuple[list[str], int]:
    """Run runnable_engine on a fake host answering *store*, then read the store as the image
    operations do; the commands it yielded and how many times the host was asked."""
    host = create_host(FakeState(), facts={
        "containers.ContainerStore": {"engine=podman": store},
        "deb.DebPackages": {"podman": ["4.3.1"], "skopeo": ["1.9.3"]},
    })
    reads: list[str] = []
    real_get_fact = host.get_fact

    def counting(fact: type, *args: Any, **kwargs: Any) -> Any:
        if fact is ContainerStore:
            reads.append(kwargs.get("engine", ""))
        return real_get_fact(fact, *args, **kwargs)

    host.get_fact = counting
    with ctx_state.use(FakeState()), ctx_host.use(host):
        # Remembered from an earlier phase of the run (a prepare before execution).
        read_once(ContainerStore, engine="podman")
        reads.clear()
        commands = [str(c) for c in runnable_engine._inner("podman", ["podman", "skopeo"])]
        read_once(ContainerStore, engine="podman")  # what the image operations do next
        read_once(ContainerStore, engine="podman")
    return commands, len(reads)


def test_reinstall_forgets_the_store_and_a_running_engine_does_not():
    """spec: runnable_engine judges the engine by its own read, not a remembered one; after
    a reinstall the image operations read the store again; otherwise that one read serves
    them all."""
    broken = {"runnable": False, "exit_code": 127, "error": "gone", "images": []}
    commands, reads = _reads_after(broken)
    assert commands and "--reinstall" in commands[0], commands
    assert reads == 2  # its own read, then one fresh read for the image operations
    fine = {"runnable": True, "exit_code": 0, "error": None, "images": []}
    commands, reads = _reads_after(fine)
    assert commands == [] and reads == 1


def test_one_listing_per_converge_on_a_real_host(tmp_path, monkeypatch):
    """real: a ``-y``-style pyinfra run on the ``@local`` host with this machine's podman runs
    the engine operation and the image operation and lists the store once.  A labelled
    stand-in ``podman`` first on PATH only counts the calls and execs the real podman."""
    real = shutil.which("podman")
    if not real:
        pytest.skip("podman is not installed (.ci/setup installs it)")
    calls = tmp_path / "calls"
    bindir = stand_in(tmp_path, "podman", f'echo "$*" >> {calls}\nexec {real} "$@"\n')
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    inventory = Inventory((["@local"], {}))
    state = State(inventory, Config(), check_for_changes=False)  # what -y does
    connect_all(state)
    try:
        add_op(state, runnable_engine, engine="podman", packages=["podman"])
        # No name is kept and no managed image exists here: nothing to remove, only a read.
        add_op(state, unselected_images_removed, keep=[], managed_prefix="wheelfleet-test-/",
               engine="podman")
        run_ops(state)
    finally:
        disconnect_all(state)
    local = inventory.get_host("@local")
    assert not state.failed_hosts
    assert [op.operation_meta.did_change() for op in state.ops[local].values()] == [False, False]
    assert calls.read_text().splitlines() == ["images --format json"]
