"""Intake's public edge: a call is admitted on its metadata, before its request is read.

Every IntakeService call carries `authorization: Bearer <frontend token>` (and, when it acts for
a citizen, a proof of who he is: callers.py). `FrontendEdge`, the server's first interceptor,
checks the token against the frontend registry with nothing but the metadata (the proof is only
picked up here; the servicer has it checked): a call without a valid token is refused
UNAUTHENTICATED before its message is read or deserialised, so a stranger's 4 MiB message costs
intake a header's worth of work. An admitted call takes one of its frontend's
CASEDESK_FRONTEND_MAX_CONCURRENT_CALLS slots until it ends; with all of them taken it is refused
RESOURCE_EXHAUSTED at once, unread too. Each frontend's calls in progress are bounded, and so is
the memory their messages take: slots x CASEDESK_GRPC_MAX_RECEIVE_BYTES per frontend.

A long-lived stream (`FrontendStream`: WatchMyCase, open while a chat is) would hold a call slot
for its whole life, so a frontend's open chats would lock out its every other call: streams take
slots of their own instead, up to their own limit per frontend (refused RESOURCE_EXHAUSTED naming
its setting), and the use case ends each after a while (domain/watching.py).

A service of certificate callers on the same server (`CertificateService`: the desk's
AttachmentVaultService) is not a frontend's, so no frontend token applies to it; its calls get
slots of their own, taken here before the request is read like a frontend's, so that they
neither crowd out the health checks nor hold more decrypted files at once than the limit says.

Calls of other methods (health checks, reflection) carry no token, and a health check's request
is read before anything checks its caller (health is open to all), so together they get
CASEDESK_TOKENLESS_MAX_CONCURRENT_CALLS slots. There is no server-wide cap
(`maximum_concurrent_rpcs`): it would count calls before their token is known, and a flood of
strangers' calls would then lock out the frontends it is meant to protect.

The servicer reads the admitted call with `admitted_call()`: the token is hashed once a call.
Refusals here are counted (`intake.edge_refusals`, by RPC, code and reason: which check refused
the call) and logged at most once per RPC and code every `LOG_EVERY_S`, since a flood of bad calls
must not become a flood of log lines; they have no span (tracing comes after the edge).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import grpc

from casedesk_intake.domain.errors import Unauthenticated
from casedesk_intake.domain.frontends import FrontendRegistry
from casedesk_intake.grpc_api.callers import AdmittedCall, identify
from casedesk_runtime.grpc_limits import ConcurrentCalls, held_until_done, refusal
from casedesk_runtime.logs import get_logger
from casedesk_runtime.telemetry import meter

log = get_logger(__name__)
LOG_EVERY_S = 10.0
TOKENLESS = "<tokenless>"

# Set in the call's own task by the edge (grpc.aio runs a call's interceptors and its handler in
# one task), so the servicer of that call, and only it, sees it.
_admitted: contextvars.ContextVar[AdmittedCall | None] = contextvars.ContextVar(
    "intake_admitted_call", default=None
)


@dataclass(frozen=True)
class CertificateService:
    """A service for certificate callers (the access table names them), not for frontends: no
    token; at most `max_concurrent_calls` of its calls at once, one more refused
    RESOURCE_EXHAUSTED naming `setting`."""

    name: str
    max_concurrent_calls: int
    setting: str


@dataclass(frozen=True)
class FrontendStream:
    """A server-streaming RPC of the frontends' service (its name, e.g. "WatchMyCase"): each
    frontend may have `max_per_frontend` open, apart from its calls' slots; one more is refused
    RESOURCE_EXHAUSTED naming `setting`."""

    rpc: str
    max_per_frontend: int
    setting: str


def admitted_call() -> AdmittedCall | None:
    """The frontend (and unchecked proof) the edge admitted the current call with; None
    outside one."""
    return _admitted.get()


class FrontendEdge(grpc.aio.ServerInterceptor):
    """Admits the calls of `service` by frontend token and per-frontend slots (module docstring)."""

    def __init__(
        self,
        frontends: FrontendRegistry,
        *,
        service: str,
        per_frontend: int,
        tokenless: int,
        certificate_services: Sequence[CertificateService] = (),
        streams: Sequence[FrontendStream] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._frontends = frontends
        self._prefix = f"/{service}/"
        self.per_frontend = ConcurrentCalls(per_frontend)
        self.streams = {
            f"/{service}/{s.rpc}": (s, ConcurrentCalls(s.max_per_frontend)) for s in streams
        }
        self.tokenless = ConcurrentCalls(tokenless)
        self.certificate_services = {
            f"/{s.name}/": (s, ConcurrentCalls(s.max_concurrent_calls))
            for s in certificate_services
        }
        self._refusals = meter(__name__).create_counter(
            "intake.edge_refusals", description="Calls refused before their request was read"
        )
        self._log = _ThrottledLog(clock)

    def guards(self, method: str) -> bool:
        """Whether calls of `method` (or of every method, for `/Service/*`) need a token."""
        return method.startswith(self._prefix)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler  # UNIMPLEMENTED, and nothing read
        method: str = handler_call_details.method  # type: ignore[attr-defined]
        own = self.certificate_services.get(method[: method.rfind("/") + 1])
        if own is not None:
            return self._certificate_call(handler, method, *own)
        if not self.guards(method):
            slot = self.tokenless.enter(TOKENLESS)
            if slot is None:
                return self._refuse(
                    handler,
                    method,
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"{self.tokenless.limit} calls without a frontend token are in progress, "
                    "the limit (CASEDESK_TOKENLESS_MAX_CONCURRENT_CALLS); retry later",
                )
            return held_until_done(handler, slot)
        metadata = handler_call_details.invocation_metadata or ()  # type: ignore[attr-defined]
        try:
            call = identify(self._frontends, metadata)
        except Unauthenticated as refused:
            return self._refuse(handler, method, grpc.StatusCode.UNAUTHENTICATED, str(refused))
        name = call.frontend.name
        stream = self.streams.get(method)
        if stream is not None:
            return self._stream(handler, method, call, *stream)
        slot = self.per_frontend.enter(name)
        if slot is None:
            return self._refuse(
                handler,
                method,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"frontend {name} already has {self.per_frontend.limit} calls in progress, "
                "the limit (CASEDESK_FRONTEND_MAX_CONCURRENT_CALLS); retry when one has ended",
                frontend=name,
            )
        _admitted.set(call)
        return held_until_done(handler, slot)

    def _stream(
        self,
        handler: grpc.RpcMethodHandler,
        method: str,
        call: AdmittedCall,
        stream: FrontendStream,
        streams: ConcurrentCalls,
    ) -> grpc.RpcMethodHandler:
        name = call.frontend.name
        slot = streams.enter(name)
        if slot is None:
            return self._refuse(
                handler,
                method,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"frontend {name} already has {streams.limit} {stream.rpc} streams open, the "
                f"limit ({stream.setting}); close one, or retry later",
                frontend=name,
                reason="frontend_streams_limit",
            )
        _admitted.set(call)
        return held_until_done(handler, slot)

    def _certificate_call(
        self,
        handler: grpc.RpcMethodHandler,
        method: str,
        service: CertificateService,
        calls: ConcurrentCalls,
    ) -> grpc.RpcMethodHandler:
        slot = calls.enter(service.name)
        if slot is None:
            return self._refuse(
                handler,
                method,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"{calls.limit} calls of {service.name} are in progress, the limit "
                f"({service.setting}); retry when one has ended",
            )
        return held_until_done(handler, slot)

    def _refuse(
        self,
        handler: grpc.RpcMethodHandler,
        method: str,
        code: grpc.StatusCode,
        details: str,
        frontend: str | None = None,
        reason: str = "",
    ) -> grpc.RpcMethodHandler:
        rpc = method.rpartition("/")[2]
        reason = reason or self._reason(method, code, frontend)
        self._refusals.add(1, {"rpc": rpc, "code": code.name, "reason": reason})
        self._log.refused(rpc, code.name, details, frontend)
        return refusal(handler, code, details)

    def _reason(self, method: str, code: grpc.StatusCode, frontend: str | None) -> str:
        """Which check refused the call, in a word fit for a metric label (never a name)."""
        if code is grpc.StatusCode.UNAUTHENTICATED:
            return "frontend_token"  # missing, malformed or unknown
        if frontend is not None:
            return "frontend_calls_limit"
        if method[: method.rfind("/") + 1] in self.certificate_services:
            return "service_calls_limit"
        return "tokenless_calls_limit"


class _ThrottledLog:
    """The first refusal of each RPC and code, then at most one every LOG_EVERY_S with how many
    were left out. Keys are few: only served methods get here, with three codes."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def refused(self, rpc: str, code: str, reason: str, frontend: str | None) -> None:
        now = self._clock()
        logged_at, left_out = self._last.get((rpc, code), (None, 0))
        if logged_at is not None and now - logged_at < LOG_EVERY_S:
            self._last[(rpc, code)] = (logged_at, left_out + 1)
            return
        self._last[(rpc, code)] = (now, 0)
        log.info(
            "call refused at the edge",
            extra={
                "rpc": rpc,
                "code": code,
                "reason": reason,
                "frontend": frontend,
                "not_logged_since": left_out,
            },
        )
