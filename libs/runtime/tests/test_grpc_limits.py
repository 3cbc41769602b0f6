"""Admission before the request is read: slots per key, refusals that read nothing, releases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest

from casedesk_runtime.grpc_limits import (
    MAX_RECEIVE_OPTION,
    ConcurrentCalls,
    held_until_done,
    receive_limit_options,
    refusal,
)

SERVICE = "casedesk.test.v1.Limited"
RECEIVE_LIMIT = 64 * 1024
DEADLINE_S = 10.0


# -- ConcurrentCalls ---------------------------------------------------------------------------


def test_slots_are_counted_per_key_and_refused_beyond_the_limit() -> None:
    calls = ConcurrentCalls(2)
    first, second = calls.enter("chat"), calls.enter("chat")
    assert first is not None and second is not None
    assert calls.enter("chat") is None
    assert calls.enter("mfc") is not None, "another key has slots of its own"
    first.release()
    assert calls.active("chat") == 1
    assert calls.enter("chat") is not None


def test_a_slot_released_twice_frees_one_place_only() -> None:
    calls = ConcurrentCalls(2)
    held = calls.enter("chat")
    slot = calls.enter("chat")
    assert held is not None and slot is not None
    slot.release()
    slot.release()
    assert calls.active("chat") == 1
    held.release()
    assert calls.active("chat") == 0


@pytest.mark.parametrize("limit", [0, -1])
def test_a_limit_below_one_is_refused(limit: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ConcurrentCalls(limit)


def test_receive_limit_options() -> None:
    assert receive_limit_options(5) == [(MAX_RECEIVE_OPTION, 5)]
    with pytest.raises(ValueError, match="at least 1 byte"):
        receive_limit_options(0)


# -- on a server -------------------------------------------------------------------------------


class _Gate(grpc.aio.ServerInterceptor):
    """Refuses calls carrying `x-refuse`, and admits the others under one ConcurrentCalls key."""

    def __init__(self, calls: ConcurrentCalls) -> None:
        self.calls = calls

    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        handler = await continuation(details)
        if any(key == "x-refuse" for key, _ in details.invocation_metadata):
            return refusal(handler, grpc.StatusCode.PERMISSION_DENIED, "not you", [("why", "x")])
        slot = self.calls.enter("caller")
        if slot is None:
            return refusal(handler, grpc.StatusCode.RESOURCE_EXHAUSTED, "all slots taken")
        return held_until_done(handler, slot)


class _Limited:
    def __init__(self) -> None:
        self.decoded = 0
        self.ran = 0
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    def decode(self, raw: bytes) -> bytes:
        self.decoded += 1
        return raw

    async def echo(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        self.ran += 1
        if request == b"wait":
            self.started.set()
            await self.release.wait()
        if request == b"fail":
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "failed")
        return request

    async def watch(
        self, request: bytes, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        self.ran += 1
        for _ in range(2):
            yield request

    def handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Echo": grpc.unary_unary_rpc_method_handler(
                    self.echo, request_deserializer=self.decode
                ),
                "Watch": grpc.unary_stream_rpc_method_handler(
                    self.watch, request_deserializer=self.decode
                ),
            },
        )


@pytest.fixture
async def limited() -> AsyncIterator[tuple[_Limited, ConcurrentCalls, grpc.aio.Channel]]:
    servicer, calls = _Limited(), ConcurrentCalls(2)
    server = grpc.aio.server(
        interceptors=[_Gate(calls)], options=receive_limit_options(RECEIVE_LIMIT)
    )
    server.add_generic_rpc_handlers((servicer.handler(),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield servicer, calls, channel
    await server.stop(0)


def _echo(channel: grpc.aio.Channel) -> Any:
    return channel.unary_unary(f"/{SERVICE}/Echo")


async def _refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call
    return error.value


async def _eventually(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(DEADLINE_S):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_refused_call_is_answered_without_its_request_being_read(limited) -> None:
    servicer, _, channel = limited
    metadata = (("x-refuse", "1"),)
    error = await _refused(_echo(channel)(b"x" * 4 * 1024 * 1024, metadata=metadata))
    assert (error.code(), error.details()) == (grpc.StatusCode.PERMISSION_DENIED, "not you")
    assert ("why", "x") in tuple(error.trailing_metadata() or ())
    streamed = channel.unary_stream(f"/{SERVICE}/Watch")(b"x", metadata=metadata)
    error = await _refused(streamed.read())
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (servicer.decoded, servicer.ran) == (0, 0)
    # the request over the receive limit was refused for who sent it, not for its size
    assert await _echo(channel)(b"ok") == b"ok"
    assert servicer.decoded == 1


async def test_the_slot_is_free_when_the_client_has_the_reply(limited) -> None:
    _, calls, channel = limited
    assert await _echo(channel)(b"ok") == b"ok"
    assert calls.active("caller") == 0, "released before the response was sent"
    replies = [r async for r in channel.unary_stream(f"/{SERVICE}/Watch")(b"w")]
    assert replies == [b"w", b"w"]
    await _eventually(lambda: calls.active("caller") == 0)
    error = await _refused(_echo(channel)(b"fail"))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert calls.active("caller") == 0


async def test_beyond_the_limit_calls_are_refused_at_once_and_slots_come_back(limited) -> None:
    servicer, _, channel = limited
    held = [asyncio.ensure_future(_echo(channel)(b"wait")) for _ in range(2)]
    await _eventually(lambda: servicer.ran == 2)
    error = await _refused(_echo(channel)(b"x" * 1024))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "all slots taken",
    )
    assert servicer.decoded == 2, "the refused call's request was not read"
    servicer.release.set()
    assert await asyncio.gather(*held) == [b"wait", b"wait"]
    assert await asyncio.gather(_echo(channel)(b"a"), _echo(channel)(b"b")) == [b"a", b"b"]


async def test_a_cancelled_call_gives_its_slot_back(limited) -> None:
    servicer, calls, channel = limited
    call = _echo(channel)(b"wait")
    await servicer.started.wait()
    assert calls.active("caller") == 1
    call.cancel()
    await _eventually(lambda: calls.active("caller") == 0)


async def test_a_request_over_the_receive_limit_is_refused_by_grpc_and_frees_its_slot(
    limited,
) -> None:
    servicer, calls, channel = limited
    error = await _refused(_echo(channel)(b"x" * (RECEIVE_LIMIT + 1)))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in (error.details() or "")
    assert (servicer.decoded, servicer.ran) == (0, 0)
    await _eventually(lambda: calls.active("caller") == 0)
    assert await _echo(channel)(b"x" * RECEIVE_LIMIT) == b"x" * RECEIVE_LIMIT


async def test_held_until_done_needs_the_calls_task() -> None:
    calls = ConcurrentCalls(1)
    slot = calls.enter("k")
    assert slot is not None
    handler = grpc.unary_unary_rpc_method_handler(lambda request, context: request)
    loop = asyncio.get_running_loop()
    # a plain callback on the loop: no task is running
    future: asyncio.Future[BaseException] = loop.create_future()

    def outside_a_task() -> None:
        try:
            held_until_done(handler, slot)
        except RuntimeError as error:
            future.set_result(error)

    loop.call_soon(outside_a_task)
    assert "intercept_service" in str(await future)
    assert calls.active("k") == 0, "the slot is not lost"
