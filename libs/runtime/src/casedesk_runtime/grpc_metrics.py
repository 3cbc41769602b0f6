"""Rate, errors and latency of every gRPC call, per method, on both sides of the wire.

Series (metrics_endpoint; labels `grpc_service`, `grpc_method`, and on the counters `grpc_type`
— `unary` or `server_stream` — and `grpc_code`, the status name):
- `casedesk_grpc_server_handled_total`, `casedesk_grpc_client_handled_total`: calls ended, by code;
- `casedesk_grpc_server_handling_seconds`, `casedesk_grpc_client_handling_seconds`: histograms of
  unary calls' duration. A watch stream lasts as long as its client looks: it is counted, not timed.

The server interceptor is the server's first (grpc_server), so it also sees calls that an edge
interceptor refused before their request was read (intake's UNAUTHENTICATED, RESOURCE_EXHAUSTED):
such a refusal ends the call with its code like any other. Because what an edge returns differs
per call (a slot held, a refusal), handlers are wrapped per call, not once per method. Health checks
and reflection are left out, as in tracing: probes every few seconds say nothing about the service.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from opentelemetry import metrics

from casedesk_runtime.metrics_endpoint import LATENCY_BUCKETS_S

_UNMEASURED_PREFIXES = ("/grpc.health.", "/grpc.reflection.")
Attributes = dict[str, str]


class _Instruments:
    """One side's counter and histogram; made once per side and meter provider (`_instruments`)."""

    def __init__(self, side: str, meter_provider: metrics.MeterProvider | None) -> None:
        meter = metrics.get_meter("casedesk_runtime.grpc", meter_provider=meter_provider)
        self.handled = meter.create_counter(
            f"casedesk.grpc.{side}.handled",
            unit="{call}",
            description=f"gRPC calls ended ({side} side), by method and status code",
        )
        self.handling = meter.create_histogram(
            f"casedesk.grpc.{side}.handling",
            unit="s",
            description=f"Duration of unary gRPC calls ({side} side), by method",
            explicit_bucket_boundaries_advisory=LATENCY_BUCKETS_S,
        )

    def ended(self, method: Attributes, kind: str, code: grpc.StatusCode, started: float) -> None:
        self.handled.add(1, {**method, "grpc_type": kind, "grpc_code": code.name})
        if kind == "unary":
            self.handling.record(time.perf_counter() - started, method)


@functools.cache
def _instruments(side: str, meter_provider: metrics.MeterProvider | None) -> _Instruments:
    return _Instruments(side, meter_provider)


@functools.lru_cache(maxsize=1024)  # a process calls and serves few methods
def _method_attributes(full_method: str) -> Attributes:
    service, _, method = full_method.lstrip("/").rpartition("/")
    return {"grpc_service": service, "grpc_method": method}


def _measured(full_method: str) -> bool:
    return not full_method.startswith(_UNMEASURED_PREFIXES)


def _code_of_error(error: BaseException | None) -> grpc.StatusCode:
    if error is None:
        return grpc.StatusCode.OK
    if isinstance(error, asyncio.CancelledError | GeneratorExit):
        return grpc.StatusCode.CANCELLED  # the client went away (a closed watch stream)
    return grpc.StatusCode.UNKNOWN


# -- server ------------------------------------------------------------------------------------


class MetricsServerInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, meter_provider: metrics.MeterProvider | None = None) -> None:
        self._instruments = _instruments("server", meter_provider)
        # Each method's measured handler, kept with the handler it wraps: wrapping it anew cost
        # every call a rebuild. The continuation still runs for every call, since an edge
        # interceptor after this one decides per call (a refusal of its own is another handler,
        # wrapped for its call).
        self._handlers: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method  # type: ignore[attr-defined]
        if handler is None or not _measured(method):
            return handler
        kept = self._handlers.get(method)
        if kept is not None and kept[0] is handler:
            return kept[1]
        wrapped = _wrap(handler, _method_attributes(method), self._instruments)
        self._handlers[method] = (handler, wrapped)
        return wrapped


