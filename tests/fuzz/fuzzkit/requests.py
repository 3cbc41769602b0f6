"""Valid requests to start the gRPC fuzzing from, and values that get past validation.

`templates(known)` is one valid request per RPC (for the mutation strategy), `fit(template,
identity)` the same request as that caller must send it (a person's command names no actor: the
token does; a frontend uses its own channel). `hints(known)` offers cases that exist, and valid
contact data, for the fields of those names. An RPC without a template (a new one) is fuzzed
from random requests: they still reach its validation.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from google.protobuf.message import Message
from hypothesis import strategies as st

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.case.v1 import events_pb2 as case_events
from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import attachment_vault_pb2 as vault_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk.keys.v1 import key_service_pb2 as keys_pb2
from fuzzkit.callers import CITIZEN_LOGIN, Identity
from fuzzkit.mail import mails, plain_mail
from fuzzkit.stack import CASE_SERVICE, KEY_SERVICE

if TYPE_CHECKING:
    from fuzzkit.planting import Known

PDF = b"%PDF-1.7\n% a scanned statement\n"
CITIZEN_EMAIL = "ivanov@example.ru"
VALID_SNILS = "112-233-445 95"
VALID_INN = "500100732259"
KEYS = "casedesk.keys.v1."  # the key service's messages, for hints by full field name
# A reference, as a privacy officer's tool or the retention job gives it (never personal data).
ERASURE_REASONS = ["ERASE-2025-0042", "retention: closed over 5 years ago"]


def erasure_order() -> keys_pb2.EraseCitizenRequest:
    """A privacy officer's order for the citizen of `create_case` (Петров), by every identifier
    the order knows; the stack's other services do not use the key service yet, so erasing him
    changes nothing else."""
    return keys_pb2.EraseCitizenRequest(
        identifiers=keys_pb2.CitizenIdentifiers(
            login="petrov.pp",
            snils="123-456-789 64",
            email="petrov@example.ru",
            phone="+7 (916) 123-45-67",
        ),
        reason=ERASURE_REASONS[0],
    )


def citizen() -> types_pb2.Citizen:
    return types_pb2.Citizen(
        full_name="Иванов Иван Иванович",
        snils=VALID_SNILS,
        inn=VALID_INN,
        mobile_phone="+7 (912) 345-67-89",
        email=CITIZEN_EMAIL,
        account_login=CITIZEN_LOGIN,
        preferred_contact=types_pb2.CONTACT_SMS_AND_EMAIL,
    )


def upload(content: bytes = PDF) -> intake_pb2.AttachmentUpload:
    return intake_pb2.AttachmentUpload(
        file_name="заявление.pdf",
        media_type="application/pdf",
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
    )


def submission(key: str, attachment: bool = False) -> intake_pb2.SubmitCaseRequest:
    return intake_pb2.SubmitCaseRequest(
        idempotency_key=key,
        channel=types_pb2.PERSONAL_ACCOUNT,
        citizen=citizen(),
        content=types_pb2.CaseContent(
            subject="Не могу войти в личный кабинет",
            description="Пишет неверный пароль, хотя пароль верный.",
            service_name="Вход на портал",
        ),
        provenance=types_pb2.Provenance(
            personal_account=types_pb2.PersonalAccountOrigin(form_id="feedback-form")
        ),
        attachments=[upload()] if attachment else [],
    )


def command(key: str = "", kind: int = types_pb2.Actor.SYSTEM, actor: str = "intake") -> Any:
    return case_pb2.CommandContext(
        idempotency_key=key or str(uuid.uuid4()),
        actor=types_pb2.Actor(kind=kind, id=actor),  # type: ignore[arg-type]
        correlation_id="corr-fuzz",
    )


def create_case(key: str = "") -> case_pb2.CreateCaseRequest:
    return case_pb2.CreateCaseRequest(
        context=command(key),
        channel=types_pb2.SOCIAL,
        type=types_pb2.TECHNICAL,
        category=types_pb2.TECHNICAL_FAULT,
        citizen=types_pb2.Citizen(
            full_name="Петров Пётр",
            account_login="petrov.pp",
            mobile_phone="+79161234567",
            preferred_contact=types_pb2.CONTACT_SMS,
        ),
        content=types_pb2.CaseContent(subject="Раздел недоступен", service_code="10000000"),
        provenance=types_pb2.Provenance(
            social=types_pb2.SocialOrigin(network="vk", post_reference="wall-1_2")
        ),
    )


def templates(known: Known) -> dict[str, Message]:
    """One valid request per RPC path (the ones the contracts have today)."""
    case_id, number = known.case_ids[0], known.numbers[0]
    citizen_ctx = command(kind=types_pb2.Actor.CITIZEN, actor=CITIZEN_LOGIN)
    attachment = known.attachment or types_pb2.Attachment()
    intake = "/casedesk.intake.v1.IntakeService/"
    vault = "/casedesk.intake.v1.AttachmentVaultService/"
    case = f"/{CASE_SERVICE}/"
    keys, live = f"/{KEY_SERVICE}/", known.live_subjects[0]
    return {
        intake + "SubmitCase": submission("template", attachment=True),
        intake + "AddComment": intake_pb2.AddCommentRequest(
            idempotency_key="c-1",
            case_number=number,
            body="Прикладываю скан",
            attachments=[upload()],
        ),
        intake + "RepeatCase": intake_pb2.RepeatCaseRequest(
            idempotency_key="r-1", case_number=known.answered_number, reason="Снова не работает"
        ),
        intake + "RequestEscalation": intake_pb2.RequestEscalationRequest(
            idempotency_key="e-1",
            case_number=number,
            reason=case_events.ESCALATION_REASON_UNSPECIFIED + 1,
            explanation="Нет ответа неделю",
        ),
        intake + "GetCase": intake_pb2.GetCaseRequest(case_number=number),
        intake + "ListMyCases": intake_pb2.ListMyCasesRequest(page_size=5),
        intake + "IngestEmail": intake_pb2.IngestEmailRequest(
            idempotency_key="<m-1@example.ru>",
            raw_message=plain_mail(f"Обращение в службу поддержки - {number}"),
        ),
        intake + "RequestAccessCode": intake_pb2.RequestAccessCodeRequest(case_number=number),
        intake + "ConfirmAnswer": intake_pb2.ConfirmAnswerRequest(
            idempotency_key="a-1", case_number=known.answered_number
        ),
        intake + "RateAnswer": intake_pb2.RateAnswerRequest(
            idempotency_key="s-1", case_number=known.answered_number, score=5, comment="Спасибо"
        ),
        intake + "WatchMyCase": intake_pb2.WatchMyCaseRequest(case_number=number),
        vault + "OpenAttachment": vault_pb2.OpenAttachmentRequest(
            case_id=case_id, attachment_id=known.attachment_ids[0]
        ),
        case + "CreateCase": create_case(),
        case + "CreateCases": case_pb2.CreateCasesRequest(cases=[create_case(), create_case()]),
        case + "AddComment": case_pb2.AddCommentRequest(
            context=citizen_ctx, case_id=case_id, body="Жду ответа", public=True
        ),
        case + "ChangeStatus": case_pb2.ChangeStatusRequest(
            context=command(), case_id=case_id, action=case_pb2.TAKE_IN_WORK
        ),
        case + "RepeatCase": case_pb2.RepeatCaseRequest(
            context=citizen_ctx, case_id=known.answered_case_id, reason="Снова не работает"
        ),
        case + "RequestEscalation": case_pb2.RequestEscalationRequest(
            context=citizen_ctx, case_id=case_id, reason=1, explanation="Долго"
        ),
        case + "Escalate": case_pb2.EscalateRequest(
            context=command(), case_id=case_id, to_tier=types_pb2.L2, reason=1, cause_ref="sla-1"
        ),
        case + "Assign": case_pb2.AssignRequest(context=command(), case_id=case_id),
        case + "AddAttachment": case_pb2.AddAttachmentRequest(
            context=citizen_ctx, case_id=case_id, attachment=attachment
        ),
        case + "ConfirmAnswer": case_pb2.ConfirmAnswerRequest(
            context=citizen_ctx, case_id=known.answered_case_id
        ),
        case + "RateAnswer": case_pb2.RateAnswerRequest(
            context=citizen_ctx, case_id=known.answered_case_id, score=4, comment="Помогло"
        ),
        case + "CloseCase": case_pb2.CloseCaseRequest(
            context=command(), case_id=case_id, reason=case_events.SPAM, explanation="Реклама"
        ),
        case + "MergeCases": case_pb2.MergeCasesRequest(
            context=command(), duplicate_case_id=case_id, target_case_id=known.case_ids[-1]
        ),
        case + "RecordCallback": case_pb2.RecordCallbackRequest(
            context=command(), case_id=case_id, reached=True, note="Дозвонились"
        ),
        case + "GetCase": case_pb2.GetCaseRequest(case_id=case_id),
        case + "GetHistory": case_pb2.GetHistoryRequest(case_id=case_id),
        case + "ListCases": case_pb2.ListCasesRequest(page_size=10),
        case + "WatchCase": case_pb2.WatchCaseRequest(case_id=case_id),
        case + "WatchQueue": case_pb2.WatchQueueRequest(),
        case + "GetCaseTimeline": case_pb2.GetCaseTimelineRequest(case_id=case_id),
        case + "GetDeskOverview": case_pb2.GetDeskOverviewRequest(),
        case + "ListAccessRecords": case_pb2.ListAccessRecordsRequest(case_id=case_id),
        keys + "GetCurrentKey": keys_pb2.GetCurrentKeyRequest(subject=live),
        keys + "GetKey": keys_pb2.GetKeyRequest(subject=live, generation=1),
        keys + "ReopenSubject": keys_pb2.ReopenSubjectRequest(subject=known.erased_subject),
        keys + "EraseCitizen": erasure_order(),
        keys + "WatchErasures": keys_pb2.WatchErasuresRequest(after_position=0),
        keys + "GetKeyStatus": keys_pb2.GetKeyStatusRequest(),
    }


def fit(template: Message, identity: Identity) -> Message:
    """`template` as `identity` sends it: a person's command names no actor (the token says who
    acts) and registers only PHONE and MFC cases; a service acting as the system names itself;
    a frontend submits on a channel of its own."""
    message = type(template)()
    message.CopyFrom(template)
    contexts = [c.context for c in getattr(message, "cases", ())]
    if "context" in message.DESCRIPTOR.fields_by_name:
        contexts.append(message.context)  # type: ignore[attr-defined]
    for context in contexts:
        if identity.certificate in ("desk", "operator"):
            context.ClearField("actor")
            context.ClearField("identified_by")
        elif context.actor.kind == types_pb2.Actor.SYSTEM:
            context.actor.id = identity.certificate or ""
    creates = [*getattr(message, "cases", ())]
    if isinstance(message, case_pb2.CreateCaseRequest):
        creates.append(message)
    for create in creates:
        if identity.certificate in ("desk", "operator"):
            create.channel = types_pb2.PHONE
            create.provenance.phone.call_id = "call-1"
    if isinstance(message, intake_pb2.SubmitCaseRequest) and identity.frontend in FRONTEND_OF:
        channel, provenance = FRONTEND_OF[identity.frontend]
        message.channel = channel  # type: ignore[assignment]
        message.provenance.CopyFrom(provenance)
        if identity.frontend == "mail-gateway":  # no token proves a portal login
            message.citizen.ClearField("account_login")
    return message


# A frontend's own channel, and the provenance a case of that channel carries.
FRONTEND_OF = {
    "mail-gateway": (
        types_pb2.EMAIL,
        types_pb2.Provenance(
            email=types_pb2.EmailOrigin(message_id="m-1@mail.ru", from_address=CITIZEN_EMAIL)
        ),
    ),
    "contact-centre": (
        types_pb2.PHONE,
        types_pb2.Provenance(
            phone=types_pb2.PhoneOrigin(call_id="call-9", caller_number="+79123456789")
        ),
    ),
}


def fresh_keys(message: Message) -> Message:
    """The same request under new idempotency keys (and a new attachment to add): a template's
    key, once used, would only replay its first answer or refuse a changed request as reuse."""
    if isinstance(message, case_pb2.AddAttachmentRequest) and message.HasField("attachment"):
        message.attachment.attachment_id = str(uuid.uuid4())
    for field, value in message.ListFields():
        if field.name == "idempotency_key":
            setattr(message, field.name, str(uuid.uuid4()))
        elif field.message_type is not None and not field.message_type.GetOptions().map_entry:
            for sub in value if field.is_repeated else [value]:
                fresh_keys(sub)
    return message


def hints(known: Known) -> Mapping[str, st.SearchStrategy[Any]]:
    """Values that exist or pass validation, offered for the fields of these names."""
    case_ids = st.sampled_from(known.case_ids) | st.uuids().map(str)
    numbers = st.sampled_from(known.numbers) | st.from_regex(r"\A20\d\d-\d{7}\Z")
    keys = st.sampled_from(["k-1", "k-2", "<m-1@example.ru>"]) | st.uuids().map(str)
    tokens = st.sampled_from(known.page_tokens) if known.page_tokens else st.just("")
    return {
        "case_id": case_ids,
        "linked_to": case_ids,
        "case_number": numbers,
        "number": numbers,
        "attachment_id": st.sampled_from(known.attachment_ids),
        "idempotency_key": keys,
        "page_token": tokens | st.just("bm90LWEtdG9rZW4"),
        "citizen_login": st.just(CITIZEN_LOGIN),
        "account_login": st.just(CITIZEN_LOGIN),
        "email": st.sampled_from([CITIZEN_EMAIL, "Ivanov@Example.RU", "иван@пример.рф"]),
        "mobile_phone": st.sampled_from(["+79123456789", "8 (912) 345-67-89"]),
        "snils": st.just(VALID_SNILS),
        "inn": st.just(VALID_INN),
        "media_type": st.sampled_from(["application/pdf", "image/jpeg", "text/html"]),
        "casedesk.intake.v1.AttachmentUpload.content": st.just(PDF),
        "casedesk.intake.v1.IngestEmailRequest.raw_message": mails(known.numbers),
        "sha256": st.just(hashlib.sha256(PDF).hexdigest()),
        "specialist_id": st.sampled_from(["l1-001", "l1-004", "l3-001"]),
        "person": st.sampled_from(["l1.ivanova", "l3.sidorova"]),
        "traceparent": st.just("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        **key_hints(known),
    }


def key_hints(known: Known) -> dict[str, st.SearchStrategy[Any]]:
    """The key service's fields, by full name (a bare `subject` or `reason` is also a case's
    text): subjects that have keys, an erased one and new ones; generations that exist; an
    erasure order names only the erased subject or new ones (the live subjects stay live for
    the other targets), by identifiers the subjects derive from, for a reason fit to keep."""
    new = st.uuids().map(lambda u: u.hex)
    subjects = st.sampled_from([*known.live_subjects, known.erased_subject]) | new
    return {
        KEYS + "GetCurrentKeyRequest.subject": subjects,
        KEYS + "GetKeyRequest.subject": subjects,
        KEYS + "ReopenSubjectRequest.subject": subjects,
        KEYS + "GetKeyRequest.generation": st.integers(1, 3),
        KEYS + "EraseCitizenRequest.subjects": st.just(known.erased_subject) | new,
        KEYS + "EraseCitizenRequest.reason": st.sampled_from(ERASURE_REASONS),
        KEYS + "CitizenIdentifiers.login": st.sampled_from(["petrov.pp", "Petrov.PP "]),
        KEYS + "CitizenIdentifiers.phone": st.sampled_from(["+79161234567", "8 916 123-45-67"]),
        KEYS + "WatchErasuresRequest.after_position": st.integers(0, 3),
    }
