#!/usr/bin/env python3
"""wheelfleet health agent: runs on a build node, stdlib only, prints JSON records.

    python3 agent.py PLAN.json

For every (image, Python, variant) in the plan it runs the canary through build, repair,
validate, install and import inside the pinned image (offline), in parallel up to the plan's
limit, and prints one JSON list of records on stdout.  A record is ``passed`` only when every
step ran and the answer matched; otherwise ``failed`` (first failing step, exit code, output
tail, one-line diagnosis) or ``not-run`` (and why).  Uploaded by roles/wheel_health.

A plan with ``"kind": "host"`` (``wheelfleet.health.macos_plan``, uploaded by
roles/macos_health) runs each check directly on the node instead: a Mac, where the canary is
built against the universal OpenSSL for one arch or universal2, repaired with delocate and
imported under each arch the wheel claims (``/usr/bin/arch``).  Same records, same diagnoses
style.  The agent must start under a Mac's /usr/bin/python3 (3.9): no newer syntax at run
time; the code it hands to a check's interpreter runs under CPython 2.7 too.

Proof level of host mode: unit.  tests/test_macos_health.py runs it on Linux, with stand-ins
for arch, lipo, sysctl and delocate; it has not run on a Mac (there is none here).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

STEPS = ["interpreter", "build", "repair", "validate", "install", "import"]
TAIL = 25
HOST = "host"  # plan["kind"] of a plan whose checks run on the node itself, not in containers

# --- records as they complete, the work directory, kept wheels (controller: health/collect) --
# Each finished check is appended to RECORDS in the work dir at once, so that a controller
# whose read timed out still gets every finished check (facts.health.WheelHealthSalvage).
RECORDS = "records.jsonl"
PIDFILE = "agent.pid"  # "PID PGID RUN": lets the controller stop exactly this run
RUN_ENV = "WHEELFLEET_RUN"  # the controller's id for this run, in records, pidfile, labels
RUN_LABEL = "wheelfleet.health.run"  # on every check's container: removable by run
KEEP_WHEELS = 3  # repaired wheels kept per check (plan["keep_wheels"] overrides)

# Engine output that means the engine itself failed to start the container, not the runner.
ENGINE_FAILURES = re.compile(
    r"OCI runtime|runc|crun|conmon|storage|graph driver|overlay|cgroup|netavark|"
    r"permission denied|Cannot connect to the Docker daemon|Error response from daemon",
    re.IGNORECASE)

# Output patterns -> one-line diagnosis, first match wins.  Ordered from specific to general.
DIAGNOSES = [
    (r"No space left on device|Disk quota exceeded", "disk full in the work directory"),
    (r"Fatal Python error", "interpreter is broken: it cannot start"),
    (r"(gcc|cc|x86_64-linux-gnu-gcc)['\"]?: (No such file|not found)|command '?[\w./-]*gcc'? "
     r"failed|error: command .*gcc.* failed: No such file|unable to execute '?gcc",
     "compiler missing in the image: gcc not found"),
    (r"openssl/\w+\.h: No such file", "OpenSSL headers missing in the image"),
    (r"cannot find -lcrypto", "libcrypto missing in the image (link failed)"),
    (r"patchelf", "patchelf missing or broken: auditwheel cannot graft libraries"),
    (r"too-recent versioned symbols", "binary uses symbols too new for the policy"),
    (r"cannot repair .* to .* ABI because of the presence of too-recent",
     "binary uses symbols too new for the policy"),
    (r"error while loading shared libraries|cannot open shared object file",
     "a library the wheel needs is not bundled in it (import fails without the system copy)"),
    (r"repaired wheel \S+ is not tagged", "repair produced a wheel without the policy's tag"),
    (r"No module named ['\"]?(setuptools|wheel)", "build dependencies missing from the wheelhouse"),
    (r"Could not find a version that satisfies", "build dependencies missing from the wheelhouse"),
]


def diagnose(step: str, output: str, exit_code: int | None,
             patterns: list[tuple[str, str]] = DIAGNOSES) -> str:
    for pattern, text in patterns:
        if re.search(pattern, output):
            return text
    if exit_code == 124:
        return f"{step} step timed out"
    if step == "interpreter":
        return f"interpreter is broken or missing (exit {exit_code})"
    if exit_code in (126, 127):
        return f"{step} step: a command it needs is missing (exit {exit_code})"
    last = next((line for line in reversed(output.splitlines()) if line.strip()), "no output")
    return f"{step} step failed (exit {exit_code}): {last.strip()[:160]}"


def disk_full(path: str) -> bool:
    """Is the filesystem holding ``path`` (nearly) full?  A full disk can make a step fail
    without a word: its own log is the first write that cannot happen."""
    if not hasattr(os, "statvfs"):  # Windows: the drive's free space
        try:
            usage = shutil.disk_usage(path)
        except OSError:
            return False
        return usage.free < 256 * 1024 or usage.free < usage.total * 0.01
    try:
        st = os.statvfs(path)
    except OSError:
        return False
    free = st.f_bavail * st.f_frsize
    return free < 256 * 1024 or free < st.f_blocks * st.f_frsize * 0.01


def run(cmd: list[str], timeout: int, env: dict[str, str] | None = None,
        cwd: str | None = None) -> tuple[int, str]:
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout, errors="replace", env=env, cwd=cwd)
        return proc.returncode, proc.stdout
    except subprocess.TimeoutExpired as err:
        out = err.stdout if isinstance(err.stdout, str) else (err.stdout or b"").decode(
            "utf-8", "replace")
        return 124, out + f"\n(timed out after {timeout}s)"
    except FileNotFoundError as err:
        return 127, str(err)


def first_words(text: str, limit: int = 200) -> str:
    """The most telling line of an error output: the last non-empty one, cut to ``limit``."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else "no output")[:limit]


ENGINE_PROBE_CAP = 120  # seconds; a healthy `engine info` answers in well under one


def check_timeout(plan: dict) -> int:
    """Seconds one check may take: the host's ``health_timeout``, as the plan carries it."""
    return int(plan.get("timeout", 900))


