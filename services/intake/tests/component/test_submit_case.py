"""SubmitCase through real gRPC: channels, provenance, classification, linking, acknowledgement."""

from __future__ import annotations

import grpc
import pytest
from intake_messages import ALL_CHECKS, FRONTEND_OF_CHANNEL, metadata, submission, upload

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.common.v1 import types_pb2

CHANNELS = list(FRONTEND_OF_CHANNEL)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_each_channel_registers_a_case_with_its_provenance(intake, channel: str) -> None:
    frontend = FRONTEND_OF_CHANNEL[channel]
    reply = await intake.stub.SubmitCase(submission(channel), metadata=metadata(frontend))
    assert reply.number and reply.status == types_pb2.REGISTERED
    (created,) = intake.cases.of_type(case_pb2.CreateCaseRequest)
    assert types_pb2.Channel.Name(created.channel) == channel
    assert (
        created.provenance.WhichOneof("origin")
        == {
            "PORTAL_CHAT": "chat",
            "PERSONAL_ACCOUNT": "personal_account",
            "EMAIL": "email",
            "PHONE": "phone",
            "SOCIAL": "social",
            "MFC": "mfc",
        }[channel]
    )
    # Only the portal's token names an account; other channels know the citizen by contact.
    portal = channel in ("PORTAL_CHAT", "PERSONAL_ACCOUNT")
    assert created.citizen.account_login == ("ivanov.ii" if portal else "")
    assert created.context.idempotency_key.startswith("intake-")


async def test_identifiers_are_normalised_before_they_reach_the_case(intake) -> None:
    await intake.stub.SubmitCase(submission("PHONE"), metadata=metadata("contact-centre"))
    (created,) = intake.cases.of_type(case_pb2.CreateCaseRequest)
    assert created.citizen.snils == "11223344595"
    assert created.citizen.mobile_phone == "+79123456789"
    origin = created.provenance.phone
    assert origin.caller_number == "+4915123456789"
    assert origin.from_abroad, "a German caller number is a call from abroad"
    assert list(origin.caller_checks) == ALL_CHECKS, "how the caller was identified, passed on"


async def test_social_provenance_keeps_network_and_post(intake) -> None:
    await intake.stub.SubmitCase(submission("SOCIAL"), metadata=metadata("social-moderation"))
    (created,) = intake.cases.of_type(case_pb2.CreateCaseRequest)
    social = created.provenance.social
    assert (social.network, social.post_reference) == ("telegram", "@gosuslugi:12345")
    assert not social.private_message


async def test_acknowledgement_carries_deadlines_and_russian_text(intake) -> None:
    reply = await intake.stub.SubmitCase(submission("PORTAL_CHAT"), metadata=metadata())
    deadlines = reply.deadlines
    registered = intake.cases.by_number(reply.number).registered_at.ToDatetime()
    first = deadlines.first_response_due.ToDatetime() - registered
    resolution = deadlines.resolution_due.ToDatetime() - registered
    assert (first.total_seconds(), resolution.total_seconds()) == (300, 7200)  # chat: 5 min, 2 h
    assert deadlines.policy_version and deadlines.calendar_version
    assert f"зарегистрировано под номером {reply.number}" in reply.text
    assert "Первый ответ специалиста" in reply.text


async def test_mfc_acknowledgement_has_no_first_response(intake) -> None:
    reply = await intake.stub.SubmitCase(submission("MFC"), metadata=metadata("mfc-desk"))
    assert not reply.deadlines.HasField("first_response_due")
    assert reply.deadlines.HasField("resolution_due")


async def test_type_and_category_are_classified_when_absent(intake) -> None:
    request = submission(subject="Сбой при загрузке документов", description="Страница зависает")
    await intake.stub.SubmitCase(request, metadata=metadata())
    (created,) = intake.cases.of_type(case_pb2.CreateCaseRequest)
    assert (created.category, created.type) == (types_pb2.TECHNICAL_FAULT, types_pb2.TECHNICAL)


async def test_given_type_and_category_are_kept(intake) -> None:
    request = submission(subject="Сбой при загрузке документов")
    request.type, request.category = types_pb2.COMPLAINT, types_pb2.SERVICE_DELIVERY
    await intake.stub.SubmitCase(request, metadata=metadata())
    (created,) = intake.cases.of_type(case_pb2.CreateCaseRequest)
    assert (created.category, created.type) == (types_pb2.SERVICE_DELIVERY, types_pb2.COMPLAINT)


