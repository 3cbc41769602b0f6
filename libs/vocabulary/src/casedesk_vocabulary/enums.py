"""The domain enumerations shared by every service.

Members are named exactly as in the protobuf contract (casedesk.common.v1, and the case and SLA
events' own enums; the `_UNSPECIFIED` member aside), and each value is its name, so the wire maps
them by name and no numeric constant is repeated outside the generated code.
tests/test_vocabulary.py checks them against the proto enums. `CallbackPurpose` names the values
of a string field (`CaseView.callback_purpose`).
"""

from __future__ import annotations

from enum import Enum


class Status(Enum):
    REGISTERED = "REGISTERED"
    IN_PROGRESS = "IN_PROGRESS"
    WAITING_FOR_CITIZEN = "WAITING_FOR_CITIZEN"
    ANSWER_READY = "ANSWER_READY"
    CLOSED = "CLOSED"


class Channel(Enum):
    PORTAL_CHAT = "PORTAL_CHAT"
    PERSONAL_ACCOUNT = "PERSONAL_ACCOUNT"
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    SOCIAL = "SOCIAL"
    MFC = "MFC"


class CaseType(Enum):
    TECHNICAL = "TECHNICAL"
    CONSULTATION = "CONSULTATION"
    COMPLAINT = "COMPLAINT"


class Category(Enum):
    REGISTRATION_SIGN_IN = "REGISTRATION_SIGN_IN"
    SERVICE_DELIVERY = "SERVICE_DELIVERY"
    TECHNICAL_FAULT = "TECHNICAL_FAULT"
    OTHER = "OTHER"


class Tier(Enum):
    """Escalation tiers, ordered: L1 first line, L2 senior specialist, L3 quality control."""

    L1 = "L1"
    L2 = "L2"
    L3 = "L3"

    @property
    def rank(self) -> int:
        return int(self.value[1:])

    def above(self) -> Tier | None:
        """The next tier up, or None at the top."""
        members = list(Tier)
        index = members.index(self)
        return members[index + 1] if index + 1 < len(members) else None

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Tier):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Tier):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Tier):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Tier):
            return NotImplemented
        return self.rank >= other.rank


class Priority(Enum):
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class ContactChannel(Enum):
    """How the citizen wants to be told (proto `ContactChannel`, `CONTACT_` prefix dropped)."""

    UNSPECIFIED = "UNSPECIFIED"
    SMS = "SMS"
    EMAIL = "EMAIL"
    SMS_AND_EMAIL = "SMS_AND_EMAIL"


class ActorKind(Enum):
    CITIZEN = "CITIZEN"
    SPECIALIST = "SPECIALIST"
    SYSTEM = "SYSTEM"


class EscalationReason(Enum):
    UNSPECIFIED = "UNSPECIFIED"
    NO_ANSWER_IN_TIME = "NO_ANSWER_IN_TIME"
    UNSATISFYING_ANSWER = "UNSATISFYING_ANSWER"
    CRITICAL_ERROR = "CRITICAL_ERROR"
    FIRST_RESPONSE_BREACH = "FIRST_RESPONSE_BREACH"
    RESOLUTION_BREACH = "RESOLUTION_BREACH"


class DeadlineTarget(Enum):
    """What a deadline is for (proto `casedesk.sla.v1.Target`)."""

    FIRST_RESPONSE = "FIRST_RESPONSE"
    RESOLUTION = "RESOLUTION"


class CloseReason(Enum):
    """Why a case was closed (proto `casedesk.case.v1.CloseReason`); reports count closures by it.
    Events stored before close reasons existed have none."""

    CLOSED_BY_SPECIALIST = "CLOSED_BY_SPECIALIST"
    ANSWER_CONFIRMED = "ANSWER_CONFIRMED"
    NO_REACTION = "NO_REACTION"
    SPAM = "SPAM"
    DUPLICATE = "DUPLICATE"


class CallbackPurpose(Enum):
    """What a callback owed to the citizen of a PHONE case is for (`CaseView.callback_purpose`)."""

    FIRST_RESPONSE = "FIRST_RESPONSE"  # the 30-minute callback: a phone case's first response
    ANSWER = "ANSWER"  # the answer is ready («Ответ готов»): the call gives it
    ESCALATION = "ESCALATION"  # an escalation asked for a callback (the senior specialist's)
