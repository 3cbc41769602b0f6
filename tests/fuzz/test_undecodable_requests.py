"""Bytes that are no valid message of an RPC's request type are INVALID_ARGUMENT naming the RPC,
the request type and, when it can, the field; a caller without the right to call is refused
first, its request never read (found by the fuzzing as bug B1: grpc.aio answered UNKNOWN, to
unauthorised callers too). Fixed for every service by `casedesk_runtime.grpc_decoding`."""

from __future__ import annotations

import grpc
from fuzzkit.calls import rpc_path
from fuzzkit.reproducing import CASE, INTAKE, NOT_A_MESSAGE, send
from fuzzkit.stack import FRONTEND_TOKENS, Stack

CREATE_CASE = CASE.methods_by_name["CreateCase"]
SUBMIT_CASE = INTAKE.methods_by_name["SubmitCase"]


def _portal(stack: Stack) -> tuple[tuple[str, str], ...]:
    return (
        ("authorization", f"Bearer {FRONTEND_TOKENS['desk-all'][0]}"),
        ("x-citizen-token", stack.citizen_token("ivanov.ii")),
    )


# --- B1: a request that is no message ---------------------------------------------------------


def test_b1_an_undecodable_request_is_invalid_argument_on_the_case_service(stack: Stack) -> None:
    outcome = send(stack, stack.case_port, "intake", CREATE_CASE, NOT_A_MESSAGE)
    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT, outcome.describe()
    assert outcome.details == (
        f"the request to {rpc_path(CREATE_CASE)} is not a valid "
        "casedesk.case.v1.CreateCaseRequest message"
    )
    # field 1 of CreateCaseRequest is `context`, a message its bytes do not frame
    assert [field for field, _ in outcome.violations] == ["context"]


def test_b1_an_undecodable_request_is_invalid_argument_on_intake(stack: Stack) -> None:
    outcome = send(stack, stack.intake_port, "frontend", SUBMIT_CASE, NOT_A_MESSAGE,
                   _portal(stack))  # fmt: skip
    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT, outcome.describe()
    assert "casedesk.intake.v1.SubmitCaseRequest" in outcome.details
    # field 1 of SubmitCaseRequest is `idempotency_key`, a string: the bytes are not UTF-8
    assert [field for field, _ in outcome.violations] == ["idempotency_key"]


def test_b1_an_unauthorised_caller_is_refused_before_its_request_is_decoded(stack: Stack) -> None:
    outcome = send(stack, stack.case_port, "sla", CREATE_CASE, NOT_A_MESSAGE)
    assert outcome.code == grpc.StatusCode.PERMISSION_DENIED, outcome.describe()
    assert rpc_path(CREATE_CASE) in outcome.details
    assert "CreateCaseRequest" not in outcome.details


def test_b1_a_frontend_without_its_token_is_refused_before_its_request_is_decoded(
    stack: Stack,
) -> None:
    outcome = send(stack, stack.intake_port, "frontend", SUBMIT_CASE, NOT_A_MESSAGE)
    assert outcome.code == grpc.StatusCode.UNAUTHENTICATED, outcome.describe()
