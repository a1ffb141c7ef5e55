"""The node agent's diagnoses: output patterns and a really full filesystem."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from wheelfleet.health.agent import diagnose, disk_full


@pytest.mark.parametrize("step,output,code,expected", [
    ("build", "error: command 'x86_64-linux-gnu-gcc' failed: No such file or directory", 1,
     "compiler missing in the image: gcc not found"),
    ("build", "src/canary.c:6:10: fatal error: openssl/evp.h: No such file or directory", 1,
     "OpenSSL headers missing in the image"),
    ("repair", "ValueError: patchelf 0.14.3 found. auditwheel repair requires patchelf >= 0.14.5",
     1, "patchelf missing or broken: auditwheel cannot graft libraries"),
    ("import", "ImportError: libcrypto.so.3: cannot open shared object file: No such file", 1,
     "a library the wheel needs is not bundled in it (import fails without the system copy)"),
    ("interpreter", "Fatal Python error: Failed to import encodings module", 1,
     "interpreter is broken: it cannot start"),
    ("build", "OSError: [Errno 28] No space left on device", 1, "disk full in the work directory"),
    ("repair", "something odd\nlast words here", 3, "repair step failed (exit 3): last words here"),
    ("build", "", 124, "build step timed out"),
])
def test_diagnoses(step, output, code, expected):
    assert diagnose(step, output, code) == expected


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_disk_full_on_a_really_full_filesystem(tmp_path):
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "wf-agent-test", str(tmp_path)],
                   check=True, timeout=30)
    try:
        assert not disk_full(str(tmp_path))
        with open(tmp_path / "fill", "wb") as handle, pytest.raises(OSError):
            while True:
                handle.write(b"x" * 65536)
                handle.flush()
        assert disk_full(str(tmp_path))
    finally:
        subprocess.run(["umount", str(tmp_path)], check=True, timeout=30)


def test_a_missing_or_failing_engine_is_named_before_any_image():
    from wheelfleet.health.agent import engine_problem

    why, _ = engine_problem("wheelfleet-no-such-engine")
    assert why.startswith("container engine not runnable: wheelfleet-no-such-engine not found "
                          "on the node"), why
    why, _ = engine_problem("false")  # a real binary that runs and fails
    assert why == "container engine not runnable: false info failed (exit 1): no output", why
    assert engine_problem("true") is None


def test_a_hung_engine_is_given_the_hosts_health_timeout_not_two_minutes(tmp_path):
    """real agent, real processes: the engine is a stand-in that never answers (a hung podman);
    with a 3 s health timeout the agent names it after 3 s, not after its 120 s cap."""
    import json
    import sys
    import time

    from wheelfleet.health import agent

    engine = tmp_path / "hung-engine"
    engine.write_text("#!/bin/sh\n# wheelfleet test stand-in: a container engine that hangs\n"
                      "exec sleep 600\n")
    engine.chmod(0o755)
    check = {"image": "manylinux_2_36", "digest": "sha256:" + "0" * 64, "python": "3.12",
             "arch": "x86_64", "variant": "default", "local_name": "img",
             "plat": "manylinux_2_36_x86_64"}
    plan = {"engine": str(engine), "work_dir": str(tmp_path / "work"), "timeout": 3,
            "parallel": 1, "checks": [check]}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    started = time.monotonic()
    proc = subprocess.run([sys.executable, agent.__file__, str(tmp_path / "plan.json")],
                          capture_output=True, text=True, timeout=100)
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    (record,) = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (record["status"], record["step"]) == ("failed", "engine"), record
    assert record["diagnosis"] == (f"container engine not runnable: {engine} info did not "
                                   "answer within 3s"), record
    assert took < 60, took  # the probe's own limit, not its 120 s cap


@pytest.mark.parametrize("code,output,expected", [
    (125, "Error: OCI runtime error: runc: exec failed", "container engine podman could not "
     "start the check's container (exit 125): Error: OCI runtime error: runc: exec failed"),
    (1, "Error: creating container storage: permission denied", "container engine podman could "
     "not start the check's container (exit 1)"),
    (3, "", "health runner stopped before its first step (exit 3): no output"),
    (2, "/wheelfleet-runner.sh: 4: Syntax error: end of file unexpected",
     "health runner stopped before its first step (exit 2): /wheelfleet-runner.sh: 4: Syntax "
     "error"),
    (124, "", "the check's container did not start its first step before the timeout"),
])
def test_a_container_that_never_reached_the_first_step(code, output, expected):
    from wheelfleet.health.agent import not_started

    assert not_started("podman", code, output).startswith(expected)


# A stand-in container engine (labelled: it only answers `info` and `image inspect` with the
# pinned digest, so the agent reaches its work directory; nothing here builds anything).
STAND_IN_ENGINE = """#!/bin/sh
case "$1" in
  info) exit 0 ;;
  image) echo "registry.test/pypa/img@sha256:0123456789abcdef0123456789abcdef" ;;
  *) echo "stand-in engine: $*" >&2; exit 99 ;;
