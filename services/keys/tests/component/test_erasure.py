"""Erasing a citizen: a privacy officer's order (or the case service's retention) destroys the
keys of every subject his identifiers derive to; reads then answer the erased status, writes are
refused, no key is made again, and every cache following WatchErasures forgets the key within
seconds (its TTL is far longer here, so it is the notice that does it)."""

from __future__ import annotations

import asyncio
import os
import time

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from casedesk.keys.v1 import key_service_pb2 as pb
from casedesk_keys import CitizenIdentity, IdentifierKind, KeyErased
from casedesk_keyservice.client import ServiceKeys, over
from casedesk_runtime.grpc_errors import field_violations
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider

from .conftest import RunningKeyService, officer_token, refused

SNILS = "112-233-445 95"
IVANOV = pb.CitizenIdentifiers(login="ivanov.ii", snils=SNILS)


def subject_of(service: RunningKeyService, kind: IdentifierKind, value: str) -> str:
    return str(service.subjects.of_identifier(kind, value))


async def following(keys: ServiceKeys) -> ServiceKeys:
    await keys.start()
    async with asyncio.timeout(5):
        await keys.follower.watching.wait()
    return keys


async def test_an_erased_citizen_can_be_neither_read_nor_written(
    key_service: RunningKeyService, idp: FakeIdentityProvider
) -> None:
    intake = key_service.stub_as("intake")
    by_login = subject_of(key_service, IdentifierKind.LOGIN, "ivanov.ii")
    by_snils = subject_of(key_service, IdentifierKind.SNILS, SNILS)  # never had a key
    made = await intake.GetCurrentKey(pb.GetCurrentKeyRequest(subject=by_login))

    answer = await key_service.stub_as("operator").EraseCitizen(
        pb.EraseCitizenRequest(identifiers=IVANOV, reason="ПД-2026-17"),
        metadata=officer_token(idp),
    )
    assert [(s.derived_from, s.erasure.subject, s.erased_by, s.reason, s.already_erased)
            for s in answer.subjects] == [
        ("login", by_login, "p.orlova", "ПД-2026-17", False),
        ("snils", by_snils, "p.orlova", "ПД-2026-17", False),
    ]  # fmt: skip

    error = await refused(intake.GetKey(pb.GetKeyRequest(subject=by_login, generation=1)))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    erased_at = answer.subjects[0].erasure.erased_at.ToDatetime().isoformat()
    assert error.details().startswith(f"the key of subject {by_login} (generation 1) was erased at")
    details = rpc_status.from_call(error).details  # type: ignore[arg-type]
    failure, erasure = error_details_pb2.PreconditionFailure(), pb.Erasure()
    assert details[0].Unpack(failure) and details[1].Unpack(erasure)
    assert (failure.violations[0].type, failure.violations[0].subject) == ("ERASED", "subject")
    assert (erasure.subject, erasure.generation) == (by_login, made.generation)
    assert erasure.erased_at.ToDatetime().isoformat() == erased_at

    for subject in (by_login, by_snils):  # no key made for the subject that never had one
        error = await refused(intake.GetCurrentKey(pb.GetCurrentKeyRequest(subject=subject)))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    status = await key_service.stub_as("operator").GetKeyStatus(pb.GetKeyStatusRequest())
    assert sum(v.data_keys for v in status.kek_versions) == 0
    assert (status.erasures, status.last_position) == (2, 2)


async def test_caches_forget_an_erased_key_within_seconds(
    key_service: RunningKeyService, idp: FakeIdentityProvider
) -> None:
    subject = key_service.subjects.of(CitizenIdentity(email="Иван@Почта.РФ"))
    intake = await following(over(key_service.channel_as("intake"), ttl_s=600))
    notify = await following(over(key_service.channel_as("notify"), ttl_s=600))
    try:
        key = await intake.cache.current_key(subject)
        assert await notify.cache.key(subject, 1) == key  # both cached now

        started = time.monotonic()
        await key_service.stub_as("operator").EraseCitizen(
            pb.EraseCitizenRequest(identifiers=pb.CitizenIdentifiers(email="иван@почта.рф"),
                                   reason="ПД-2026-18"),
            metadata=officer_token(idp),
        )  # fmt: skip
        while True:
            try:
                await notify.cache.key(subject, 1)
            except KeyErased as erased:
                assert erased.subject == subject
                break
            assert time.monotonic() - started < 5, "the cache still uses the erased key"
            await asyncio.sleep(0.02)
        with pytest.raises(KeyErased):
            await intake.cache.current_key(subject)
        assert notify.follower.position == 1
    finally:
        await intake.aclose()
        await notify.aclose()


