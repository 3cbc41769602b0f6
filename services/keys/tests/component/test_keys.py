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
    KeyNotFound,
    SubjectId,
)
from casedesk_keyservice.client import KeyServiceRefused, over
from casedesk_runtime.grpc_errors import field_violations

from .conftest import RunningKeyService, refused


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
