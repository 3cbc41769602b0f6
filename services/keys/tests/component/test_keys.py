"""Keys over mutual TLS: made once per subject whoever asks first (also many at once), read by
generation, never made by a read; the client helper turns statuses back into the library's
errors."""

from __future__ import annotations

import asyncio
import os

import grpc
import pytest

from casedesk.keys.v1 import key_service_pb2 as pb
from casedesk_keys import (
    CitizenIdentity,
    FieldCipher,
    FieldContext,
    KeyErased,
    KeyNotFound,
    SubjectId,
)
from casedesk_keyservice.client import KeyServiceRefused, over
from casedesk_runtime.grpc_errors import field_violations
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider

from .conftest import RunningKeyService, officer_token, refused


def new_subject() -> str:
    return os.urandom(16).hex()


async def data_keys(service: RunningKeyService) -> int:
    status = await service.stub_as("operator").GetKeyStatus(pb.GetKeyStatusRequest())
    return sum(version.data_keys for version in status.kek_versions)


async def test_a_subjects_key_is_made_once_and_the_same_for_every_caller(
    key_service: RunningKeyService,
) -> None:
    subject = new_subject()
    intake, case = key_service.stub_as("intake"), key_service.stub_as("case")
    first = await intake.GetCurrentKey(pb.GetCurrentKeyRequest(subject=subject))
    assert (first.subject, first.generation, len(first.key)) == (subject, 1, 32)
    assert await intake.GetCurrentKey(pb.GetCurrentKeyRequest(subject=subject)) == first
    assert await case.GetCurrentKey(pb.GetCurrentKeyRequest(subject=subject)) == first
    for reader in ("intake", "case", "notify"):
        read = await key_service.stub_as(reader).GetKey(
            pb.GetKeyRequest(subject=subject, generation=1)
        )
        assert read == first
    assert await data_keys(key_service) == 1


async def test_callers_racing_for_a_new_subject_get_one_key(
    key_service: RunningKeyService,
) -> None:
    subject = new_subject()
    stubs = [key_service.stub_as(caller) for caller in ("intake", "case") * 4]
    request = pb.GetCurrentKeyRequest(subject=subject)
    answers = await asyncio.gather(*(stubs[i % len(stubs)].GetCurrentKey(request)
                                     for i in range(48)))  # fmt: skip
    assert {answer.SerializeToString() for answer in answers} == {answers[0].SerializeToString()}
    assert await data_keys(key_service) == 1


async def test_a_read_never_makes_a_key(key_service: RunningKeyService) -> None:
    notify = key_service.stub_as("notify")
    unknown = new_subject()
    error = await refused(notify.GetKey(pb.GetKeyRequest(subject=unknown, generation=1)))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.NOT_FOUND,
        f"subject {unknown} has no key of generation 1",
    )
    known = new_subject()
    await key_service.stub_as("intake").GetCurrentKey(pb.GetCurrentKeyRequest(subject=known))
    error = await refused(notify.GetKey(pb.GetKeyRequest(subject=known, generation=2)))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert await data_keys(key_service) == 1


