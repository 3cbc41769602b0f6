"""The key service as it runs: two replicas (`python -m casedesk_keyservice`) on one PostgreSQL
key store, their KEK in one SoftHSM2 token, mutual TLS between every caller and them.

A citizen erased through one replica is refused by both at once, and a service whose key cache
follows the other replica's WatchErasures forgets his key within seconds (its TTL is ten
minutes here: the notice does it, found by that replica polling the shared journal); another
citizen is untouched; a restarted replica still answers erased, and the journal keeps its order.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import psycopg
import pytest
from support.key_service import softhsm_token_env
from support.postgres_schemas import fresh_schemas, in_schema
from support.services import ServiceLauncher, ServiceProcess

from casedesk.keys.v1 import key_service_pb2 as pb
from casedesk.keys.v1 import key_service_pb2_grpc
from casedesk_keys import CitizenIdentity, IndexKey, KeyErased, Subjects
from casedesk_keyservice.client import over
from casedesk_runtime import pki
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider

TOKEN_LABEL = "casedesk-keys-it"
AUDIENCE = "casedesk-case"
CITIZEN_A = CitizenIdentity(login="ivanov.ii", snils="112-233-445 95")
CITIZEN_B = CitizenIdentity(login="petrova.aa")


@pytest.fixture
def store_url(postgres_dsn: str) -> Iterator[str]:
    """A schema of its own: the key store and the erasure journal of this test only."""
    with fresh_schemas(postgres_dsn, "key_service") as (schema,):
        yield in_schema(postgres_dsn, schema)


@pytest.fixture
def token_env(tmp_path: Path) -> dict[str, str]:
    """A fresh SoftHSM2 token in a directory of its own, for the service processes only."""
    return softhsm_token_env(tmp_path / "softhsm", TOKEN_LABEL)


@pytest.fixture
def pki_dir(tmp_path: Path) -> Path:
    pki.ensure_pki(tmp_path / "pki", ["keys", "intake", "notify", "operator"])
    return tmp_path / "pki"


@pytest.fixture
def idp() -> Iterator[FakeIdentityProvider]:
    with FakeIdentityProvider(realm="casedesk", audience=AUDIENCE) as provider:
        yield provider


def stub(
    service: ServiceProcess, pki_dir: Path, caller: str
) -> key_service_pb2_grpc.KeyServiceStub:
    return key_service_pb2_grpc.KeyServiceStub(channel(service, pki_dir, caller))


def channel(service: ServiceProcess, pki_dir: Path, caller: str) -> grpc.aio.Channel:
    return grpc.aio.secure_channel(service.address, pki.client_credentials(pki_dir, caller))


async def refusal(call: object) -> grpc.aio.AioRpcError:
    try:
        await call  # type: ignore[misc]
    except grpc.aio.AioRpcError as error:
        return error
    raise AssertionError("the call was not refused")


async def test_an_erasure_through_one_replica_holds_on_every_replica(
    services: ServiceLauncher,
    store_url: str,
    token_env: dict[str, str],
    pki_dir: Path,
    idp: FakeIdentityProvider,
    tmp_path: Path,
) -> None:
    index_key = os.urandom(32)
    (tmp_path / "index.key").write_text(base64.b64encode(index_key).decode())
    env = {
        **token_env,
        "CASEDESK_TLS_CERT_FILE": str(pki_dir / "keys.crt"),
        "CASEDESK_TLS_KEY_FILE": str(pki_dir / "keys.key"),
        "CASEDESK_TLS_CA_FILE": str(pki_dir / pki.CA_CERT),
        "CASEDESK_KEYS_STORE_URL": store_url,
        "CASEDESK_KEYS_INDEX_KEY_FILE": str(tmp_path / "index.key"),
        "CASEDESK_OIDC_ISSUER": idp.issuer,
        "CASEDESK_OIDC_AUDIENCE": AUDIENCE,
        "CASEDESK_KEYS_ERASURE_POLL_S": "0.5",
        "CASEDESK_METRICS_PORT": "0",
    }
    # The first replica makes the KEK in the token; the second finds it there.
    first = services("casedesk_keyservice", {**env, "CASEDESK_KEYS_KEK_CREATE": "true"})
    second = services("casedesk_keyservice", env)
    subjects = Subjects(IndexKey(index_key))
    a, b = subjects.of(CITIZEN_A), subjects.of(CITIZEN_B)

    intake = stub(first, pki_dir, "intake")
    key_a = await intake.GetCurrentKey(pb.GetCurrentKeyRequest(subject=str(a)))
    key_b = await intake.GetCurrentKey(pb.GetCurrentKeyRequest(subject=str(b)))
    notify = over(channel(second, pki_dir, "notify"), ttl_s=600)
    await notify.start()
    try:
        async with asyncio.timeout(10):
            await notify.follower.watching.wait()
        assert (
            await notify.cache.key(a, 1)
        ).secret() == key_a.key  # made on one, read on the other

        officer = [("x-person-token", idp.mint(username="p.orlova", roles=["privacy_officer"]))]
        order = pb.EraseCitizenRequest(
            identifiers=pb.CitizenIdentifiers(login=CITIZEN_A.login, snils=CITIZEN_A.snils),
            reason="ПД-2026-40",
        )
        erased = await stub(first, pki_dir, "operator").EraseCitizen(order, metadata=officer)
        started = time.monotonic()
        assert [s.erasure.subject for s in erased.subjects] == [
            str(s) for s in subjects.every(CITIZEN_A)
        ]

        while True:  # the second replica finds the erasure in the shared journal
            try:
                await notify.cache.key(a, 1)
            except KeyErased:
                break
            assert time.monotonic() - started < 10, "notify still uses the erased key"
            await asyncio.sleep(0.05)
        assert (await notify.cache.key(b, 1)).secret() == key_b.key
    finally:
        await notify.aclose()

    for replica in (first, second):
        error = await refusal(
            stub(replica, pki_dir, "intake").GetKey(pb.GetKeyRequest(subject=str(a), generation=1))
        )
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION

    assert first.terminate() == 0
    first.start()
    again = stub(first, pki_dir, "intake")
    error = await refusal(again.GetCurrentKey(pb.GetCurrentKeyRequest(subject=str(a))))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    journal = await anext(aiter(again.WatchErasures(pb.WatchErasuresRequest())))
    assert [e.subject for e in journal.erasures] == [str(s) for s in subjects.every(CITIZEN_A)]
    status = await stub(second, pki_dir, "operator").GetKeyStatus(pb.GetKeyStatusRequest())
    assert (status.kek_provider, status.erasures) == ("pkcs11", 2)
    assert [(v.kek_id, v.current, v.data_keys) for v in status.kek_versions] == [
        ("casedesk-kek.v1", True, 1)  # B's key; A's is gone
    ]
    with psycopg.connect(store_url, autocommit=True) as db:
        rows = db.execute(
            "SELECT wrapped IS NULL, erased_by FROM casedesk_data_keys WHERE subject = %s",
            (str(a),),
        ).fetchall()
    assert rows == [(True, "p.orlova")]
