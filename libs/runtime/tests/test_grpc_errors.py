"""A refusal's details read one way wherever it comes from (grpc_errors.status_details): a
serialized google.rpc.Status (a batch item's refusal), the trailing metadata a refusal is passed
on with, or a failed call (test_grpc_server.py: through a real server)."""

from __future__ import annotations

from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from casedesk_runtime.grpc_errors import (
    STATUS_DETAILS_KEY,
    field_violations,
    precondition_types,
    precondition_violations,
    status_details,
)


def _status(*details: object) -> bytes:
    packed = []
    for detail in details:
        item = any_pb2.Any()
        item.Pack(detail)  # type: ignore[arg-type]
        packed.append(item)
    return status_pb2.Status(
        code=code_pb2.FAILED_PRECONDITION, message="refused", details=packed
    ).SerializeToString()


ERASED = error_details_pb2.PreconditionFailure(
    violations=[error_details_pb2.PreconditionFailure.Violation(type="ERASED", subject="case/c-1")]
)
KEY_REUSED = error_details_pb2.BadRequest(
    field_violations=[
        error_details_pb2.BadRequest.FieldViolation(
            field="context.idempotency_key", description="carried another command"
        )
    ]
)


def test_a_serialized_status_and_the_trailer_carrying_it_read_alike() -> None:
    raw = _status(ERASED, KEY_REUSED)
    trailing = (("x-other", "1"), (STATUS_DETAILS_KEY, raw))
    for source in (raw, trailing):
        assert len(status_details(source)) == 2
        assert precondition_violations(source) == [("ERASED", "case/c-1")]
        assert precondition_types(source) == {"ERASED"}
        assert field_violations(source) == [("context.idempotency_key", "carried another command")]


def test_no_details_or_unreadable_ones_are_none() -> None:
    for source in (None, b"", (), (("x-other", "1"),), b"\xff\xff not a status"):
        assert status_details(source) == []
        assert precondition_types(source) == set()
        assert field_violations(source) == []
