"""``FileStates``: its command run for real by this machine's shells (dash and bash, GNU stat
and sha256sum, as on a Linux build host) against a tree of every kind of path, its answer
checked against what Python itself sees there.  Level: real artifact (the command a host runs,
run here); the BSD branch (macOS) is spec-level (``tests/spec/facts/files.FileStates``)."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from wheelfleet.facts.files import FileStates

SHELLS = [s for s in ("/bin/sh", "/bin/bash") if Path(s).exists()]


def tree(root: Path) -> list[str]:
    (root / "a dir").mkdir()
    os.chmod(root / "a dir", 0o710)
    (root / "a dir" / "two  spaces.py").write_text("print('x')\n")
    os.chmod(root / "a dir" / "two  spaces.py", 0o755)
    (root / "empty").write_bytes(b"")
    os.chmod(root / "empty", 0o600)
    (root / "link").symlink_to(root / "empty")
    (root / "dangling").symlink_to(root / "nowhere")
    os.mkfifo(root / "fifo")  # the hasher would block reading it: it must never see it
    paths = ["a dir", "a dir/two  spaces.py", "empty", "link", "dangling", "fifo", "gone"]
    return [str(root / p) for p in paths]


def expected(path: str) -> dict[str, object] | None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    mode = format(stat.S_IMODE(st.st_mode), "o")
    if stat.S_ISLNK(st.st_mode):
        return {"kind": "link", "mode": None, "sha256": None}
    if stat.S_ISDIR(st.st_mode):
        return {"kind": "dir", "mode": mode, "sha256": None}
    if stat.S_ISREG(st.st_mode):
        return {"kind": "file", "mode": mode,
                "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()}
    return {"kind": "other", "mode": None, "sha256": None}


@pytest.mark.parametrize("shell", SHELLS)
def test_every_kind_of_path_is_reported_as_python_sees_it(tmp_path: Path, shell: str) -> None:
    paths = tree(tmp_path)
    command = FileStates().command(paths=paths)
    proc = subprocess.run([shell, "-c", command], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    states = FileStates().process(proc.stdout.splitlines())
    assert states == {p: expected(p) for p in paths}
    assert states[paths[1]]["sha256"] == hashlib.sha256(b"print('x')\n").hexdigest()


def test_many_paths_take_one_stat_and_one_hasher(tmp_path: Path) -> None:
    """The point of the command's shape: a 40-file role costs the host three processes, not a
    stat and a hash pipeline per file (counted with strace, when this machine has it)."""
    if not shutil.which("strace"):
        pytest.skip("strace is not installed")
    paths = []
    for i in range(40):
        (tmp_path / f"f{i}").write_text(str(i))
        paths.append(str(tmp_path / f"f{i}"))
    log = tmp_path / "trace"
    proc = subprocess.run(["strace", "-f", "-qq", "-e", "trace=execve", "-o", str(log),
                           "/bin/sh", "-c", FileStates().command(paths=paths)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert len(FileStates().process(proc.stdout.splitlines())) == 40
    execs = [line for line in log.read_text().splitlines() if "execve(" in line and "= 0" in line]
    # sh itself, the GNU-stat probe, stat, sha256sum
    assert len(execs) == 4, execs


@pytest.mark.parametrize("bad", ["relative/path", "/a\nb", "/a\\b"])
def test_a_path_the_answer_could_not_carry_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="managed path"):
        FileStates().command(paths=[bad])
