"""What notify knows about one case: where to write to the citizen and how to word it.

Later case events do not repeat the citizen's contacts, so notify keeps its own `CaseCard` per
case, built from `Created` and kept current by the events that follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from casedesk_notify.domain.reply_routes import EmailThread, SocialThread
from casedesk_vocabulary.enums import ContactChannel, Status, Tier


class DeliveryChannel(StrEnum):
    """How notify reaches the citizen (not the channel a case came in through).

    The values are part of every notification id and of the store: never change them.
    """

    EMAIL = "email"
    SMS = "sms"
    SOCIAL = "social"  # a reply on the citizen's social-network post or private message


# The channels each stated preference asks for; an unstated one means both.
_WANTED = {
    ContactChannel.SMS: [DeliveryChannel.SMS],
    ContactChannel.EMAIL: [DeliveryChannel.EMAIL],
    ContactChannel.SMS_AND_EMAIL: [DeliveryChannel.EMAIL, DeliveryChannel.SMS],
    ContactChannel.UNSPECIFIED: [DeliveryChannel.EMAIL, DeliveryChannel.SMS],
}


@dataclass(frozen=True)
class Contacts:
    phone: str = ""
    email: str = ""
    preference: ContactChannel = ContactChannel.SMS_AND_EMAIL

    def channels(self) -> list[DeliveryChannel]:
        """Where to write notices: the preferred channels that have an address.

        When the preferred channel has no address (the citizen chose SMS but gave only an e-mail),
        the other known contact is used: a status change nobody hears about is worse than one on
        the second-best channel.
        """
        known = [c for c in (DeliveryChannel.EMAIL, DeliveryChannel.SMS) if self.address(c)]
        chosen = [c for c in _WANTED[self.preference] if c in known]
        return chosen or known

    def address(self, channel: DeliveryChannel) -> str:
        return self.email if channel is DeliveryChannel.EMAIL else self.phone


@dataclass(frozen=True)
class ExpectedDeadlines:
    first_response_due: datetime | None = None
    resolution_due: datetime | None = None


@dataclass(frozen=True)
class CaseCard:
    """Notify's projection of one case: enough to address and word every later message."""

    case_id: str
    number: str
    status: Status
    contacts: Contacts
    deadlines: ExpectedDeadlines = field(default_factory=ExpectedDeadlines)
    tier: Tier = Tier.L1
    # Whether the citizen reads the case on the portal (an account login, or a case opened
    # there): an answer's text then stays behind the login; without one, notices carry it.
    portal_account: bool = True
    # The way the question came, for the answer to go back (domain.reply_routes): the
    # citizen's e-mail thread, or his social-network post or private message.
    email_thread: EmailThread | None = None
    social_thread: SocialThread | None = None
    merged_into: str = ""  # the number of the case this one was merged into as a duplicate
    # The citizen's data key his sealed fields were opened with (`<subject>/<generation>`, no
    # personal data; issue #18), "" when they came in clear: checked at each later event, so
    # that nothing is sent after his erasure.
    sealed_by: str = ""

    def with_status(self, status: Status) -> CaseCard:
        return replace(self, status=status)

    def with_tier(self, tier: Tier) -> CaseCard:
        return replace(self, tier=tier)

    def with_merged_into(self, number: str) -> CaseCard:
        return replace(self, merged_into=number)

    def erased(self, placeholder: str) -> CaseCard:
        """The card of an erased citizen: each contact he had reads `placeholder` (which
        channels he had still decides which notices are recorded as not sent), the threads that
        named him are gone."""
        contacts = replace(
            self.contacts,
            phone=placeholder if self.contacts.phone else "",
            email=placeholder if self.contacts.email else "",
        )
        return replace(self, contacts=contacts, email_thread=None, social_thread=None)
