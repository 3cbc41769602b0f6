"""Who is calling, and may they: per-RPC authorisation by the caller's service identity.

The caller is the name in its client certificate's URI SAN `spiffe://casedesk/<name>`, verified by
the TLS handshake against the CA (`grpc_tls`). Each service's composition root passes its access
table to `GrpcServer`:

    CASE_ACCESS: AccessTable = {
        "/casedesk.case.v1.CaseService/CreateCase": {"intake"},
        "/casedesk.case.v1.CaseService/Escalate": {"escalation"},
        "/casedesk.case.v1.CaseQueries/*": {"desk", "operator"},   # every method of a service
        REFLECTION: {"operator"},                                   # grpcurl list/describe
    }

Keys are full method names (`/package.Service/Method`), `/package.Service/*` for every method of
a service, or `REFLECTION`; an exact key wins over the service's wildcard. Values are identity
names, `ANY_SERVICE` (any verified Casedesk identity) or `PUBLIC` (also callers without a client
certificate: only a server with CASEDESK_TLS_CLIENT_AUTH=optional has such callers, see grpc_tls).
Whatever the table does not grant is denied: PERMISSION_DENIED naming the RPC and the caller's
identity (never anything from the request). The standard health service is open to every caller
that completed the handshake (probes); server reflection only to identities under `REFLECTION`.

Development without TLS (CASEDESK_GRPC_INSECURE_DEV=true): there is no certificate, so no caller
can be authenticated and an access table cannot mean anything. Rather than invent an identity
(from a header anyone could set, which would look like authorisation and be none), the server
allows every call and says so once at start in a warning; `current_caller()` is then
`INSECURE_DEV_CALLER`, whose `verified` is False. Access tables are still validated at start, and
`is_allowed` checks them as a plain function in unit tests.

Servicers read the verified caller with `current_caller()` (a context variable set for the
duration of each call).
"""

from __future__ import annotations

import contextvars
import inspect
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import descriptor_pool

from casedesk_runtime.logs import get_logger
from casedesk_runtime.pki import SPIFFE_PREFIX

log = get_logger(__name__)

AccessTable = Mapping[str, Collection[str]]
ANY_SERVICE = "*"
PUBLIC = "<public>"
REFLECTION = "<reflection>"

_HEALTH_PREFIX = "/grpc.health.v1.Health/"
_REFLECTION_PREFIXES = ("/grpc.reflection.v1alpha.ServerReflection/", "/grpc.reflection.v1.")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_KEY = re.compile(r"^/[A-Za-z_][\w.]*/(\*|[A-Za-z_]\w*)$")


@dataclass(frozen=True)
class Caller:
    """Who made the current call.

    `name` is the Casedesk identity (`intake`), None for a caller without one (no client
    certificate on an `optional` server, or a certificate without a casedesk SPIFFE id).
    `verified` is True only when the name comes from a certificate the handshake verified.
    """

    name: str | None
    spiffe_id: str | None
    verified: bool

    def describe(self) -> str:
        if self.spiffe_id:
            return self.spiffe_id
        if self.verified:
            return "a certificate without a casedesk identity"
        return "an unauthenticated caller"


INSECURE_DEV_CALLER = Caller(name=None, spiffe_id=None, verified=False)
_NO_CERTIFICATE = Caller(name=None, spiffe_id=None, verified=False)
_FOREIGN_CERTIFICATE = Caller(name=None, spiffe_id=None, verified=True)

_current: contextvars.ContextVar[Caller | None] = contextvars.ContextVar(
    "casedesk_caller", default=None
)


def current_caller() -> Caller | None:
    """The caller of the RPC being served; None outside a call."""
    return _current.get()


def caller_from_auth_context(auth_context: Mapping[str, Iterable[bytes]]) -> Caller:
    """The caller a TLS handshake verified, from `ServicerContext.auth_context()`.

    gRPC puts the peer certificate's URI SANs under `peer_uri`; exactly one of them must be a
    casedesk SPIFFE id with a valid name, otherwise the caller has no identity.
    """
    if not auth_context.get("x509_pem_cert"):
        return _NO_CERTIFICATE
    found = {
        uri.decode(errors="replace")
        for uri in auth_context.get("peer_uri", ())
        if uri.startswith(SPIFFE_PREFIX.encode())
    }
    if len(found) != 1:
        return _FOREIGN_CERTIFICATE
    (spiffe_id,) = found
    name = spiffe_id.removeprefix(SPIFFE_PREFIX)
    if not _NAME.match(name):
        return _FOREIGN_CERTIFICATE
    return Caller(name=name, spiffe_id=spiffe_id, verified=True)


def _grantees(table: AccessTable, method: str) -> Collection[str]:
    if method.startswith(_REFLECTION_PREFIXES):
        return table.get(REFLECTION, ())
    exact = table.get(method)
    if exact is not None:
        return exact
    service = method.rpartition("/")[0]
    return table.get(service + "/*", ())


