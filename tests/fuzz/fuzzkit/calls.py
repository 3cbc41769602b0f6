"""Sending bytes to an RPC as any client could, and judging the answer.

Requests go out as bytes through generic multicallables (no serializer: what the server gets is
exactly what was drawn, valid message or not); answers come back as bytes. A server-streaming
RPC is read for a few messages, then cancelled, as a desk closing its page would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from google.protobuf.descriptor import MethodDescriptor
from grpc_status import rpc_status

# Statuses a handler answers on purpose (each documented by some RPC of the contracts).
DELIBERATE = frozenset(
    {
        grpc.StatusCode.OK,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.ABORTED,
    }
)
# A call must end well within this; the slowest legitimate call here takes a fraction of it
# (intake's own deadline to the case service is 10 s).
DEADLINE_S = 20.0
# A stream is read for at most this many messages, each awaited this long, then cancelled.
STREAM_MESSAGES = 3
STREAM_WAIT_S = 0.3

Metadata = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Outcome:
    code: grpc.StatusCode | None  # None: a stream still open when the client cancelled it
    details: str
    messages: int
    seconds: float
    violations: tuple[tuple[str, str], ...] = ()
    response: bytes = b""  # a unary call's answer (the first message of a stream)

    @property
    def label(self) -> str:
        return "STREAM_OPEN" if self.code is None else self.code.name

    def describe(self) -> str:
        return f"{self.label} {self.details!r} after {self.seconds:.2f} s"


def rpc_path(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


async def call(
    channel: grpc.aio.Channel,
    method: MethodDescriptor,
    raw: bytes,
    metadata: Metadata,
    deadline_s: float = DEADLINE_S,
) -> Outcome:
    if method.client_streaming:
        raise NotImplementedError(f"{rpc_path(method)}: client streaming is not fuzzed yet")
    started = time.monotonic()
    if method.server_streaming:
        return await _stream(channel, method, raw, metadata, deadline_s, started)
    unary = channel.unary_unary(rpc_path(method))
    try:
        response = await unary(raw, metadata=tuple(metadata), timeout=deadline_s)
    except grpc.aio.AioRpcError as error:
        return _failed(error, started)
    return Outcome(grpc.StatusCode.OK, "", 1, time.monotonic() - started, response=response)


async def _stream(
    channel: grpc.aio.Channel,
    method: MethodDescriptor,
    raw: bytes,
    metadata: Metadata,
    deadline_s: float,
    started: float,
) -> Outcome:
    stream = channel.unary_stream(rpc_path(method))(
        raw, metadata=tuple(metadata), timeout=deadline_s
    )
    received, first = 0, b""
    try:
        while received < STREAM_MESSAGES:
            try:
                message = await asyncio.wait_for(stream.read(), STREAM_WAIT_S)
            except TimeoutError:
                break  # open and quiet: a watch waiting for news
            if message is grpc.aio.EOF:
                code = await stream.code()
                details = await stream.details() or ""
                return Outcome(code, details, received, time.monotonic() - started, response=first)
            first = first or message
            received += 1
    except grpc.aio.AioRpcError as error:
        return _failed(error, started, received)
    stream.cancel()
    return Outcome(None, "", received, time.monotonic() - started, response=first)


def _failed(error: grpc.aio.AioRpcError, started: float, received: int = 0) -> Outcome:
    violations: tuple[tuple[str, str], ...] = ()
    if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
        violations = tuple(_violations(status))
    return Outcome(
        error.code(), error.details() or "", received, time.monotonic() - started, violations
    )


def _violations(status: object) -> list[tuple[str, str]]:
    from google.rpc import error_details_pb2

    found: list[tuple[str, str]] = []
    for detail in getattr(status, "details", None) or []:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found.extend((v.field, v.description) for v in bad.field_violations)
    return found


def problem(outcome: Outcome) -> str | None:
    """What is wrong with an answer, None when it is a deliberate one."""
    if outcome.code is None:
        return None
    if outcome.code not in DELIBERATE:
        return f"status {outcome.describe()}"
    if outcome.code != grpc.StatusCode.OK and not outcome.details.strip():
        return f"{outcome.label} without a message saying what is wrong"
    return None
