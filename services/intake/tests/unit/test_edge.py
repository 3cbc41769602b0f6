"""The edge's decisions on a call's metadata: token, the retired citizen header, the proof it
picks up, frontend slots, tokenless slots, its log."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NamedTuple

import grpc
import pytest
from intake_messages import citizen_token, frontend_entries, metadata

from casedesk_intake.domain.frontends import FrontendRegistry
from casedesk_intake.grpc_api import edge as edge_module
from casedesk_intake.grpc_api.access import INTAKE_SERVICE, VAULT_SERVICE
from casedesk_intake.grpc_api.edge import CertificateService, FrontendEdge, admitted_call
from casedesk_runtime.testing.clocks import ManualClock

SUBMIT = f"/{INTAKE_SERVICE}/SubmitCase"
OPEN = f"/{VAULT_SERVICE}/OpenAttachment"
HEALTH = "/grpc.health.v1.Health/Check"


class _Details(NamedTuple):
    method: str
    invocation_metadata: tuple[tuple[str, str], ...]


class _Aborted(Exception):
    pass


class _Context:
    def __init__(self) -> None:
        self.status: tuple[grpc.StatusCode, str] | None = None

    async def abort(self, code: grpc.StatusCode, details: str = "", trailing: Any = ()) -> None:
        self.status = (code, details)
        raise _Aborted


class _Service:
    """The continuation: the method's real handler, counting the calls it serves."""

    def __init__(self) -> None:
        self.served: list[Any] = []

    async def behaviour(self, request: Any, context: Any) -> str:
        self.served.append(admitted_call())
        return "served"

    async def continuation(self, details: _Details) -> Any:
        if details.method == "/nowhere.Service/Nothing":
            return None
        return grpc.unary_unary_rpc_method_handler(self.behaviour)


def _edge(clock: Callable[[], float] | None = None, **limits: int) -> FrontendEdge:
    return FrontendEdge(
        FrontendRegistry(frontend_entries()),
        service=INTAKE_SERVICE,
        per_frontend=limits.get("per_frontend", 2),
        tokenless=limits.get("tokenless", 2),
        certificate_services=[
            CertificateService(VAULT_SERVICE, limits.get("opens", 2), "CASEDESK_OPENS_SETTING")
        ],
        clock=clock or ManualClock(100.0),
    )


async def _admit(edge: FrontendEdge, service: _Service, details: _Details) -> Any:
    return await edge.intercept_service(service.continuation, details)


async def _refusal_of(handler: Any) -> tuple[grpc.StatusCode, str]:
    """Run a refusal the way grpc.aio would, with a request iterator that must not be read."""
    assert handler.request_streaming, "a refusal does not have the request read first"

    class _Unread:
        def __aiter__(self) -> Any:
            raise AssertionError("the refusal read the request")

    context = _Context()
    with pytest.raises(_Aborted):
        await handler.stream_unary(_Unread(), context)
    assert context.status is not None
    return context.status


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ((), "send metadata authorization: Bearer <frontend token>"),
        ((("authorization", "Bearer not-a-known-token-42"),), "unknown frontend token"),
        ((("authorization", "Basic chat-token-0123456789"),), "Bearer <frontend token>"),
        (
            (("authorization", "Bearer chat-token-0123456789"), ("x-citizen-login", "ivanov.ii")),
            "x-citizen-login is no longer accepted: forward the citizen's portal token as "
            "x-citizen-token",
        ),
        (
            (
                ("authorization", "Bearer chat-token-0123456789"),
                ("x-citizen-token", "a.b.c"),
                ("x-citizen-token", "d.e.f"),
            ),
            "x-citizen-token rejected: malformed",
        ),
        (
            (
                ("authorization", "Bearer phone-token-0123456789"),
                ("x-case-access-code", "1" * 17),
            ),
            "x-case-access-code is malformed",
        ),
    ],
)
async def test_a_call_without_a_valid_token_is_refused_unread(pairs, expected) -> None:
    service, edge = _Service(), _edge()
    code, details = await _refusal_of(await _admit(edge, service, _Details(SUBMIT, pairs)))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert expected in details
    assert "not-a-known-token-42" not in details and "chat-token" not in details
    assert service.served == [] and edge.per_frontend.active("portal-chat") == 0


async def test_an_admitted_call_is_served_for_its_frontend_with_the_proof_unchecked() -> None:
    service, edge = _Service(), _edge()
    handler = await _admit(edge, service, _Details(SUBMIT, metadata("portal-chat", "ivanov.ii")))
    assert edge.per_frontend.active("portal-chat") == 1
    assert await handler.unary_unary(object(), _Context()) == "served"
    (call,) = service.served
    assert call.frontend.name == "portal-chat"
    assert call.proof.citizen_token == citizen_token("ivanov.ii")
    assert "eyJ" not in repr(call), "a token never shows in a repr (nor in a log line)"
    assert edge.per_frontend.active("portal-chat") == 0, "the slot is back when the call ends"


