"""Nothing the service logs carries a key or a citizen's identifier: handouts, erasures and
refusals, formatted as the process formats them (casedesk_runtime.logs)."""

from __future__ import annotations

import base64
import logging

import pytest

from casedesk.keys.v1 import key_service_pb2 as pb
from casedesk_keys import IdentifierKind
from casedesk_runtime.logs import JsonFormatter
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider

from .conftest import RunningKeyService, officer_token, refused

IDENTIFIERS = pb.CitizenIdentifiers(
    login="ivanov.ii", snils="112-233-445 95", email="ivan@example.ru", phone="+79123456789"
)


async def test_keys_and_identifiers_stay_out_of_the_logs(
    key_service: RunningKeyService, idp: FakeIdentityProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    subject = str(key_service.subjects.of_identifier(IdentifierKind.LOGIN, "ivanov.ii"))
    intake = key_service.stub_as("intake")
    key = (await intake.GetCurrentKey(pb.GetCurrentKeyRequest(subject=subject))).key
    await key_service.stub_as("notify").GetKey(pb.GetKeyRequest(subject=subject, generation=1))
    order = pb.EraseCitizenRequest(identifiers=IDENTIFIERS, reason="ПД-2026-30")
    await refused(key_service.stub_as("operator").EraseCitizen(order))  # no token
    await key_service.stub_as("operator").EraseCitizen(order, metadata=officer_token(idp))
    await refused(intake.GetKey(pb.GetKeyRequest(subject=subject, generation=1)))

    formatter = JsonFormatter("keys")
    lines = [formatter.format(record) for record in caplog.records]
    assert any('"message": "key handed out"' in line for line in lines)
    assert any('"message": "citizen erased"' in line for line in lines)
    secrets = [key.hex(), base64.b64encode(key).decode(), base64.urlsafe_b64encode(key).decode()]
    identifiers = ["ivanov.ii", "11223344595", "112-233-445 95", "ivan@example.ru", "9123456789"]
    for line in lines:
        for secret in (*secrets, *identifiers, subject):
            assert secret not in line, line
