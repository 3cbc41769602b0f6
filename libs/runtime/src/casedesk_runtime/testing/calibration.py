"""The machine's own yardstick for benchmarks, measured in the same run as the figures.

Machines of one kind differ in speed by 2x or more, so a throughput means little alone. Every
Casedesk path is mostly gRPC calls, so the yardstick is the cheapest one: a bare `grpc.aio` unary
call (the standard health check) between two processes on loopback, CALLS_IN_FLIGHT at a time.
Benchmarks print their throughputs also as a ratio to it (`<service>.<x>_per_grpc_call`) and offer
a load scaled to it (`scaled_rate`), so that a figure carries over from one machine to another.

`tools/bench.sh` measures it before the benchmarks and again after them (`python -m
casedesk_runtime.testing.calibration`: `BENCH machine.grpc_unary_rps`, `..._after`), and each
benchmark that relates figures to it measures its own right before it starts anything
(`machine_grpc_unary_rps("intake")`: `BENCH intake.machine_grpc_unary_rps`): a shared machine's
speed drifts by 10 % and more within minutes, and the benchmarks before it take minutes, so a
figure is taken against the speed of its own minutes. CASEDESK_BENCH_MACHINE_GRPC_RPS pins the
yardstick instead (to compare two builds on one figure).

The CPU a process spends is read from /proc (the process and every descendant, living or
reaped): PostgreSQL's work is done by the postmaster's children, Kafka's by one JVM.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

CALLS_IN_FLIGHT = 64
ROUND_S = 2.0
ROUNDS = 3
# DESIGN.md's musts were set where a bare call reached about 6,700 calls/s and 500 cases/s were
# offered: the share of that machine's capacity a must's fixed rate stands for.
SCALED_RATE_SHARE = 0.075
ENV = "CASEDESK_BENCH_MACHINE_GRPC_RPS"
MODULE = "casedesk_runtime.testing.calibration"  # the server child runs this module
_TICKS = os.sysconf("SC_CLK_TCK")
# `settle`: quiet is under a fifth of the machine busy over half a second (idle services, their
# followers polling, PostgreSQL and Kafka at rest take a few per cent), waited for 30 s at most.
QUIET_SHARE = 0.2
QUIET_WINDOW_S = 0.5
SETTLE_LIMIT_S = 30.0


def scaled_rate(grpc_unary_rps: float) -> float:
    """The load, in cases or commands per second, that stands for 500/s on the musts' machine."""
    return SCALED_RATE_SHARE * grpc_unary_rps


def machine_grpc_unary_rps(bench: str) -> float:
    """The yardstick of `bench`'s figures: measured now and printed as `BENCH
    <bench>.machine_grpc_unary_rps`, or CASEDESK_BENCH_MACHINE_GRPC_RPS where it is pinned."""
    given = os.environ.get(ENV, "")
    if given:
        print(
            f"# {bench}: the yardstick pinned by {ENV}: {float(given):.0f} calls/s", file=sys.stderr
        )
        return float(given)
    rps = measure_grpc_unary_rps()
    print(f"BENCH {bench}.machine_grpc_unary_rps {rps:.0f} calls/s", flush=True)
    return rps


def measure_grpc_unary_rps() -> float:
    """The median of ROUNDS rounds of ROUND_S seconds against a health server in a child."""
    with _health_server() as address:
        return asyncio.run(_measure(address))


async def _measure(address: str) -> float:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest()
        await _calls(stub, request, 0.5)  # connection, the server's first calls, caches
        rounds = [await _calls(stub, request, ROUND_S) / ROUND_S for _ in range(ROUNDS)]
    return statistics.median(rounds)


async def _calls(
    stub: health_pb2_grpc.HealthStub, request: health_pb2.HealthCheckRequest, seconds: float
) -> int:
    done = 0
    stop = time.perf_counter() + seconds

    async def caller() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await stub.Check(request)
            done += 1

    await asyncio.gather(*(caller() for _ in range(CALLS_IN_FLIGHT)))
    return done


