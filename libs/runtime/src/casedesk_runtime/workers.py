"""Several worker processes of one service, for its cores: CASEDESK_WORKERS.

A Python process serves on one core at a time (its GIL), so a service uses more cores with more
processes. With CASEDESK_WORKERS=N above 1 (`auto` or 0: the CPUs the process may use, see
`usable_cpus`) the process started (`python -m casedesk_case`) serves nothing itself: it becomes a
supervisor of N workers, `python -m <the same module>` with CASEDESK_WORKERS=1 and
CASEDESK_WORKER_INDEX=0..N-1, each with its own composition root.

- Every worker binds the same gRPC port (and health port): GrpcServer sets SO_REUSEPORT, so the
  kernel hands each new connection to one of the listening workers. It spreads connections, not
  calls: a client with one long-lived HTTP/2 connection talks to one worker.
- Worker i serves /metrics on the metrics port + i (`WorkerSettings.metrics_address`), and each
  of its log lines carries `"worker": i`.
- Workers start one after another, each once the previous one serves (it reports through an
  inherited pipe, `report_ready`): schema migrations at start never race each other.
- SIGTERM and SIGINT are passed on to every worker; the supervisor exits when all have drained.
- A worker that exits unasked (a crash, the OOM killer, a failed start) stops the others, and the
  supervisor exits non-zero: the kubelet restarts the pod as a whole. Nothing is respawned here, so
  a worker that keeps failing shows as a restarting pod, never as a silent loop.
- A supervisor killed outright (SIGKILL) takes its workers along: each asks the kernel for a
  SIGTERM when its parent dies (PR_SET_PDEATHSIG) and drains as on any SIGTERM.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from casedesk_runtime.logs import get_logger
from casedesk_runtime.settings import ServiceSettings

log = get_logger(__name__)

WORKERS_VARIABLE = "CASEDESK_WORKERS"
INDEX_VARIABLE = "CASEDESK_WORKER_INDEX"
# Process plumbing between a supervisor and its workers, not settings.
READY_FD_VARIABLE = "CASEDESK_WORKER_READY_FD"
PARENT_VARIABLE = "CASEDESK_WORKER_SUPERVISOR_PID"
MAX_WORKERS = 64
# A worker that neither serves nor fails within this long is taken as stuck: everything stops.
START_TIMEOUT_S = 120.0
_PR_SET_PDEATHSIG = 1


class WorkerSettings(ServiceSettings):
    """CASEDESK_WORKERS and CASEDESK_WORKER_INDEX, for services that can run several workers."""

    # Worker processes: 1 serves in this process; `auto` or 0: one per usable CPU.
    workers: Annotated[int, Field(ge=0, le=MAX_WORKERS)] | Literal["auto"] = 1
    # Set by the supervisor for each worker (0..N-1); the metrics port is offset by it.
    worker_index: int = Field(default=0, ge=0, lt=MAX_WORKERS)

    def worker_count(self) -> int:
        if self.workers in ("auto", 0):
            return min(usable_cpus(), MAX_WORKERS)
        return int(self.workers)

    def metrics_address(self) -> tuple[str, int] | None:
        address = super().metrics_address()
        if address is None or not self.worker_index:
            return address
        host, port = address
        return (host, port + self.worker_index) if port + self.worker_index <= 65535 else None


def usable_cpus(cgroup_root: Path = Path("/sys/fs/cgroup")) -> int:
    """The CPUs this process may run on (its affinity), fewer when a cgroup CPU quota (a
    container's CPU limit) allows less: the quota rounded down, at least 1."""
    cpus = len(os.sched_getaffinity(0))
    quota = cgroup_cpu_quota(cgroup_root)
    if quota is not None:
        cpus = min(cpus, max(1, math.floor(quota)))
    return cpus


def cgroup_cpu_quota(root: Path, own: str | None = None) -> float | None:
    """CPUs' worth of time the process's cgroup and its ancestors allow (the smallest), None when
    unlimited: cgroup v2's `cpu.max` along the process's own path (`own`, from /proc/self/cgroup
    unless given), and v1's CFS quota where the cpu controller is mounted."""
    quotas = []
    own = _cgroup_v2_path() if own is None else own
    if own is not None:
        directory = root / own.lstrip("/")
        for candidate in (directory, *directory.parents):
            with contextlib.suppress(OSError, ValueError):
                quota, period = (candidate / "cpu.max").read_text().split()
                if quota != "max":
                    quotas.append(int(quota) / int(period))
            if candidate == root:
                break
    for v1 in (root / "cpu", root / "cpu,cpuacct"):
        with contextlib.suppress(OSError, ValueError):
            quota_us = int((v1 / "cpu.cfs_quota_us").read_text())
            if quota_us > 0:
                quotas.append(quota_us / int((v1 / "cpu.cfs_period_us").read_text()))
    return min(quotas) if quotas else None


def _cgroup_v2_path() -> str | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                return line[3:]
    return None


def become_worker(settings: WorkerSettings) -> None:
    """In a worker a supervisor started (no-op otherwise): label the logs, and die with the
    supervisor. Call once logging is configured."""
    if INDEX_VARIABLE not in os.environ:
        return
    index = settings.worker_index
    for handler in logging.getLogger().handlers:
        handler.addFilter(_WorkerLabel(index))
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        # Parent gone before the request took effect: nobody would send that SIGTERM.
        if str(os.getppid()) != os.environ.get(PARENT_VARIABLE, str(os.getppid())):
            os.kill(os.getpid(), signal.SIGTERM)


class _WorkerLabel(logging.Filter):
    def __init__(self, index: int) -> None:
        super().__init__()
        self._index = index

    def filter(self, record: logging.LogRecord) -> bool:
        record.worker = self._index
        return True


def report_ready() -> None:
    """Tell the supervisor (if any) that this worker serves; GrpcServer calls it once started."""
    descriptor = os.environ.pop(READY_FD_VARIABLE, None)
    if descriptor is not None:
        with contextlib.suppress(OSError, ValueError):
            os.write(int(descriptor), b"1")
            os.close(int(descriptor))


def supervise(module: str, count: int, settings: ServiceSettings) -> int:
    """Run `python -m module` as `count` workers until they stop; the exit status to return."""
    # In-flight calls get shutdown_grace_s, the service's own drain as long again (the chart's
    # rule); past that and a margin the supervisor kills what is left.
    stop_timeout_s = 2 * settings.shutdown_grace_s + 5
    return Supervisor([sys.executable, "-m", module], count, stop_timeout_s).run()


class Supervisor:
    """Starts `count` copies of `command`, one after another, and stops them together."""

    def __init__(
        self,
        command: Sequence[str],
        count: int,
        stop_timeout_s: float,
        *,
        env: Mapping[str, str] | None = None,
        start_timeout_s: float = START_TIMEOUT_S,
    ) -> None:
        self._command = list(command)
        self._count = count
        self._stop_timeout_s = stop_timeout_s
        self._start_timeout_s = start_timeout_s
        self._env = dict(os.environ if env is None else env)
        self._events: queue.SimpleQueue[tuple[str, int, int]] = queue.SimpleQueue()
        self._workers: dict[int, subprocess.Popen[bytes]] = {}
        self._stopping = False
        self._status = 0

    def run(self) -> int:
        handled = (signal.SIGTERM, signal.SIGINT)
        previous = {signum: signal.signal(signum, self._on_signal) for signum in handled}
        log.info("starting workers", extra={"workers": self._count})
        try:
            self._start(0)
            self._supervise()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        log.info("workers stopped", extra={"exit_status": self._status})
        return self._status

    def _on_signal(self, signum: int, _frame: object) -> None:
        # SimpleQueue.put is safe in a signal handler; the loop does the work.
        self._events.put(("signal", -1, signum))

    def _start(self, index: int) -> None:
        read_end, write_end = os.pipe()
        env = {
            **self._env,
            WORKERS_VARIABLE: "1",
            INDEX_VARIABLE: str(index),
            READY_FD_VARIABLE: str(write_end),
            PARENT_VARIABLE: str(os.getpid()),
        }
        try:
            worker = subprocess.Popen(self._command, env=env, pass_fds=(write_end,))
        finally:
            os.close(write_end)  # the worker's copy alone: its exit closes the pipe
        self._workers[index] = worker
        threading.Thread(target=self._watch, args=(index, worker, read_end), daemon=True).start()

    def _watch(self, index: int, worker: subprocess.Popen[bytes], read_end: int) -> None:
        with os.fdopen(read_end, "rb") as pipe:
            if pipe.read(1):
                self._events.put(("ready", index, 0))
        self._events.put(("exit", index, worker.wait()))

    def _supervise(self) -> None:
        running = 1
        deadline = time.monotonic() + self._start_timeout_s  # for the worker starting
        while running:
            timeout = None if deadline == math.inf else max(0.0, deadline - time.monotonic())
            try:
                kind, index, value = self._events.get(timeout=timeout)
            except queue.Empty:
                deadline = self._overdue()
                continue
            if kind == "signal" and not self._stopping:
                log.info("stopping workers", extra={"signal": signal.Signals(value).name})
                deadline = self._stop(value)
            elif kind == "ready" and not self._stopping:
                log.info("worker serving", extra={"worker": index})
                if index + 1 < self._count:
                    self._start(index + 1)
                    running += 1
                    deadline = time.monotonic() + self._start_timeout_s
                else:
                    deadline = math.inf
            elif kind == "exit":
                running -= 1
                deadline = self._exited(index, value, deadline)

    def _exited(self, index: int, code: int, deadline: float) -> float:
        status = code if code >= 0 else 128 - code  # a signal's death as a shell reports it
        if self._stopping:
            if status:
                log.warning("worker exited %d while stopping", status, extra={"worker": index})
                self._status = self._status or status
            return deadline
        log.error(
            "worker exited %d unasked: stopping the others; the pod restarts as a whole",
            status, extra={"worker": index},
        )  # fmt: skip
        self._status = status or 1
        return self._stop(signal.SIGTERM)

    def _stop(self, signum: int) -> float:
        self._stopping = True
        for worker in self._workers.values():
            if worker.poll() is None:
                worker.send_signal(signum)
        return time.monotonic() + self._stop_timeout_s

    def _overdue(self) -> float:
        if not self._stopping:
            log.error(
                "a worker did not start serving within %.0f s: stopping", self._start_timeout_s
            )
            self._status = 1
            return self._stop(signal.SIGTERM)
        log.error("workers still running %.0f s after SIGTERM: killing", self._stop_timeout_s)
        self._status = self._status or 1
        for worker in self._workers.values():
            if worker.poll() is None:
                worker.kill()
        return math.inf
