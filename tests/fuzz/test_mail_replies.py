"""An e-mail reply to a citizen's own case without any text is refused for its raw message, the
one field the gateway sent (found by the fuzzing as bug B7: it named the comment's `body`)."""

from __future__ import annotations

import grpc
from fuzzkit.calls import Outcome, call
from fuzzkit.mail import plain_mail
from fuzzkit.planting import Known
from fuzzkit.requests import CITIZEN_EMAIL
from fuzzkit.stack import FRONTEND_TOKENS, Stack

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2

BEYOND_DATETIME = 2**62  # seconds: far past year 9999
CASE = case_pb2.DESCRIPTOR.services_by_name["CaseService"]
INTAKE = intake_pb2.DESCRIPTOR.services_by_name["IntakeService"]
NOT_A_MESSAGE = bytes.fromhex("0a03fffefd")  # field 1 (a string) holding invalid UTF-8


def _send(stack: Stack, port: int, identity: str, rpc: object, raw: bytes, metadata=()) -> Outcome:  # type: ignore[no-untyped-def]
    async def go() -> Outcome:
        return await call(stack.channel(port, identity), rpc, raw, metadata)  # type: ignore[arg-type]

    return stack.run(go(), 30)


def _person(stack: Stack) -> tuple[tuple[str, str], ...]:
    token = stack.person_token("l3.sidorova", "L3", ["specialist", "supervisor", "auditor"])
    return (("x-person-token", token),)


# --- B7: a mail reply without text ---------------------------------------------------------


def test_b7_a_reply_without_text_is_not_refused_for_a_field_the_gateway_never_sent(
    stack: Stack, known: Known
) -> None:
    raw = plain_mail(
        f"Обращение в службу поддержки - {known.numbers[0]}", body="", sender=CITIZEN_EMAIL
    )
    request = intake_pb2.IngestEmailRequest(idempotency_key="<b7@example.ru>", raw_message=raw)
    gateway = (("authorization", f"Bearer {FRONTEND_TOKENS['mail-gateway'][0]}"),)
    outcome = _send(stack, stack.intake_port, "frontend", INTAKE.methods_by_name["IngestEmail"],
                    request.SerializeToString(), gateway)  # fmt: skip
    assert outcome.code == grpc.StatusCode.OK or all(
        field.startswith("raw_message") for field, _ in outcome.violations
    ), outcome.violations