esac
"""


def test_an_unusable_work_directory_fails_each_check_naming_it(tmp_path):
    import json
    import platform
    import sys

    engine = tmp_path / "engine"
    engine.write_text(STAND_IN_ENGINE)
    engine.chmod(0o755)
    not_a_dir = tmp_path / "work-is-a-file"
    not_a_dir.write_text("")
    check = {"image": "img", "digest": "sha256:0123456789abcdef0123456789abcdef",
             "local_name": "wheelfleet/img:pinned", "arch": platform.machine(), "plat": "img"}
    plan = {"engine": str(engine), "work_dir": str(not_a_dir / "health"), "keep_dir": None,
            "canary_dir": "/nonexistent", "wheelhouse": "/nonexistent", "runner": "/nonexistent",
            "input": "x", "expected": "y", "parallel": 2, "timeout": 30,
            "checks": [dict(check, python=p, variant="default") for p in ("cp311-cp311",
                                                                            "cp312-cp312")]}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    agent = Path(__file__).resolve().parents[1] / "src/wheelfleet/health/agent.py"
    proc = subprocess.run([sys.executable, str(agent), str(tmp_path / "plan.json")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout)
    assert [r["python"] for r in records] == ["cp311-cp311", "cp312-cp312"]
    for record in records:
        assert record["status"] == "failed" and record["step"] == "agent", record
        assert record["diagnosis"] == (f"work directory {not_a_dir / 'health'} is unusable: "
                                       "Not a directory"), record["diagnosis"]


# --- records as they complete, the work directory, kept wheels (issue 14, item 5) -----------

AGENT = Path(__file__).resolve().parents[1] / "src/wheelfleet/health/agent.py"
DIGEST = "sha256:" + "ab" * 32

# A stand-in for podman (labelled: there is no container here).  It keeps one state file per
# "container" (its label as content), as podman keeps a container whose client was killed;
# `run` of the image named hang-image sleeps like a check that never ends, any other image
# fails before the runner's first step; `ps --filter label=` and `rm -f` act on the state files
# and `rm` logs what it removed.
STAND_IN_PODMAN = """#!/bin/sh
state=${STANDIN_STATE:?}
case "$1" in
  info) exit 0 ;;
  image) echo "registry.test/pypa/img@DIGEST" ;;
  run) shift; name=; label=; image=
       while [ $# -gt 0 ]; do
         case "$1" in --name) name=$2; shift 2 ;; --label) label=$2; shift 2 ;;
                      *-image) image=$1; shift ;; *) shift ;; esac
       done
       printf '%s\\n' "$label" > "$state/$name"
       if [ "$image" = hang-image ]; then exec sleep 300; fi
       rm -f "$state/$name"; echo "stand-in runner broke"; exit 3 ;;
  ps) want=${4#label=}
      for f in "$state"/wheelfleet-*; do
        [ -f "$f" ] && [ "$(cat "$f")" = "$want" ] && basename "$f"
      done; exit 0 ;;
  rm) shift; [ "$1" = -f ] && shift
      for n in "$@"; do rm -f "$state/$n"; echo "$n" >> "$state/removed"; done ;;
  *) echo "stand-in podman: $*" >&2; exit 99 ;;