def is_allowed(table: AccessTable, method: str, caller: Caller) -> bool:
    """Whether `caller` may call `method` (a full method name) under `table`."""
    if method.startswith(_HEALTH_PREFIX):
        return True
    grantees = _grantees(table, method)
    if PUBLIC in grantees:
        return True
    if caller.name is None or not caller.verified:
        return False
    return ANY_SERVICE in grantees or caller.name in grantees


def validate_access_table(table: AccessTable, service_names: Iterable[str]) -> None:
    """Refuse a table that cannot mean what its author meant (raises ValueError).

    Every key must be well formed and name a service the server serves; a method of a service
    known to the default descriptor pool must exist; every identity must be a valid name.
    """
    served = set(service_names)
    pool = descriptor_pool.Default()
    problems = []
    for key, grantees in table.items():
        if isinstance(grantees, str):
            problems.append(f"{key}: grantees must be a collection of names, not a string")
            continue
        for grantee in grantees:
            if grantee not in (ANY_SERVICE, PUBLIC) and not _NAME.match(grantee):
                problems.append(f"{key}: {grantee!r} is not an identity name")
        if key == REFLECTION:
            continue
        if not _KEY.match(key):
            problems.append(f"{key!r}: expected '/package.Service/Method' or '/package.Service/*'")
            continue
        service, method = key[1:].split("/")
        if service not in served:
            problems.append(f"{key}: the server does not serve {service}")
            continue
        if method == "*":
            continue
        try:
            descriptor = pool.FindServiceByName(service)
        except KeyError:
            continue  # a generic handler without descriptors (tests): nothing to check against
        if method not in descriptor.methods_by_name:
            problems.append(f"{key}: {service} has no method {method}")
    if problems:
        raise ValueError("invalid access table: " + "; ".join(problems))


class AuthorizationServerInterceptor(grpc.aio.ServerInterceptor):
    """Checks every call against the access table before the servicer runs.

    `enforce=False` is the plaintext development mode (module docstring): every call passes and
    the caller is `INSECURE_DEV_CALLER`.
    """

    def __init__(self, table: AccessTable, *, enforce: bool = True) -> None:
        if any(isinstance(grantees, str) for grantees in table.values()):
            raise ValueError("access table: grantees must be collections of names, not strings")
        self._table = {key: frozenset(grantees) for key, grantees in table.items()}
        self._enforce = enforce
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method: str = handler_call_details.method  # type: ignore[attr-defined]
        wrapped = self._handlers.get(method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler  # UNIMPLEMENTED, as without the interceptor
        wrapped = _wrap(handler, self._admit(method))
        self._handlers[method] = wrapped
        return wrapped

    def _admit(self, method: str) -> Callable[[Any], Awaitable[Caller]]:
        table, enforce = self._table, self._enforce

        async def admit(context: Any) -> Caller:
            if not enforce:
                return INSECURE_DEV_CALLER
            caller = caller_from_auth_context(context.auth_context())
            if not is_allowed(table, method, caller):
                log.warning(
                    "gRPC call refused",
                    extra={"rpc": method, "caller": caller.spiffe_id or caller.describe()},
                )
                await context.abort(
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"{caller.describe()} may not call {method}",
                )
            return caller

        return admit


def _wrap(handler: Any, admit: Callable[[Any], Awaitable[Caller]]) -> Any:
    if handler.unary_unary is not None:
        return handler._replace(unary_unary=_unary_response(handler.unary_unary, admit))
    if handler.stream_unary is not None:
        return handler._replace(stream_unary=_unary_response(handler.stream_unary, admit))
    if handler.unary_stream is not None:
        return handler._replace(unary_stream=_stream_response(handler.unary_stream, admit))
    if handler.stream_stream is not None:
        return handler._replace(stream_stream=_stream_response(handler.stream_stream, admit))
    return handler


def _unary_response(inner: Any, admit: Callable[[Any], Awaitable[Caller]]) -> Any:
    async def behaviour(request: Any, context: Any) -> Any:
        token = _current.set(await admit(context))
        try:
            result = inner(request, context)
            return await result if inspect.isawaitable(result) else result
        finally:
            _current.reset(token)

    return behaviour


def _stream_response(inner: Any, admit: Callable[[Any], Awaitable[Caller]]) -> Any:
    if inspect.isasyncgenfunction(inner):

        async def generator(request: Any, context: Any) -> AsyncIterator[Any]:
            _current.set(await admit(context))  # the call's own task: nothing to restore
            async for response in inner(request, context):
                yield response

        return generator

    async def writer(request: Any, context: Any) -> Any:  # responses sent with context.write
        token = _current.set(await admit(context))
        try:
            result = inner(request, context)
            return await result if inspect.isawaitable(result) else result
        finally:
            _current.reset(token)

    return writer
