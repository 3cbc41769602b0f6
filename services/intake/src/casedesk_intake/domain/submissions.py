"""A new case as a frontend submits it: citizen, content, provenance and files."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from casedesk_intake.domain.attachment_rules import Upload
from casedesk_intake.domain.citizens import Citizen
from casedesk_vocabulary.enums import CaseType, Category, Channel


@dataclass(frozen=True)
class ChatOrigin:
    session_id: str = ""


@dataclass(frozen=True)
class PersonalAccountOrigin:
    form_id: str = ""


@dataclass(frozen=True)
class EmailOrigin:
    message_id: str = ""
    from_address: str = ""


class CallerCheck(Enum):
    """How a contact-centre operator identified a caller (the seed's «Звонок из-за границы»)."""

    PROFILE_MOBILE_NUMBER = "PROFILE_MOBILE_NUMBER"  # the Russian mobile of the personal account
    PROFILE_NAME_BIRTH_DATE_SNILS = "PROFILE_NAME_BIRTH_DATE_SNILS"  # as in the profile
    SMS_ONE_TIME_CODE = "SMS_ONE_TIME_CODE"  # a code sent by SMS to that mobile


@dataclass(frozen=True)
class PhoneOrigin:
    call_id: str = ""
    caller_number: str = ""
    from_abroad: bool = False
    # None: a value the contract does not know, as sent (the rules refuse it).
    caller_checks: tuple[CallerCheck | None, ...] = ()


@dataclass(frozen=True)
class SocialOrigin:
    network: str = ""
    post_reference: str = ""  # where the reply goes, in the network's terms (social_references)
    author_handle: str = ""
    private_message: bool = False  # else a public post or comment, answered without personal data


@dataclass(frozen=True)
class MfcOrigin:
    office_code: str = ""
    operator_id: str = ""


# Where a case came from, in the form of the channel it came through (None: not given).
Origin = ChatOrigin | PersonalAccountOrigin | EmailOrigin | PhoneOrigin | SocialOrigin | MfcOrigin

# The name of each origin in the contract (provenance.<name>), as violations name the fields.
ORIGIN_NAMES: dict[type, str] = {
    ChatOrigin: "chat",
    PersonalAccountOrigin: "personal_account",
    EmailOrigin: "email",
    PhoneOrigin: "phone",
    SocialOrigin: "social",
    MfcOrigin: "mfc",
}
ORIGIN_OF_CHANNEL: dict[Channel, str] = {
    Channel.PORTAL_CHAT: "chat",
    Channel.PERSONAL_ACCOUNT: "personal_account",
    Channel.EMAIL: "email",
    Channel.PHONE: "phone",
    Channel.SOCIAL: "social",
    Channel.MFC: "mfc",
}


@dataclass(frozen=True)
class CaseContent:
    subject: str = ""
    description: str = ""
    problem_occurred_at: datetime | None = None
    service_name: str = ""
    service_code: str = ""
    steps_taken: str = ""

    def service_key(self) -> str:
        """What "the same service" means for linking: its code, else its name (any case)."""
        if self.service_code:
            return "code:" + self.service_code.casefold()
        if self.service_name:
            return "name:" + " ".join(self.service_name.casefold().split())
        return ""


@dataclass(frozen=True)
class Submission:
    """A new case. `unreadable` names fields the frontend sent that could not be read at all
    (an enum number nobody knows, an impossible instant); the rules report them in their turn."""

    idempotency_key: str
    channel: Channel | None
    citizen: Citizen
    content: CaseContent
    provenance: Origin | None = None
    attachments: tuple[Upload, ...] = ()
    case_type: CaseType | None = None
    category: Category | None = None
    unreadable: frozenset[str] = frozenset()