esac
""".replace("DIGEST", DIGEST)


def stand_in_podman(tmp_path: Path) -> dict[str, str]:
    """The environment that puts the stand-in podman first on PATH, with its state dir."""
    bin_dir, state = tmp_path / "bin", tmp_path / "engine-state"
    bin_dir.mkdir()
    state.mkdir()
    (bin_dir / "podman").write_text(STAND_IN_PODMAN)
    (bin_dir / "podman").chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STANDIN_STATE": str(state)}


def container_plan(tmp_path: Path, images: list[str], timeout: int = 300) -> dict:
    import platform

    return {"engine": "podman", "work_dir": str(tmp_path / "work" / "health"),
            "keep_dir": str(tmp_path / "kept"), "canary_dir": "/nonexistent",
            "wheelhouse": "/nonexistent", "runner": "/nonexistent", "input": "x",
            "expected": "y", "parallel": len(images), "timeout": timeout,
            "checks": [{"image": image, "digest": DIGEST, "local_name": image,
                        "arch": platform.machine(), "plat": image, "python": "cp312-cp312",
                        "variant": "default"} for image in images]}


def wait_for(condition, what: str, seconds: float = 30.0) -> None:
    import time

    ends = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < ends, f"gave up waiting for {what}"
        time.sleep(0.1)


def test_a_timed_out_run_loses_only_the_check_in_flight_and_leaves_nothing_running(tmp_path):
    """unit, with a stand-in podman (labelled above) and the real agent and salvage command:
    the agent writes each record the moment its check ends; when the controller's read times
    out, WheelHealthSalvage stops exactly that run's process group, stops and removes the
    in-flight check's container by the run's label and reads back the finished record; the
    in-flight check fails at agent saying so.  Without streaming there is nothing to read."""
    import json
    import signal
    import sys

    from wheelfleet.facts.health import WheelHealthSalvage
    from wheelfleet.health.records import checks_from_answer, salvaged_answer

    env = dict(stand_in_podman(tmp_path), WHEELFLEET_RUN="run0001")
    plan = container_plan(tmp_path, ["fast-image", "hang-image"])
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    agent = subprocess.Popen([sys.executable, str(AGENT), str(tmp_path / "plan.json")],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
    state = Path(env["STANDIN_STATE"])
    records = Path(plan["work_dir"]) / "records.jsonl"
    try:
        wait_for(lambda: records.exists() and '"fast-image"' in records.read_text()
                 and '"event": "record"' in records.read_text(), "the finished record")
        wait_for(lambda: any(state.glob("wheelfleet-hang-image-*")), "the hung container")
        fact = WheelHealthSalvage()
        proc = subprocess.run(["sh", "-c", fact.command(plan["work_dir"], "run0001", "podman")],
                              env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        salvage = fact.process(proc.stdout.splitlines())
        assert agent.wait(timeout=20) == -signal.SIGTERM  # the run was stopped, not left on
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    assert salvage["run"] == "run0001" and salvage["stopped"], salvage
    assert [r["image"] for r in salvage["records"]] == ["fast-image"]
    assert {c["image"] for c in salvage["started"]} == {"fast-image", "hang-image"}
    removed = (state / "removed").read_text().split()
    assert len(removed) == 1 and removed[0].startswith("wheelfleet-hang-image-"), removed
    assert not list(state.glob("wheelfleet-*")), "a container of the run is left"
    assert oct(Path(plan["work_dir"]).stat().st_mode & 0o777) == "0o700"

    cells = [{k: c[k] for k in ("image", "python", "arch", "variant")} for c in plan["checks"]]
    cause = "timed out after 120 s at health agent"
    checks = checks_from_answer(salvaged_answer(salvage, cells, "run0001", cause), cells, "h1")
    fast, hung = checks
    assert (fast["status"], fast["step"]) == ("failed", "container")  # its own record
    assert fast["diagnosis"].startswith("health runner stopped before its first step (exit 3)")
    assert (hung["status"], hung["step"]) == ("failed", "agent")
    assert hung["diagnosis"] == (f"{cause}: this check was still running; the agent was "
                                 "stopped and its containers removed")
    # Another run's file is not this run's records.
    other = checks_from_answer(salvaged_answer(salvage, cells, "run0002", cause), cells, "h1")
    assert {c["diagnosis"] for c in other} == {f"{cause}; the node holds no records of this run"}


def test_a_check_that_outlives_its_timeout_has_its_container_stopped_and_removed(tmp_path):
    """unit, with the stand-in podman: the agent's own per-check timeout kills the client, and
    a killed client leaves its container running (as podman does) — the agent removes it."""
    import json
    import sys

    env = stand_in_podman(tmp_path)
    plan = container_plan(tmp_path, ["hang-image"], timeout=2)
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    proc = subprocess.run([sys.executable, str(AGENT), str(tmp_path / "plan.json")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    [record] = json.loads(proc.stdout)
    assert (record["status"], record["step"]) == ("failed", "container"), record
    assert record["diagnosis"] == ("the check's container did not start its first step "
                                   "before the timeout")
    state = Path(env["STANDIN_STATE"])
    assert (state / "removed").read_text().startswith("wheelfleet-hang-image-")
    assert not list(state.glob("wheelfleet-*"))
    lines = [json.loads(x) for x in (Path(plan["work_dir"]) / "records.jsonl").read_text()
             .splitlines()]
    assert [x["event"] for x in lines] == ["run", "start", "record"]
    assert lines[-1]["record"]["diagnosis"] == record["diagnosis"]


def test_the_work_directory_is_created_0700_and_refused_when_not_safe(tmp_path):
    """unit: real directories, a real symlink and a directory of another owner."""
    from wheelfleet.health.agent import prepare_work_dir

    old = os.umask(0)
    try:
        fresh = tmp_path / "a" / "b" / "work"
        assert prepare_work_dir(str(fresh)) is None
        assert fresh.stat().st_mode & 0o777 == 0o700
    finally:
        os.umask(old)
    wide = tmp_path / "wide"
    wide.mkdir(mode=0o755)
    wide.chmod(0o777)
    assert prepare_work_dir(str(wide)) is None
    assert wide.stat().st_mode & 0o777 == 0o700

    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    assert prepare_work_dir(str(link)) == f"work directory {link} is refused: it is a symlink"
    (tmp_path / "file").write_text("")
    assert prepare_work_dir(str(tmp_path / "file")) == \
        f"work directory {tmp_path / 'file'} is refused: it is not a directory"

    theirs = tmp_path / "theirs"
    theirs.mkdir()
    if os.geteuid() == 0:
        os.chown(theirs, 65534, 65534)
    else:
        theirs = Path("/usr")  # root's, and this test does not run as root
    why = prepare_work_dir(str(theirs))
    assert why is not None and why.startswith(f"work directory {theirs} is refused: owned by "
                                              "uid "), why


def test_a_symlinked_work_directory_fails_every_check_and_writes_nothing_there(tmp_path):
    """unit: the real agent refuses a work dir that is a symlink before any check runs."""
    import json
    import sys

    env = stand_in_podman(tmp_path)
    plan = container_plan(tmp_path, ["fast-image", "hang-image"])
    target = tmp_path / "victim"
    target.mkdir()
    Path(plan["work_dir"]).parent.mkdir(parents=True)
    Path(plan["work_dir"]).symlink_to(target)
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    proc = subprocess.run([sys.executable, str(AGENT), str(tmp_path / "plan.json")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout)
    assert [(r["status"], r["step"]) for r in records] == [("failed", "agent")] * 2
    assert records[0]["diagnosis"] == (f"work directory {plan['work_dir']} is refused: it is "
                                       "a symlink")
    assert list(target.iterdir()) == []
    assert not (Path(env["STANDIN_STATE"]) / "removed").exists()  # no container was started


def test_kept_wheels_rotate_keeping_the_last_n(tmp_path):
    """unit: real files; the newest wheel keeps the stable name the controller fetches."""
    from wheelfleet.health.agent import keep_wheel

    check = {"image": "manylinux_2_28_x86_64", "python": "cp312-cp312", "variant": "default"}
    plan = {"keep_dir": str(tmp_path / "kept"), "keep_wheels": 3}
    kept = tmp_path / "kept" / "manylinux_2_28_x86_64"
    for night in range(1, 6):
        out = tmp_path / f"out{night}"
        (out / "wheelhouse").mkdir(parents=True)
        (out / "wheelhouse" / "canary.whl").write_text(f"night {night}")
        record: dict = {"wheel": "canary.whl", "versions": {}}
        keep_wheel(plan, check, str(out), record)
        assert record["wheel_path"] == str(kept / "cp312-cp312-default.whl")
    assert sorted(p.name for p in kept.iterdir()) == [
        "cp312-cp312-default.1.whl", "cp312-cp312-default.2.whl", "cp312-cp312-default.whl"]
    assert [(kept / f"cp312-cp312-default{s}.whl").read_text() for s in ("", ".1", ".2")] == \
        ["night 5", "night 4", "night 3"]
    keep_wheel(dict(plan, keep_wheels=1), check, str(tmp_path / "out5"), {"wheel": "canary.whl",
                                                                        "versions": {}})
    assert [p.name for p in kept.iterdir()] == ["cp312-cp312-default.whl"]


# --- one container per image (issue 15, item 3) ----------------------------------------------

def test_checks_share_one_container_per_image_and_split_by_python_for_idle_workers():
    """unit: the agent's grouping, on plain check dicts (nothing to stand in for)."""
    from wheelfleet.health.agent import container_groups

    def check(image, python, variant="default"):
        return {"local_name": image, "digest": "sha256:" + image, "plat": image,
                "arch": "x86_64", "python": python, "variant": variant}

    checks = [check("a", "cp311"), check("a", "cp311", "abi3"), check("b", "cp313"),
              check("b", "cp313", "abi3"), check("a", "cp312")]
    assert container_groups(checks, 1) == [[0, 1, 4], [2, 3]]
    assert container_groups(checks, 2) == [[0, 1, 4], [2, 3]]
    # A third worker splits image a's Pythons; cp311's default and abi3 stay together.
    assert container_groups(checks, 3) == [[0, 1], [2, 3], [4]]
    # One Python per image: nothing left to split.
    assert container_groups(checks[:4], 8) == [[0, 1], [2, 3]]


