"""Reproducers of the bugs the fuzzing found (fuzzkit/known_bugs.py), one test each.

Not collected by `make test` (the file name does not start with test_): each test asserts the
behaviour the contract asks for and fails until its bug is fixed. Run them with

    uv run --frozen pytest tests/fuzz/found_bugs.py -q

Once one passes, remove its entry from fuzzkit/known_bugs.py (the fuzz targets then fail on a
regression) and move the test into the tests of the service it covers.
"""

from __future__ import annotations

import grpc
from fuzzkit.reproducing import CASE, INTAKE, NOT_A_MESSAGE, send
from fuzzkit.stack import FRONTEND_TOKENS, Stack

# --- B1: a request that is no message ---------------------------------------------------------


def test_b1_an_undecodable_request_is_invalid_argument_on_the_case_service(stack: Stack) -> None:
    outcome = send(stack, stack.case_port, "intake", CASE.methods_by_name["CreateCase"],
                    NOT_A_MESSAGE)  # fmt: skip
    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT, outcome.describe()


def test_b1_an_undecodable_request_is_invalid_argument_on_intake(stack: Stack) -> None:
    portal = (
        ("authorization", f"Bearer {FRONTEND_TOKENS['desk-all'][0]}"),
        ("x-citizen-token", stack.citizen_token("ivanov.ii")),
    )
    outcome = send(stack, stack.intake_port, "frontend", INTAKE.methods_by_name["SubmitCase"],
                    NOT_A_MESSAGE, portal)  # fmt: skip
    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT, outcome.describe()


def test_b1_an_unauthorised_caller_is_refused_before_its_request_is_decoded(stack: Stack) -> None:
    outcome = send(stack, stack.case_port, "sla", CASE.methods_by_name["CreateCase"],
                    NOT_A_MESSAGE)  # fmt: skip
    assert outcome.code == grpc.StatusCode.PERMISSION_DENIED, outcome.describe()
