"""An e-mail reply to a citizen's own case without any text is refused for its raw message, the
one field the gateway sent (found by the fuzzing as bug B7: it named the comment's `body`)."""

from __future__ import annotations

import grpc
from fuzzkit.mail import plain_mail
from fuzzkit.planting import Known
from fuzzkit.reproducing import INTAKE, send
from fuzzkit.requests import CITIZEN_EMAIL
from fuzzkit.stack import FRONTEND_TOKENS, Stack

from casedesk.intake.v1 import intake_service_pb2 as intake_pb2

# --- B7: a mail reply without text ---------------------------------------------------------


def test_b7_a_reply_without_text_is_not_refused_for_a_field_the_gateway_never_sent(
    stack: Stack, known: Known
) -> None:
    raw = plain_mail(
        f"Обращение в службу поддержки - {known.numbers[0]}", body="", sender=CITIZEN_EMAIL
    )
    request = intake_pb2.IngestEmailRequest(idempotency_key="<b7@example.ru>", raw_message=raw)
    gateway = (("authorization", f"Bearer {FRONTEND_TOKENS['mail-gateway'][0]}"),)
    outcome = send(stack, stack.intake_port, "frontend", INTAKE.methods_by_name["IngestEmail"],
                    request.SerializeToString(), gateway)  # fmt: skip
    assert outcome.code == grpc.StatusCode.OK or all(
        field.startswith("raw_message") for field, _ in outcome.violations
    ), outcome.violations