def engine_problem(engine: str, health_timeout: int = ENGINE_PROBE_CAP
                   ) -> tuple[str, list[str]] | None:
    """Why ``engine`` cannot run containers here, or None when ``engine info`` answers.

    Asked once per agent run, before any image: with a missing or broken engine every check
    would otherwise be blamed on its image ("not in the local store"). A hung engine is given
    the host's health timeout, capped at :data:`ENGINE_PROBE_CAP`: never more than one check
    would have had.
    """
    timeout = max(1, min(ENGINE_PROBE_CAP, int(health_timeout)))
    code, out = run([engine, "info"], timeout)
    if code == 0:
        return None
    if code == 127:
        why = f"{engine} not found on the node ({first_words(out)})"
    elif code == 126 or re.search(r"permission denied", out, re.IGNORECASE):
        why = f"permission denied running {engine} ({first_words(out)})"
    elif code == 124:
        why = f"{engine} info did not answer within {timeout}s"
    else:
        why = f"{engine} info failed (exit {code}): {first_words(out)}"
    return f"container engine not runnable: {why}", tail(out)


def image_digests(engine: str, name: str) -> list[str]:
    code, out = run([engine, "image", "inspect", "--format",
                     "{{range .RepoDigests}}{{println .}}{{end}}", name], 60)
    if code != 0:
        return []
    return sorted({line.rpartition("@")[2] for line in out.splitlines() if "@" in line})


def native_arches() -> set[str]:
    machine = platform.machine()
    return {"x86_64": {"x86_64", "i686"}, "aarch64": {"aarch64", "armv7l"}}.get(
        machine, {machine})


def new_record(check: dict) -> dict:
    return {"image": check["image"], "image_digest": check["digest"],
            "python": check["python"], "arch": check["arch"], "variant": check["variant"],
            "status": "not-run", "step": None, "exit_code": None, "output_tail": [],
            "diagnosis": None, "reason": None, "duration_s": 0.0, "versions": {},
            "wheel": None, "bundled_libs": [], "answer": None}


def check_one(plan: dict, check: dict, engine_broken: tuple[str, list[str]] | None = None,
              node: dict | None = None) -> dict:
    """One check, never raising: whatever goes wrong becomes this check's own record.

    ``engine_broken`` is the container engine's problem (container plans), ``node`` what
    ``host_node`` found out about the node (host plans; asked here when not given).
    """
    record, done = recorder(plan, check)
    try:
        if plan.get("kind") == HOST and plan.get("os") == WINDOWS:
            return windows_mode().run_check(sys.modules[__name__], plan, check, record, done,
                                            node or node_of(plan))
        if plan.get("kind") == HOST:
            return run_host_check(plan, check, record, done, node or host_node(plan))
        return run_check(plan, check, record, done, engine_broken)
    except Exception as err:  # noqa: BLE001 - one check's surprise must not cost the others
        return done(status="failed", step="agent", exit_code=None,
                    output_tail=[f"{type(err).__name__}: {err}"],
                    diagnosis=f"health agent error in this check: {type(err).__name__}: "
                    f"{str(err)[:160]}")


def recorder(plan: dict, check: dict):
    """A check's fresh record and its ``done(**fields)``, which completes it (duration, and a
    full disk named as the cause of a failed step)."""
    started = time.monotonic()
    record = new_record(check)

    def done(**fields: object) -> dict:
        record.update(fields)
        if record["status"] == "failed" and record["step"] not in ("image", "engine") and \
                disk_full(plan["work_dir"]):
            record["diagnosis"] = "disk full in the work directory"
            # A step on a full disk often cannot write its own error: say what the agent saw.
            if not any("No space left" in line for line in record["output_tail"]):
                record["output_tail"] = list(record["output_tail"]) + [
                    f"{plan['work_dir']}: No space left on device (seen by the agent: "
                    f"{free_bytes(plan['work_dir'])} bytes free)"]
        record["duration_s"] = round(time.monotonic() - started, 2)
        return record

    return record, done


def free_bytes(path: str) -> int | None:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def check_group(plan: dict, checks: list[dict],
                engine_broken: tuple[str, list[str]] | None = None) -> list[dict]:
    """Checks of one image in one container (container plans), never raising: whatever goes
    wrong becomes the group's records."""
    group = [(check, *recorder(plan, check)) for check in checks]
    try:
        return run_group(plan, group, engine_broken)
    except Exception as err:  # noqa: BLE001 - one group's surprise must not cost the others
        return [done(status="failed", step="agent", exit_code=None,
                     output_tail=[f"{type(err).__name__}: {err}"],
                     diagnosis=f"health agent error in this check: {type(err).__name__}: "
                     f"{str(err)[:160]}") for _, _, done in group]


def run_check(plan: dict, check: dict, record: dict, done, engine_broken) -> dict:
    """One check in a container of its own (a group of one: see ``run_group``)."""
    return run_group(plan, [(check, record, done)], engine_broken)[0]


def not_runnable(plan: dict, check: dict, done, engine_broken) -> dict | None:
    """The check's record when it cannot run here (arch, engine, image), else None."""
    engine = plan["engine"]
    if check["arch"] not in native_arches():
        return done(reason=f"{check['arch']} images are not executable natively on this "
                           f"{platform.machine()} node (no emulation configured)")
    if engine_broken:
        why, out = engine_broken
        return done(status="failed", step="engine", diagnosis=why, output_tail=out)
    have = image_digests(engine, check["local_name"])
    if not have:
        return done(reason=f"image {check['local_name']} is not in the local store "
                           "(converge the host with deploys/fleet.py)")
    if check["digest"] not in have:
        return done(status="failed", step="image", diagnosis="image digest drifted from the pin: "
                    f"expected {check['digest']}, store holds {', '.join(have)}",
                    output_tail=[f"{check['local_name']}: {d}" for d in have])
    return None


