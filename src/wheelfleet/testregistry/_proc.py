"""Subprocess helper: every external command runs with a timeout and a readable error.

The image builder shells out to debootstrap, chroot, tar, podman and skopeo. Any of
them can hang on a dead mirror or a stuck lock, so no call is allowed without a
timeout, and a failure carries the command's stderr so tests show *why*.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping, Sequence

log = logging.getLogger(__name__)


class CommandError(RuntimeError):
    """A command exited non-zero or timed out; ``stderr`` holds its diagnostics."""

    def __init__(self, argv: Sequence[str], returncode: int | None, stdout: str, stderr: str):
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        what = "timed out" if returncode is None else f"exited {returncode}"
        tail = (stderr or stdout).strip()[-2000:]
        super().__init__(f"{' '.join(self.argv)} {what}: {tail}")


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (no shell) and capture text output.

    ``env`` is merged over the current environment rather than replacing it, because
    podman/debootstrap need PATH and friends. Raises :class:`CommandError` on timeout
    always, and on non-zero exit when ``check`` is true.
    """
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    log.debug("run %s", " ".join(argv))
    try:
        proc = subprocess.run(
            list(argv),
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input_text,
            stdin=None if input_text is not None else subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        raise CommandError(argv, None, out, err) from exc
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stdout, proc.stderr)
    return proc
