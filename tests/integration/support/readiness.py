"""Bounded waits until Kafka or PostgreSQL really serve requests, not merely accept connections."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import psycopg
from aiokafka.admin import AIOKafkaAdminClient

from .endpoints import PostgresServer
from .errors import InfrastructureError

# Raised by `check_alive` to stop waiting early, e.g. when the server's process or container died.
Probe = Callable[[], bool]


def wait_until(what: str, probe: Probe, timeout: float, check_alive: Callable[[], None]) -> float:
    """Poll `probe` until it returns True; return the seconds waited."""
    started = time.monotonic()
    deadline = started + timeout
    last_error = ""
    while True:
        check_alive()
        try:
            if probe():
                return time.monotonic() - started
        except Exception as error:  # a probe failing is the normal state while starting
            last_error = f" (last error: {type(error).__name__}: {error})"
        if time.monotonic() >= deadline:
            raise InfrastructureError(f"{what} was not ready within {timeout:.0f}s{last_error}")
        time.sleep(0.25)


def _run_blocking(make: Callable[[], Coroutine[Any, Any, bool]]) -> bool:
    # A private thread keeps asyncio.run away from any event loop the calling test may own.
    outcome: list[bool | BaseException] = []

    def target() -> None:
        try:
            outcome.append(asyncio.run(make()))
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=target, name="kafka-probe", daemon=True)
    thread.start()
    thread.join()
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def kafka_serves(bootstrap: str) -> bool:
    """True when the broker answers metadata requests and a controller is elected."""

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
        await admin.start()
        try:
            cluster = await admin.describe_cluster()
            return bool(cluster["brokers"]) and cluster["controller_id"] >= 0
        finally:
            await admin.close()

    return _run_blocking(probe)


def postgres_serves(server: PostgresServer) -> bool:
    with psycopg.connect(server.dsn, connect_timeout=3) as connection:
        return connection.execute("SELECT 1").fetchone() == (1,)


def _always_alive() -> None:
    return None


def wait_for_kafka(
    bootstrap: str, timeout: float, check_alive: Callable[[], None] = _always_alive
) -> float:
    return wait_until(
        f"Kafka at {bootstrap}", lambda: kafka_serves(bootstrap), timeout, check_alive
    )


def wait_for_postgres(
    server: PostgresServer, timeout: float, check_alive: Callable[[], None] = _always_alive
) -> float:
    where = f"PostgreSQL at {server.host}:{server.port}"
    return wait_until(where, lambda: postgres_serves(server), timeout, check_alive)
