"""Valid requests of every channel, to be spoiled one field at a time by the tests, and the
refusal a call ends with."""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import uuid
from collections.abc import Awaitable
from typing import Any

import grpc
import pytest

from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk_intake.domain.frontends import CHANNELS
from casedesk_intake.settings import FrontendEntry
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider

VALID_SNILS = "112-233-445 95"
VALID_INN = "500100732259"
MASTER_KEY = base64.b64encode(os.urandom(32)).decode()
PDF = b"%PDF-1.7\n% a scanned statement\n"
ALL_CHECKS = [
    types_pb2.PROFILE_MOBILE_NUMBER,
    types_pb2.PROFILE_NAME_BIRTH_DATE_SNILS,
    types_pb2.SMS_ONE_TIME_CODE,
]

# One token per frontend; "desk-all" may use every channel.
TOKENS = {
    "portal-chat": ("chat-token-0123456789", ["PORTAL_CHAT"]),
    "personal-account": ("account-token-0123456789", ["PERSONAL_ACCOUNT"]),
    "mail-gateway": ("mail-token-0123456789", ["EMAIL"]),
    "contact-centre": ("phone-token-0123456789", ["PHONE"]),
    "social-moderation": ("social-token-0123456789", ["SOCIAL"]),
    "mfc-desk": ("mfc-token-0123456789", ["MFC"]),
    "desk-all": ("all-token-0123456789", list(CHANNELS)),
}
FRONTEND_OF_CHANNEL = {
    "PORTAL_CHAT": "portal-chat",
    "PERSONAL_ACCOUNT": "personal-account",
    "EMAIL": "mail-gateway",
    "PHONE": "contact-centre",
    "SOCIAL": "social-moderation",
    "MFC": "mfc-desk",
}


def frontend_entries() -> list[FrontendEntry]:
    return [
        FrontendEntry(
            name=name, token_sha256=hashlib.sha256(token.encode()).hexdigest(), channels=channels
        )
        for name, (token, channels) in TOKENS.items()
    ]


PORTAL_AUDIENCE = STAFF_AUDIENCE = "casedesk-intake"
PORTAL_CLIENT = "casedesk-portal-frontend"


@functools.cache
def portal() -> FakeIdentityProvider:
    """The portal's sign-in, for the whole test session (its own thread, never stopped)."""
    return FakeIdentityProvider(realm="portal", audience=PORTAL_AUDIENCE).start()


@functools.cache
def staff() -> FakeIdentityProvider:
    """The staff's identity provider (realm casedesk), for operators' tokens."""
    return FakeIdentityProvider(realm="casedesk", audience=STAFF_AUDIENCE).start()


@functools.cache
def citizen_token(login: str) -> str:
    return portal().mint_citizen(login, expires_in=3600, extra={"azp": PORTAL_CLIENT})


@functools.cache
def operator_token(username: str = "l1.ivanova", role: str = "specialist") -> str:
    return staff().mint_specialist(username, tier="L1", roles=[role], expires_in=3600)


def identity_settings() -> dict[str, object]:
    return {
        "citizen_oidc_issuer": portal().issuer,
        "citizen_oidc_audience": PORTAL_AUDIENCE,
        "oidc_issuer": staff().issuer,
        "oidc_audience": STAFF_AUDIENCE,
    }


def frontend_only(frontend: str = "desk-all") -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {TOKENS[frontend][0]}")]


def metadata(frontend: str = "desk-all", login: str | None = "ivanov.ii") -> tuple:
    """The frontend's token and, from a frontend serving a portal channel, the citizen's
    portal token for `login` (as the portal's frontends forward it)."""
    pairs = frontend_only(frontend)
    portal_frontend = {"PORTAL_CHAT", "PERSONAL_ACCOUNT"} & set(TOKENS[frontend][1])
    if login and portal_frontend:
        pairs.append(("x-citizen-token", citizen_token(login)))
    return tuple(pairs)


def as_operator(frontend: str = "contact-centre", username: str = "l1.ivanova") -> tuple:
    return (*frontend_only(frontend), ("x-person-token", operator_token(username)))


def with_code(frontend: str, code: str) -> tuple:
    return (*frontend_only(frontend), ("x-case-access-code", code))


def provenance(channel: str) -> types_pb2.Provenance:
    return {
        "PORTAL_CHAT": types_pb2.Provenance(chat=types_pb2.ChatOrigin(session_id="chat-77")),
        "PERSONAL_ACCOUNT": types_pb2.Provenance(
            personal_account=types_pb2.PersonalAccountOrigin(form_id="feedback-form")
        ),
        "EMAIL": types_pb2.Provenance(
            email=types_pb2.EmailOrigin(
                message_id="m-1@mail.example.ru", from_address="ivanov@example.ru"
            )
        ),
        # A call from abroad (a German number): the operator identified the caller all three ways.
        "PHONE": types_pb2.Provenance(
            phone=types_pb2.PhoneOrigin(
                call_id="call-9", caller_number="+49 151 2345 6789", caller_checks=ALL_CHECKS
            )
        ),
        "SOCIAL": types_pb2.Provenance(
            social=types_pb2.SocialOrigin(
                network="Telegram", post_reference="@gosuslugi:12345", author_handle="@ivanov"
            )
        ),
        "MFC": types_pb2.Provenance(
            mfc=types_pb2.MfcOrigin(office_code="MFC-77-012", operator_id="op-5")
        ),
    }[channel]


def submission(
    channel: str = "PERSONAL_ACCOUNT", key: str | None = None, **content: str
) -> intake_pb2.SubmitCaseRequest:
    return intake_pb2.SubmitCaseRequest(
        idempotency_key=key or str(uuid.uuid4()),
        channel=types_pb2.Channel.Value(channel),
        citizen=types_pb2.Citizen(
            full_name="Иванов Иван Иванович",
            snils=VALID_SNILS,
            inn=VALID_INN,
            mobile_phone="+7 (912) 345-67-89",
            email="ivanov@example.ru",
            preferred_contact=types_pb2.CONTACT_SMS_AND_EMAIL,
        ),
        content=types_pb2.CaseContent(
            subject=content.get("subject", "Не могу войти в личный кабинет"),
            description=content.get("description", "Пишет неверный пароль, хотя пароль верный."),
            service_name=content.get("service_name", "Вход на портал"),
            service_code=content.get("service_code", ""),
        ),
        provenance=provenance(channel),
    )


def upload(content: bytes = PDF, name: str = "заявление.pdf") -> intake_pb2.AttachmentUpload:
    return intake_pb2.AttachmentUpload(
        file_name=name,
        media_type="application/pdf",
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
    )


async def refusal(call: Awaitable[Any]) -> grpc.aio.AioRpcError:
    """The error `call` is refused with (the test fails if it is answered)."""
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call
    return refused.value
