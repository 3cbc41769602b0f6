"""Reproducers of the bugs the fuzzing found (fuzzkit/known_bugs.py), one test each.

Not collected by `make test` (the file name does not start with test_): each test asserts the
behaviour the contract asks for and fails until its bug is fixed. Run them with

    uv run --frozen pytest tests/fuzz/found_bugs.py -q

Once one passes, remove its entry from fuzzkit/known_bugs.py (the fuzz targets then fail on a
regression) and move the test into the tests of the service it covers.
"""

from __future__ import annotations

import grpc
from fuzzkit.calls import Outcome, call
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


# --- B1: a request that is no message ---------------------------------------------------------


def test_b1_an_undecodable_request_is_invalid_argument_on_the_case_service(stack: Stack) -> None:
    outcome = _send(stack, stack.case_port, "intake", CASE.methods_by_name["CreateCase"],
                    NOT_A_MESSAGE)  # fmt: skip
    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT, outcome.describe()


def test_b1_an_undecodable_request_is_invalid_argument_on_intake(stack: Stack) -> None:
    portal = (
        ("authorization", f"Bearer {FRONTEND_TOKENS['desk-all'][0]}"),
        ("x-citizen-token", stack.citizen_token("ivanov.ii")),
    )
    outcome = _send(stack, stack.intake_port, "frontend", INTAKE.methods_by_name["SubmitCase"],
                    NOT_A_MESSAGE, portal)  # fmt: skip
    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT, outcome.describe()


def test_b1_an_unauthorised_caller_is_refused_before_its_request_is_decoded(stack: Stack) -> None:
    outcome = _send(stack, stack.case_port, "sla", CASE.methods_by_name["CreateCase"],
                    NOT_A_MESSAGE)  # fmt: skip
    assert outcome.code == grpc.StatusCode.PERMISSION_DENIED, outcome.describe()
