#!/usr/bin/env python3
"""wheelfleet health agent: runs on a build node, stdlib only, prints JSON records.

    python3 agent.py PLAN.json

For every (image, Python, variant) in the plan it runs the canary through build, repair,
validate, install and import inside the pinned image (offline), in parallel up to the plan's
limit, and prints one JSON list of records on stdout.  A record is ``passed`` only when every
step ran and the answer matched; otherwise ``failed`` (first failing step, exit code, output
tail, one-line diagnosis) or ``not-run`` (and why).  Uploaded by roles/wheel_health.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

STEPS = ["interpreter", "build", "repair", "validate", "install", "import"]
TAIL = 25

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


def diagnose(step: str, output: str, exit_code: int | None) -> str:
    for pattern, text in DIAGNOSES:
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
    try:
        st = os.statvfs(path)
    except OSError:
        return False
    free = st.f_bavail * st.f_frsize
    return free < 256 * 1024 or free < st.f_blocks * st.f_frsize * 0.01


def run(cmd: list[str], timeout: int) -> tuple[int, str]:
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout, errors="replace")
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


def engine_problem(engine: str) -> tuple[str, list[str]] | None:
    """Why ``engine`` cannot run containers here, or None when ``engine info`` answers.

    Asked once per agent run, before any image: with a missing or broken engine every check
    would otherwise be blamed on its image ("not in the local store").
    """
    code, out = run([engine, "info"], 120)
    if code == 0:
        return None
    if code == 127:
        why = f"{engine} not found on the node ({first_words(out)})"
    elif code == 126 or re.search(r"permission denied", out, re.IGNORECASE):
        why = f"permission denied running {engine} ({first_words(out)})"
    elif code == 124:
        why = f"{engine} info did not answer within 120s"
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


def check_one(plan: dict, check: dict, engine_broken: tuple[str, list[str]] | None = None
              ) -> dict:
    """One check, never raising: whatever goes wrong becomes this check's own record."""
    started = time.monotonic()
    record = new_record(check)

    def done(**fields: object) -> dict:
        record.update(fields)
        if record["status"] == "failed" and record["step"] not in ("image", "engine") and \
                disk_full(plan["work_dir"]):
            record["diagnosis"] = "disk full in the work directory"
        record["duration_s"] = round(time.monotonic() - started, 2)
        return record

    try:
        return run_check(plan, check, record, done, engine_broken)
    except Exception as err:  # noqa: BLE001 - one check's surprise must not cost the others
        return done(status="failed", step="agent", exit_code=None,
                    output_tail=[f"{type(err).__name__}: {err}"],
                    diagnosis=f"health agent error in this check: {type(err).__name__}: "
                    f"{str(err)[:160]}")


def run_check(plan: dict, check: dict, record: dict, done, engine_broken) -> dict:
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

    try:
        os.makedirs(plan["work_dir"], exist_ok=True)
        out_dir = tempfile.mkdtemp(prefix=f"{check['image']}-{check['python']}-",
                                   dir=plan["work_dir"])
    except OSError as err:
        return done(status="failed", step="agent", exit_code=None, output_tail=[str(err)],
                    diagnosis=f"work directory {plan['work_dir']} is unusable: "
                    f"{err.strerror or err}")
    try:
        cmd = [engine, "run", "--rm", "--network", "none",
               "-v", f"{plan['canary_dir']}:/canary:ro",
               "-v", f"{plan['wheelhouse']}:/wheelhouse:ro",
               "-v", f"{plan['runner']}:/wheelfleet-runner.sh:ro",
               "-v", f"{out_dir}:/out",
               "-e", f"PY=/opt/python/{check['python']}/bin/python",
               "-e", f"PLAT={check['plat']}", "-e", f"INPUT={plan['input']}",
               "-e", f"ABI3={'1' if check['variant'] == 'abi3' else '0'}"]
        cmd += list(plan.get("run_args", []))
        cmd += [check["local_name"], "/bin/sh", "/wheelfleet-runner.sh"]
        code, out = run(cmd, int(plan.get("timeout", 900)))
        steps_dir = os.path.join(out_dir, "steps")
        for step in STEPS:
            rc_file = os.path.join(steps_dir, f"{step}.rc")
            log = read(os.path.join(steps_dir, f"{step}.log"))
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
            rc = int(read(rc_file).strip() or "1")
            if rc != 0:
                return done(status="failed", step=step, exit_code=rc, output_tail=tail(log),
                            diagnosis=diagnose(step, log, rc))
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
        keep_wheel(plan, check, out_dir, record)
        return done(status="passed")
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


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


def keep_wheel(plan: dict, check: dict, out_dir: str, record: dict) -> None:
    """Keep the repaired wheel under a stable name, for the controller's own validator."""
    keep = plan.get("keep_dir")
    if not keep or not record.get("wheel"):
        return
    target_dir = os.path.join(keep, check["image"])
    try:
        os.makedirs(target_dir, exist_ok=True)
        target = os.path.join(target_dir, f"{check['python']}-{check['variant']}.whl")
        shutil.copyfile(os.path.join(out_dir, "wheelhouse", record["wheel"]), target)
        record["wheel_path"] = target
    except OSError as err:
        record["versions"]["kept_wheel_error"] = str(err)


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


def main(argv: list[str]) -> int:
    with open(argv[1]) as handle:
        plan = json.load(handle)
    broken = engine_problem(plan["engine"]) if plan["checks"] else None
    with ThreadPoolExecutor(max_workers=max(1, int(plan.get("parallel", 2)))) as pool:
        records = list(pool.map(lambda c: check_one(plan, c, broken), plan["checks"]))
    json.dump(records, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
