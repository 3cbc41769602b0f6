"""Request builders for the component tests."""

from __future__ import annotations

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.common.v1 import types_pb2


def context(
    kind: int = types_pb2.Actor.SYSTEM, actor: str = "intake", key: str = "", expected: int = 0
) -> pb.CommandContext:
    return pb.CommandContext(
        idempotency_key=key,
        expected_version=expected,
        actor=types_pb2.Actor(kind=kind, id=actor),  # type: ignore[arg-type]
        correlation_id="corr-42",
        causation_id="intake-request-7",
    )


SPECIALIST = {"kind": types_pb2.Actor.SPECIALIST, "actor": "l1-004"}
CITIZEN = {"kind": types_pb2.Actor.CITIZEN, "actor": "ivanov.ii"}


def create_request(key: str = "", login: str = "ivanov.ii") -> pb.CreateCaseRequest:
    return pb.CreateCaseRequest(
        context=context(key=key),
        channel=types_pb2.SOCIAL,
        type=types_pb2.TECHNICAL,
        category=types_pb2.TECHNICAL_FAULT,
        citizen=types_pb2.Citizen(
            full_name="Иванов Иван Иванович",
            snils="11223344595",
            account_login=login,
            mobile_phone="+79161234567",
            preferred_contact=types_pb2.CONTACT_SMS,
        ),
        content=types_pb2.CaseContent(subject="Раздел недоступен", service_code="10000000"),
        provenance=types_pb2.Provenance(
            social=types_pb2.SocialOrigin(network="vk", post_reference="wall-1_2")
        ),
    )


def reply(case_id: str, body: str = "Раздел снова доступен", **who: object) -> pb.AddCommentRequest:
    """A specialist's public reply: what «Ответ готов» (ANSWER_READY_ACTION) needs first."""
    return pb.AddCommentRequest(
        context=context(**(who or SPECIALIST)),  # type: ignore[arg-type]
        case_id=case_id,
        body=body,
        public=True,
    )


def status(case_id: str, action: int, **who: object) -> pb.ChangeStatusRequest:
    return pb.ChangeStatusRequest(
        context=context(**(who or SPECIALIST)),  # type: ignore[arg-type]
        case_id=case_id,
        action=action,  # type: ignore[arg-type]
    )
