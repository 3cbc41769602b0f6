"""Where a PHONE or SOCIAL case came from (issue 19): a call from abroad is taken only from a
caller identified all three ways the seed lists, and a social post or private message is named
in its network's own terms, so that the answer can go back there."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from intake_messages import ALL_CHECKS, as_operator, metadata, refusal, submission

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.common.v1 import types_pb2

CHECKS = "provenance.phone.caller_checks"
REFERENCE = "provenance.social.post_reference"


def _violations(error: grpc.aio.AioRpcError) -> dict[str, str]:
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    found = {}
    for detail in status.details:
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            found.update({v.field: v.description for v in bad_request.field_violations})
    return found


def _call(number: str, checks: list[int], from_abroad: bool = False):  # type: ignore[no-untyped-def]
    request = submission("PHONE")
    phone = request.provenance.phone
    phone.caller_number, phone.from_abroad = number, from_abroad
    del phone.caller_checks[:]
    phone.caller_checks.extend(checks)
    return request


@pytest.mark.parametrize(
    ("checks", "missing"),
    [
        ([], "PROFILE_MOBILE_NUMBER, PROFILE_NAME_BIRTH_DATE_SNILS, SMS_ONE_TIME_CODE"),
        (ALL_CHECKS[:2], "SMS_ONE_TIME_CODE"),
        ([types_pb2.SMS_ONE_TIME_CODE], "PROFILE_MOBILE_NUMBER, PROFILE_NAME_BIRTH_DATE_SNILS"),
    ],
)
async def test_a_call_from_abroad_without_every_check_is_refused_naming_the_missing(
    intake, checks: list[int], missing: str
) -> None:
    refused = await refusal(
        intake.stub.SubmitCase(_call("+49 151 2345 6789", checks), metadata=as_operator())
    )
    description = _violations(refused)[CHECKS]
    assert description.endswith(f"missing: {missing}")
    assert "«Звонок из-за границы»" in description
    assert not intake.cases.of_type(case_pb2.CreateCaseRequest)


async def test_a_russian_number_on_the_international_line_needs_the_checks_too(intake) -> None:
    request = _call("+7 912 345-67-89", [], from_abroad=True)
    refused = await refusal(intake.stub.SubmitCase(request, metadata=as_operator()))
    assert CHECKS in _violations(refused)


async def test_a_call_from_abroad_with_every_check_reaches_the_case(intake) -> None:
    await intake.stub.SubmitCase(
        _call("+49 151 2345 6789", list(reversed(ALL_CHECKS))), metadata=as_operator()
    )
    (created,) = intake.cases.of_type(case_pb2.CreateCaseRequest)
    phone = created.provenance.phone
    assert phone.from_abroad and list(phone.caller_checks) == list(reversed(ALL_CHECKS))


async def test_a_call_from_russia_keeps_its_checks_as_given(intake) -> None:
    await intake.stub.SubmitCase(
        _call("+7 912 345-67-89", [types_pb2.SMS_ONE_TIME_CODE]), metadata=as_operator()
    )
    (created,) = intake.cases.of_type(case_pb2.CreateCaseRequest)
    phone = created.provenance.phone
    assert not phone.from_abroad
    assert list(phone.caller_checks) == [types_pb2.SMS_ONE_TIME_CODE]


@pytest.mark.parametrize("check", [types_pb2.CALLER_CHECK_UNSPECIFIED, 42])
async def test_an_unknown_check_is_refused(intake, check: int) -> None:
    refused = await refusal(
        intake.stub.SubmitCase(_call("+7 912 345-67-89", [check]), metadata=as_operator())
    )
    assert _violations(refused)[CHECKS].startswith("[0] not a known check")


def _post(network: str, reference: str, private: bool = False):  # type: ignore[no-untyped-def]
    request = submission("SOCIAL")
    social = request.provenance.social
    social.network, social.post_reference, social.private_message = network, reference, private
    return request


@pytest.mark.parametrize(
    ("network", "reference", "private"),
    [
        ("telegram", "-1001234567890:42", False),
        ("telegram", "@gosuslugi:7", False),
        ("telegram", "123456789:42", True),
        ("VK", "-22822305_1001", False),
        ("vk", "1_2", False),
        ("vk", "123456789:42", True),
        ("vk", "2000000001:15", True),
        ("ok", "any reference at all", False),
    ],
)
async def test_documented_references_are_taken_as_given(
    intake, network: str, reference: str, private: bool
) -> None:
    request = _post(network, f"  {reference} ", private)
    await intake.stub.SubmitCase(request, metadata=metadata("social-moderation"))
    (created,) = intake.cases.of_type(case_pb2.CreateCaseRequest)
    social = created.provenance.social
    assert (social.network, social.post_reference, social.private_message) == (
        network.lower(), reference, private,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("network", "reference", "private", "words"),
    [
        ("telegram", "https://t.me/gosuslugi/12345", False, 'is "<chat_id>:<message_id>"'),
        ("telegram", "-100123:0", False, 'is "<chat_id>:<message_id>"'),
        ("telegram", "@ab:5", False, 'is "<chat_id>:<message_id>"'),
        ("telegram", "@gosuslugi:7", True, "whose chat_id is his user id"),
        ("telegram", "-1001234567890:42", True, "whose chat_id is his user id"),
        ("telegram", "123456789:42", False, "is a citizen's private chat: set private_message"),
        ("vk", "https://vk.com/wall-1_2", False, 'a vk wall post is "<owner_id>_<post_id>"'),
        ("vk", "wall-1_2", False, 'a vk wall post is "<owner_id>_<post_id>"'),
        ("vk", "0_5", False, 'a vk wall post is "<owner_id>_<post_id>"'),
        ("vk", "123:42", False, "is a private message: set private_message"),
        ("vk", "-1_2", True, "is a wall post: clear private_message"),
        ("vk", "-5:42", True, 'a vk private message is "<peer_id>:<message_id>"'),
    ],
)
async def test_a_reference_not_in_its_networks_terms_is_refused_saying_why(
    intake, network: str, reference: str, private: bool, words: str
) -> None:
    refused = await refusal(
        intake.stub.SubmitCase(
            _post(network, reference, private), metadata=metadata("social-moderation")
        )
    )
    assert words in _violations(refused)[REFERENCE]
    assert not intake.cases.of_type(case_pb2.CreateCaseRequest)
