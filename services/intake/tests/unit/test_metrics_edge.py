"""Intake's refusals at the edge, scraped: by RPC, status code and which check refused the call."""

from __future__ import annotations

from typing import Any, NamedTuple

import grpc
from intake_messages import frontend_entries, metadata

from casedesk_intake.domain.frontends import FrontendRegistry
from casedesk_intake.grpc_api.access import INTAKE_SERVICE, VAULT_SERVICE
from casedesk_intake.grpc_api.edge import CertificateService, FrontendEdge
from casedesk_runtime.testing.metrics import scrape

REFUSALS = "intake_edge_refusals_total"


class _Details(NamedTuple):
    method: str
    invocation_metadata: tuple[tuple[str, str], ...]


async def _served(details: Any) -> Any:
    async def behaviour(request: Any, context: Any) -> str:
        return "served"

    return grpc.unary_unary_rpc_method_handler(behaviour)


def _edge() -> FrontendEdge:
    return FrontendEdge(
        FrontendRegistry(frontend_entries()),
        service=INTAKE_SERVICE,
        per_frontend=1,
        tokenless=1,
        certificate_services=[CertificateService(VAULT_SERVICE, 1, "CASEDESK_OPENS_SETTING")],
    )


async def _refused_twice(edge: FrontendEdge, details: _Details) -> bool:
    """Admit a call (it holds the one slot), then one more: refused, unread."""
    first = await edge.intercept_service(_served, details)
    second = await edge.intercept_service(_served, details)
    return not first.request_streaming and second.request_streaming


async def test_each_check_counts_its_refusals_under_its_own_reason() -> None:
    edge = _edge()
    submit, opening = f"/{INTAKE_SERVICE}/SubmitCase", f"/{VAULT_SERVICE}/OpenAttachment"
    stranger = _Details(submit, (("authorization", "Bearer not-a-known-token-42"),))
    before = scrape()
    assert (await edge.intercept_service(_served, stranger)).request_streaming
    assert await _refused_twice(edge, _Details(submit, metadata("portal-chat")))
    assert await _refused_twice(edge, _Details("/grpc.health.v1.Health/Check", ()))
    assert await _refused_twice(edge, _Details(opening, (("x-person-token", "a.b.c"),)))
    after = scrape()

    def refused(rpc: str, code: str, reason: str) -> float:
        labels = {"rpc": rpc, "code": code, "reason": reason}
        return after.value(REFUSALS, **labels) - before.value(REFUSALS, **labels)

    assert refused("SubmitCase", "UNAUTHENTICATED", "frontend_token") == 1
    assert refused("SubmitCase", "RESOURCE_EXHAUSTED", "frontend_calls_limit") == 1
    assert refused("Check", "RESOURCE_EXHAUSTED", "tokenless_calls_limit") == 1
    assert refused("OpenAttachment", "RESOURCE_EXHAUSTED", "service_calls_limit") == 1
    assert after.value(REFUSALS) - before.value(REFUSALS) == 4
    assert all("portal-chat" not in labels.values() for labels in after.label_sets(REFUSALS))
