"""Admission on a call's metadata, before its request is read: for a server's public edge.

grpc.aio receives a unary request before the method's behaviour runs (`grpc_decoding` only defers
its parsing), so a check inside the behaviour (like `grpc_authz`'s) comes after the message is in
memory. A server
interceptor's `intercept_service` runs earlier, with only the method name and the invocation
metadata, and the handler it returns decides how the call goes on. This module gives such an
interceptor its answers:

- `refusal(handler, code, details)`: ends the call with that status without reading the request.
  The handler is declared client-streaming (the wire is the same as for a unary call), so
  grpc.aio hands it a request iterator that it never consumes: what HTTP/2 flow control let the
  client send before the status arrived is discarded unread.
- `held_until_done(handler, slot)`: serves the call and releases a `ConcurrentCalls` slot when it
  ends: when its behaviour returns (before the response is sent, so a client that has its reply
  finds the slot free), or, if the behaviour never runs (a request over
  `grpc.max_receive_message_length`, a call cancelled while its request was arriving), when the
  call's task ends. grpc.aio runs a call's interceptors and its handler in one task of its own,
  the task its own `maximum_concurrent_rpcs` counts with a done-callback too.

The interceptor that uses these must come before any interceptor that caches its wrapped handler
per method (`grpc_tracing`, `grpc_authz`): those answer later calls from their cache without
calling the interceptors after them, which would then decide once per method, not per call.
`GrpcServer(interceptors=...)` puts them first.

Everything here runs on the server's event loop (one thread), so the counters need no lock.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc

MAX_RECEIVE_OPTION = "grpc.max_receive_message_length"


def receive_limit_options(max_receive_bytes: int) -> list[tuple[str, int]]:
    """Server options refusing larger request messages (RESOURCE_EXHAUSTED, from gRPC itself)."""
    if max_receive_bytes < 1:
        raise ValueError(f"the receive limit must be at least 1 byte, not {max_receive_bytes}")
    return [(MAX_RECEIVE_OPTION, max_receive_bytes)]


class Slot:
    """One call's place under a `ConcurrentCalls` limit; `release` is safe to call twice."""

    __slots__ = ("_calls", "_key")

    def __init__(self, calls: ConcurrentCalls, key: str) -> None:
        self._calls: ConcurrentCalls | None = calls
        self._key = key

    def release(self) -> None:
        calls, self._calls = self._calls, None
        if calls is not None:
            calls._leave(self._key)


class ConcurrentCalls:
    """At most `limit` calls in progress per key; one more is refused, not queued."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a concurrency limit must be at least 1, not {limit}")
        self.limit = limit
        self._active: dict[str, int] = {}

    def enter(self, key: str) -> Slot | None:
        """A slot for one more call of `key`, None when it already has `limit` calls."""
        active = self._active.get(key, 0)
        if active >= self.limit:
            return None
        self._active[key] = active + 1
        return Slot(self, key)

    def active(self, key: str) -> int:
        return self._active.get(key, 0)

    def _leave(self, key: str) -> None:
        remaining = self._active[key] - 1
        if remaining:
            self._active[key] = remaining
        else:
            del self._active[key]  # keys seen once do not stay


def refusal(
    handler: grpc.RpcMethodHandler,
    code: grpc.StatusCode,
    details: str,
    trailing_metadata: Sequence[tuple[str, str | bytes]] = (),
) -> grpc.RpcMethodHandler:
    """A handler for `handler`'s method that ends the call with `code` and reads nothing."""
    trailing = tuple(trailing_metadata)

    async def refuse(request_iterator: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(code, details, trailing)

    if handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(refuse)
    return grpc.stream_unary_rpc_method_handler(refuse)


def held_until_done(handler: Any, slot: Slot) -> Any:
    """`handler`, releasing `slot` when the call ends (see the module docstring).

    Call it from `intercept_service`, which runs in the call's own task.
    """
    task = asyncio.current_task()
    if task is None:
        slot.release()
        raise RuntimeError("held_until_done is called from intercept_service, in a call's task")
    task.add_done_callback(lambda _: slot.release())
    for shape in ("unary_unary", "unary_stream", "stream_unary", "stream_stream"):
        behaviour = getattr(handler, shape)
        if behaviour is not None:
            return handler._replace(**{shape: _releasing(behaviour, slot)})
    return handler


@functools.lru_cache(maxsize=256)  # a server's behaviours are few; inspect is slow per call
def _kind(behaviour: Any) -> str:
    if inspect.isasyncgenfunction(behaviour):
        return "generator"
    return "coroutine" if inspect.iscoroutinefunction(behaviour) else "synchronous"


def _releasing(inner: Any, slot: Slot) -> Any:
    kind = _kind(inner)
    if kind == "generator":

        async def generator(request: Any, context: Any) -> AsyncIterator[Any]:
            try:
                async for response in inner(request, context):
                    yield response
            finally:
                slot.release()

        return generator
    if kind == "coroutine":

        async def behaviour(request: Any, context: Any) -> Any:
            try:
                return await inner(request, context)
            finally:
                slot.release()

        return behaviour
    # A synchronous behaviour runs in grpc.aio's thread pool; wrapping it in a coroutine would
    # move it onto the event loop. The task's done-callback releases its slot.
    return inner
