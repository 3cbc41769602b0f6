"""A stand-in CaseService on a real gRPC port: records Escalate calls, honours idempotency keys.

Like the real case service it applies a command once per idempotency key (a retry gets the
original answer) and, when given a Kafka producer, publishes the resulting `Escalated` event to
case.events.v1 so the escalation service sees the tier change come back. A per-call delay makes
it slow enough for a test to kill the escalation service while commands are in flight.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

import grpc

from casedesk.case.v1 import case_service_pb2, case_service_pb2_grpc, events_pb2
from casedesk.common.v1 import types_pb2
from casedesk_runtime.events import new_meta
from casedesk_vocabulary.topics import CASE_EVENTS


@dataclass
class StandInCase:
    tier: int = types_pb2.L1
    version: int = 1
    closed: bool = False


@dataclass
class StandInCaseService(case_service_pb2_grpc.CaseServiceServicer):
    # A started aiokafka producer, or None. A plain one, not a Publisher: the stand-in lives for
    # one test on a healthy broker; surviving outages is the real case service's relay's job.
    producer: object | None = None
    topic: str = CASE_EVENTS
    delay_s: float = 0.0
    address: str = ""  # set by serve_standin
    calls: list[case_service_pb2.EscalateRequest] = field(default_factory=list)
    applied: dict[str, case_service_pb2.EscalateRequest] = field(default_factory=dict)
    cases: dict[str, StandInCase] = field(default_factory=lambda: defaultdict(StandInCase))
    # case id -> status codes to answer with before answering normally
    script: dict[str, list[grpc.StatusCode]] = field(default_factory=lambda: defaultdict(list))
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def Escalate(
        self, request: case_service_pb2.EscalateRequest, context: grpc.aio.ServicerContext
    ) -> case_service_pb2.CaseView:
        self.calls.append(request)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.script[request.case_id]:
            await context.abort(self.script[request.case_id].pop(0), "scripted refusal")
        async with self._lock:
            case = self.cases[request.case_id]
            key = request.context.idempotency_key
            if key not in self.applied:
                if case.closed or request.to_tier <= case.tier:
                    await context.abort(
                        grpc.StatusCode.FAILED_PRECONDITION,
                        f"case is at tier {types_pb2.Tier.Name(case.tier)}: escalation must go "
                        "higher",
                    )
                event = self._apply(case, request)
                if self.producer is not None:
                    # Like the real service's outbox relay, publishing does not depend on the
                    # caller: a client that vanishes mid-call does not un-publish the event.
                    await asyncio.shield(self._publish(event))
        return case_service_pb2.CaseView(
            case_id=request.case_id, tier=case.tier, version=case.version
        )

    def applied_for(self, case_id: str) -> list[case_service_pb2.EscalateRequest]:
        return [r for r in self.applied.values() if r.case_id == case_id]

    def _apply(
        self, case: StandInCase, request: case_service_pb2.EscalateRequest
    ) -> events_pb2.CaseEvent:
        """Record the escalation at once (atomically, as an event store append would)."""
        escalated = events_pb2.Escalated(
            from_tier=case.tier,
            to_tier=request.to_tier,
            reason=request.reason,
            cause_ref=request.cause_ref,
            priority=request.priority,
            callback_required=request.callback_required,
        )
        case.tier = request.to_tier
        case.version += 1
        self.applied[request.context.idempotency_key] = request
        meta = new_meta(
            request.case_id,
            case.version,
            "case.Escalated",
            causation_id=request.context.causation_id,
            occurred_at=datetime.now(UTC),
        )
        return events_pb2.CaseEvent(meta=meta, escalated=escalated)

    async def _publish(self, event: events_pb2.CaseEvent) -> None:
        await self.producer.send_and_wait(  # type: ignore[attr-defined]
            self.topic, event.SerializeToString(), key=event.meta.case_id.encode()
        )


async def serve_standin(servicer: StandInCaseService) -> tuple[grpc.aio.Server, str]:
    """Start a grpc.aio server for `servicer` on a free loopback port; returns (server, address)."""
    server = grpc.aio.server()
    case_service_pb2_grpc.add_CaseServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    servicer.address = f"127.0.0.1:{port}"
    return server, servicer.address
