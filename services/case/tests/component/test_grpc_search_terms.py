"""ListCases by a citizen's SNILS, phone or e-mail through gRPC (issue #18, search without
plaintext): sealed and in clear, the tier rule of the person asking, malformed values named by
their field."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.common.v1 import types_pb2
from casedesk_case.settings import CaseSettings
from casedesk_keys import IndexKey
from casedesk_runtime.grpc_errors import field_violations
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider

from ..conftest import Keys
from .conftest import RunningService, people_of, running_case_service
from .messages import context, create_request
from .test_grpc_people import as_person, refused, token_of


@pytest.fixture(params=["sealed", "in clear"])
async def searchable(
    tmp_path: Path, request: pytest.FixtureRequest, idp: FakeIdentityProvider, keys: Keys
) -> AsyncIterator[RunningService]:
    sealed = request.param == "sealed"
    settings = CaseSettings(grpc_port=0, grpc_insecure_dev=True, seal_personal_data=sealed)
    async with running_case_service(
        tmp_path,
        settings,
        people_of(idp),
        keys=keys if sealed else None,
        index_key=None if sealed else IndexKey(os.urandom(32)),
    ) as running:
        yield running


def by(kind: int, value: str, **criteria: object) -> pb.ListCasesRequest:
    return pb.ListCasesRequest(citizen=pb.CitizenLookup(kind=kind, value=value), **criteria)  # type: ignore[arg-type]


async def new_case(service: RunningService, login: str, phone: str, tier: int) -> str:
    request = create_request(login=login)
    request.citizen.mobile_phone = phone
    request.citizen.snils = ""
    request.citizen.email = f"{login}@Example.ru"
    case_id = (await service.stub.CreateCase(request)).case_id
    for to_tier in range(types_pb2.L2, tier + 1):
        await service.stub.Escalate(
            pb.EscalateRequest(context=context(actor="escalation"), case_id=case_id,
                               to_tier=to_tier)  # type: ignore[arg-type]
        )  # fmt: skip
    return case_id


async def test_list_cases_finds_a_citizen_by_phone_and_email_within_the_readers_tiers(
    searchable: RunningService, idp: FakeIdentityProvider
) -> None:
    l1 = await new_case(searchable, "ivanov.ii", "+79161234567", types_pb2.L1)
    l3 = await new_case(searchable, "ivanov.ii", "+79161234567", types_pb2.L3)
    await new_case(searchable, "petrov.pp", "+79035550011", types_pb2.L1)
    await asyncio.to_thread(searchable.projector.catch_up)

    page = await searchable.stub.ListCases(by(pb.CITIZEN_ID_PHONE, "8 (916) 123-45-67"))
    assert sorted(c.case_id for c in page.cases) == sorted([l1, l3])
    page = await searchable.stub.ListCases(by(pb.CITIZEN_ID_EMAIL, "IVANOV.II@example.RU"))
    assert sorted(c.case_id for c in page.cases) == sorted([l1, l3])
    # Combined with the other criteria, as they combine with each other.
    page = await searchable.stub.ListCases(by(pb.CITIZEN_ID_PHONE, "9161234567", tier=types_pb2.L3))
    assert [c.case_id for c in page.cases] == [l3]
    # A person sees only his tiers' cases: an L1 specialist the L1 case.
    ivanova = as_person(token_of(idp, "l1.ivanova"))
    page = await searchable.stub.ListCases(
        by(pb.CITIZEN_ID_PHONE, "+7 916 123 45 67"), metadata=ivanova
    )
    assert [c.case_id for c in page.cases] == [l1]


@pytest.mark.parametrize(
    ("lookup", "field"),
    [
        (pb.CitizenLookup(kind=pb.CITIZEN_ID_SNILS, value="112-233"), "citizen.value"),
        (pb.CitizenLookup(kind=pb.CITIZEN_ID_PHONE, value="call me"), "citizen.value"),
        (pb.CitizenLookup(kind=pb.CITIZEN_ID_EMAIL, value="ivanov"), "citizen.value"),
        (pb.CitizenLookup(kind=pb.CITIZEN_ID_EMAIL, value=""), "citizen.value"),
        (pb.CitizenLookup(value="11223344595"), "citizen.kind"),
        (pb.CitizenLookup(kind=9, value="11223344595"), "citizen.kind"),  # type: ignore[arg-type]
    ],
)
async def test_a_malformed_lookup_is_invalid_argument_naming_its_field(
    searchable: RunningService, lookup: pb.CitizenLookup, field: str
) -> None:
    error = await refused(searchable.stub.ListCases(pb.ListCasesRequest(citizen=lookup)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(error)] == [field]
    if lookup.value:
        assert lookup.value not in (error.details() or "")


async def test_without_an_index_key_the_lookup_is_failed_precondition(
    service: RunningService,
) -> None:
    error = await refused(service.stub.ListCases(by(pb.CITIZEN_ID_SNILS, "11223344595")))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
