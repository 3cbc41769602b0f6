"""Who acts, by the caller's certificate (mutual TLS, the service's access table): intake for
citizens and as itself, escalation as the system, the desk and operators only for a person whose
token they send."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import grpc

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.common.v1 import types_pb2
from casedesk_case.grpc_api.access import CASE_ACCESS
from casedesk_case.grpc_api.people import People
from casedesk_case.settings import CaseSettings
from casedesk_runtime import pki
from casedesk_runtime.grpc_errors import field_violations
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider

from .conftest import RunningService, running_case_service
from .messages import context, create_request

SYSTEM, CITIZEN, SPECIALIST = (
    types_pb2.Actor.SYSTEM,
    types_pb2.Actor.CITIZEN,
    types_pb2.Actor.SPECIALIST,
)


async def refused(call: Any) -> grpc.aio.AioRpcError:
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return error
    raise AssertionError("the call was not refused")


async def test_the_desk_acts_only_for_the_person_whose_token_it_sends(
    secure_service: RunningService, idp: FakeIdentityProvider
) -> None:
    intake, desk = secure_service.stub_as("intake"), secure_service.stub_as("desk")
    case_id = (await intake.CreateCase(create_request())).case_id
    take = pb.ChangeStatusRequest(
        context=pb.CommandContext(idempotency_key="k1"), case_id=case_id, action=pb.TAKE_IN_WORK
    )
    error = await refused(desk.ChangeStatus(take))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "this call acts for a person: send their access token as metadata x-person-token",
    )
    # An actor in the request does not replace the token.
    named = pb.ChangeStatusRequest(
        context=context(SPECIALIST, "l1-004"), case_id=case_id, action=pb.TAKE_IN_WORK
    )
    assert (await refused(desk.ChangeStatus(named))).code() == grpc.StatusCode.UNAUTHENTICATED
    token = idp.mint_specialist("l1.ivanova", tier="L1")
    view = await desk.ChangeStatus(take, metadata=[("x-person-token", token)])
    assert view.status == types_pb2.IN_PROGRESS
    history = await desk.GetHistory(
        pb.GetHistoryRequest(case_id=case_id), metadata=[("x-person-token", token)]
    )
    assert history.events[-1].meta.actor.id == "l1.ivanova"


async def test_services_act_only_as_whom_they_stand_for(secure_service: RunningService) -> None:
    intake, escalation = secure_service.stub_as("intake"), secure_service.stub_as("escalation")
    case_id = (await intake.CreateCase(create_request())).case_id
    comment = pb.AddCommentRequest(
        context=context(CITIZEN, "ivanov.ii"), case_id=case_id, body="Жду ответа", public=True
    )
    assert (await intake.AddComment(comment)).comments[-1].author.kind == CITIZEN
    as_specialist = pb.AddCommentRequest(
        context=context(SPECIALIST, "l3.sidorova"), case_id=case_id, body="x", public=True
    )
    error = await refused(intake.AddComment(as_specialist))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "intake may act only as CITIZEN or SYSTEM, not as SPECIALIST",
    )
    escalate = pb.EscalateRequest(
        context=context(CITIZEN, "ivanov.ii"), case_id=case_id, to_tier=types_pb2.L2
    )
    error = await refused(escalation.Escalate(escalate))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "only intake acts as a citizen; escalation acts as SYSTEM",
    )
    escalate.context.CopyFrom(context(SYSTEM, "escalation"))
    assert (await escalation.Escalate(escalate)).tier == types_pb2.L2


async def test_intake_names_the_operator_who_identified_the_citizen_and_nobody_else_does(
    secure_service: RunningService, idp: FakeIdentityProvider
) -> None:
    intake, desk = secure_service.stub_as("intake"), secure_service.stub_as("desk")
    registered = create_request()
    registered.channel = types_pb2.PHONE
    registered.context.CopyFrom(context(CITIZEN, "ivanov.ii"))
    registered.context.identified_by = "l1.ivanova"
    case_id = (await intake.CreateCase(registered)).case_id
    comment = pb.AddCommentRequest(
        context=context(CITIZEN, "ivanov.ii"), case_id=case_id, body="Перезвонил", public=True
    )
    comment.context.identified_by = "l2.petrov"
    await intake.AddComment(comment)
    ivanova = [("x-person-token", idp.mint_specialist("l1.ivanova", tier="L1"))]
    history = await desk.GetHistory(pb.GetHistoryRequest(case_id=case_id), metadata=ivanova)
    assert [(e.meta.actor.kind, e.meta.actor.id, e.identified_by) for e in history.events] == [
        (CITIZEN, "ivanov.ii", "l1.ivanova"),  # Created
        (CITIZEN, "ivanov.ii", "l1.ivanova"),  # its Assigned
        (CITIZEN, "ivanov.ii", "l2.petrov"),  # Commented
    ]
    assert history.events[0].created.identified_by == "l1.ivanova"

    # Only intake verified the operator: the desk's person acts as themself, escalation as SYSTEM.
    by_desk = pb.AddCommentRequest(
        context=pb.CommandContext(identified_by="l2.petrov"), case_id=case_id, body="x",
        public=True,
    )  # fmt: skip
    error = await refused(desk.AddComment(by_desk, metadata=ivanova))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "context.identified_by must be empty for l1.ivanova: a person acts as themself (a case "
        "they register records them as the one who identified the citizen)",
    )
    escalate = pb.EscalateRequest(
        context=context(SYSTEM, "escalation"), case_id=case_id, to_tier=types_pb2.L2
    )
    escalate.context.identified_by = "l1.ivanova"
    error = await refused(secure_service.stub_as("escalation").Escalate(escalate))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "only intake names the operator who identified the citizen (context.identified_by); "
        "escalation must leave it empty",
    )
    as_system = pb.AddCommentRequest(
        context=context(SYSTEM, "intake"), case_id=case_id, body="x", public=True
    )
    as_system.context.identified_by = "l1.ivanova"
    not_a_name = pb.AddCommentRequest(
        context=context(CITIZEN, "ivanov.ii"), case_id=case_id, body="x", public=True
    )
    not_a_name.context.identified_by = "l1 ivanova"
    for request, problem in (
        (as_system, "context.actor must be that CITIZEN"),
        (not_a_name, "printable, without spaces"),
    ):
        error = await refused(intake.AddComment(request))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [f for f, d in field_violations(error) if problem in d] == ["context.identified_by"]
    history = await desk.GetHistory(pb.GetHistoryRequest(case_id=case_id), metadata=ivanova)
    assert len(history.events) == 3, "nothing refused was recorded"


async def test_reads_by_people_are_journaled_with_the_caller_and_intakes_are_not(
    secure_service: RunningService, idp: FakeIdentityProvider
) -> None:
    intake, operator = secure_service.stub_as("intake"), secure_service.stub_as("operator")
    case_id = (await intake.CreateCase(create_request())).case_id
    await intake.GetCase(pb.GetCaseRequest(case_id=case_id))  # the citizen's own, via intake
    supervisor = idp.mint_specialist("super.orlova", tier="L3", roles=["supervisor", "specialist"])
    orlova = [("x-person-token", supervisor)]
    await operator.GetCase(pb.GetCaseRequest(case_id=case_id), metadata=orlova)
    error = await refused(operator.GetCase(pb.GetCaseRequest(case_id=case_id)))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    auditor = [("x-person-token", idp.mint(username="audit.kuznetsov", roles=["auditor"]))]
    page = await operator.ListAccessRecords(pb.ListAccessRecordsRequest(), metadata=auditor)
    assert [(r.person, r.role, r.caller, r.case_id) for r in page.records] == [
        ("super.orlova", "specialist L3, supervisor", "operator", case_id)
    ]
    # The access table still decides which service may call at all.
    error = await refused(intake.ListAccessRecords(pb.ListAccessRecordsRequest()))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_an_operators_read_through_intake_is_journaled_as_his_via_intake(
    secure_service: RunningService, idp: FakeIdentityProvider
) -> None:
    intake, operator = secure_service.stub_as("intake"), secure_service.stub_as("operator")
    case_id = (await intake.CreateCase(create_request())).case_id
    number = (await intake.GetCase(pb.GetCaseRequest(case_id=case_id))).number  # intake itself
    petrov = [
        ("x-person-token", idp.mint_specialist("l2.petrov", tier="L2")),
        ("x-access-purpose", "citizen%27s%20call"),
    ]
    view = await intake.GetCase(pb.GetCaseRequest(number=number), metadata=petrov)
    assert view.case_id == case_id
    secure_service.projector.catch_up()
    listed = await intake.ListCases(pb.ListCasesRequest(), metadata=petrov)
    assert [c.case_id for c in listed.cases] == [case_id]
    await intake.ListCases(pb.ListCasesRequest())  # intake itself again
    auditor = [("x-person-token", idp.mint(username="audit.kuznetsov", roles=["auditor"]))]
    page = await operator.ListAccessRecords(
        pb.ListAccessRecordsRequest(case_id=case_id), metadata=auditor
    )
    assert [(r.rpc, r.person, r.role, r.purpose, r.caller) for r in page.records] == [
        ("GetCase", "l2.petrov", "specialist L2", "citizen's call", "intake"),
        ("ListCases", "l2.petrov", "specialist L2", "citizen's call", "intake"),
    ]
    # The token is the operator's for reads only: intake's commands still act as it names them.
    comment = pb.AddCommentRequest(
        context=context(CITIZEN, "ivanov.ii"), case_id=case_id, body="Перезвонил", public=True
    )
    await intake.AddComment(comment, metadata=petrov)
    history = await operator.GetHistory(pb.GetHistoryRequest(case_id=case_id), metadata=petrov)
    assert (history.events[-1].meta.actor.kind, history.events[-1].meta.actor.id) == (
        CITIZEN,
        "ivanov.ii",
    )
    forged = [("x-person-token", idp.mint_specialist("l2.petrov", tier="L2")[:-4] + "AAAA")]
    error = await refused(intake.GetCase(pb.GetCaseRequest(case_id=case_id), metadata=forged))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "x-person-token rejected: bad signature",
    )


async def test_without_an_identity_provider_the_desk_is_told_what_is_missing(
    tmp_path: Path, pki_dir: Path
) -> None:
    settings = CaseSettings(
        grpc_port=0,
        tls_cert_file=str(pki_dir / "case.crt"),
        tls_key_file=str(pki_dir / "case.key"),
        tls_ca_file=str(pki_dir / pki.CA_CERT),
    )
    async with running_case_service(
        tmp_path, settings, People(None), access=CASE_ACCESS, pki_dir=pki_dir
    ) as service:
        request = pb.GetCaseRequest(case_id=str(uuid.uuid4()))
        error = await refused(
            service.stub_as("desk").GetCase(request, metadata=[("x-person-token", "a.b.c")])
        )
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "no identity provider configured (CASEDESK_OIDC_ISSUER" in (error.details() or "")
        # Intake works without one.
        assert (await service.stub_as("intake").CreateCase(create_request())).case_id
