"""Citizens are who the portal's token says, operators who the staff's token says; a frontend
acts only for its channels' citizens, and another citizen's case answers like a missing one."""

from __future__ import annotations

import hashlib

import grpc
import pytest
from intake_messages import (
    PORTAL_CLIENT,
    as_operator,
    citizen_token,
    frontend_entries,
    frontend_only,
    metadata,
    portal,
    refusal,
    staff,
    submission,
)

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk_intake.settings import FrontendEntry
from casedesk_runtime.testing.identity_provider import SigningKey

MISSING = "2026-0999999"
PORTAL_FRONTENDS = ("portal-chat", "personal-account", "desk-all")


def _answer(error: grpc.aio.AioRpcError) -> tuple[object, ...]:
    """Everything a caller can read of a refusal."""
    return error.code(), error.details(), tuple(error.trailing_metadata() or ())


def _follow_ups(number: str) -> list[tuple[str, object]]:
    return [
        ("GetCase", intake_pb2.GetCaseRequest(case_number=number)),
        ("AddComment", intake_pb2.AddCommentRequest(idempotency_key="c", case_number=number,
                                                    body="Дополнение")),
        ("RepeatCase", intake_pb2.RepeatCaseRequest(idempotency_key="r", case_number=number,
                                                    reason="Не помогло")),
        ("RequestEscalation", intake_pb2.RequestEscalationRequest(
            idempotency_key="e", case_number=number, reason=events_pb2.NO_ANSWER_IN_TIME)),
    ]  # fmt: skip


# -- portal citizens --------------------------------------------------------------------------


@pytest.mark.parametrize("frontend", PORTAL_FRONTENDS)
async def test_another_citizens_case_answers_exactly_like_a_missing_one(intake, frontend) -> None:
    case = await intake.stub.SubmitCase(submission(), metadata=metadata(login="petrova.an"))
    intake.cases.set_status(case.number, types_pb2.ANSWER_READY)  # repeatable, were it hers
    commands = len(intake.cases.commands)
    as_ivanov = metadata(frontend, login="ivanov.ii")
    for (rpc, theirs), (_, missing) in zip(
        _follow_ups(case.number), _follow_ups(MISSING), strict=True
    ):
        foreign = await refusal(getattr(intake.stub, rpc)(theirs, metadata=as_ivanov))
        absent = await refusal(getattr(intake.stub, rpc)(missing, metadata=as_ivanov))
        assert foreign.code() == grpc.StatusCode.NOT_FOUND, rpc
        assert _answer(foreign) == _answer(absent), rpc
    assert len(intake.cases.commands) == commands, "nothing reached B's case"
    listed = await intake.stub.ListMyCases(intake_pb2.ListMyCasesRequest(), metadata=as_ivanov)
    assert case.number not in [c.number for c in listed.cases]


async def test_the_owner_still_follows_up_his_case(intake) -> None:
    case = await intake.stub.SubmitCase(submission(), metadata=metadata(login="petrova.an"))
    as_petrova = metadata("personal-account", login="petrova.an")
    view = await intake.stub.GetCase(
        intake_pb2.GetCaseRequest(case_number=case.number), metadata=as_petrova
    )
    assert view.number == case.number


@pytest.mark.parametrize(
    ("mint", "reason"),
    [
        (lambda: portal().mint_citizen("ivanov.ii", expires_in=-120), "expired"),
        (lambda: portal().mint_citizen("ivanov.ii", audience="casedesk-case"), "wrong audience"),
        (lambda: portal().mint_citizen("ivanov.ii", key=SigningKey.generate()), "unknown signing"),
        (lambda: staff().mint_citizen("ivanov.ii"), "wrong issuer"),
        (lambda: portal().mint(username=None), "no preferred_username"),
    ],
)
async def test_a_token_that_proves_nothing_is_unauthenticated(intake, mint, reason) -> None:
    pairs = (*frontend_only("portal-chat"), ("x-citizen-token", mint()))
    error = await refusal(intake.stub.SubmitCase(submission("PORTAL_CHAT"), metadata=pairs))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details().startswith("x-citizen-token rejected: ")
    assert reason in error.details()
    assert not intake.cases.commands