# A stand-in for podman that plays the runner's part (labelled: there is no container here).
# For each ID:TAG:ABI3 in CHECKS it writes the step files the real runner writes; check 1
# fails its build.  Each `run` is logged, to count containers.
STAND_IN_RUNNER_PODMAN = """#!/bin/sh
state=${STANDIN_STATE:?}
case "$1" in
  info) exit 0 ;;
  image) echo "registry.test/pypa/img@DIGEST" ;;
  run) out=; checks=
       for arg in "$@"; do
         case "$arg" in *:/out) out=${arg%:/out} ;; CHECKS=*) checks=${arg#CHECKS=} ;; esac
       done
       echo "$checks" >> "$state/runs"
       for entry in $checks; do
         id=${entry%%:*}; mkdir -p "$out/$id/steps" "$out/$id/wheelhouse"
         for step in interpreter build repair validate install import; do
           d="$out/$id/steps"; echo "100.0 100.5" > "$d/$step.t"
           if [ "$id" = 1 ] && [ "$step" = build ]; then
             echo "error: command 'gcc' failed: No such file or directory" > "$d/$step.log"
             echo 1 > "$d/$step.rc"; break
           fi
           case $step in
             validate) echo '{"wheel": "w.whl", "bundled_libs": ["x.libs/libcrypto.so"]}' ;;
             import) echo y ;;
           esac > "$d/$step.log"
           echo 0 > "$d/$step.rc"
         done
       done ;;
  *) echo "stand-in podman: $*" >&2; exit 99 ;;
esac
""".replace("DIGEST", DIGEST)


