"""A request instant a valid protobuf holds but no datetime does (before year 1, after 9999)
is INVALID_ARGUMENT naming its field (found by the fuzzing as bug B6: it was UNKNOWN)."""

from __future__ import annotations

import grpc
from fuzzkit.planting import Known
from fuzzkit.reproducing import BEYOND_DATETIME, CASE, person, send
from fuzzkit.requests import create_case
from fuzzkit.stack import Stack

from casedesk.case.v1 import case_service_pb2 as case_pb2

# --- B6: request instants on the case service ---------------------------------------------------


def test_b6_a_problem_time_beyond_a_datetime_is_invalid_argument(stack: Stack) -> None:
    request = create_case()
    request.content.problem_occurred_at.seconds = BEYOND_DATETIME
    outcome = send(stack, stack.case_port, "intake", CASE.methods_by_name["CreateCase"],
                    request.SerializeToString())  # fmt: skip
    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT, outcome.describe()


def test_b6_an_as_of_time_beyond_a_datetime_is_invalid_argument(stack: Stack, known: Known) -> None:
    request = case_pb2.GetCaseRequest(case_id=known.case_ids[0])
    request.as_of_time.seconds = BEYOND_DATETIME
    outcome = send(stack, stack.case_port, "desk", CASE.methods_by_name["GetCase"],
                    request.SerializeToString(), person(stack))  # fmt: skip
    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT, outcome.describe()


def test_b6_an_access_journal_since_beyond_a_datetime_is_invalid_argument(stack: Stack) -> None:
    request = case_pb2.ListAccessRecordsRequest()
    request.since.seconds = -BEYOND_DATETIME
    outcome = send(stack, stack.case_port, "desk", CASE.methods_by_name["ListAccessRecords"],
                    request.SerializeToString(), person(stack))  # fmt: skip
    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT, outcome.describe()
