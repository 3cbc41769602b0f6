"""A person's calls through gRPC: the token verified, the actor taken from it, the rules applied,
every read journaled. (Plaintext development mode, where a call with a token acts for its person
exactly as the desk's would; the callers' certificates are in test_grpc_callers.py.)"""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import quote

import grpc
import pytest

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.common.v1 import types_pb2
from casedesk_case.adapters.person_tokens import OidcPersonTokens
from casedesk_case.grpc_api.people import People
from casedesk_case.settings import CaseSettings
from casedesk_runtime.grpc_errors import field_violations
from casedesk_runtime.oidc import TokenVerifier
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider, SigningKey

from .conftest import RunningService, running_case_service
from .messages import context, create_request


def token_of(idp: FakeIdentityProvider, username: str, **claims: Any) -> str:
    tier = {"l1": "L1", "l2": "L2", "l3": "L3"}.get(username[:2])
    if username.startswith("audit"):
        return idp.mint(username=username, roles=["auditor"], **claims)
    return idp.mint_specialist(username, tier=tier or "L1", **claims)


def as_person(token: str, purpose: str | None = None) -> list[tuple[str, str]]:
    metadata = [("x-person-token", token)]
    if purpose is not None:
        metadata.append(("x-access-purpose", quote(purpose)))
    return metadata


def bare(key: str = "") -> pb.CommandContext:
    """A person's command context: no actor, the token says who acts."""
    return pb.CommandContext(idempotency_key=key or str(uuid.uuid4()))


async def refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call
    return error.value


async def new_case(service: RunningService, tier: int = types_pb2.L1) -> str:
    case_id = (await service.stub.CreateCase(create_request())).case_id
    for to_tier in range(types_pb2.L2, tier + 1):
        await service.stub.Escalate(
            pb.EscalateRequest(context=context(actor="escalation"), case_id=case_id,
                               to_tier=to_tier)  # type: ignore[arg-type]
        )  # fmt: skip
    return case_id


async def test_an_l1_token_takes_answers_and_readies_an_l1_case(
    service: RunningService, idp: FakeIdentityProvider
) -> None:
    case_id, ivanova = await new_case(service), as_person(token_of(idp, "l1.ivanova"))
    for action in (pb.TAKE_IN_WORK, pb.ANSWER_READY_ACTION):
        if action == pb.ANSWER_READY_ACTION:
            await service.stub.AddComment(
                pb.AddCommentRequest(context=bare(), case_id=case_id, body="Ответ", public=True),
                metadata=ivanova,
            )
        await service.stub.ChangeStatus(
            pb.ChangeStatusRequest(context=bare(), case_id=case_id, action=action),
            metadata=ivanova,
        )
    history = await service.stub.GetHistory(pb.GetHistoryRequest(case_id=case_id), metadata=ivanova)
    mine = [(e.WhichOneof("payload"), e.meta.actor.kind, e.meta.actor.id) for e in history.events]
    assert mine[-3:] == [
        ("status_changed", types_pb2.Actor.SPECIALIST, "l1.ivanova"),
        ("commented", types_pb2.Actor.SPECIALIST, "l1.ivanova"),
        ("status_changed", types_pb2.Actor.SPECIALIST, "l1.ivanova"),
    ]
    assert history.events[-1].status_changed.to_status == types_pb2.ANSWER_READY


async def test_the_rules_refuse_with_their_reason(
    service: RunningService, idp: FakeIdentityProvider
) -> None:
    l3_case = await new_case(service, types_pb2.L3)
    ivanova = as_person(token_of(idp, "l1.ivanova"))
    take = pb.ChangeStatusRequest(context=bare(), case_id=l3_case, action=pb.TAKE_IN_WORK)
    error = await refused(service.stub.ChangeStatus(take, metadata=ivanova))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "l1.ivanova (L1) may not work an L3 case",
    )
    someone_else = pb.ChangeStatusRequest(
        context=context(types_pb2.Actor.SPECIALIST, "l3.sidorova"), case_id=l3_case,
        action=pb.TAKE_IN_WORK,
    )  # fmt: skip
    error = await refused(service.stub.ChangeStatus(someone_else, metadata=ivanova))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "must be empty or SPECIALIST l1.ivanova" in (error.details() or "")
    assign = pb.AssignRequest(context=bare(), case_id=l3_case, specialist_id="l3-001")
    error = await refused(service.stub.Assign(assign, metadata=ivanova))
    assert "only supervisors do" in (error.details() or "")
    sidorova = as_person(token_of(idp, "l3.sidorova"))
    view = await service.stub.ChangeStatus(take, metadata=sidorova)
    assert view.status == types_pb2.IN_PROGRESS


