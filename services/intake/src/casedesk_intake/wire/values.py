"""The shared value messages (casedesk.common.v1) <-> domain values."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from google.protobuf import timestamp_pb2

from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk_intake.domain.attachment_rules import Upload
from casedesk_intake.domain.cases import StoredAttachment
from casedesk_intake.domain.citizens import Citizen
from casedesk_intake.domain.submissions import (
    CallerCheck,
    CaseContent,
    ChatOrigin,
    EmailOrigin,
    MfcOrigin,
    Origin,
    PersonalAccountOrigin,
    PhoneOrigin,
    SocialOrigin,
)
from casedesk_intake.wire.enums import from_proto, to_proto
from casedesk_runtime.events import from_timestamp, to_timestamp
from casedesk_vocabulary.enums import ContactChannel


def optional_instant(message: object, field: str) -> datetime | None:
    """The instant in `message.field`, None when unset."""
    if not message.HasField(field):  # type: ignore[attr-defined]
        return None
    return from_timestamp(getattr(message, field))


def stamp(moment: datetime | None) -> timestamp_pb2.Timestamp | None:
    return None if moment is None else to_timestamp(moment)


def citizen(message: types_pb2.Citizen) -> Citizen:
    return Citizen(
        full_name=message.full_name,
        snils=message.snils,
        inn=message.inn,
        account_login=message.account_login,
        mobile_phone=message.mobile_phone,
        email=message.email,
        preferred_contact=(
            from_proto(ContactChannel, message.preferred_contact) or ContactChannel.UNSPECIFIED
        ),
    )


def citizen_message(value: Citizen) -> types_pb2.Citizen:
    return types_pb2.Citizen(
        full_name=value.full_name,
        snils=value.snils,
        inn=value.inn,
        account_login=value.account_login,
        mobile_phone=value.mobile_phone,
        email=value.email,
        preferred_contact=to_proto(value.preferred_contact),  # type: ignore[arg-type]
    )


def content(message: types_pb2.CaseContent, problem_occurred_at: datetime | None) -> CaseContent:
    return CaseContent(
        subject=message.subject,
        description=message.description,
        problem_occurred_at=problem_occurred_at,
        service_name=message.service_name,
        service_code=message.service_code,
        steps_taken=message.steps_taken,
    )


def content_message(value: CaseContent) -> types_pb2.CaseContent:
    return types_pb2.CaseContent(
        subject=value.subject,
        description=value.description,
        problem_occurred_at=stamp(value.problem_occurred_at),
        service_name=value.service_name,
        service_code=value.service_code,
        steps_taken=value.steps_taken,
    )


def origin(message: types_pb2.Provenance) -> Origin | None:
    given = message.WhichOneof("origin")
    if given == "chat":
        return ChatOrigin(message.chat.session_id)
    if given == "personal_account":
        return PersonalAccountOrigin(message.personal_account.form_id)
    if given == "email":
        return EmailOrigin(message.email.message_id, message.email.from_address)
    if given == "phone":
        call = message.phone
        checks = tuple(caller_check(number) for number in call.caller_checks)
        return PhoneOrigin(call.call_id, call.caller_number, call.from_abroad, checks)
    if given == "social":
        post = message.social
        return SocialOrigin(
            post.network, post.post_reference, post.author_handle, post.private_message
        )
    if given == "mfc":
        return MfcOrigin(message.mfc.office_code, message.mfc.operator_id)
    return None


def provenance_message(value: Origin | None) -> types_pb2.Provenance:
    if isinstance(value, ChatOrigin):
        return types_pb2.Provenance(chat=types_pb2.ChatOrigin(session_id=value.session_id))
    if isinstance(value, PersonalAccountOrigin):
        return types_pb2.Provenance(
            personal_account=types_pb2.PersonalAccountOrigin(form_id=value.form_id)
        )
    if isinstance(value, EmailOrigin):
        return types_pb2.Provenance(
            email=types_pb2.EmailOrigin(
                message_id=value.message_id, from_address=value.from_address
            )
        )
    if isinstance(value, PhoneOrigin):
        return types_pb2.Provenance(
            phone=types_pb2.PhoneOrigin(
                call_id=value.call_id,
                caller_number=value.caller_number,
                from_abroad=value.from_abroad,
                caller_checks=[
                    types_pb2.CallerCheck.Value(check.value)
                    for check in value.caller_checks
                    if check is not None
                ],
            )
        )
    if isinstance(value, SocialOrigin):
        return types_pb2.Provenance(
            social=types_pb2.SocialOrigin(
                network=value.network,
                post_reference=value.post_reference,
                author_handle=value.author_handle,
                private_message=value.private_message,
            )
        )
    if isinstance(value, MfcOrigin):
        return types_pb2.Provenance(
            mfc=types_pb2.MfcOrigin(office_code=value.office_code, operator_id=value.operator_id)
        )
    return types_pb2.Provenance()


def caller_check(number: int) -> CallerCheck | None:
    """The check of this enum number; None for its zero and for numbers the contract lacks."""
    if number == types_pb2.CALLER_CHECK_UNSPECIFIED:
        return None
    try:
        return CallerCheck(types_pb2.CallerCheck.Name(number))
    except ValueError:
        return None


def uploads(messages: Iterable[intake_pb2.AttachmentUpload]) -> tuple[Upload, ...]:
    return tuple(Upload(a.file_name, a.media_type, a.content, a.sha256) for a in messages)


def upload_messages(values: Iterable[Upload]) -> list[intake_pb2.AttachmentUpload]:
    return [
        intake_pb2.AttachmentUpload(
            file_name=u.file_name, media_type=u.media_type, content=u.content, sha256=u.sha256
        )
        for u in values
    ]


def attachment_messages(values: Iterable[StoredAttachment]) -> list[types_pb2.Attachment]:
    return [
        types_pb2.Attachment(
            attachment_id=a.attachment_id,
            file_name=a.file_name,
            media_type=a.media_type,
            size_bytes=a.size_bytes,
            sha256=a.sha256,
        )
        for a in values
    ]


def stored_attachments(messages: Iterable[types_pb2.Attachment]) -> tuple[StoredAttachment, ...]:
    return tuple(
        StoredAttachment(
            attachment_id=m.attachment_id,
            file_name=m.file_name,
            media_type=m.media_type,
            size_bytes=m.size_bytes,
            sha256=m.sha256,
        )
        for m in messages
    )