def test_an_images_checks_run_in_one_container_and_fail_alone(tmp_path):
    """unit, with a stand-in podman playing the runner (labelled above) and the real agent:
    both checks of one image go to one container; the one whose build failed is named at
    build, the other passes; each record carries its steps' seconds and its part of the
    container's own time, adding up to the check's duration."""
    import json
    import sys

    env = stand_in_podman(tmp_path)
    (tmp_path / "bin" / "podman").write_text(STAND_IN_RUNNER_PODMAN)
    plan = container_plan(tmp_path, ["one-image", "one-image"])
    plan["checks"][1]["python"] = "cp313-cp313"
    plan["keep_dir"], plan["parallel"] = None, 1  # two workers would split the Pythons
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    proc = subprocess.run([sys.executable, str(AGENT), str(tmp_path / "plan.json")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    first, second = json.loads(proc.stdout)
    runs = (Path(env["STANDIN_STATE"]) / "runs").read_text().splitlines()
    assert runs == ["0:cp312-cp312:0 1:cp313-cp313:0"], runs
    assert (first["status"], first["answer"]) == ("passed", "y"), first
    assert (second["status"], second["step"]) == ("failed", "build"), second
    assert second["diagnosis"] == "compiler missing in the image: gcc not found"
    assert set(first["step_s"]) == {"interpreter", "build", "repair", "validate", "install",
                                    "import", "shared"}
    assert set(second["step_s"]) == {"interpreter", "build", "shared"}
    for record in (first, second):
        own = [v for k, v in record["step_s"].items() if k != "shared"]
        assert all(v == 0.5 for v in own), record["step_s"]
        assert record["duration_s"] == pytest.approx(sum(record["step_s"].values()), abs=0.02)
