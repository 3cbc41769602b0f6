"""SubmitCase: the fields every channel needs, and those only some channels need.

| channel          | provenance (required fields)        | also required                      |
|------------------|-------------------------------------|------------------------------------|
| PORTAL_CHAT      | chat.session_id                     | citizen login (from the token)     |
| PERSONAL_ACCOUNT | personal_account.form_id            | citizen login (from the token)     |
| EMAIL            | email.message_id, email.from_address| (citizen e-mail defaults to sender)|
| PHONE            | phone.call_id, phone.caller_number  | full name                          |
| SOCIAL           | social.network, social.post_reference| (no contact needed: answered there)|
| MFC              | mfc.office_code, mfc.operator_id    | full name, SNILS or INN            |

Every channel but SOCIAL needs a mobile phone or an e-mail, so status changes can be notified.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from casedesk_intake.domain import field_rules
from casedesk_intake.domain.attachment_rules import AttachmentRules
from casedesk_intake.domain.citizens import Citizen
from casedesk_intake.domain.field_rules import TextLimits, Violations
from casedesk_intake.domain.provenance_rules import ProvenanceRules
from casedesk_intake.domain.submissions import (
    ORIGIN_OF_CHANNEL,
    CaseContent,
    EmailOrigin,
    PhoneOrigin,
    Submission,
)
from casedesk_vocabulary.enums import Channel, ContactChannel

_LOGIN_REQUIRED = frozenset({Channel.PORTAL_CHAT, Channel.PERSONAL_ACCOUNT})
_FULL_NAME_REQUIRED = frozenset({Channel.PHONE, Channel.MFC})
_CONTACT_OPTIONAL = frozenset({Channel.SOCIAL})
_EARLIEST_PROBLEM = datetime(2000, 1, 1, tzinfo=UTC)
_CLOCK_SKEW = timedelta(minutes=10)


class SubmissionRules:
    def __init__(
        self,
        attachments: AttachmentRules,
        social_networks: Collection[str],
        limits: TextLimits | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._attachments = attachments
        self._limits = limits or TextLimits()
        self._provenance = ProvenanceRules(social_networks, self._limits.reference)
        self._clock = clock

    def check(self, submission: Submission) -> Submission:
        """Raise InvalidRequest listing every problem, or return the submission normalised."""
        found = Violations()
        found.idempotency_key(submission.idempotency_key)
        channel = submission.channel
        if channel is None:
            found.add("channel", f"must be one of {', '.join(c.value for c in ORIGIN_OF_CHANNEL)}")
        if "type" in submission.unreadable:
            found.add("type", "is not a known case type")
        if "category" in submission.unreadable:
            found.add("category", "is not a known category")
        provenance = self._provenance.check(found, submission.provenance, channel)
        clean = replace(submission, provenance=provenance)
        clean = replace(clean, citizen=self._citizen(found, clean))
        clean = replace(clean, content=self.content(found, clean))
        found.extend(self._attachments.violations(submission.attachments, "attachments"))
        found.raise_if_any()
        return clean

    def content(self, found: Violations, submission: Submission) -> CaseContent:
        content, limits = submission.content, self._limits
        clean = replace(
            content,
            subject=found.text("content.subject", content.subject, limits.subject, True),
            description=found.text(
                "content.description", content.description, limits.description, True
            ),
            steps_taken=found.text("content.steps_taken", content.steps_taken, limits.steps_taken),
            service_name=found.text(
                "content.service_name", content.service_name, limits.service_name
            ),
            service_code=found.text(
                "content.service_code", content.service_code, limits.service_code
            ),
        )
        occurred = content.problem_occurred_at
        if "content.problem_occurred_at" in submission.unreadable:
            found.add("content.problem_occurred_at", "is not a valid instant")
        elif occurred is not None:
            if occurred > self._clock() + _CLOCK_SKEW:
                found.add("content.problem_occurred_at", "is in the future")
            elif occurred < _EARLIEST_PROBLEM:
                found.add("content.problem_occurred_at", "is before 2000")
        return clean

    def _citizen(self, found: Violations, submission: Submission) -> Citizen:
        citizen, limits, channel = submission.citizen, self._limits, submission.channel
        full_name = found.text(
            "citizen.full_name", citizen.full_name, limits.full_name, channel in _FULL_NAME_REQUIRED
        )
        login = found.text("citizen.account_login", citizen.account_login, limits.account_login)
        if channel in _LOGIN_REQUIRED and not login:
            found.add("citizen.account_login", "is required for this channel: x-citizen-token")
        snils = field_rules.snils(found, "citizen.snils", citizen.snils)
        inn = field_rules.inn(found, "citizen.inn", citizen.inn)
        if channel is Channel.MFC and not (
            snils or inn or _reported(found, "citizen.snils", "citizen.inn")
        ):
            found.add("citizen.snils", "SNILS or INN is required at an MFC desk")
        phone = field_rules.phone(found, "citizen.mobile_phone", citizen.mobile_phone)
        email = field_rules.email(found, "citizen.email", citizen.email)
        origin = submission.provenance
        if channel is Channel.EMAIL and not email and isinstance(origin, EmailOrigin):
            email = origin.from_address
        if channel is Channel.PHONE and not phone and isinstance(origin, PhoneOrigin):
            phone = origin.caller_number
        has_contact = (
            phone
            or email
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
        clean = replace(
            citizen,
            full_name=full_name,
            account_login=login,
            snils=snils,
            inn=inn,
            mobile_phone=phone,
            email=email,
        )
        self._preferred_contact(found, clean, "citizen.preferred_contact" in submission.unreadable)
        return clean

    def _preferred_contact(self, found: Violations, citizen: Citizen, unreadable: bool) -> None:
        preference = citizen.preferred_contact
        if unreadable:
            found.add("citizen.preferred_contact", "is not a known contact channel")
        needs_phone = preference in (ContactChannel.SMS, ContactChannel.SMS_AND_EMAIL)
        needs_email = preference in (ContactChannel.EMAIL, ContactChannel.SMS_AND_EMAIL)
        if needs_phone and not citizen.mobile_phone:
            found.add("citizen.preferred_contact", "SMS needs citizen.mobile_phone")
        if needs_email and not citizen.email:
            found.add("citizen.preferred_contact", "e-mail needs citizen.email")


def _reported(found: Violations, *prefixes: str) -> bool:
    """Whether one of these fields was already reported (to avoid a second, vaguer error)."""
    return any(field.startswith(prefixes) for field, _ in found.items)
