"""SubmitCase: the fields every channel needs, and those only some channels need.

| channel          | provenance (required fields)        | also required                      |
|------------------|-------------------------------------|------------------------------------|
| PORTAL_CHAT      | chat.session_id                     | citizen login                      |
| PERSONAL_ACCOUNT | personal_account.form_id            | citizen login                      |
| EMAIL            | email.message_id, email.from_address| (citizen e-mail defaults to sender)|
| PHONE            | phone.call_id, phone.caller_number  | full name                          |
| SOCIAL           | social.network, social.post_reference| (no contact needed: answered there)|
| MFC              | mfc.office_code, mfc.operator_id    | full name, SNILS or INN            |

Every channel but SOCIAL needs a mobile phone or an e-mail, so status changes can be notified.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta

from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk_intake.domain.attachment_rules import AttachmentRules, Upload
from casedesk_intake.validation import fields
from casedesk_intake.validation.fields import TextLimits, Violations
from casedesk_intake.validation.provenance import ORIGIN_OF_CHANNEL, ProvenanceCheck

_LOGIN_REQUIRED = frozenset({"PORTAL_CHAT", "PERSONAL_ACCOUNT"})
_FULL_NAME_REQUIRED = frozenset({"PHONE", "MFC"})
_CONTACT_OPTIONAL = frozenset({"SOCIAL"})
_EARLIEST_PROBLEM = datetime(2000, 1, 1, tzinfo=UTC)
_CLOCK_SKEW = timedelta(minutes=10)


def enum_name(enum: object, value: int) -> str:
    """The member name, or '' for the unspecified or an unknown number."""
    if value == 0:
        return ""
    try:
        return str(enum.Name(value))  # type: ignore[attr-defined]
    except ValueError:
        return ""


def uploads(attachments: Collection[intake_pb2.AttachmentUpload]) -> list[Upload]:
    return [Upload(a.file_name, a.media_type, a.content, a.sha256) for a in attachments]


class SubmissionValidator:
    def __init__(
        self,
        attachments: AttachmentRules,
        social_networks: Collection[str],
        limits: TextLimits | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._attachments = attachments
        self._limits = limits or TextLimits()
        self._provenance = ProvenanceCheck(social_networks, self._limits.reference)
        self._clock = clock

    def check(self, request: intake_pb2.SubmitCaseRequest) -> intake_pb2.SubmitCaseRequest:
        """Raise InvalidRequest listing every problem, or return a normalised copy."""
        found = Violations()
        found.idempotency_key(request.idempotency_key)
        channel = enum_name(types_pb2.Channel, request.channel)
        if not channel:
            found.add("channel", f"must be one of {', '.join(ORIGIN_OF_CHANNEL)}")
        if request.type and not enum_name(types_pb2.CaseType, request.type):
            found.add("type", "is not a known case type")
        if request.category and not enum_name(types_pb2.Category, request.category):
            found.add("category", "is not a known category")
        clean = intake_pb2.SubmitCaseRequest()
        clean.CopyFrom(request)
        self._provenance.check(found, clean.provenance, channel)
        self._citizen(found, clean, channel)
        self.content(found, clean.content)
        found.extend(self._attachments.violations(uploads(request.attachments), "attachments"))
        found.raise_if_any()
        return clean

    def content(self, found: Violations, content: types_pb2.CaseContent) -> None:
        limits = self._limits
        content.subject = found.text("content.subject", content.subject, limits.subject, True)
        content.description = found.text(
            "content.description", content.description, limits.description, True
        )
        content.steps_taken = found.text(
            "content.steps_taken", content.steps_taken, limits.steps_taken
        )
        content.service_name = found.text(
            "content.service_name", content.service_name, limits.service_name
        )
        content.service_code = found.text(
            "content.service_code", content.service_code, limits.service_code
        )
        if content.HasField("problem_occurred_at"):
            try:
                occurred = content.problem_occurred_at.ToDatetime(tzinfo=UTC)
            except (ValueError, OverflowError):
                found.add("content.problem_occurred_at", "is not a valid instant")
                return
            if occurred > self._clock() + _CLOCK_SKEW:
                found.add("content.problem_occurred_at", "is in the future")
            elif occurred < _EARLIEST_PROBLEM:
                found.add("content.problem_occurred_at", "is before 2000")

    def _citizen(
        self, found: Violations, request: intake_pb2.SubmitCaseRequest, channel: str
    ) -> None:
        citizen, limits = request.citizen, self._limits
        citizen.full_name = found.text(
            "citizen.full_name", citizen.full_name, limits.full_name, channel in _FULL_NAME_REQUIRED
        )
        citizen.account_login = found.text(
            "citizen.account_login", citizen.account_login, limits.account_login
        )
        if channel in _LOGIN_REQUIRED and not citizen.account_login:
            found.add("citizen.account_login", "is required for this channel: x-citizen-login")
        citizen.snils = fields.snils(found, "citizen.snils", citizen.snils)
        citizen.inn = fields.inn(found, "citizen.inn", citizen.inn)
        if channel == "MFC" and not (
            citizen.snils or citizen.inn or _reported(found, "citizen.snils", "citizen.inn")
        ):
            found.add("citizen.snils", "SNILS or INN is required at an MFC desk")
        citizen.mobile_phone = fields.phone(found, "citizen.mobile_phone", citizen.mobile_phone)
        citizen.email = fields.email(found, "citizen.email", citizen.email)
        origin = request.provenance
        if channel == "EMAIL" and not citizen.email:
            citizen.email = origin.email.from_address
        if channel == "PHONE" and not citizen.mobile_phone:
            citizen.mobile_phone = origin.phone.caller_number
        has_contact = (
            citizen.mobile_phone
            or citizen.email
            or _reported(
                found,
                "citizen.mobile_phone",
                "citizen.email",
                "provenance.email",
                "provenance.phone",
            )
        )
        if channel not in _CONTACT_OPTIONAL and not has_contact:
            found.add("citizen.mobile_phone", "a mobile phone or an e-mail is required")
        self._preferred_contact(found, citizen)

    def _preferred_contact(self, found: Violations, citizen: types_pb2.Citizen) -> None:
        preference = citizen.preferred_contact
        if preference and not enum_name(types_pb2.ContactChannel, preference):
            found.add("citizen.preferred_contact", "is not a known contact channel")
        needs_phone = preference in (types_pb2.CONTACT_SMS, types_pb2.CONTACT_SMS_AND_EMAIL)
        needs_email = preference in (types_pb2.CONTACT_EMAIL, types_pb2.CONTACT_SMS_AND_EMAIL)
        if needs_phone and not citizen.mobile_phone:
            found.add("citizen.preferred_contact", "SMS needs citizen.mobile_phone")
        if needs_email and not citizen.email:
            found.add("citizen.preferred_contact", "e-mail needs citizen.email")


def _reported(found: Violations, *prefixes: str) -> bool:
    """Whether one of these fields was already reported (to avoid a second, vaguer error)."""
    return any(field.startswith(prefixes) for field, _ in found.items)