async def test_an_unreachable_portal_is_unavailable_not_unauthenticated(intake) -> None:
    portal().available = False  # this intake has not fetched the portal's keys yet
    try:
        error = await refusal(intake.stub.SubmitCase(submission(), metadata=metadata()))
    finally:
        portal().available = True
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert "retry" in error.details()


async def test_the_header_login_is_refused(intake) -> None:
    pairs = (*metadata(), ("x-citizen-login", "ivanov.ii"))
    error = await refusal(intake.stub.SubmitCase(submission(), metadata=pairs))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "x-citizen-login is no longer accepted" in error.details()


async def test_a_citizen_token_only_comes_through_portal_frontends(intake) -> None:
    pairs = (*frontend_only("mail-gateway"), ("x-citizen-token", citizen_token("ivanov.ii")))
    error = await refusal(
        intake.stub.GetCase(intake_pb2.GetCaseRequest(case_number=MISSING), metadata=pairs)
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "mail-gateway serves no portal channel" in error.details()


async def test_a_citizen_token_is_for_portal_cases_only(intake) -> None:
    error = await refusal(intake.stub.SubmitCase(submission("EMAIL"), metadata=metadata()))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "x-citizen-token is for PORTAL_CHAT and PERSONAL_ACCOUNT cases, not EMAIL" in (
        error.details()
    )


async def test_other_channels_cannot_plant_a_case_in_an_account(intake) -> None:
    request = submission("PHONE")
    request.citizen.account_login = "ivanov.ii"
    error = await refusal(intake.stub.SubmitCase(request, metadata=metadata("contact-centre")))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error.details().startswith("citizen.account_login may be named only")
    assert not intake.cases.commands


@pytest.mark.parametrize(
    "settings_overrides",
    [
        {
            "frontends": [
                *frontend_entries(),
                FrontendEntry(
                    name="chat-of-another-app",
                    token_sha256=hashlib.sha256(b"chat-2-token-0123456789").hexdigest(),
                    channels=["PORTAL_CHAT"],
                    citizen_token_clients=["another-portal-app"],
                ),
            ]
        }
    ],
)
async def test_a_frontend_may_take_tokens_of_its_own_portal_client_only(intake) -> None:
    pairs = (
        ("authorization", "Bearer chat-2-token-0123456789"),
        ("x-citizen-token", citizen_token("ivanov.ii")),  # azp: casedesk-portal-frontend
    )
    error = await refusal(intake.stub.SubmitCase(submission("PORTAL_CHAT"), metadata=pairs))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "another portal client (azp)" in error.details() and PORTAL_CLIENT not in (
        error.details()
    )


# -- linking ----------------------------------------------------------------------------------


async def test_a_link_is_named_only_to_the_citizen_the_token_proves(intake) -> None:
    first = await intake.stub.SubmitCase(
        submission("PORTAL_CHAT", service_code="10000101"), metadata=metadata()
    )
    again = await intake.stub.SubmitCase(
        submission("PORTAL_CHAT", service_code="10000101"), metadata=metadata()
    )
    assert again.linked_to_number == first.number
    # somebody who knows the victim's phone, on the phone channel, about the same service
    phone = metadata("contact-centre")
    earlier = await intake.stub.SubmitCase(
        submission("PHONE", service_code="10000101"), metadata=phone
    )
    stranger = await intake.stub.SubmitCase(
        submission("PHONE", service_code="10000101"), metadata=phone
    )
    assert not stranger.linked_to_number and "связано" not in stranger.text
    linked = intake.cases.by_number(stranger.number).linked_to
    assert linked == earlier.case_id, "the specialists still see the link"


# -- operators --------------------------------------------------------------------------------


async def test_an_operator_acts_for_a_citizen_identified_by_phone(intake) -> None:
    request = submission("PHONE")
    request.citizen.account_login = "ivanov.ii"  # the operator vouches for the account
    reply = await intake.stub.SubmitCase(request, metadata=as_operator("contact-centre"))
    (created,) = intake.cases.of_type(case_pb2.CreateCaseRequest)
    assert created.context.actor == types_pb2.Actor(kind=types_pb2.Actor.CITIZEN, id="ivanov.ii")
    assert created.context.identified_by == "l1.ivanova", "the case service records both"
    comment = intake_pb2.AddCommentRequest(idempotency_key="c", case_number=reply.number, body="x")
    await intake.stub.AddComment(comment, metadata=as_operator("contact-centre", "l2.petrov"))
    (sent,) = intake.cases.of_type(case_pb2.AddCommentRequest)
    assert sent.context.actor.id == "ivanov.ii", "the citizen acts, through the operator"
    assert sent.context.identified_by == "l2.petrov", "whoever took this call"
    plea = intake_pb2.RequestEscalationRequest(
        idempotency_key="e", case_number=reply.number, reason=events_pb2.NO_ANSWER_IN_TIME
    )
    await intake.stub.RequestEscalation(plea, metadata=as_operator("contact-centre"))
    intake.cases.set_status(reply.number, types_pb2.ANSWER_READY)
    repeat = intake_pb2.RepeatCaseRequest(idempotency_key="r", case_number=reply.number, reason="y")
    await intake.stub.RepeatCase(repeat, metadata=as_operator("contact-centre"))
    for kind in (case_pb2.RequestEscalationRequest, case_pb2.RepeatCaseRequest):
        (sent,) = intake.cases.of_type(kind)
        assert sent.context.identified_by == "l1.ivanova", kind.__name__


async def test_a_citizen_acting_himself_names_no_operator(intake) -> None:
    reply = await intake.stub.SubmitCase(submission(), metadata=metadata())
    comment = intake_pb2.AddCommentRequest(idempotency_key="c", case_number=reply.number, body="x")
    await intake.stub.AddComment(comment, metadata=metadata())
    sent = [*intake.cases.of_type(case_pb2.CreateCaseRequest),
            *intake.cases.of_type(case_pb2.AddCommentRequest)]  # fmt: skip
    assert [m.context.identified_by for m in sent] == ["", ""]


async def test_an_mfc_case_names_the_operator_of_the_token(intake) -> None:
    request = submission("MFC")
    request.provenance.mfc.operator_id = ""
    await intake.stub.SubmitCase(request, metadata=as_operator("mfc-desk", "l2.petrov"))
    (created,) = intake.cases.of_type(case_pb2.CreateCaseRequest)
    assert created.provenance.mfc.operator_id == "l2.petrov"
    request = submission("MFC")
    request.provenance.mfc.operator_id = "somebody-else"
    error = await refusal(
        intake.stub.SubmitCase(request, metadata=as_operator("mfc-desk", "l2.petrov"))
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error.details().startswith("provenance.mfc.operator_id differs")


async def test_an_operator_sees_only_his_channels_cases(intake) -> None:
    portal_case = await intake.stub.SubmitCase(submission(), metadata=metadata())
    for number in (portal_case.number, MISSING):
        error = await refusal(
            intake.stub.GetCase(
                intake_pb2.GetCaseRequest(case_number=number), metadata=as_operator()
            )
        )
        assert _answer(error) == (grpc.StatusCode.NOT_FOUND, "case not found", ())


@pytest.mark.parametrize(
    ("frontend", "token", "expected"),
    [
        ("portal-chat", lambda: staff().mint_specialist("l1.ivanova"), "serves neither PHONE"),
        (
            "contact-centre",
            lambda: staff().mint_specialist("audit.kuznetsov", roles=["auditor"]),
            "needs one of the roles specialist, supervisor",
        ),
    ],
)
async def test_who_may_act_as_an_operator(intake, frontend, token, expected) -> None:
    pairs = (*frontend_only(frontend), ("x-person-token", token()))
    error = await refusal(intake.stub.SubmitCase(submission("PHONE"), metadata=pairs))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert expected in error.details()


async def test_one_proof_at_a_time(intake) -> None:
    pairs = (*metadata("desk-all"), ("x-person-token", staff().mint_specialist("l1.ivanova")))
    error = await refusal(intake.stub.SubmitCase(submission(), metadata=pairs))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "not x-citizen-token and x-person-token" in error.details()
