"""The key service in-process, composed as `python -m casedesk_keyservice` composes it
(`__main__.compose`): mutual TLS with the access table, a SoftHSM2 token holding the KEK, the
key store and erasure journal in a SQLite file, person tokens from a fake identity provider on
loopback. Clients call as any identity of the session's development PKI (`stub_as("intake")`).

The SoftHSM2 token is the process's (casedesk_keys.testing: SoftHSM2 reads its configuration
once per process, so the suites of one pytest run share one token directory). Each service gets
a KEK label of its own in it.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from casedesk.keys.v1 import key_service_pb2_grpc
from casedesk_keys import IndexKey, Subjects
from casedesk_keys.settings import KeysSettings
from casedesk_keys.testing import SOFTHSM_MODULE, TOKEN_LABEL, SoftHsmMissing, process_token
from casedesk_keyservice.__main__ import KeyServiceProcess, compose
from casedesk_keyservice.settings import KeyServiceSettings
from casedesk_runtime import pki
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider

AUDIENCE = "casedesk-case"
CALLERS = ("keys", "intake", "case", "notify", "operator", "sla", "escalation", "desk")


@dataclass(frozen=True)
class Token:
    """The session's SoftHSM2 token: where its PIN is written."""

    pin_file: Path


@pytest.fixture(scope="session")
def softhsm_token() -> Token:
    try:
        return Token(process_token().pin_file)
    except SoftHsmMissing as missing:
        pytest.fail(str(missing), pytrace=False)


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pki")
    pki.ensure_pki(out, list(CALLERS))
    return out


@pytest.fixture(scope="module")
def idp() -> Iterator[FakeIdentityProvider]:
    with FakeIdentityProvider(realm="casedesk", audience=AUDIENCE) as provider:
        yield provider


@dataclass
class RunningKeyService:
    process: KeyServiceProcess
    port: int
    pki_dir: Path
    subjects: Subjects
    keys_settings: KeysSettings
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    def channel_as(self, caller: str) -> grpc.aio.Channel:
        """A channel presenting `caller`'s certificate from the session's PKI."""
        channel = grpc.aio.secure_channel(
            f"127.0.0.1:{self.port}", pki.client_credentials(self.pki_dir, caller)
        )
        self.channels.append(channel)
        return channel

    def stub_as(self, caller: str) -> key_service_pb2_grpc.KeyServiceStub:
        return key_service_pb2_grpc.KeyServiceStub(self.channel_as(caller))


def keys_settings(tmp_path: Path, token: Token) -> KeysSettings:
    index_key_file = tmp_path / "index.key"
    index_key_file.write_text(base64.b64encode(os.urandom(32)).decode())
    return KeysSettings(
        kek_provider="pkcs11",
        kek_label=f"kek-{uuid.uuid4().hex[:12]}",
        kek_create=True,
        pkcs11_module=SOFTHSM_MODULE,
        pkcs11_token_label=TOKEN_LABEL,
        pkcs11_pin_file=token.pin_file,
        store_url=str(tmp_path / "keys.sqlite"),
        index_key_file=index_key_file,
    )


def service_settings(pki_dir: Path, idp: FakeIdentityProvider | None) -> KeyServiceSettings:
    return KeyServiceSettings(
        grpc_port=0,
        metrics_port=0,
        tls_cert_file=str(pki_dir / "keys.crt"),
        tls_key_file=str(pki_dir / "keys.key"),
        tls_ca_file=str(pki_dir / pki.CA_CERT),
        oidc_issuer=idp.issuer if idp else None,
        oidc_audience=AUDIENCE if idp else None,
        keys_erasure_poll_s=0.2,
    )


@asynccontextmanager
async def running_key_service(
    settings: KeyServiceSettings, keys: KeysSettings, pki_dir: Path
) -> AsyncIterator[RunningKeyService]:
    process = await compose(settings, keys)
    port = await process.start()
    assert keys.index_key_file is not None
    subjects = Subjects(IndexKey.from_file(keys.index_key_file))
    running = RunningKeyService(process, port, pki_dir, subjects, keys)
    try:
        yield running
    finally:
        for channel in running.channels:
            await channel.close()
        await process.stop(grace=0)


@pytest.fixture
async def key_service(
    tmp_path: Path, softhsm_token: Token, pki_dir: Path, idp: FakeIdentityProvider
) -> AsyncIterator[RunningKeyService]:
    settings = service_settings(pki_dir, idp)
    async with running_key_service(settings, keys_settings(tmp_path, softhsm_token), pki_dir) as s:
        yield s


def officer_token(idp: FakeIdentityProvider, username: str = "p.orlova") -> list[tuple[str, str]]:
    """Metadata of a call made for a privacy officer."""
    return [("x-person-token", idp.mint(username=username, roles=["privacy_officer"]))]


async def refused(call: object) -> grpc.aio.AioRpcError:
    try:
        await call  # type: ignore[misc]
    except grpc.aio.AioRpcError as error:
        return error
    raise AssertionError("the call was not refused")
