"""case.events.v1 records -> notify's domain facts (the anti-corruption layer).

Events notify has no message for (Assigned, AttachmentAdded, internal notes, a citizen's own
comment, Repeated: the new case's acknowledgement names the case it repeats; AnswerRated and
CallbackRecorded, the citizen's and a specialist's own doings; DuplicateMerged: the duplicate's
citizen is told, on the duplicate) decode to no fact. `Created`'s provenance says where answers go
back: the citizen's e-mail thread, or his social-network post or private message. A record that
is not a valid CaseEvent raises `PoisonRecord`, and the consumer parks it on the dead-letter
topic instead of stalling the partition. Enums map to the vocabulary by name (its
members are named as in the proto); an unstated actor or previous status is None, not poison.
"""

from __future__ import annotations

from google.protobuf.message import DecodeError

from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import envelope_pb2, types_pb2
from casedesk_notify.application.ports import (
    ERASED_TEXT,
    CitizenErased,
    DeadlineEstimator,
    DecodedEvent,
    FieldOpener,
    PoisonRecord,
)
from casedesk_notify.domain import (
    CaseCard,
    Contacts,
    EmailThread,
    Escalated,
    Fact,
    MergedInto,
    PublicReply,
    Registered,
    SocialThread,
    StatusChanged,
)
from casedesk_notify.wire.sealed import PlainFields
from casedesk_runtime.events import from_timestamp, unreadable_as
from casedesk_vocabulary.enums import (
    ActorKind,
    CloseReason,
    ContactChannel,
    EscalationReason,
    Status,
    Tier,
)
from casedesk_vocabulary.sealed_fields import (
    citizen_field,
    comment_field,
    content_field,
    origin_field,
)

_KNOWN_CATEGORIES = frozenset(types_pb2.Category.values())

__all__ = ["CaseEventDecoder", "PoisonRecord"]

# Proto `ContactChannel` names carry a CONTACT_ prefix the vocabulary drops.
_CONTACT_PREFIX = "CONTACT_"
# A case opened on the portal has a citizen signed in there, whatever the event names.
_PORTAL_CHANNELS = frozenset({types_pb2.PORTAL_CHAT, types_pb2.PERSONAL_ACCOUNT})


class _Opening:
    """The sealed fields of one event, opened with `opener`: a field whose key was destroyed
    reads `[erased]` and marks the event erased; the key the citizen's fields name is kept for
    the card (`CaseCard.sealed_by`)."""

    def __init__(self, opener: FieldOpener, case_id: str) -> None:
        self._opener = opener
        self._case_id = case_id
        self.erased = False
        self.key_ref = ""

    def text(self, field: str, value: str) -> str:
        self.key_ref = self.key_ref or self._opener.key_of(value)
        try:
            return self._opener.open(self._case_id, field, value)
        except CitizenErased:
            self.erased = True
            return ERASED_TEXT


class CaseEventDecoder:
    def __init__(self, deadlines: DeadlineEstimator, opener: FieldOpener | None = None) -> None:
        """`opener`: opens sealed fields (wire.sealed); none: plain events only, a sealed
        field is poison."""
        self._deadlines = deadlines
        self.opener: FieldOpener = opener if opener is not None else PlainFields()

    @unreadable_as(PoisonRecord)
    def decode(self, value: bytes) -> DecodedEvent:
        event = events_pb2.CaseEvent()
        try:
            event.ParseFromString(value)
        except DecodeError as error:
            raise PoisonRecord(f"not a CaseEvent: {error}") from None
        meta = event.meta
        if not meta.event_id or not meta.case_id:
            raise PoisonRecord("CaseEvent without event_id or case_id")
        opening = _Opening(self.opener, meta.case_id)
        fact = self._fact(event, opening)
        return DecodedEvent(
            event_id=meta.event_id,
            case_id=meta.case_id,
            case_version=meta.case_version,
            correlation_id=meta.correlation_id,
            fact=fact,
            occurred_at=from_timestamp(meta.occurred_at),
            erased=opening.erased,
        )

    def _fact(self, event: events_pb2.CaseEvent, opening: _Opening) -> Fact | None:
        kind = event.WhichOneof("payload")
        if kind == "created":
            card = self._card(event.meta, event.created, opening)
            return Registered(card, event.created.repeat_of)
        actor = _actor(event.meta.actor.kind)
        if kind == "status_changed":
            changed = event.status_changed
            return StatusChanged(
                _status(changed.to_status),
                _known_status(changed.from_status),
                actor,
                _close_reason(changed.close_reason),
            )
        if kind == "merged_into":
            return MergedInto(event.merged_into.target_number)
        if kind == "escalated":
            escalated = event.escalated
            return Escalated(
                _tier(escalated.to_tier),
                escalated.callback_required,
                actor,
                _escalation_reason(escalated.reason),
            )
        if kind == "commented":
            by_specialist = actor is ActorKind.SPECIALIST
            comment = event.commented
            if not (comment.public and by_specialist):
                return None  # an internal note or the citizen's own: never opened
            return PublicReply(opening.text(comment_field(comment.comment_id), comment.body))
        return None

    def _card(
        self, meta: envelope_pb2.EventMeta, created: events_pb2.Created, opening: _Opening
    ) -> CaseCard:
        if not created.number:
            raise PoisonRecord("Created without a case number")
        citizen = created.citizen
        phone = opening.text(citizen_field("mobile_phone"), citizen.mobile_phone)
        email = opening.text(citizen_field("email"), citizen.email)
        # Only whether he has a login counts: a sealed login is not opened (an empty one is
        # never sealed).
        opening.key_ref = opening.key_ref or self.opener.key_of(citizen.account_login)
        stamp = created.registered_at if created.HasField("registered_at") else meta.occurred_at
        registered_at = from_timestamp(stamp)
        return CaseCard(
            case_id=meta.case_id,
            number=created.number,
            status=Status.REGISTERED,
            contacts=Contacts(
                phone=phone,
                email=email,
                preference=_preference(citizen.preferred_contact),
            ),
            deadlines=self._deadlines.expected(
                types_pb2.Channel.Name(created.channel), registered_at, _category(created.category)
            ),
            tier=_tier(created.tier),
            portal_account=bool(citizen.account_login) or created.channel in _PORTAL_CHANNELS,
            email_thread=_email_thread(created, email, opening),
            social_thread=_social_thread(created, opening),
            sealed_by=opening.key_ref,
        )