def container_groups(checks: list[dict], parallel: int) -> list[list[int]]:
    """Which checks share a container (indexes into ``checks``, plan order kept).

    One container per image: the container start, the tool probe, each Python's build
    requirements and the hiding of the system's libcrypto are paid once for all the image's
    checks.  When there are fewer images than parallel workers, an image's Pythons are split
    over more containers (a Python's default and abi3 checks stay together: they share their
    build requirements), so that a node with one image still uses its cores.
    """
    groups: dict[tuple, list[int]] = {}
    for index, check in enumerate(checks):
        key = (check["local_name"], check["digest"], check["plat"], check["arch"])
        groups.setdefault(key, []).append(index)
    result = list(groups.values())

    def pythons(group: list[int]) -> list[str]:
        return list(dict.fromkeys(checks[i]["python"] for i in group))

    while len(result) < parallel:
        widest = max(result, key=lambda g: len(pythons(g)))
        names = pythons(widest)
        if len(names) < 2:
            break
        first = set(names[:len(names) // 2])
        result.remove(widest)
        result += [[i for i in widest if checks[i]["python"] in first],
                   [i for i in widest if checks[i]["python"] not in first]]
    return sorted(result)


def bdeps_dir(plan: dict, digest: str) -> str | None:
    """Where the canary's build requirements for one image live between runs, or None (no
    cache: each run installs them afresh).

    Installed from the wheelhouse, offline, by the first check of each Python, then reused:
    the directory's name holds the image's digest and a hash of the wheelhouse's files, so a
    new image or a changed wheelhouse gets a fresh install (``prune_bdeps`` drops the rest).
    """
    root = plan.get("bdeps_cache")
    if not root:
        return None
    try:
        digest_hex = hashlib.sha256()
        for name in sorted(os.listdir(plan["wheelhouse"])):
            digest_hex.update(name.encode() + b"\0")
            with open(os.path.join(plan["wheelhouse"], name), "rb") as handle:
                digest_hex.update(handle.read())
    except OSError:
        return None
    image = digest.rpartition(":")[2][:16]
    return os.path.join(root, f"{image}-{digest_hex.hexdigest()[:16]}")


def prune_bdeps(plan: dict) -> None:
    """Remove cached build requirements no check of this plan uses (old images or an older
    wheelhouse); create the cache directory 0700 when missing."""
    root = plan.get("bdeps_cache")
    if not root:
        return
    wanted = {os.path.basename(d) for d in
              (bdeps_dir(plan, c["digest"]) for c in plan["checks"]) if d}
    try:
        os.makedirs(root, mode=0o700, exist_ok=True)
        for entry in os.listdir(root):
            if entry not in wanted:
                shutil.rmtree(os.path.join(root, entry), ignore_errors=True)
    except OSError:
        pass  # no cache: the runner installs the requirements into the container


def step_seconds(path: str) -> float | None:
    """A step's duration from its ``.t`` file ("start end", epoch seconds), or None."""
    try:
        start, end = (float(x) for x in read(path).split()[:2])
    except ValueError:
        return None
    return round(max(0.0, end - start), 2)


def run_group(plan: dict, group: list[tuple], engine_broken) -> list[dict]:
    """Checks of one image in one container: ``group`` holds (check, record, done) each;
    returns their records in the same order.

    A record's ``step_s`` holds the seconds of each step the check ran, plus ``shared``: its
    equal part of what the container spent for all its checks (start and removal, the tool
    probe, hiding libcrypto); ``duration_s`` is their sum, so a group's records add up to its
    container's wall time.
    """
    records: list[dict | None] = [not_runnable(plan, c, done, engine_broken)
                                  for c, _, done in group]
    runnable = [i for i, rec in enumerate(records) if rec is None]
    if not runnable:
        return records  # type: ignore[return-value]
    engine = plan["engine"]
    first = group[runnable[0]][0]
    out_dir, unusable = scratch_dir(plan, f"{first['image']}-{first['python']}-",
                                    group[runnable[0]][2])
    if unusable is not None:
        for i in runnable:
            records[i] = group[i][2](**{k: unusable[k] for k in
                                        ("status", "step", "exit_code", "output_tail",
                                         "diagnosis")})
        return records  # type: ignore[return-value]
    try:
        entries = " ".join(f"{i}:{group[i][0]['python']}:"
                           f"{'1' if group[i][0]['variant'] == 'abi3' else '0'}"
                           for i in runnable)
        cmd = [engine, "run", "--rm", "--network", "none",
               "-v", f"{plan['canary_dir']}:/canary:ro",
               "-v", f"{plan['wheelhouse']}:/wheelhouse:ro",
               "-v", f"{plan['runner']}:/wheelfleet-runner.sh:ro",
               "-v", f"{out_dir}:/out",
               "-e", f"CHECKS={entries}", "-e", f"PLAT={first['plat']}",
               "-e", f"INPUT={plan['input']}"]
        cache = bdeps_dir(plan, first["digest"])
        if cache and os.path.isdir(os.path.dirname(cache)):
            os.makedirs(cache, exist_ok=True)
            cmd += ["-v", f"{cache}:/bdeps"]
        cmd += list(plan.get("run_args", []))
        # Named and labelled: a check that outlives its timeout (or an agent the controller
        # stops) leaves a container that can be found, stopped and removed.
        name = "wheelfleet-" + re.sub(r"[^A-Za-z0-9_.-]", "_", os.path.basename(out_dir))
        cmd[2:2] = ["--name", name, "--label", f"{RUN_LABEL}={plan.get('run') or 'none'}"]
        cmd += [first["local_name"], "/bin/sh", "/wheelfleet-runner.sh"]
        started = time.monotonic()
        # The plan's timeout is per check: a container runs several.
        code, out = run(cmd, check_timeout(plan) * len(runnable))
        wall = time.monotonic() - started
        if code == 124:
            # Killing the client leaves the container running: stop and remove it.
            run([engine, "rm", "-f", name], 60)
        for i in runnable:
            check, record, done = group[i]
            records[i] = container_result(plan, check, record, done, engine,
                                          os.path.join(out_dir, str(i)), code, out)
        own = {i: sum(records[i]["step_s"].values()) for i in runnable}  # type: ignore[index]
        shared = max(0.0, wall - sum(own.values())) / len(runnable)
        for i in runnable:
            records[i]["step_s"]["shared"] = round(shared, 2)  # type: ignore[index]
            records[i]["duration_s"] = round(own[i] + shared, 2)  # type: ignore[index]
        return records  # type: ignore[return-value]
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def container_result(plan: dict, check: dict, record: dict, done, engine: str, check_dir: str,
                     code: int, out: str) -> dict:
    """One check's record from what the runner left in ``check_dir`` (steps/<step>.rc, .log,
    .t; the repaired wheel) after its container ended with ``code`` and printed ``out``."""
    steps_dir = os.path.join(check_dir, "steps")
    record["step_s"] = {}
    for step in STEPS:
        rc_file = os.path.join(steps_dir, f"{step}.rc")
        log = read(os.path.join(steps_dir, f"{step}.log"))
        seconds = step_seconds(os.path.join(steps_dir, f"{step}.t"))
        if seconds is not None:
            record["step_s"][step] = seconds
        if step == "interpreter" and os.path.exists(rc_file):
            record["versions"] = parse_versions(log)
        if not os.path.exists(rc_file):
            text = out + log
            if step == STEPS[0]:
                return done(status="failed", step="container", exit_code=code,
                            output_tail=tail(text), diagnosis=not_started(engine, code, text))
            # The runner stopped before this step: the container itself failed.
            return done(status="failed", step=step, exit_code=code,
                        output_tail=tail(text), diagnosis=diagnose(step, text, code))
        rc_text = read(rc_file).strip()
        rc = int(rc_text or "1")
        if rc != 0:
            # A step that could not write its own log or exit code (a full disk) left its
            # cause in the runner's output: the container's.
            text = log if log.strip() and rc_text else log + out
            return done(status="failed", step=step, exit_code=rc, output_tail=tail(text),
                        diagnosis=diagnose(step, text, rc))
        if step == "validate":
            info = json.loads(log.strip().splitlines()[0])
            record.update(wheel=info["wheel"], bundled_libs=info["bundled_libs"])
        if step == "import":
            lines = log.strip().splitlines()
            answer = lines[0] if lines else ""
            record["answer"] = answer
            if len(lines) > 1:
                record["versions"]["openssl_bundled"] = lines[1]
            if answer != plan["expected"]:
                return done(status="failed", step="import", exit_code=0,
                            output_tail=tail(log),
                            diagnosis=f"wrong answer from the canary: {answer[:70]!r}")
    keep_wheel(plan, check, check_dir, record)
    return done(status="passed")


def scratch_dir(plan: dict, prefix: str, done) -> tuple[str, dict | None]:
    """A fresh directory under the plan's work dir for one check, or that check's record
    saying the work directory is unusable."""
    try:
        os.makedirs(plan["work_dir"], exist_ok=True)
        return tempfile.mkdtemp(prefix=prefix, dir=plan["work_dir"]), None
    except OSError as err:
        return "", done(status="failed", step="agent", exit_code=None, output_tail=[str(err)],
                        diagnosis=f"work directory {plan['work_dir']} is unusable: "
                        f"{err.strerror or err}")


def not_started(engine: str, code: int | None, output: str) -> str:
    """Why a check's container never reached the runner's first step."""
    if code == 124:
        return "the check's container did not start its first step before the timeout"
    if re.search(r"No space left on device|Disk quota exceeded", output):
        return "disk full in the work directory"
    if code == 125 or ENGINE_FAILURES.search(output):
        # podman and docker exit 125 when the engine itself failed (126/127 are the
        # command inside the container: the runner's business).
        return (f"container engine {engine} could not start the check's container "
                f"(exit {code}): {first_words(output, 160)}")
    return (f"health runner stopped before its first step (exit {code}): "
            f"{first_words(output, 160)}")


def keep_wheel(plan: dict, check: dict, out_dir: str, record: dict,
               name: str | None = None) -> None:
    """Keep the repaired wheel under a stable name, for the controller's own validator; the
    previous ones rotate to ``NAME.1.whl`` … (the last ``plan["keep_wheels"]`` are kept)."""
    keep = plan.get("keep_dir")
    if not keep or not record.get("wheel"):
        return
    target_dir = os.path.join(keep, check["image"])
    try:
        os.makedirs(target_dir, exist_ok=True)
        target = os.path.join(target_dir, name or f"{check['python']}-{check['variant']}.whl")
        rotate_kept(target, int(plan.get("keep_wheels", KEEP_WHEELS)))
        shutil.copyfile(os.path.join(out_dir, "wheelhouse", record["wheel"]), target)
        record["wheel_path"] = target
    except OSError as err:
        record["versions"]["kept_wheel_error"] = str(err)


def rotate_kept(target: str, keep: int) -> None:
    """Make room for a new ``target``: ``X.whl`` -> ``X.1.whl`` -> … ; the oldest beyond
    ``keep`` wheels in all is deleted, so the node's disk holds a bounded number per check."""
    stem = target[:-len(".whl")]
    keep = max(1, keep)
    for old in sorted(glob_rotated(stem), reverse=True):
        number = int(old[len(stem) + 1:-len(".whl")])
        if number >= keep - 1:
            os.remove(old)
        else:
            os.replace(old, f"{stem}.{number + 1}.whl")
    if os.path.exists(target):
        if keep > 1:
            os.replace(target, f"{stem}.1.whl")
        else:
            os.remove(target)


def glob_rotated(stem: str) -> list[str]:
    """``STEM.N.whl`` files beside ``STEM.whl`` (N a number), lowest N first."""
    folder, base = os.path.split(stem)
    found = []
    for entry in os.listdir(folder or "."):
        middle = entry[len(base) + 1:-len(".whl")]
        if entry.startswith(base + ".") and entry.endswith(".whl") and middle.isdigit():
            found.append((int(middle), os.path.join(folder, entry)))
    return [path for _, path in sorted(found)]


def parse_versions(log: str) -> dict:
    versions: dict = {}
    for line in log.splitlines():
        if line.startswith("{"):
            try:
                info = json.loads(line)
            except ValueError:
                continue
            versions["python"] = info.get("python")
            versions["build_flags"] = info.get("build_flags", {})
            # Report versions are strings: 1114111 = wide (UCS-4), 65535 = narrow.
            versions["maxunicode"] = str(info.get("maxunicode"))
        elif ": " in line:
            key, _, value = line.partition(": ")
            if key in ("gcc", "libc", "auditwheel", "patchelf"):
                versions[key] = value.strip()
    libc = versions.get("libc", "")
    match = re.search(r"(\d+\.\d+)\s*$", libc)
    if match:
        versions["glibc" if "GLIBC" in libc.upper() or "GNU" in libc else "libc_version"] = \
            match.group(1)
    return versions


def read(path: str) -> str:
    try:
        with open(path, errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def tail(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()][-TAIL:]


# --- host mode: checks run on the node itself (a Mac), not in containers -------------------

# Where a Mac keeps the tools a check needs; a plan's "tools" overrides any of them.
MAC_TOOLS = {"arch": "/usr/bin/arch", "lipo": "/usr/bin/lipo", "sysctl": "/usr/sbin/sysctl",
             "cc": "/usr/bin/clang"}
# Seconds per step when the plan does not say; every step is also bounded by the check's own
# budget (plan["timeout"]), so a check never outlives it.
HOST_TIMEOUTS = {"interpreter": 120, "build": 900, "repair": 600, "install": 600, "import": 300}

# macOS output patterns -> one-line diagnosis, tried before the general ones (DIAGNOSES).
HOST_DIAGNOSES = [
    (r"Bad CPU type in executable",
     "cannot execute x86_64 code on this arm64 Mac: Rosetta 2 is not installed "
     "(converge the host: macos_base)"),
    (r"invalid active developer path|[Nn]o developer tools were found",
     "Xcode Command Line Tools missing: no compiler (converge the host: macos_base)"),
    (r"unable to execute '?[\w./-]*(clang|cc)'?|command '?[\w./-]*clang'? failed: No such file",
     "compiler missing: clang not found (converge the host: macos_base)"),
    (r"openssl/\w+\.h'? file not found|openssl/\w+\.h: No such file",
     "OpenSSL headers missing from the universal OpenSSL (converge the host: macos_openssl)"),
    (r"library not found for -lcrypto|library '?crypto'? not found",
     "libcrypto missing from the universal OpenSSL: link failed (converge the host: "
     "macos_openssl)"),
    (r"ignoring file .*libcrypto",
     "libcrypto.a has no slice for an arch being built: the OpenSSL is not universal"),
    (r"MACOSX_DEPLOYMENT_TARGET mismatch",
     "the interpreter was configured for a newer macOS than the deployment target "
     "(distutils refuses the build)"),
    (r"(?i)requires? a different python",
     "the wheelhouse's pinned build requirements do not support this Python (Requires-Python)"),
    (r"No module named '?(pip|ensurepip)'?",
     "the interpreter has no pip: the build and install steps need it"),
    (r"Some missing architectures in wheel|Failed to find any binary with the required "
     r"architecture",
     "a binary in the wheel lacks an arch slice its tag claims (delocate --require-archs)"),
    (r"Library dependencies do not satisfy target MacOS",
     "a library in the wheel needs a newer macOS than the deployment target (delocate)"),
    (r"No such file or directory: '?\S*delocate-wheel",
     "delocate missing from the tools venv (converge the host: macos_health)"),
    (r"is not a supported wheel on this platform",
     "the installing interpreter does not accept the wheel's tag (arch or macOS version)"),
    (r"incompatible architecture|no suitable image found",
     "the extension has no slice for the arch it was imported under"),
    (r"Library not loaded",
     "a library the wheel needs is not bundled in it (dyld: Library not loaded)"),
    (r"Symbol not found",
     "the extension needs a symbol this macOS does not provide (built for a newer macOS, or "
     "a library left out)"),
] + DIAGNOSES

# ld64 links an object built for a newer macOS than the target with only a warning; the
# wheel's tag would then claim a macOS the code does not run on.
NEWER_OBJECT = re.compile(r"built for newer '?macOS'? version \(([\d.]+)\) than being linked "
                          r"\(([\d.]+)\)")

# Run by each check's interpreter, CPython 2.7 included: no f-strings, no sys.implementation.
PROBE = """\
import json, platform, sys, sysconfig
flags = dict((k, sysconfig.get_config_var(k)) for k in
             ("Py_GIL_DISABLED", "SOABI", "Py_DEBUG", "Py_UNICODE_SIZE"))
try:
    import pip
    pip_version = pip.__version__
except Exception:
    pip_version = None
print(json.dumps({"python": platform.python_version(),
                  "implementation": platform.python_implementation().lower(),
                  "maxunicode": sys.maxunicode, "build_flags": flags,
                  "platform": sysconfig.get_platform(), "pip": pip_version,
                  "deployment_target": sysconfig.get_config_var("MACOSX_DEPLOYMENT_TARGET")}))
"""
IMPORT = """\
import sys, wheelfleet_canary as c
print(c.sha256_hex(sys.argv[1].encode()))
print(c.openssl_version())
"""


def host_tools(plan: dict) -> dict:
    return dict(MAC_TOOLS, **(plan.get("tools") or {}))


def host_node(plan: dict) -> dict:
    """What the Mac is: its arch, macOS version, compiler and the repair tool's version.

    Asked once per run, never raising.  The arch comes from ``sysctl hw.optional.arm64``: an
    agent that itself runs under Rosetta would otherwise take an arm64 Mac for an Intel one.
    """
    tools = host_tools(plan)
    node: dict = {"arch": "arm64" if platform.machine() == "arm64" else "x86_64",
                  "macos": platform.mac_ver()[0] or None, "clang": None, "delocate": None}
    try:
        code, out = run([tools["sysctl"], "-n", "hw.optional.arm64"], 10)
        if code == 0 and out.strip() == "1":
            node["arch"] = "arm64"
        code, out = run([tools["cc"], "--version"], 60)
        if code == 0 and out.strip():
            node["clang"] = out.strip().splitlines()[0].strip()
        venv_python = os.path.join(plan.get("tools_venv") or "", "bin", "python")
        code, out = run([venv_python, "-c", "import importlib.metadata as m; "
                         "print(m.version('delocate'))"], 60)
        if code == 0 and out.strip():
            node["delocate"] = out.strip().splitlines()[-1].strip()
    except OSError:
        pass  # a tool that cannot even be started leaves its answer unknown
    return node


def executable_arches(node_arch: str) -> tuple[str, ...]:
    """What a Mac can execute: an arm64 Mac runs x86_64 code under Rosetta 2 (whether Rosetta
    is installed shows when it is tried); an Intel Mac runs no arm64 code."""
    return ("arm64", "x86_64") if node_arch == "arm64" else ("x86_64",)


def arch_prefix(plan: dict, arch: str) -> list[str]:
    """Run a command as ``arch`` (``/usr/bin/arch -x86_64``), natively for universal2."""
    return [] if arch == "universal2" else [host_tools(plan)["arch"], f"-{arch}"]


def host_env(extra: dict | None = None) -> dict:
    """Every host-mode command's environment: offline pip, and nothing inherited that would
    change how Python, the compiler or the linker behave (PYTHON*, DYLD_*, CFLAGS …)."""
    env = {key: os.environ[key] for key in ("HOME", "TMPDIR", "LANG", "LC_ALL", "USER")
           if key in os.environ}
    env["PATH"] = os.environ.get("PATH") or "/usr/bin:/bin:/usr/sbin:/sbin"
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1",
               PYTHONDONTWRITEBYTECODE="1")
    env.update(extra or {})
    return env


def build_env(plan: dict, check: dict, bdeps: str) -> dict:
    """The canary's build environment: the check's arches and deployment target, the universal
    OpenSSL's headers and static libcrypto, build requirements from the wheelhouse."""
    ssl = plan["openssl_prefix"]
    target = check["deployment_target"]
    return host_env({
        "ARCHFLAGS": " ".join(f"-arch {arch}" for arch in check["archs"]),
        "MACOSX_DEPLOYMENT_TARGET": target,
        "_PYTHON_HOST_PLATFORM": f"macosx-{target}-{check['arch']}",
        "CFLAGS": f"-I{ssl}/include", "LDFLAGS": f"-L{ssl}/lib",
        "PYTHONPATH": bdeps, "CANARY_ABI3": "1" if check["variant"] == "abi3" else "0"})


def build_commands(plan: dict, check: dict, out_dir: str,
                   pip_version: str | None = None) -> list[list[str]]:
    """This Python's pinned build requirements (the check's own: 2.7 and 3.3-3.8 need older
    ones) from the node's wheelhouse into a --target dir, then the wheel (``-v``: pip hides
    the compiler's and linker's output otherwise, warnings included).  pip before 10 has no
    ``--no-build-isolation`` option, and never isolates a build."""
    run_as = arch_prefix(plan, check["arch"]) + [check["interpreter"], "-m", "pip"]
    major = (pip_version or "").split(".")[0]
    isolation = [] if major.isdigit() and int(major) < 10 else ["--no-build-isolation"]
    return [run_as + ["install", "--no-index", "--find-links", plan["wheelhouse"], "--target",
                      os.path.join(out_dir, "bdeps"), *check["build_requirements"]],
            run_as + ["wheel", "-v", "--no-deps", *isolation, "--no-index", "-w",
                      os.path.join(out_dir, "dist"), os.path.join(out_dir, "src")]]


def repair_command(plan: dict, check: dict, wheel: str, out_dir: str) -> list[str]:
    return [os.path.join(plan["tools_venv"], "bin", "delocate-wheel"), "--require-archs",
            ",".join(check["archs"]), "-w", os.path.join(out_dir, "wheelhouse"), "-v", wheel]


def installed_python(check: dict, out_dir: str) -> tuple[list[str], dict]:
    """How to run the Python the wheel is installed into: the fresh venv's, or (no venv module:
    CPython 2.7) the interpreter itself, without user site, with the --target dir on its path."""
    if check.get("install", "venv") == "venv":
        return [os.path.join(out_dir, "venv", "bin", "python")], {}
    return [check["interpreter"], "-s"], {"PYTHONPATH": os.path.join(out_dir, "site")}


def install_commands(plan: dict, check: dict, wheel: str, out_dir: str) -> list[list[str]]:
    run_as = arch_prefix(plan, check["arch"])
    pip_install = ["-m", "pip", "install", "--no-index", "--no-deps"]
    if check.get("install", "venv") == "venv":
        venv = os.path.join(out_dir, "venv")
        return [run_as + [check["interpreter"], "-m", "venv", venv],
                run_as + installed_python(check, out_dir)[0] + pip_install + [wheel]]
    return [run_as + [check["interpreter"]] + pip_install +
            ["--target", os.path.join(out_dir, "site"), wheel]]


def import_command(plan: dict, check: dict, arch: str, out_dir: str) -> list[str]:
    python = installed_python(check, out_dir)[0]
    return [host_tools(plan)["arch"], f"-{arch}"] + python + ["-c", IMPORT, plan["input"]]


def run_all(cmds: list[list[str]], timeout: int, env: dict | None = None,
            cwd: str | None = None) -> tuple[int, str]:
    """Run commands in order, stopping at the first that fails; their output joined."""
    code, output = 0, ""
    for cmd in cmds:
        code, out = run(cmd, timeout, env=env, cwd=cwd)
        output += out
        if code != 0:
            break
    return code, output


def probe_info(output: str) -> dict | None:
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None


def interpreter_problem(check: dict, info: dict, lipo_code: int, lipo_out: str) -> str | None:
    """Why this interpreter cannot serve the check (one line), or None."""
    want = check.get("maxunicode")
    if want and info.get("maxunicode") != want:
        kind = "narrow (UCS-2)" if info.get("maxunicode") == 65535 else "not the planned build"
        return (f"interpreter is {kind}: sys.maxunicode {info.get('maxunicode')}, expected "
                f"{want} for {check.get('abi_tag') or 'a wide build'}")
    if lipo_code != 0:
        return (f"lipo -archs could not read the interpreter (exit {lipo_code}): "
                f"{first_words(lipo_out, 160)}")
    have = lipo_out.split()
    missing = [arch for arch in check["archs"] if arch not in have]
    if missing:
        return (f"interpreter has no {' or '.join(missing)} slice (lipo -archs: "
                f"{' '.join(have) or 'nothing'})")
    if not info.get("pip"):
        return "the interpreter has no pip: the build and install steps need it"
    return None


def wheel_tags(name: str) -> tuple[set, set, set]:
    """Python, ABI and platform tags of a wheel file name (compressed tag sets expanded)."""
    parts = name[:-len(".whl")].split("-")
    if len(parts) < 5:
        return set(), set(), set()
    return set(parts[-3].split(".")), set(parts[-2].split(".")), set(parts[-1].split("."))


def tool_pin_problem(plan: dict, node: dict, tool: str, role: str) -> str | None:
    """Why the host's repair tool is not the matrix's pin (None: it is), saying what to do."""
    pin = plan.get(f"{tool}_version")
    if pin and node.get(tool) != pin:
        return (f"{tool} {node.get(tool) or 'missing'} in the tools venv {plan['tools_venv']}; "
                f"the matrix pins {pin} (converge the host: {role})")
    return None


def the_built_wheel(out_dir: str) -> tuple[str, str | None]:
    """The one wheel the build left in ``out_dir/dist``, or why there is not exactly one."""
    dist = sorted(n for n in os.listdir(os.path.join(out_dir, "dist")) if n.endswith(".whl"))
    if len(dist) != 1:
        return "", f"the build left {len(dist)} wheels, expected one"
    return os.path.join(out_dir, "dist", dist[0]), None


def read_repaired(wheel_dir: str, bundled) -> tuple[str, dict, str | None]:
    """The one repaired wheel in *wheel_dir*: its name, ``{"wheel", "bundled_libs"}`` (the
    members *bundled* accepts) and the problem (one line) when there is not exactly one
    readable wheel.  Shared by the macOS and the Windows host modes."""
    try:
        wheels = sorted(n for n in os.listdir(wheel_dir) if n.endswith(".whl"))
    except OSError as err:
        return "", {}, f"no repaired wheel: {err.strerror or err}"
    if len(wheels) != 1:
        return "", {}, f"expected one repaired wheel, found {len(wheels)}"
    name = wheels[0]
    try:
        with zipfile.ZipFile(os.path.join(wheel_dir, name)) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile) as err:
        return name, {"wheel": name, "bundled_libs": []}, (f"repaired wheel {name} is "
                                                           f"unreadable: {err}")
    return name, {"wheel": name, "bundled_libs": [n for n in names if bundled(n)]}, None


def validate_repaired(wheel_dir: str, wheel_tag: str) -> tuple[dict, str | None]:
    """The repaired wheel and what it bundles, and the problem (one line) when it is not
    exactly one readable wheel carrying the plan's tag (e.g. ``cp312-cp312-macosx_11_0_arm64``)."""
    name, info, problem = read_repaired(
        wheel_dir, lambda member: ".dylibs/" in member and not member.endswith("/"))
    if problem:
        return info, problem
    want_py, want_abi, want_plat = wheel_tag.split("-")
    pys, abis, plats = wheel_tags(name)
    if want_plat not in plats:
        arch = want_plat.split("_", 3)[-1]
        if any(p.startswith("macosx_") and p.endswith("_" + arch) for p in plats):
            return info, (f"repaired wheel {name} is tagged {'.'.join(sorted(plats))}, not "
                          f"{want_plat}: a binary in it needs another macOS than the "
                          "deployment target")
        return info, f"repaired wheel {name} is not tagged {want_plat}"
    if want_abi not in abis or want_py not in pys:
        return info, (f"repaired wheel {name} is not tagged {want_py}-{want_abi} (the "
                      "interpreter built another ABI)")
    return info, None


def import_each(plan: dict, check: dict, out_dir: str, arches: list[str], timeout: int,
                record: dict) -> tuple[int, str, str] | None:
    """Import and call the installed canary under each of ``arches`` in turn (answer and
    OpenSSL version into ``record``); the first failure as (exit code, output, diagnosis)."""
    env = host_env(installed_python(check, out_dir)[1])
    for arch in arches:
        code, out = run(import_command(plan, check, arch, out_dir), timeout, env=env, cwd="/")
        if code != 0:
            return code, out, f"under {arch}: {diagnose('import', out, code, HOST_DIAGNOSES)}"
        lines = out.strip().splitlines()
        record["answer"] = lines[0].strip() if lines else ""
        if len(lines) > 1:
            record["versions"]["openssl_bundled"] = lines[1].strip()
        if record["answer"] != plan["expected"]:
            return 0, out, f"wrong answer from the canary under {arch}: {record['answer'][:70]!r}"
    record["versions"]["imported_under"] = " ".join(arches)
    return None


def run_host_check(plan: dict, check: dict, record: dict, done, node: dict) -> dict:
    """One check on the node itself: interpreter, build, repair, validate, install, import."""
    deadline = time.monotonic() + check_timeout(plan)
    timeouts = dict(HOST_TIMEOUTS, **(plan.get("timeouts") or {}))

    def limit(step: str) -> int:
        return max(1, min(int(timeouts[step]), int(deadline - time.monotonic())))

    def failed(step: str, code: int | None, out: str, why: str | None = None) -> dict:
        return done(status="failed", step=step, exit_code=code, output_tail=tail(out),
                    diagnosis=why or diagnose(step, out, code, HOST_DIAGNOSES))

    runnable = executable_arches(node["arch"])
    skipped = [arch for arch in check["archs"] if arch not in runnable]
    if len(skipped) == len(check["archs"]):
        return done(reason=f"{' and '.join(skipped)} slice not executable on this node (an "
                           f"{node['arch']} Mac)")
    out_dir, unusable = scratch_dir(
        plan, f"{check['image']}-{check['python']}-{check['arch']}-", done)
    if unusable is not None:
        return unusable
    try:
        run_as = arch_prefix(plan, check["arch"])
        code, out = run(run_as + [check["interpreter"], "-c", PROBE], limit("interpreter"),
                        env=host_env())
        info = probe_info(out) if code == 0 else None
        if info is None:
            return failed("interpreter", code, out, None if code else
                          f"interpreter probe printed no JSON: {first_words(out, 160)}")
        lipo_code, lipo_out = run([host_tools(plan)["lipo"], "-archs", check["interpreter"]],
                                  min(60, limit("interpreter")), env=host_env())
        record["versions"] = {
            "python": info.get("python"), "build_flags": info.get("build_flags") or {},
            "maxunicode": str(info.get("maxunicode")), "platform": info.get("platform"),
            "interpreter_archs": lipo_out.strip() if lipo_code == 0 else None,
            "macos": node.get("macos"), "node_arch": node.get("arch"),
            "clang": node.get("clang"), "delocate": node.get("delocate")}
        problem = interpreter_problem(check, info, lipo_code, lipo_out)
        if problem:
            return failed("interpreter", lipo_code or None, out + lipo_out, problem)

        shutil.copytree(plan["canary_dir"], os.path.join(out_dir, "src"))
        code, out = run_all(build_commands(plan, check, out_dir, info.get("pip")), limit("build"),
                            env=build_env(plan, check, os.path.join(out_dir, "bdeps")))
        if code != 0:
            return failed("build", code, out)
        newer = NEWER_OBJECT.search(out)
        if newer:
            return failed("build", code, out, f"an object linked in was built for macOS "
                          f"{newer.group(1)}, newer than the deployment target "
                          f"{newer.group(2)}: the wheel's tag would claim a macOS it cannot "
                          "run on (rebuild the universal OpenSSL for the matrix's floor)")

        unpinned = tool_pin_problem(plan, node, "delocate", "macos_health")
        if unpinned:
            return failed("repair", None, "", unpinned)
        built, why = the_built_wheel(out_dir)
        if why:
            return failed("build", code, out, why)
        code, out = run(repair_command(plan, check, built, out_dir), limit("repair"),
                        env=host_env({"MACOSX_DEPLOYMENT_TARGET": check["deployment_target"]}))
        if code != 0:
            return failed("repair", code, out)

        info, problem = validate_repaired(os.path.join(out_dir, "wheelhouse"), check["wheel_tag"])
        record.update(wheel=info.get("wheel"), bundled_libs=info.get("bundled_libs", []))
        if problem:
            return failed("validate", None, problem, problem)
        wheel = os.path.join(out_dir, "wheelhouse", info["wheel"])

        code, out = run_all(install_commands(plan, check, wheel, out_dir), limit("install"),
                            env=host_env())
        if code != 0:
            return failed("install", code, out)

        imported = [arch for arch in check["archs"] if arch not in skipped]
        failure = import_each(plan, check, out_dir, imported, limit("import"), record)
        if failure:
            return failed("import", *failure)
        if skipped:
            return done(reason=f"{' and '.join(skipped)} slice not executable on this node (an "
                               f"{node['arch']} Mac); built, repaired, installed and imported "
                               f"under {' and '.join(imported)} with the right answer")
        keep_wheel(plan, check, out_dir, record,
                   name=f"{check['python']}-{check['arch']}-{check['variant']}.whl")
        return done(status="passed")
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def prepare_work_dir(path: str) -> str | None:
    """Create the work directory 0700, or say (one line) why it is refused: a symlink (someone
    could point the scratch space elsewhere), not a directory, or owned by another user."""
    try:
        try:
            os.mkdir(path, 0o700)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path.rstrip("/")), exist_ok=True)
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        st = os.lstat(path)
    except OSError as err:
        return f"work directory {path} is unusable: {err.strerror or err}"
    if os.path.islink(path):
        return f"work directory {path} is refused: it is a symlink"
    if not os.path.isdir(path):
        return f"work directory {path} is refused: it is not a directory"
    # Windows has no uids (st_uid is 0) and no POSIX modes: its work dir's ACL is inherited
    # from <install_root>, which only administrators may write to.
    if not hasattr(os, "geteuid"):
        return None
    if st.st_uid != os.geteuid():
        return (f"work directory {path} is refused: owned by uid {st.st_uid}, not by this "
                f"user (uid {os.geteuid()})")
    if st.st_mode & 0o777 != 0o700:  # wider (or narrower, by a umask) than 0700
        try:
            os.chmod(path, 0o700)
        except OSError as err:
            return f"work directory {path} is unusable: {err.strerror or err}"
    return None