@contextlib.contextmanager
def _health_server() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"127.0.0.1:{port}"
    child = subprocess.Popen([sys.executable, "-m", MODULE, "serve", address])
    try:
        deadline = time.monotonic() + 30
        while not _answers(address):
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the calibration health server did not start on {address}")
            time.sleep(0.05)
        yield address
    finally:
        child.terminate()
        child.wait(10)


def _answers(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
            return True
        except grpc.RpcError:
            return False


async def _serve(address: str) -> None:
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    server.add_insecure_port(address)
    await server.start()
    await server.wait_for_termination()


def cpu_seconds(pid: int, *, tree: bool = True) -> float:
    """CPU (user + system) spent so far by the process and (`tree`) its descendants, living or
    reaped. A load generator that started the services it measures counts itself alone."""
    total = 0.0
    for member in [pid, *(_descendants(pid) if tree else [])]:
        fields = _stat(member)
        if fields is None:
            continue
        # utime, stime, and for the root also cutime, cstime (children it has waited for).
        used = int(fields[11]) + int(fields[12])
        if member == pid and tree:
            used += int(fields[13]) + int(fields[14])
        total += used / _TICKS
    return total


def machine_ticks() -> tuple[int, int]:
    """(busy, all) CPU time of the whole machine so far (/proc/stat), in ticks: a bench's share
    of every core between two readings."""
    ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return sum(ticks) - idle, sum(ticks)


async def settle(
    quiet_share: float = QUIET_SHARE,
    window_s: float = QUIET_WINDOW_S,
    limit_s: float = SETTLE_LIMIT_S,
) -> float:
    """Wait until the machine is quiet: the busy share of all its cores over `window_s` below
    `quiet_share`, i.e. what a phase at saturation left behind (an outbox relay or an index
    projector catching up, PostgreSQL's writes, another service's backlog) is done. A paced
    phase measures the latency at its rate from a steady state, not the drain of the phase
    before it, however long that takes on this machine. Returns the seconds waited; after
    `limit_s` (a machine busy with something else) it returns anyway."""
    began = time.monotonic()
    busy, every = machine_ticks()
    while time.monotonic() - began < limit_s:
        await asyncio.sleep(window_s)
        busy_now, every_now = machine_ticks()
        share = (busy_now - busy) / max(1, every_now - every)
        if share < quiet_share:
            break
        busy, every = busy_now, every_now
    return time.monotonic() - began


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie (nearest rank, no interpolation)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # the command may hold spaces and parentheses


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, frontier = [], [pid]
    while frontier:
        frontier = [c for p in frontier for c in children.get(p, [])]
        found += frontier
    return found


def infrastructure_pids() -> dict[str, int]:
    """PostgreSQL's postmaster and Kafka's JVM as tools/infra started them for tools/bench.sh
    (CASEDESK_RUN_DIR); empty where they are not found (a benchmark run against other servers)."""
    run_dir = Path(os.environ.get("CASEDESK_RUN_DIR", ".run"))
    found = {}
    for name, pid_file in (
        ("PostgreSQL", run_dir / "postgres" / "data" / "postmaster.pid"),
        ("Kafka", run_dir / "kafka" / "kafka.pid"),
    ):
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pid_file.read_text().split()[0])
            if _stat(pid) is not None:
                found[name] = pid
    return found


def main() -> int:
    if sys.argv[1:2] == ["serve"]:
        asyncio.run(_serve(sys.argv[2]))
        return 0
    rps = measure_grpc_unary_rps()
    print(f"BENCH machine.grpc_unary_rps {rps:.0f} calls/s", flush=True)
    print(
        f"# {CALLS_IN_FLIGHT} health checks in flight between two processes on loopback; "
        f"the scaled rate (x{SCALED_RATE_SHARE}) is {scaled_rate(rps):.0f}/s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