async def test_a_bearer_prefix_and_spaces_around_the_proof_are_tolerated() -> None:
    service, edge = _Service(), _edge()
    pairs = (
        ("authorization", "Bearer phone-token-0123456789"),
        ("x-person-token", "Bearer a.b.c "),
        ("x-case-access-code", " 123456 "),
    )
    handler = await _admit(edge, service, _Details(SUBMIT, pairs))
    await handler.unary_unary(object(), _Context())
    (call,) = service.served
    assert (call.proof.person_token, call.proof.access_code) == ("a.b.c", "123456")


async def test_one_call_more_than_a_frontends_limit_is_refused_others_still_pass() -> None:
    service, edge = _Service(), _edge(per_frontend=2)
    details = _Details(SUBMIT, metadata("portal-chat"))
    held = [await _admit(edge, service, details) for _ in range(2)]
    code, message = await _refusal_of(await _admit(edge, service, details))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "portal-chat already has 2 calls" in message
    assert "CASEDESK_FRONTEND_MAX_CONCURRENT_CALLS" in message
    other = await _admit(edge, service, _Details(SUBMIT, metadata("mfc-desk")))
    assert not other.request_streaming, "another frontend has slots of its own"
    await held[0].unary_unary(object(), _Context())
    again = await _admit(edge, service, details)
    assert not again.request_streaming, "a slot freed by an ended call is taken again"


async def test_calls_without_a_token_share_their_own_slots() -> None:
    service, edge = _Service(), _edge(tokenless=2)
    probe = _Details(HEALTH, ())
    for _ in range(2):
        assert not (await _admit(edge, service, probe)).request_streaming
    code, message = await _refusal_of(await _admit(edge, service, probe))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "CASEDESK_TOKENLESS_MAX_CONCURRENT_CALLS" in message
    frontend = await _admit(edge, service, _Details(SUBMIT, metadata("portal-chat")))
    assert not frontend.request_streaming, "frontends do not queue behind probes"


async def test_the_desks_service_needs_no_frontend_token_and_has_slots_of_its_own() -> None:
    service, edge = _Service(), _edge(opens=2, tokenless=1)
    desk = _Details(OPEN, (("x-person-token", "a.b.c"),))
    held = [await _admit(edge, service, desk) for _ in range(2)]
    assert not any(h.request_streaming for h in held), "admitted without a frontend token"
    code, message = await _refusal_of(await _admit(edge, service, desk))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert f"2 calls of {VAULT_SERVICE} are in progress" in message
    assert "CASEDESK_OPENS_SETTING" in message
    await held[0].unary_unary(object(), _Context())
    assert service.served == [None], "no frontend was admitted for the desk's call"
    probe = await _admit(edge, service, _Details(HEALTH, ()))
    assert not probe.request_streaming, "opens do not take the health checks' slots"
    frontend = await _admit(edge, service, _Details(SUBMIT, metadata("portal-chat")))
    assert not frontend.request_streaming
    assert not (await _admit(edge, service, desk)).request_streaming, "its slot came back"


async def test_an_unknown_method_stays_unimplemented() -> None:
    assert await _admit(_edge(), _Service(), _Details("/nowhere.Service/Nothing", ())) is None


def test_the_edge_guards_every_intake_rpc_and_nothing_else() -> None:
    edge = _edge()
    assert edge.guards(SUBMIT) and edge.guards(f"/{INTAKE_SERVICE}/*")
    assert not edge.guards(HEALTH)
    assert not edge.guards("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")


async def test_refusals_are_logged_once_per_rpc_and_code_every_few_seconds(caplog) -> None:
    clock = ManualClock(100.0)
    service, edge = _Service(), _edge(clock)
    stranger = _Details(SUBMIT, (("authorization", "Bearer nobody-token-123"),))
    with caplog.at_level(logging.INFO, logger=edge_module.__name__):
        for _ in range(3):
            await _admit(edge, service, stranger)
        clock.now += edge_module.LOG_EVERY_S
        await _admit(edge, service, stranger)
    lines = [r for r in caplog.records if r.getMessage() == "call refused at the edge"]
    assert [(r.rpc, r.code, r.not_logged_since) for r in lines] == [
        ("SubmitCase", "UNAUTHENTICATED", 0),
        ("SubmitCase", "UNAUTHENTICATED", 2),
    ]
    assert all("nobody-token-123" not in str(vars(r)) for r in lines)
