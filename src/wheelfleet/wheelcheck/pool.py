"""Check wheels in worker processes, each wheel under a hard timeout and a memory cap.

``check_wheel`` already keeps every wheel within its budgets, the time budget included. The
workers are the backstop for what a budget cannot catch from inside (a parser stuck in C
code, an allocation the kernel refuses): the caller kills a worker that overruns its wheel's
timeout, reports that wheel as ``budget-exceeded`` (or ``internal-error`` when the worker
died) and carries on with a fresh worker. Every wheel of a batch gets a report, in input
order, whatever one of them does.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .budgets import DEFAULT_BUDGETS, Budgets
from .report import BUDGET_EXCEEDED, INTERNAL_ERROR, Problem, WheelReport

# The cooperative time budget stops a check from inside; the hard timeout leaves room for
# that report to arrive (and for a fresh worker's imports) before the worker is killed.
HARD_TIMEOUT_GRACE = 30.0
_STDERR_TAIL = 2000


def check_wheels(paths: Sequence[str | os.PathLike[str]], jobs: int = 0,
                 budgets: Budgets | None = None,
                 timeout: float | None = None) -> list[WheelReport]:
    """Reports for ``paths`` in input order, checked by ``jobs`` worker processes (default:
    one per CPU, at most one per wheel), each wheel killed after ``timeout`` seconds
    (default: its time budget plus a grace period)."""
    budgets = budgets or DEFAULT_BUDGETS
    if not paths:
        return []
    hard_timeout = timeout if timeout is not None else budgets.seconds + HARD_TIMEOUT_GRACE
    workers = max(1, min(jobs or os.cpu_count() or 1, len(paths)))
    with _Pool(workers, budgets, hard_timeout) as pool:
        return pool.run([os.fspath(p) for p in paths])


class _Process:
    """A worker process: forked from this one when that is safe (a single-threaded process
    on Linux: the command line), else started as ``python -m ...worker`` (a controller running
    pyinfra has threads, and a fork would copy their locks mid-use)."""

    def __init__(self, memory_bytes: int, inherited: list[IO[bytes]]) -> None:
        self.stderr: IO[bytes] = tempfile.TemporaryFile(prefix="wheelcheck-worker-")
        if _fork_is_safe():
            self._fork(memory_bytes, inherited)
        else:
            popen = subprocess.Popen(
                [sys.executable, "-m", "wheelfleet.wheelcheck.worker", str(memory_bytes)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr)
            assert popen.stdin is not None and popen.stdout is not None
            self.pid, self.stdin, self.stdout = popen.pid, popen.stdin, popen.stdout
        self.status: int | None = None

    def _fork(self, memory_bytes: int, inherited: list[IO[bytes]]) -> None:
        from .worker import serve  # the checks are imported once, here, for every worker

        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            status = 1
            try:
                os.close(request_write)
                os.close(reply_read)
                for stream in inherited:  # other workers' pipes: their EOF must not wait on us
                    stream.close()
                os.dup2(self.stderr.fileno(), 2)
                status = serve(os.fdopen(request_read, "rb"), os.fdopen(reply_write, "wb"),
                               memory_bytes)
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(status)
        os.close(request_read)
        os.close(reply_write)
        self.pid, self.stdin, self.stdout = pid, os.fdopen(request_write, "wb"), \
            os.fdopen(reply_read, "rb")

    def kill(self) -> None:
        if self.status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def wait(self, timeout: float) -> int:
        """The exit status (negative: the signal that ended it), killing it after ``timeout``."""
        end = time.monotonic() + timeout
        while self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
            elif time.monotonic() > end:
                self.kill()
                end = float("inf")
            else:
                time.sleep(0.01)
        return self.status


def _fork_is_safe() -> bool:
    return (sys.platform == "linux" and threading.active_count() == 1
            and "gevent" not in sys.modules)


@dataclass
class _Worker:
    process: _Process
    buffer: bytes = b""
    job: int | None = None  # index of the wheel being checked
    started: float = 0.0


class _Pool:
    def __init__(self, size: int, budgets: Budgets, timeout: float) -> None:
        self.size = size
        self.budgets = budgets
        self.timeout = timeout
        self.selector = selectors.DefaultSelector()
        self.workers: list[_Worker] = []

    def __enter__(self) -> _Pool:
        return self

    def __exit__(self, *_exc: object) -> None:
        for worker in list(self.workers):
            self._stop(worker, kill=False)
        self.selector.close()

    def run(self, paths: list[str]) -> list[WheelReport]:
        results: list[WheelReport | None] = [None] * len(paths)
        queue = deque(range(len(paths)))
        while any(result is None for result in results):
            busy = [w for w in self.workers if w.job is not None]
            while len(self.workers) < min(self.size, len(busy) + len(queue)):
                self._start()
            for worker in self.workers:
                if worker.job is None and queue:
                    self._send(worker, queue.popleft(), paths)
            busy = [w for w in self.workers if w.job is not None]
            now = time.monotonic()
            wait = min((w.started + self.timeout - now for w in busy), default=self.timeout)
            for key, _events in self.selector.select(max(0.0, wait)):
                self._read(key.data, paths, results)
            now = time.monotonic()
            for worker in [w for w in self.workers if w.job is not None]:
                if now - worker.started > self.timeout:
                    job = worker.job
                    assert job is not None
                    self._stop(worker, kill=True)
                    results[job] = _failed(paths[job], BUDGET_EXCEEDED,
                                           f"checking did not finish within {self.timeout:g} s "
                                           "(hard timeout); its worker process was killed")
        return [result for result in results if result is not None]

    def _start(self) -> None:
        inherited = [s for w in self.workers for s in (w.process.stdin, w.process.stdout)]
        worker = _Worker(_Process(self.budgets.worker_memory_bytes, inherited))
        self.selector.register(worker.process.stdout, selectors.EVENT_READ, worker)
        self.workers.append(worker)

    def _send(self, worker: _Worker, job: int, paths: list[str]) -> None:
        worker.job = job
        worker.started = time.monotonic()
        request = json.dumps({"path": paths[job], "budgets": self.budgets.to_json()}) + "\n"
        try:
            worker.process.stdin.write(request.encode())
            worker.process.stdin.flush()
        except OSError:
            pass  # it died; the EOF on its stdout reports it

    def _read(self, worker: _Worker, paths: list[str],
              results: list[WheelReport | None]) -> None:
        data = os.read(worker.process.stdout.fileno(), 1 << 16)
        if not data:
            job = worker.job
            why = self._stop(worker, kill=True)
            if job is not None:
                results[job] = _failed(paths[job], INTERNAL_ERROR,
                                       f"the worker process checking this wheel died ({why})")
            return
        worker.buffer += data
        while b"\n" in worker.buffer and worker.job is not None:
            line, _, worker.buffer = worker.buffer.partition(b"\n")
            job = worker.job
            worker.job = None
            results[job] = _parse_report(paths[job], line)

    def _stop(self, worker: _Worker, kill: bool) -> str:
        """End a worker; returns how it ended, with the last line it printed on stderr."""
        process = worker.process
        self.selector.unregister(process.stdout)
        if kill:
            process.kill()
        with contextlib.suppress(OSError):
            process.stdin.close()  # a worker at rest exits when its input ends
        status = process.wait(timeout=10)
        process.stdout.close()
        process.stderr.seek(max(0, process.stderr.seek(0, 2) - _STDERR_TAIL))
        tail = process.stderr.read().decode("utf-8", errors="replace").strip().splitlines()
        process.stderr.close()
        self.workers.remove(worker)
        how = f"exit status {status}" if status >= 0 else f"killed by {_signal_name(-status)}"
        return f"{how}: {tail[-1]}" if tail else how


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _parse_report(path: str, line: bytes) -> WheelReport:
    try:
        data: Any = json.loads(line)
        return WheelReport(wheel=str(data["wheel"]), ok=bool(data["ok"]),
                           problems=[Problem(**p) for p in data["problems"]])
    except (ValueError, KeyError, TypeError) as exc:
        return _failed(path, INTERNAL_ERROR, f"the worker's report could not be read: {exc}")


def _failed(path: str, code: str, message: str) -> WheelReport:
    return WheelReport.from_problems(Path(path).name, [Problem(code, "", message)])