async def test_same_service_within_the_window_links_to_the_earlier_case(intake) -> None:
    first = await intake.stub.SubmitCase(submission(service_code="10000101"), metadata=metadata())
    second = await intake.stub.SubmitCase(
        submission(channel="PORTAL_CHAT", service_code="10000101"), metadata=metadata()
    )
    other_service = await intake.stub.SubmitCase(
        submission(service_code="20000202"), metadata=metadata()
    )
    other_citizen = await intake.stub.SubmitCase(
        submission(service_code="10000101"), metadata=metadata(login="petrov.pp")
    )
    assert second.linked_to_number == first.number
    assert f"№ {first.number}" in second.text
    assert intake.cases.by_number(second.number).linked_to == first.case_id
    assert not other_service.linked_to_number and not other_citizen.linked_to_number


@pytest.mark.parametrize("settings_overrides", [{"link_window_hours": 0}])
async def test_linking_can_be_switched_off(intake) -> None:
    await intake.stub.SubmitCase(submission(service_code="10000101"), metadata=metadata())
    second = await intake.stub.SubmitCase(submission(service_code="10000101"), metadata=metadata())
    assert not second.linked_to_number


async def test_attachments_are_encrypted_and_only_metadata_is_forwarded(intake) -> None:
    request = submission()
    request.attachments.append(upload())
    await intake.stub.SubmitCase(request, metadata=metadata())
    (created,) = intake.cases.of_type(case_pb2.CreateCaseRequest)
    (attachment,) = created.attachments
    assert attachment.file_name == "заявление.pdf"
    assert attachment.size_bytes == len(request.attachments[0].content)
    assert attachment.sha256 == request.attachments[0].sha256
    assert request.attachments[0].content not in created.SerializeToString()
    reference = intake.parts.references.of("login:ivanov.ii")
    stored = await intake.parts.vault.read(reference, attachment.attachment_id)
    assert stored == request.attachments[0].content


async def test_login_in_the_body_must_be_the_tokens(intake) -> None:
    request = submission()
    request.citizen.account_login = "petrov.pp"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await intake.stub.SubmitCase(request, metadata=metadata())
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "citizen.account_login differs from the login of the x-citizen-token" in (
        refused.value.details()
    )
    assert not intake.cases.commands


async def test_the_login_comes_from_the_token(intake) -> None:
    request = submission()
    request.citizen.account_login = "ivanov.ii"  # the same login may be repeated
    await intake.stub.SubmitCase(request, metadata=metadata(login="ivanov.ii"))
    await intake.stub.SubmitCase(submission(), metadata=metadata(login="petrova.an"))
    logins = [c.citizen.account_login for c in intake.cases.of_type(case_pb2.CreateCaseRequest)]
    assert logins == ["ivanov.ii", "petrova.an"]


async def test_chat_without_a_citizen_token_is_unauthenticated(intake) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await intake.stub.SubmitCase(submission("PORTAL_CHAT"), metadata=metadata(login=None))
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "x-citizen-token" in refused.value.details()


async def test_case_service_refusals_are_passed_on(intake) -> None:
    intake.cases.unavailable_next = 10
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await intake.stub.SubmitCase(submission(), metadata=metadata())
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "same idempotency key" in refused.value.details()


async def test_a_brief_case_service_outage_is_retried(intake) -> None:
    intake.cases.unavailable_next = 2
    reply = await intake.stub.SubmitCase(submission(), metadata=metadata())
    assert reply.number


async def test_a_sign_in_problem_is_promised_within_24_hours_whatever_the_channel(intake) -> None:
    # Policy 2026.1: the acknowledgement promises what the SLA clock will count for the category.
    request = submission("EMAIL", subject="Не могу войти", description="Не приходит код")
    request.category = types_pb2.REGISTRATION_SIGN_IN
    reply = await intake.stub.SubmitCase(request, metadata=metadata(FRONTEND_OF_CHANNEL["EMAIL"]))
    registered = intake.cases.by_number(reply.number).registered_at.ToDatetime()
    resolution = reply.deadlines.resolution_due.ToDatetime() - registered
    assert resolution.total_seconds() == 24 * 3600
    assert reply.deadlines.policy_version == "2026.1"