class RecordLog:
    """``records.jsonl`` in the work dir: a header naming the run, a ``start`` line when a
    check begins and a ``record`` line the moment it ends (flushed), so that a run cut short
    loses only the checks still in flight.  Also the pidfile that lets the run be stopped."""

    def __init__(self, work_dir: str | None, run_id: str) -> None:
        import threading

        self.lock = threading.Lock()
        self.handle = None
        if work_dir is None:
            return
        try:
            # Windows has neither O_NOFOLLOW nor process groups: the pidfile's PGID is then
            # the agent's own pid (a controller there stops the process tree by pid).
            nofollow = getattr(os, "O_NOFOLLOW", 0)
            fd = os.open(os.path.join(work_dir, RECORDS),
                         os.O_WRONLY | os.O_CREAT | os.O_TRUNC | nofollow, 0o600)
            self.handle = os.fdopen(fd, "w")
            group = os.getpgid(0) if hasattr(os, "getpgid") else os.getpid()
            with open(os.path.join(work_dir, PIDFILE), "w") as pidfile:
                pidfile.write(f"{os.getpid()} {group} {run_id}\n")
        except OSError:
            self.handle = None  # records still reach stdout at the end
        self.write({"event": "run", "run": run_id, "pid": os.getpid()})

    def write(self, line: dict) -> None:
        if self.handle is None:
            return
        with self.lock:
            try:
                self.handle.write(json.dumps(line) + "\n")
                self.handle.flush()
                os.fsync(self.handle.fileno())
            except (OSError, ValueError):
                pass

    def started(self, check: dict) -> None:
        self.write({"event": "start", **{k: check.get(k) for k in
                                         ("image", "python", "arch", "variant")}})

    def finished(self, record: dict) -> None:
        self.write({"event": "record", "record": record})


