"""The operators' status: KEK versions and the data keys under each, through a rotation made with
the key owner's commands (casedesk_keys.rotation), and the erasures journaled."""

from __future__ import annotations

import asyncio
import os

from casedesk.keys.v1 import key_service_pb2 as pb
from casedesk_keys import rewrap_all, start_rotation

from .conftest import RunningKeyService


async def test_the_status_follows_a_rotation(key_service: RunningKeyService) -> None:
    intake = key_service.stub_as("intake")
    for _ in range(3):
        await intake.GetCurrentKey(pb.GetCurrentKeyRequest(subject=os.urandom(16).hex()))
    label = key_service.keys_settings.kek_label
    operator = key_service.stub_as("operator")

    before = await operator.GetKeyStatus(pb.GetKeyStatusRequest())
    assert [(v.kek_id, v.current, v.held, v.data_keys) for v in before.kek_versions] == [
        (f"{label}.v1", True, True, 3)
    ]

    keyring = key_service.process.keyring
    await asyncio.to_thread(start_rotation, keyring.kek)
    # A key made while the rotation runs is wrapped under the new version at once.
    await intake.GetCurrentKey(pb.GetCurrentKeyRequest(subject=os.urandom(16).hex()))
    midway = await operator.GetKeyStatus(pb.GetKeyStatusRequest())
    assert [(v.kek_id, v.current, v.data_keys) for v in midway.kek_versions] == [
        (f"{label}.v1", False, 3),
        (f"{label}.v2", True, 1),
    ]
    report = await asyncio.to_thread(rewrap_all, keyring.store, keyring.kek)
    assert (report.rewrapped, report.remaining) == (3, 0)
    after = await operator.GetKeyStatus(pb.GetKeyStatusRequest())
    assert [(v.kek_id, v.data_keys) for v in after.kek_versions] == [
        (f"{label}.v1", 0),
        (f"{label}.v2", 4),
    ]
    assert (after.kek_provider, after.erasures, after.last_position) == ("pkcs11", 0, 0)
