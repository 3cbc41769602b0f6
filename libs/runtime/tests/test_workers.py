"""CASEDESK_WORKERS: the settings, the CPUs `auto` counts, and a real supervisor whose workers run
the runtime's GrpcServer on one shared port (processes, signals and sockets, no mocks)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from casedesk_runtime.settings import SettingsError, load_settings
from casedesk_runtime.workers import WorkerSettings, cgroup_cpu_quota, usable_cpus

# A worker as a service runs one: settings from the environment, become_worker, a GrpcServer
# serving until SIGTERM. It notes what it does in a journal file: "<what> <index> <pid> <time>".
WORKER = textwrap.dedent(
    """
    import asyncio, os, sys, time
    import grpc
    from casedesk_runtime.grpc_server import GrpcServer
    from casedesk_runtime.logs import configure_logging, get_logger
    from casedesk_runtime.settings import load_settings
    from casedesk_runtime.workers import WorkerSettings, become_worker

    INDEX = os.environ["CASEDESK_WORKER_INDEX"]

    def note(what):
        with open(sys.argv[1], "a") as journal:
            journal.write(f"{what} {INDEX} {os.getpid()} {time.time()}\\n")

    async def whoami(request, context):
        return str(os.getpid()).encode()

    handler = grpc.method_handlers_generic_handler(
        "casedesk.test.v1.Workers", {"Whoami": grpc.unary_unary_rpc_method_handler(whoami)}
    )
    binding = (lambda _, server: server.add_generic_rpc_handlers((handler,)), None,
               "casedesk.test.v1.Workers")

    async def serve(settings):
        if os.environ.get("FAIL_WORKER") == INDEX:
            note("failing")
            sys.exit(3)
        await asyncio.sleep(float(os.environ.get(f"DELAY_WORKER_{INDEX}", "0")))
        await GrpcServer(settings, [binding]).serve_until_signal()
        note("stopped")

    settings = load_settings(WorkerSettings)
    configure_logging("workers-test")
    become_worker(settings)
    note("began")
    get_logger("workers-test").info("worker up")
    asyncio.run(serve(settings))
    """
)
SUPERVISOR = textwrap.dedent(
    """
    import sys
    from casedesk_runtime.logs import configure_logging
    from casedesk_runtime.workers import Supervisor

    configure_logging("workers-test")
    sys.exit(Supervisor([sys.executable, *sys.argv[2:]], int(sys.argv[1]), 10.0).run())
    """
)


def test_workers_setting_takes_a_count_or_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEDESK_WORKERS", "3")
    assert load_settings(WorkerSettings).worker_count() == 3
    for automatic in ("auto", "0"):
        monkeypatch.setenv("CASEDESK_WORKERS", automatic)
        assert load_settings(WorkerSettings).worker_count() == usable_cpus()
    monkeypatch.delenv("CASEDESK_WORKERS")
    assert load_settings(WorkerSettings).worker_count() == 1


@pytest.mark.parametrize("value", ["-1", "65", "many"])
def test_a_bad_worker_count_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CASEDESK_WORKERS", value)
    with pytest.raises(SettingsError, match="CASEDESK_WORKERS"):
        load_settings(WorkerSettings)


def test_each_worker_serves_metrics_on_the_port_plus_its_index() -> None:
    assert WorkerSettings(metrics_port=9464, worker_index=2).metrics_address() == (
        "127.0.0.1",
        9466,
    )
    assert WorkerSettings(grpc_port=50052, worker_index=1).metrics_address() == (
        "127.0.0.1",
        51053,
    )
    assert WorkerSettings(grpc_port=50052).metrics_address() == ("127.0.0.1", 51052)
    assert WorkerSettings(metrics_port=0, worker_index=1).metrics_address() is None


def test_the_cgroup_quota_bounds_auto(tmp_path: Path) -> None:
    pod = tmp_path / "kubepods" / "pod1"
    pod.mkdir(parents=True)
    (tmp_path / "cpu.max").write_text("max 100000\n")
    (pod / "cpu.max").write_text("250000 100000\n")
    assert cgroup_cpu_quota(tmp_path, "/kubepods/pod1") == 2.5
    (tmp_path / "kubepods" / "cpu.max").write_text("150000 100000\n")  # a tighter ancestor
    assert cgroup_cpu_quota(tmp_path, "/kubepods/pod1") == 1.5
    (pod / "cpu.max").write_text("max 100000\n")
    (tmp_path / "kubepods" / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_quota(tmp_path, "/kubepods/pod1") is None


def test_the_cgroup_v1_quota_counts_too(tmp_path: Path) -> None:
    v1 = tmp_path / "cpu"
    v1.mkdir()
    (v1 / "cpu.cfs_quota_us").write_text("50000\n")
    (v1 / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_quota(tmp_path, "/") == 0.5
    (v1 / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpu_quota(tmp_path, "/") is None


def test_auto_is_at_most_the_affinity() -> None:
    assert 1 <= usable_cpus() <= len(os.sched_getaffinity(0))


@dataclass
class Pool:
    """A supervisor process running WORKER, its journal and output."""

    process: subprocess.Popen[str]
    journal: Path
    port: int
    metrics_port: int

    def notes(self, what: str) -> dict[int, tuple[int, float]]:
        """{worker index: (pid, time)} of the journal's lines saying `what`."""
        found = {}
        text = self.journal.read_text() if self.journal.exists() else ""
        for line in text.splitlines():
            said, index, pid, at = line.split()
            if said == what:
                found[int(index)] = (int(pid), float(at))
        return found

    def wait_for(self, what: str, count: int, timeout: float = 30) -> dict[int, tuple[int, float]]:
        deadline = time.monotonic() + timeout
        while len(found := self.notes(what)) < count:
            assert time.monotonic() < deadline, (what, self.journal.read_text())
            time.sleep(0.05)
        return found

    def serving(self, count: int) -> None:
        """Until `count` workers answer (each has its metrics port)."""
        deadline = time.monotonic() + 30
        for index in range(count):
            while not _answers(f"http://127.0.0.1:{self.metrics_port + index}/metrics"):
                assert self.process.poll() is None, self.output()
                assert time.monotonic() < deadline, self.output()
                time.sleep(0.1)

    def output(self) -> str:
        self.process.wait(30)
        assert self.process.stderr is not None
        return self.process.stderr.read()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def _free_ports(count: int) -> int:
    """The first of `count` consecutive free ports."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = int(probe.getsockname()[1])
        if first + count > 65535:
            continue
        try:
            for port in range(first, first + count):
                with socket.socket() as other:
                    other.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first


@pytest.fixture
def pool(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Pool]:
    """Two workers under a supervisor; `request.param` adds environment variables."""
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    supervisor = tmp_path / "supervisor.py"
    supervisor.write_text(SUPERVISOR)
    port, metrics_port = _free_ports(1), _free_ports(2)
    env = {
        **os.environ,
        "CASEDESK_GRPC_PORT": str(port),
        "CASEDESK_GRPC_INSECURE_DEV": "true",
        "CASEDESK_METRICS_PORT": str(metrics_port),
        **getattr(request, "param", {}),
    }
    journal = tmp_path / "journal"
    process = subprocess.Popen(
        [sys.executable, str(supervisor), "2", str(worker), str(journal)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    running = Pool(process, journal, port, metrics_port)
    try:
        yield running
    finally:
        if process.poll() is None:
            process.kill()
        for pid, _ in running.notes("began").values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(10)


def _whoami(port: int) -> int:
    # A channel of its own: a new connection, which the kernel hands to either worker.
    options = [("grpc.use_local_subchannel_pool", 1)]
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        reply = channel.unary_unary("/casedesk.test.v1.Workers/Whoami")(b"", timeout=5)
    return int(reply)


def test_two_workers_share_the_port_and_both_take_calls(pool: Pool) -> None:
    pool.serving(2)
    pids = {pid for pid, _ in pool.wait_for("began", 2).values()}
    answered = {_whoami(pool.port) for _ in range(40)}
    assert answered == pids  # 40 connections all on one worker: chance 2 ** -39
    pool.process.send_signal(signal.SIGTERM)
    assert pool.process.wait(30) == 0
    assert {pid for pid, _ in pool.wait_for("stopped", 2).values()} == pids
    lines = [json.loads(line) for line in pool.output().splitlines() if line.startswith("{")]
    up = {line["worker"] for line in lines if line["message"] == "worker up"}
    assert up == {0, 1}


@pytest.mark.parametrize("pool", [{"DELAY_WORKER_0": "1.5"}], indirect=True)
def test_workers_start_one_after_another(pool: Pool) -> None:
    began = pool.wait_for("began", 2)
    # Worker 1 was started only once worker 0 served, 1.5 s after worker 0 began.
    assert began[1][1] - began[0][1] >= 1.5


def test_a_worker_that_dies_stops_the_pod(pool: Pool) -> None:
    pool.serving(2)
    began = pool.wait_for("began", 2)
    os.kill(began[1][0], signal.SIGKILL)
    assert pool.process.wait(30) == 128 + signal.SIGKILL
    assert set(pool.wait_for("stopped", 1)) == {0}  # the other one drained and stopped
    assert "worker exited 137 unasked" in pool.output()


@pytest.mark.parametrize("pool", [{"FAIL_WORKER": "0"}], indirect=True)
def test_a_worker_that_fails_to_start_fails_the_supervisor(pool: Pool) -> None:
    assert pool.process.wait(30) == 3
    assert set(pool.notes("began")) == {0}  # the next one was never started


def test_workers_stop_when_the_supervisor_is_killed(pool: Pool) -> None:
    pool.serving(2)
    pids = {pid for pid, _ in pool.wait_for("began", 2).values()}
    pool.process.kill()
    stopped = pool.wait_for("stopped", 2)  # each got SIGTERM from the kernel, and drained
    assert {pid for pid, _ in stopped.values()} == pids
