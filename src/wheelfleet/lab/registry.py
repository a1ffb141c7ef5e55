"""A real OCI distribution registry on loopback, run as a process this code owns.

Debian's ``docker-registry`` (distribution v2.8) is started with a generated config:
filesystem storage inside ``state_dir``, plain HTTP on ``127.0.0.1:<port>`` and
deletes enabled (so tests can remove a manifest and make a pinned digest vanish).

Ownership is tracked in ``state_dir/registry.pid`` as ``pid starttime``: the kernel
start time guards against PID reuse, and ``stop()`` refuses to signal a process
whose command line is not *our* registry with *our* config file.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from . import processes
from .errors import LabError

REGISTRY_BIN = "/usr/bin/docker-registry"

# No proxy, ever: the registry is on loopback and a stray http_proxy in the
# environment must not route test traffic anywhere else.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _config_yaml(storage: Path, port: int) -> str:
    # Written by hand (no yaml dependency needed) and kept minimal: no auth, no
    # blob-descriptor cache (a cache would hide the on-disk tampering of the fault tests),
    # no storage health check (it only adds background noise to the log).
    return (
        "version: 0.1\n"
        "log:\n"
        "  level: info\n"
        "  fields:\n"
        "    service: wheelfleet-testregistry\n"
        "storage:\n"
        "  filesystem:\n"
        f"    rootdirectory: {storage}\n"
        "  delete:\n"
        "    enabled: true\n"
        "http:\n"
        f"  addr: 127.0.0.1:{port}\n"
        "  headers:\n"
        "    X-Content-Type-Options: [nosniff]\n"
    )


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def http_status(url: str, *, method: str = "GET", timeout: float = 2.0) -> int:
    """HTTP status for ``url`` (4xx/5xx returned, not raised); raises OSError if unreachable."""
    req = urllib.request.Request(url, method=method)
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@dataclass
class Registry:
    """Handle to a running registry; create with :meth:`Registry.start`."""

    state_dir: Path
    port: int
    pid: int
    _popen: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def address(self) -> str:
        """``host:port`` as used in image references, e.g. ``127.0.0.1:5000``."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def config_path(self) -> Path:
        return self.state_dir / "config.yml"

    @property
    def storage_dir(self) -> Path:
        return self.state_dir / "storage"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "registry.log"

    # -- lifecycle -------------------------------------------------------------------

    @classmethod
    def start(cls, state_dir: Path, port: int = 5000, timeout: float = 30.0) -> Registry:
        """Start (or reuse) the registry whose data lives in ``state_dir``.

        Idempotent: if the pid file names a live registry started from this state
        dir on the same port, that process is reused. A live one on another port is
        stopped and replaced, since the config file is shared.
        """
        state_dir = Path(state_dir).resolve()
        state_dir.mkdir(parents=True, exist_ok=True)
        existing = cls.find(state_dir)
        if existing is not None:
            if existing.port == port:
                existing.wait_ready(timeout)
                return existing
            existing.stop()

        if _port_in_use(port):
            # Another process answers there: waiting for "our" registry would talk to it.
            raise LabError(f"127.0.0.1:{port} is already in use by another process")
        reg = cls(state_dir=state_dir, port=port, pid=0)
        reg.storage_dir.mkdir(exist_ok=True)
        reg.config_path.write_text(_config_yaml(reg.storage_dir, port))
        logf = open(reg.log_path, "ab")  # handed to the child; our copy is closed below
        try:
            popen = subprocess.Popen(
                [REGISTRY_BIN, "serve", str(reg.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                cwd=state_dir,
                # Own session: a Ctrl-C aimed at pytest must not kill it mid-request,
                # and stop() addresses it by pid only.
                start_new_session=True,
            )
        finally:
            logf.close()
        reg.pid = popen.pid
        reg._popen = popen
        starttime = str(processes.starttime(popen.pid) or 0)
        (state_dir / "registry.pid").write_text(
            json.dumps({"pid": popen.pid, "starttime": starttime, "port": port})
        )
        try:
            reg.wait_ready(timeout)
        except LabError:
            reg.stop()
            raise
        return reg

    @classmethod
    def find(cls, state_dir: Path) -> Registry | None:
        """The live registry recorded in ``state_dir/registry.pid``, if it is still ours."""
        try:
            rec = json.loads((state_dir / "registry.pid").read_text())
        except (OSError, ValueError):
            return None
        reg = cls(state_dir=state_dir, port=int(rec["port"]), pid=int(rec["pid"]))
        if reg._is_ours(str(rec.get("starttime"))):
            return reg
        return None

    def _is_ours(self, starttime: str | None = None) -> bool:
        """True if ``self.pid`` is alive and is our docker-registry with our config."""
        now = processes.starttime(self.pid)
        if now is None or (starttime is not None and str(now) != starttime):
            return False
        argv = processes.cmdline(self.pid)
        return (
            len(argv) >= 3
            and os.path.basename(argv[0]) == os.path.basename(REGISTRY_BIN)
            and argv[-1] == str(self.config_path)
        )

    def running(self) -> bool:
        return self._is_ours()

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until ``GET /v2/`` answers 200, or raise with the registry log tail."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            # Only a dead process counts as exited: right after fork, /proc/PID/cmdline
            # still shows the parent's until the child has exec'd the registry.
            if processes.starttime(self.pid) is None:
                raise LabError(f"registry pid {self.pid} exited: {self._last_words()}")
            try:
                status = http_status(f"{self.url}/v2/", timeout=2.0)
                if status == 200:
                    return
                last = f"HTTP {status}"
            except OSError as exc:
                last = exc
            time.sleep(0.1)
        raise LabError(f"registry {self.address} not ready after {timeout}s ({last})")

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the registry: only our pid, only after checking it is ours."""
        popen = getattr(self, "_popen", None)
        if popen is not None and popen.poll() is None and not self._is_ours():
            # Started by us but not yet exec'd into the registry: it is ours by construction.
            popen.kill()
        if self._is_ours():
            os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self._is_ours() and time.monotonic() < deadline:
                self._reap()
                time.sleep(0.05)
            if self._is_ours():
                os.kill(self.pid, signal.SIGKILL)
        self._reap(block=True)
        pidfile = self.state_dir / "registry.pid"
        try:
            rec = json.loads(pidfile.read_text())
            if int(rec["pid"]) == self.pid:
                pidfile.unlink()
        except (OSError, ValueError):
            pass

    def _reap(self, block: bool = False) -> None:
        # Only the process that started it can reap it; a reused handle just waits
        # for /proc to show it gone (its parent, or init, reaps it).
        if self._popen is not None:
            try:
                self._popen.wait(timeout=5 if block else 0.01)
            except subprocess.TimeoutExpired:
                pass

    def _last_words(self) -> str:
        """The log's last line (what a dying registry says last) and where the rest is."""
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return f"{lines[-1] if lines else '(empty log)'} (log: {self.log_path})"