async def test_a_person_without_the_role_cannot_erase(
    key_service: RunningKeyService, idp: FakeIdentityProvider
) -> None:
    subject = subject_of(key_service, IdentifierKind.LOGIN, "ivanov.ii")
    made = await key_service.stub_as("intake").GetCurrentKey(
        pb.GetCurrentKeyRequest(subject=subject)
    )
    order = pb.EraseCitizenRequest(identifiers=IVANOV, reason="ПД-2026-19")
    operator, case = key_service.stub_as("operator"), key_service.stub_as("case")

    token = idp.mint_specialist("l3.sidorova", tier="L3", roles=["specialist", "supervisor"])
    supervisor = [("x-person-token", token)]
    for stub in (operator, case):
        error = await refused(stub.EraseCitizen(order, metadata=supervisor))
        assert (error.code(), error.details()) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "l3.sidorova may not erase citizens: it needs the role privacy_officer",
        )
    error = await refused(operator.EraseCitizen(order))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "x-person-token" in error.details()
    forged = [("x-person-token", officer_token(idp)[0][1][:-4] + "AAAA")]
    error = await refused(operator.EraseCitizen(order, metadata=forged))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED

    read = await key_service.stub_as("notify").GetKey(
        pb.GetKeyRequest(subject=subject, generation=1)
    )
    assert read == made


async def test_the_case_service_erases_by_itself_for_retention_and_repeats_are_harmless(
    key_service: RunningKeyService, idp: FakeIdentityProvider
) -> None:
    subject = os.urandom(16).hex()
    case = key_service.stub_as("case")
    retention = pb.EraseCitizenRequest(subjects=[subject], reason="retention:closed-3y")
    (first,) = (await case.EraseCitizen(retention)).subjects
    assert (first.derived_from, first.erased_by, first.already_erased) == (
        "subject", "system:case", False,
    )  # fmt: skip
    again = pb.EraseCitizenRequest(subjects=[subject], reason="ПД-2026-20")
    (second,) = (
        await key_service.stub_as("operator").EraseCitizen(again, metadata=officer_token(idp))
    ).subjects
    assert second.already_erased
    assert (second.erasure, second.erased_by, second.reason) == (
        first.erasure, "system:case", "retention:closed-3y",
    )  # fmt: skip


async def test_a_bad_identifier_is_named_and_nothing_is_erased(
    key_service: RunningKeyService, idp: FakeIdentityProvider
) -> None:
    order = pb.EraseCitizenRequest(
        identifiers=pb.CitizenIdentifiers(login="ivanov.ii", phone="12"), reason="ПД-2026-21"
    )
    error = await refused(
        key_service.stub_as("operator").EraseCitizen(order, metadata=officer_token(idp))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(error) == [
        ("identifiers.phone", "phone: not an international (+...) or Russian number")
    ]
    status = await key_service.stub_as("operator").GetKeyStatus(pb.GetKeyStatusRequest())
    assert status.erasures == 0


async def test_a_citizen_erased_before_starts_afresh_only_when_intake_reopens(
    key_service: RunningKeyService, idp: FakeIdentityProvider
) -> None:
    subject = subject_of(key_service, IdentifierKind.LOGIN, "ivanov.ii")
    intake = key_service.stub_as("intake")
    old = await intake.GetCurrentKey(pb.GetCurrentKeyRequest(subject=subject))
    await key_service.stub_as("operator").EraseCitizen(
        pb.EraseCitizenRequest(identifiers=IVANOV, reason="ПД-2026-22"), metadata=officer_token(idp)
    )
    fresh = await intake.ReopenSubject(pb.ReopenSubjectRequest(subject=subject))
    assert (fresh.generation, fresh.key != old.key) == (2, True)
    assert await intake.GetCurrentKey(pb.GetCurrentKeyRequest(subject=subject)) == fresh
    error = await refused(intake.GetKey(pb.GetKeyRequest(subject=subject, generation=1)))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_intakes_keys_reopen_an_erased_subject_past_the_cached_erasure(
    key_service: RunningKeyService, idp: FakeIdentityProvider
) -> None:
    # Intake's cache knows the subject erased (it asked for a key to write with, and was
    # refused); a new case of the citizen's own reopens him (ServiceKeys.reopen), and the very
    # next write finds the new generation, not the erasure the cache held for its TTL.
    subject = key_service.subjects.of_identifier(IdentifierKind.LOGIN, "ivanov.ii")
    intake = over(key_service.channel_as("intake"), ttl_s=600)
    try:
        old = await intake.cache.current_key(subject)
        await key_service.stub_as("operator").EraseCitizen(
            pb.EraseCitizenRequest(identifiers=IVANOV, reason="ПД-2026-23"),
            metadata=officer_token(idp),
        )
        intake.cache.invalidate(subject)  # as the erasure notice would
        with pytest.raises(KeyErased):
            await intake.cache.current_key(subject)  # the refusal is cached now

        fresh = await intake.reopen(subject)

        assert (fresh.generation, fresh.secret() != old.secret()) == (2, True)
        assert await intake.cache.current_key(subject) == fresh
        with pytest.raises(KeyErased):
            await intake.cache.key(subject, 1)
    finally:
        await intake.aclose()