def _wrap(handler: Any, method: Attributes, instruments: _Instruments) -> Any:
    kind = "server_stream" if handler.response_streaming else "unary"
    for shape in ("unary_unary", "unary_stream", "stream_unary", "stream_stream"):
        behaviour = getattr(handler, shape)
        if behaviour is None:
            continue
        if inspect.isasyncgenfunction(behaviour):
            wrapped = _streaming(behaviour, method, kind, instruments)
        elif inspect.iscoroutinefunction(behaviour):
            wrapped = _awaited(behaviour, method, kind, instruments)
        else:
            return handler  # synchronous behaviours: none in Casedesk
        return handler._replace(**{shape: wrapped})
    return handler


def _awaited(inner: Any, method: Attributes, kind: str, instruments: _Instruments) -> Any:
    async def behaviour(request: Any, context: Any) -> Any:
        started = time.perf_counter()
        try:
            response = await inner(request, context)
        except BaseException as error:
            instruments.ended(method, kind, context.code() or _code_of_error(error), started)
            raise
        instruments.ended(method, kind, context.code() or grpc.StatusCode.OK, started)
        return response

    return behaviour


def _streaming(inner: Any, method: Attributes, kind: str, instruments: _Instruments) -> Any:
    async def behaviour(request: Any, context: Any) -> AsyncIterator[Any]:
        started = time.perf_counter()
        try:
            async for response in inner(request, context):
                yield response
        except BaseException as error:
            instruments.ended(method, kind, context.code() or _code_of_error(error), started)
            raise
        instruments.ended(method, kind, context.code() or grpc.StatusCode.OK, started)

    return behaviour


# -- client ------------------------------------------------------------------------------------


class _ClientMetrics:
    def __init__(self, instruments: _Instruments) -> None:
        self._instruments = instruments

    @staticmethod
    def _method(details: Any) -> str:
        method = details.method
        return method.decode() if isinstance(method, bytes) else method


class _UnaryUnaryMetrics(_ClientMetrics, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        full_method = self._method(details)
        if not _measured(full_method):
            return await continuation(details, request)
        method = _method_attributes(full_method)
        started = time.perf_counter()
        try:
            call = await continuation(details, request)
            await call  # the duration is until the reply (or the error) arrived
        except grpc.aio.AioRpcError as error:
            self._instruments.ended(method, "unary", error.code(), started)
            raise
        except BaseException as error:
            self._instruments.ended(method, "unary", _code_of_error(error), started)
            raise
        self._instruments.ended(method, "unary", grpc.StatusCode.OK, started)
        return call


class _UnaryStreamMetrics(_ClientMetrics, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        full_method = self._method(details)
        call = await continuation(details, request)
        if _measured(full_method):
            method = _method_attributes(full_method)
            call.add_done_callback(lambda done: self._count_when_ended(done, method))
        return call

    def _count_when_ended(self, call: Any, method: Attributes) -> None:
        # An aio call tells its code only to a coroutine; by now it is known, so this is quick.
        async def count() -> None:
            code = grpc.StatusCode.CANCELLED if call.cancelled() else await call.code()
            self._instruments.ended(method, "server_stream", code, 0.0)

        try:
            task = asyncio.get_running_loop().create_task(count())
        except RuntimeError:  # the loop is gone (the process is ending): nothing to count in
            return
        _pending.add(task)
        task.add_done_callback(_pending.discard)


_pending: set[asyncio.Task[None]] = set()  # counting tasks, kept until they ran


def client_metrics_interceptors(
    meter_provider: metrics.MeterProvider | None = None,
) -> list[grpc.aio.ClientInterceptor]:
    instruments = _instruments("client", meter_provider)
    return [_UnaryUnaryMetrics(instruments), _UnaryStreamMetrics(instruments)]
