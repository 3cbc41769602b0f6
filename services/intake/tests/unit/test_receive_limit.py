"""The receive limit: room for every valid request, derived from the attachment settings."""

from __future__ import annotations

import hashlib

import pytest
from intake_messages import MASTER_KEY

from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk_intake.domain.field_rules import TextLimits
from casedesk_intake.domain.request_limits import (
    ENVELOPE_BYTES,
    MAX_RAW_EMAIL_BYTES,
    MIB,
    default_receive_limit,
)
from casedesk_intake.settings import IntakeSettings
from casedesk_runtime.settings import SettingsError, load_settings

WIDE = "𝔸"  # four bytes in UTF-8: the longest a character can be


def _texts(limit: int) -> str:
    return WIDE * limit


def _largest_uploads(total: int, count: int) -> list[intake_pb2.AttachmentUpload]:
    size = total // count
    return [
        intake_pb2.AttachmentUpload(
            file_name=_texts(255),
            media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            content=b"\xff" * size,
            sha256=hashlib.sha256(b"").hexdigest(),
        )
        for _ in range(count)
    ]


def _largest_submission(settings: IntakeSettings) -> intake_pb2.SubmitCaseRequest:
    limits = TextLimits()
    return intake_pb2.SubmitCaseRequest(
        idempotency_key="k" * 128,
        channel=types_pb2.SOCIAL,
        citizen=types_pb2.Citizen(
            full_name=_texts(limits.full_name),
            snils="112-233-445 95",
            inn="500100732259",
            account_login="l" * limits.account_login,
            mobile_phone="+7 (912) 345-67-89",
            email="e" * 254,
        ),
        content=types_pb2.CaseContent(
            subject=_texts(limits.subject),
            description=_texts(limits.description),
            service_name=_texts(limits.service_name),
            service_code="c" * limits.service_code,
            steps_taken=_texts(limits.steps_taken),
        ),
        provenance=types_pb2.Provenance(
            social=types_pb2.SocialOrigin(
                network="telegram",
                post_reference=_texts(limits.reference),
                author_handle=_texts(limits.reference),
            )
        ),
        attachments=_largest_uploads(
            settings.attachments_max_total_bytes, settings.attachment_max_count
        ),
    )


def _settings(**values: object) -> IntakeSettings:
    return load_settings(IntakeSettings, master_key=MASTER_KEY, **values)


def test_the_default_limit_holds_the_largest_valid_requests() -> None:
    settings = _settings()
    limit = settings.max_receive_bytes()
    assert limit == MAX_RAW_EMAIL_BYTES + ENVELOPE_BYTES == 4 * MIB + 256 * 1024
    assert _largest_submission(settings).ByteSize() <= limit
    comment = intake_pb2.AddCommentRequest(
        idempotency_key="k" * 128,
        case_number="2026-000000000001",
        body=_texts(TextLimits().comment),
        attachments=_largest_uploads(
            settings.attachments_max_total_bytes, settings.attachment_max_count
        ),
    )
    assert comment.ByteSize() <= limit
    email = intake_pb2.IngestEmailRequest(
        idempotency_key="k" * 128, raw_message=b"x" * MAX_RAW_EMAIL_BYTES
    )
    assert email.ByteSize() <= limit


def test_larger_attachments_raise_the_default_limit() -> None:
    settings = _settings(attachments_max_total_bytes=6 * MIB, attachment_max_bytes=6 * MIB)
    assert settings.max_receive_bytes() == default_receive_limit(6 * MIB) == 6 * MIB + 256 * 1024
    assert _largest_submission(settings).ByteSize() <= settings.max_receive_bytes()


def test_an_explicit_limit_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEDESK_GRPC_MAX_RECEIVE_BYTES", str(8 * MIB))
    assert _settings().max_receive_bytes() == 8 * MIB


def test_a_limit_too_small_for_the_attachments_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CASEDESK_GRPC_MAX_RECEIVE_BYTES", str(MIB))
    with pytest.raises(SettingsError) as refused:
        _settings()
    message = str(refused.value)
    assert "CASEDESK_GRPC_MAX_RECEIVE_BYTES (1048576)" in message
    assert "CASEDESK_ATTACHMENTS_MAX_TOTAL_BYTES" in message
    fitting = _settings(attachments_max_total_bytes=MIB // 2, attachment_max_bytes=MIB // 2)
    assert fitting.max_receive_bytes() == MIB, "with smaller attachments the limit fits"


@pytest.mark.parametrize(
    "variable",
    ["CASEDESK_FRONTEND_MAX_CONCURRENT_CALLS", "CASEDESK_TOKENLESS_MAX_CONCURRENT_CALLS"],
)
def test_concurrency_limits_are_at_least_one(monkeypatch: pytest.MonkeyPatch, variable) -> None:
    monkeypatch.setenv(variable, "0")
    with pytest.raises(SettingsError, match=variable):
        _settings()
