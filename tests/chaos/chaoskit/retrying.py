"""A frontend's and a desk's way with a call that failed in transit: the same request again,
with the same idempotency key, until it is answered.

What counts as "in transit" is what a crash, a restart or a database away can cause; anything
else is the service's answer and is not retried. Every failure seen is counted by RPC and code,
so the report shows how the faults looked from the callers' side.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc

T = TypeVar("T")

CALL_TIMEOUT_S = 20.0
RETRYABLE = frozenset({
    grpc.StatusCode.UNAVAILABLE,  # the service is down or restarting (intake: the case service)
    grpc.StatusCode.DEADLINE_EXCEEDED,  # a call cut off mid-way: its outcome is unknown
    grpc.StatusCode.ABORTED,  # a write conflict, to be tried again
    grpc.StatusCode.RESOURCE_EXHAUSTED,  # an edge limit while callers pile up after an outage
    grpc.StatusCode.INTERNAL,  # counted: a fault should never show as one
    grpc.StatusCode.UNKNOWN,  # counted: nor as this
    grpc.StatusCode.CANCELLED,  # the server went away mid-call
})  # fmt: skip


class GaveUp(Exception):
    """Not answered within the give-up time; the last failure's code is the message."""


async def until_answered(
    rpc: str,
    call: Callable[[], Awaitable[T]],
    failures: Counter[str],
    give_up_s: float,
) -> T:
    """`call()` (which sends the same request every time) until it returns; a failure that is
    not retryable is raised as it came."""
    deadline = time.monotonic() + give_up_s
    delay = 0.5
    while True:
        try:
            return await call()
        except grpc.aio.AioRpcError as error:
            code = error.code()
            failures[f"{rpc} {code.name}"] += 1
            if code not in RETRYABLE:
                raise
            if time.monotonic() + delay > deadline:
                raise GaveUp(f"{rpc} {code.name}") from error
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)
