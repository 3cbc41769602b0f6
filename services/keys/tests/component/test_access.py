"""Every RPC names who may call it: any other certificate identity is PERMISSION_DENIED naming
the RPC, before its request is read; the callers it names get past the table (their bad
requests are then INVALID_ARGUMENT, the service's own answer)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest

from casedesk.keys.v1 import key_service_pb2 as pb
from casedesk.keys.v1.key_service_pb2_grpc import KeyServiceStub
from casedesk_keyservice.grpc_api.access import KEY_ACCESS
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider

from .conftest import CALLERS, RunningKeyService, officer_token, refused

SERVICE = "/casedesk.keys.v1.KeyService/"


async def _first(stream: Any) -> Any:
    async for message in stream:
        return message
    return None


Metadata = list[tuple[str, str]] | None
# Each RPC with a request the service refuses as INVALID_ARGUMENT (GetKeyStatus has none).
CALLS: dict[str, Callable[[KeyServiceStub, Metadata], Any]] = {
    "GetCurrentKey": lambda s, m: s.GetCurrentKey(pb.GetCurrentKeyRequest(subject=""), metadata=m),
    "GetCurrentKeys": lambda s, m: s.GetCurrentKeys(
        pb.GetCurrentKeysRequest(subjects=["x"]), metadata=m
    ),
    "GetKey": lambda s, m: s.GetKey(pb.GetKeyRequest(subject="00" * 16), metadata=m),
    "ReopenSubject": lambda s, m: s.ReopenSubject(pb.ReopenSubjectRequest(subject="x"), metadata=m),
    "EraseCitizen": lambda s, m: s.EraseCitizen(
        pb.EraseCitizenRequest(subjects=["00" * 16]), metadata=m
    ),
    "WatchErasures": lambda s, m: _first(
        s.WatchErasures(pb.WatchErasuresRequest(after_position=-1), metadata=m)
    ),
    "GetKeyStatus": lambda s, m: s.GetKeyStatus(pb.GetKeyStatusRequest(), metadata=m),
}


def test_the_table_names_every_rpc_of_the_service() -> None:
    served = set(pb.DESCRIPTOR.services_by_name["KeyService"].methods_by_name)
    assert served == set(CALLS)
    assert {key.removeprefix(SERVICE) for key in KEY_ACCESS if key.startswith(SERVICE)} == served


@pytest.mark.parametrize("rpc", sorted(CALLS))
async def test_callers_the_table_does_not_name_are_refused(
    key_service: RunningKeyService, rpc: str
) -> None:
    allowed = KEY_ACCESS[SERVICE + rpc]
    strangers = [caller for caller in CALLERS if caller not in allowed]
    assert strangers
    for caller in strangers:
        error = await refused(CALLS[rpc](key_service.stub_as(caller), None))
        assert (error.code(), error.details()) == (
            grpc.StatusCode.PERMISSION_DENIED,
            f"spiffe://casedesk/{caller} may not call {SERVICE}{rpc}",
        ), caller


@pytest.mark.parametrize("rpc", sorted(set(CALLS) - {"GetKeyStatus"}))
async def test_the_callers_it_names_get_to_the_service(
    key_service: RunningKeyService, idp: FakeIdentityProvider, rpc: str
) -> None:
    officer = officer_token(idp)  # an erasure is a person's order; other RPCs ignore it
    for caller in KEY_ACCESS[SERVICE + rpc]:
        error = await refused(CALLS[rpc](key_service.stub_as(caller), officer))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (caller, error.details())


async def test_the_operator_reads_the_status(key_service: RunningKeyService) -> None:
    status = await key_service.stub_as("operator").GetKeyStatus(pb.GetKeyStatusRequest())
    assert status.kek_provider == "pkcs11"