async def test_a_malformed_subject_is_named(key_service: RunningKeyService) -> None:
    error = await refused(
        key_service.stub_as("case").GetCurrentKey(pb.GetCurrentKeyRequest(subject="12-34"))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(error) == [("subject", "a subject id is 32 hex digits")]


async def test_a_service_seals_and_opens_fields_through_the_client(
    key_service: RunningKeyService,
) -> None:
    subject = key_service.subjects.of(CitizenIdentity(snils="112-233-445 95"))
    intake = over(key_service.channel_as("intake"))
    notify = over(key_service.channel_as("notify"))
    context = FieldContext("case-1", "citizen.full_name")
    token = await FieldCipher(intake.cache).encrypt(subject, "Иванов Иван Иванович", context)
    assert await FieldCipher(notify.cache).decrypt(token, context) == "Иванов Иван Иванович"
    with pytest.raises(KeyNotFound):
        await notify.client.key(SubjectId(os.urandom(16)), 1)
    # notify may read keys, never have one made: a refusal retrying will not change.
    with pytest.raises(KeyServiceRefused, match="PERMISSION_DENIED"):
        await notify.client.current_key(subject)


async def test_keys_asked_for_together_each_get_their_own_outcome(
    key_service: RunningKeyService, idp: FakeIdentityProvider
) -> None:
    case = key_service.stub_as("case")
    known = new_subject()
    before = await case.GetCurrentKey(pb.GetCurrentKeyRequest(subject=known))
    erased = new_subject()
    await key_service.stub_as("operator").EraseCitizen(
        pb.EraseCitizenRequest(subjects=[erased], reason="ПД-2026-21"), metadata=officer_token(idp)
    )
    new = [new_subject() for _ in range(3)]
    asked = [new[0], known, erased, new[1], new[2], new[0]]
    reply = await case.GetCurrentKeys(pb.GetCurrentKeysRequest(subjects=asked))
    kinds = [outcome.WhichOneof("outcome") for outcome in reply.outcomes]
    assert kinds == ["key", "key", "refused", "key", "key", "key"]
    assert reply.outcomes[1].key == before
    assert reply.outcomes[0].key == reply.outcomes[5].key
    refusal = reply.outcomes[2].refused
    assert refusal.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert (refusal.erased.subject, refusal.erased.generation) == (erased, 1)
    assert "was erased at" in refusal.message
    for subject, outcome in zip(asked, reply.outcomes, strict=True):
        if subject != erased:  # what was handed out is what a read finds
            read = await case.GetKey(pb.GetKeyRequest(subject=subject, generation=1))
            assert read == outcome.key
    assert await data_keys(key_service) == 4


async def test_keys_asked_for_together_name_a_malformed_subject_and_a_limit(
    key_service: RunningKeyService,
) -> None:
    case = key_service.stub_as("case")
    error = await refused(
        case.GetCurrentKeys(pb.GetCurrentKeysRequest(subjects=[new_subject(), "12-34"]))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(error) == [("subjects[1]", "a subject id is 32 hex digits")]
    for subjects in ([], [new_subject() for _ in range(257)]):
        error = await refused(case.GetCurrentKeys(pb.GetCurrentKeysRequest(subjects=subjects)))
        assert field_violations(error) == [("subjects", "1 to 256 subjects")]
    assert await data_keys(key_service) == 0  # a refused call made no key


async def test_the_client_gets_a_burst_of_current_keys_in_one_call(
    key_service: RunningKeyService, idp: FakeIdentityProvider
) -> None:
    case = over(key_service.channel_as("case"))
    calls: list[int] = []
    together = case.client._stub.GetCurrentKeys

    def counted(request: pb.GetCurrentKeysRequest, **kwargs: object) -> object:
        calls.append(len(request.subjects))
        return together(request, **kwargs)

    case.client._stub.GetCurrentKeys = counted  # type: ignore[method-assign]
    erased = SubjectId(os.urandom(16))
    await key_service.stub_as("operator").EraseCitizen(
        pb.EraseCitizenRequest(subjects=[str(erased)], reason="ПД-2026-22"),
        metadata=officer_token(idp),
    )
    subjects = [SubjectId(os.urandom(16)) for _ in range(40)]
    got = await asyncio.gather(
        *(case.client.current_key(s) for s in [*subjects, erased]), return_exceptions=True
    )
    assert isinstance(got[-1], KeyErased) and got[-1].tombstone.subject == erased
    for subject, key in zip(subjects, got, strict=False):
        assert key == await case.client.key(subject, 1)
    assert sum(calls) == 41 and len(calls) <= 2  # the first call's one, then all the rest


async def test_the_client_falls_back_to_single_calls_on_an_older_key_service(
    key_service: RunningKeyService,
) -> None:
    case = over(key_service.channel_as("case"))

    def unimplemented(request: pb.GetCurrentKeysRequest, **kwargs: object) -> object:
        async def fail() -> None:
            raise grpc.aio.AioRpcError(
                grpc.StatusCode.UNIMPLEMENTED, grpc.aio.Metadata(), grpc.aio.Metadata(),
                "Method not found!",
            )  # fmt: skip

        return fail()

    case.client._stub.GetCurrentKeys = unimplemented  # type: ignore[method-assign]
    subjects = [SubjectId(os.urandom(16)) for _ in range(5)]
    got = await asyncio.gather(*(case.client.current_key(s) for s in subjects))
    assert [key.subject for key in got] == subjects
    assert await case.client.current_key(subjects[0]) == got[0]  # single calls from now on