@pytest.mark.parametrize(
    ("mint", "reason"),
    [
        (lambda idp: token_of(idp, "l1.ivanova", expires_in=-120), "expired"),
        (lambda idp: token_of(idp, "l1.ivanova", audience="casedesk-intake"), "wrong audience"),
        (lambda idp: idp.mint(username="l1.ivanova", key=SigningKey.generate()),
         "unknown signing key"),
        (lambda idp: token_of(idp, "l1.ivanova")[:-4] + "AAAA", "bad signature"),
        (lambda idp: "not-a-jwt", "malformed"),
    ],
)  # fmt: skip
async def test_a_token_that_proves_nothing_is_unauthenticated_saying_why(
    service: RunningService, idp: FakeIdentityProvider, mint: Any, reason: str
) -> None:
    case_id = await new_case(service)
    read = service.stub.GetCase(pb.GetCaseRequest(case_id=case_id), metadata=as_person(mint(idp)))
    error = await refused(read)
    assert (error.code(), error.details()) == (
        grpc.StatusCode.UNAUTHENTICATED,
        f"x-person-token rejected: {reason}",
    )


async def test_an_unreachable_identity_provider_is_unavailable(tmp_path: Any) -> None:
    async with FakeIdentityProvider() as down:
        down.available = False
        people = People(OidcPersonTokens(TokenVerifier(down.issuer, "casedesk-case")))
        settings = CaseSettings(grpc_port=0, grpc_insecure_dev=True)
        async with running_case_service(tmp_path, settings, people) as service:
            request = pb.GetCaseRequest(case_id=str(uuid.uuid4()))
            error = await refused(service.stub.GetCase(request, metadata=as_person(
                down.mint_specialist("l1.ivanova", tier="L1")
            )))  # fmt: skip
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert error.details() == "identity provider unavailable, retry later"


async def test_every_read_is_in_the_journal_the_auditor_reads(
    service: RunningService, idp: FakeIdentityProvider
) -> None:
    case_id = await new_case(service)
    petrov = as_person(token_of(idp, "l2.petrov"), purpose="звонок гражданина")
    view = await service.stub.GetCase(pb.GetCaseRequest(case_id=case_id), metadata=petrov)
    await service.stub.GetCase(pb.GetCaseRequest(number=view.number), metadata=petrov)
    await service.stub.GetHistory(pb.GetHistoryRequest(case_id=case_id), metadata=petrov)
    service.projector.catch_up()
    listed = await service.stub.ListCases(pb.ListCasesRequest(), metadata=petrov)
    assert [c.case_id for c in listed.cases] == [case_id]
    watch = service.stub.WatchCase(pb.WatchCaseRequest(case_id=case_id), metadata=petrov)
    assert (await watch.read()).meta.case_version == 1
    watch.cancel()

    auditor = as_person(token_of(idp, "audit.kuznetsov"))
    page = await service.stub.ListAccessRecords(
        pb.ListAccessRecordsRequest(case_id=case_id), metadata=auditor
    )
    assert [(r.rpc, r.person, r.role, r.purpose, r.caller) for r in page.records] == [
        (rpc, "l2.petrov", "specialist L2", "звонок гражданина", "insecure-dev")
        for rpc in ("GetCase", "GetCase", "GetHistory", "ListCases", "WatchCase")
    ]
    assert [r.previous_hash for r in page.records[1:]] == [r.record_hash for r in page.records[:-1]]
    error = await refused(service.stub.ListAccessRecords(
        pb.ListAccessRecordsRequest(), metadata=petrov
    ))  # fmt: skip
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    error = await refused(service.stub.ListAccessRecords(pb.ListAccessRecordsRequest()))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_case_a_person_may_not_see_answers_as_a_missing_one(
    service: RunningService, idp: FakeIdentityProvider
) -> None:
    case_id, missing = await new_case(service), str(uuid.uuid4())
    guest = as_person(idp.mint(username="guest", roles=["offline_access"]))

    async def answer(reference: str) -> tuple[grpc.StatusCode, str]:
        error = await refused(
            service.stub.GetCase(pb.GetCaseRequest(case_id=reference), metadata=guest)
        )
        return error.code(), (error.details() or "").replace(reference, "<id>")

    assert (
        await answer(case_id)
        == await answer(missing)
        == (grpc.StatusCode.NOT_FOUND, "case <id> not found")
    )


async def test_a_watch_ends_when_the_persons_token_does(
    service: RunningService, idp: FakeIdentityProvider
) -> None:
    case_id = await new_case(service)
    # Accepted within the verifier's leeway, so the stream starts and ends at once.
    token = token_of(idp, "l1.ivanova", expires_in=-1)
    started = time.monotonic()
    stream = service.stub.WatchCase(
        pb.WatchCaseRequest(case_id=case_id, after_version=99), metadata=as_person(token)
    )
    error = await refused(stream.read())
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == "x-person-token expired: watch again with a fresh one"
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("purpose", "problem"),
    [
        ("%FF", "is not percent-encoded UTF-8"),
        ("%20", "is empty (leave it out for 'case work')"),
        ("a%0Ab", "must be one line of printable text"),
        ("x" * 201, "is longer than 200 characters"),
    ],
)
async def test_a_bad_purpose_is_refused_naming_the_metadata(
    service: RunningService, idp: FakeIdentityProvider, purpose: str, problem: str
) -> None:
    metadata = [("x-person-token", token_of(idp, "l1.ivanova")), ("x-access-purpose", purpose)]
    read = service.stub.GetCase(pb.GetCaseRequest(case_id=str(uuid.uuid4())), metadata=metadata)
    error = await refused(read)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(error) == [("x-access-purpose", problem)]