def _email_thread(created: events_pb2.Created, email: str, opening: _Opening) -> EmailThread | None:
    """The citizen's own message, when the case came by e-mail (the answer replies to it)."""
    provenance = created.provenance
    if created.channel != types_pb2.EMAIL or provenance.WhichOneof("origin") != "email":
        return None
    origin = provenance.email
    address = opening.text(origin_field("from_address"), origin.from_address) or email
    message_id = opening.text(origin_field("message_id"), origin.message_id)
    subject = opening.text(content_field("subject"), created.content.subject)
    if opening.erased:
        return None
    return EmailThread.of(message_id, address, subject)


def _social_thread(created: events_pb2.Created, opening: _Opening) -> SocialThread | None:
    """The post or private message a social case came from (the answer is posted there)."""
    provenance = created.provenance
    if created.channel != types_pb2.SOCIAL or provenance.WhichOneof("origin") != "social":
        return None
    origin = provenance.social
    reference = opening.text(origin_field("post_reference"), origin.post_reference)
    if not origin.network or not reference or opening.erased:
        return None
    return SocialThread(origin.network.strip().lower(), reference.strip(), origin.private_message)


def _close_reason(value: int) -> CloseReason | None:
    """Why a case was closed; None when unstated (events stored before reasons existed) or newer
    than this release (the words then follow who closed it, as before)."""
    values = events_pb2.CloseReason.values()
    name = events_pb2.CloseReason.Name(value) if value in values else ""
    return CloseReason.__members__.get(name)


def _category(value: int) -> str | None:
    """The category's name for the deadline policy (a sign-in problem has its own target); None
    for none and for a value newer than this release: the channel's targets, as the SLA does."""
    if value == types_pb2.CATEGORY_UNSPECIFIED or value not in _KNOWN_CATEGORIES:
        return None
    return types_pb2.Category.Name(value)


def _status(value: int) -> Status:
    try:
        return Status(types_pb2.Status.Name(value))
    except ValueError:
        raise PoisonRecord(f"StatusChanged to unknown status {value}") from None


def _known_status(value: int) -> Status | None:
    """The status a change came from; None when unstated or unknown (it only colours the words)."""
    name = types_pb2.Status.Name(value) if value in types_pb2.Status.values() else ""
    return Status.__members__.get(name)


def _actor(value: int) -> ActorKind | None:
    name = types_pb2.Actor.Kind.Name(value) if value in types_pb2.Actor.Kind.values() else ""
    return ActorKind.__members__.get(name)


def _escalation_reason(value: int) -> EscalationReason:
    values = events_pb2.EscalationReason.values()
    name = events_pb2.EscalationReason.Name(value) if value in values else ""
    return EscalationReason.__members__.get(name, EscalationReason.UNSPECIFIED)


def _tier(value: int) -> Tier:
    """An unstated (or unknown) tier is the first line, where every case starts."""
    name = types_pb2.Tier.Name(value) if value in types_pb2.Tier.values() else ""
    return Tier.__members__.get(name, Tier.L1)


def _preference(value: int) -> ContactChannel:
    """An unstated (or unknown) preference means both channels."""
    name = (
        types_pb2.ContactChannel.Name(value) if value in types_pb2.ContactChannel.values() else ""
    )
    stated = ContactChannel.__members__.get(name.removeprefix(_CONTACT_PREFIX))
    if stated is None or stated is ContactChannel.UNSPECIFIED:
        return ContactChannel.SMS_AND_EMAIL
    return stated