def refused_records(plan: dict, why: str) -> list:
    """Every check failed at ``agent`` with the same reason (e.g. the work dir is refused)."""
    return [dict(new_record(dict(check, digest=check.get("digest"))), status="failed",
                 step="agent", diagnosis=why, duration_s=0.0) for check in plan["checks"]]


# --- Windows host mode: windows_agent.py, uploaded beside this file by roles/windows_health --

WINDOWS = "windows"  # plan["os"] of a host plan for a Windows node (health/windows_plan.py)


def windows_mode():
    """The Windows host mode: the module beside this file on a node, the package's in tests."""
    try:
        import windows_agent  # type: ignore[import-not-found]
    except ImportError:
        from wheelfleet.health import windows_agent
    return windows_agent


def node_of(plan: dict) -> dict:
    """What a host-mode plan's node is (a Mac's or a Windows host's answer)."""
    if plan.get("os") == WINDOWS:
        return windows_mode().node_info(sys.modules[__name__], plan)
    return host_node(plan)


def main(argv: list[str]) -> int:
    with open(argv[1]) as handle:
        plan = json.load(handle)
    plan["run"] = re.sub(r"[^A-Za-z0-9_.-]", "", os.environ.get(RUN_ENV, "")) or \
        f"{int(time.time())}-{os.getpid()}"
    refused = prepare_work_dir(plan["work_dir"]) if plan["checks"] else None
    if refused:
        json.dump(refused_records(plan, refused), sys.stdout)
        print()
        return 0
    log = RecordLog(plan["work_dir"] if plan["checks"] else None, plan["run"])
    on_host = plan.get("kind") == HOST
    broken = (engine_problem(plan["engine"], check_timeout(plan))
              if plan["checks"] and not on_host else None)
    if plan["checks"] and not on_host:
        prune_bdeps(plan)
    node = node_of(plan) if plan["checks"] and on_host else None

    parallel = max(1, int(plan.get("parallel", 2)))
    checks = plan["checks"]
    # Host plans run check by check; container plans one container per group of checks.
    units = [[i] for i in range(len(checks))] if on_host else \
        container_groups(checks, parallel)

    def one(unit: list[int]) -> list[dict]:
        for i in unit:
            log.started(checks[i])
        if on_host:
            done = [check_one(plan, checks[unit[0]], broken, node)]
        else:
            done = check_group(plan, [checks[i] for i in unit], broken)
        for record in done:
            log.finished(record)
        return done

    records: list = [None] * len(checks)
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for unit, done in list(pool.map(lambda u: (u, one(u)), units)):
            for position, i in enumerate(unit):
                records[i] = done[position]
    json.dump(records, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
