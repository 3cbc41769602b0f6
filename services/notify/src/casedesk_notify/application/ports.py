"""What the application needs from outside it, as small interfaces that `__main__` fills in.

The wire decodes case events and builds journal entries; the adapters look up deadlines, render,
send and keep state. Tests plug in the real implementations (real SMTP and HTTP sinks, SQLite).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from casedesk_notify.application.deliveries import (
    ConsumedBatch,
    Delivery,
    JournalEntry,
    RenderedMessage,
    SourceRecord,
    Verdict,
)
from casedesk_notify.domain import CaseCard, ExpectedDeadlines, Fact, Notice
from casedesk_notify.domain.reply_routes import SocialDestination

# -- reading case events -------------------------------------------------------------------

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PoisonRecord(ValueError):
    """The record cannot be understood; retrying it would fail the same way."""


class KeysUnavailable(Exception):
    """The key service cannot be reached (or refused for now): the sealed fields of a batch
    cannot be opened yet. Temporary: the batch is planned again later, nothing of it committed."""


class CitizenErased(Exception):
    """The citizen's data key was destroyed (casedesk_keys KeyErased): his sealed fields never
    open again, and nothing is sent to him about this case."""


# The placeholder of a personal text that can no longer be opened (the citizen was erased).
ERASED_TEXT = "[erased]"
# The reason recorded with a notice not sent because its citizen was erased.
ERASED_REASON = "citizen erased"


class FieldOpener(Protocol):
    """Opens the sealed personal fields (`cdk1.` tokens, issue #18) of consumed events.

    Keys are fetched ahead, for a whole batch (`fetch`), so that decoding stays synchronous:
    while `collecting`, `open` notes the key a token needs and returns it unchanged."""

    collecting: bool

    def open(self, case_id: str, field: str, value: str) -> str:
        """`value` in clear: as it is when not sealed. Raises `CitizenErased` (his key was
        destroyed) or `PoisonRecord` (no key service configured, or a token that does not open:
        altered, moved, from another key store)."""
        ...

    def seal(self, key_ref: str, case_id: str, field: str, value: str) -> str:
        """`value` sealed with the key `key_ref` names (fetched by the last `fetch`), bound to
        `case_id` and `field`: what notify's store keeps in place of a personal text. "" and an
        empty `key_ref` (plain events) stay as they are. Raises `CitizenErased`."""
        ...

    async def open_now(self, case_id: str, field: str, value: str) -> str:
        """As `open`, the key fetched now (through the cache): a stored delivery at its attempt.
        Raises `CitizenErased`, `KeysUnavailable` or `PoisonRecord`."""
        ...

    def key_of(self, value: str) -> str:
        """Which key a sealed `value` needs (`<subject>/<generation>`, no personal data); "" when
        not sealed."""
        ...

    def want(self, key_ref: str) -> None:
        """Fetch this key with the next `fetch` (a card's, to learn whether it was erased)."""
        ...

    async def fetch(self) -> None:
        """Fetch the keys noted since the last fetch. Raises `KeysUnavailable`."""
        ...

    def erased(self, key_ref: str) -> bool:
        """Whether this key (fetched) was destroyed."""
        ...


@dataclass(frozen=True)
class DecodedEvent:
    event_id: str
    case_id: str
    case_version: int
    correlation_id: str
    fact: Fact | None  # None: an event notify has no message for
    occurred_at: datetime = EPOCH  # the event's own instant (the reply window counts in these)
    # A sealed field of it did not open: its citizen was erased (nothing is sent about it).
    erased: bool = False


class EventDecoder(Protocol):
    def decode(self, value: bytes) -> DecodedEvent:
        """The event in a case.events.v1 record value; raises `PoisonRecord`."""
        ...


class DeadlineEstimator(Protocol):
    def expected(
        self, channel: str, registered_at: datetime, category: str | None = None
    ) -> ExpectedDeadlines:
        """`channel`: the name of the case's intake channel."""
        ...


# -- writing messages and the journal ------------------------------------------------------


class MessageRenderer(Protocol):
    def render(self, notice: Notice) -> RenderedMessage: ...


class NotificationJournal(Protocol):
    """Builds the notification.events.v1 entries that report each step of a delivery."""

    def requested(self, delivery: Delivery, now: datetime | None = None) -> JournalEntry: ...

    def sent(
        self,
        delivery: Delivery,
        attempt: int,
        provider_message_id: str,
        now: datetime | None = None,
    ) -> JournalEntry: ...

    def failed(
        self,
        delivery: Delivery,
        attempt: int,
        error: str,
        temporary: bool,
        retry_at: datetime | None,
        now: datetime | None = None,
    ) -> JournalEntry: ...

    def dead_lettered(
        self, delivery: Delivery, attempts: int, error: str, now: datetime | None = None
    ) -> JournalEntry: ...

    def decided(
        self,
        delivery: Delivery,
        decision: str,
        reason: str,
        retry_at: datetime | None,
        now: datetime | None = None,
        other: str = "",
    ) -> JournalEntry:
        """A decision that is not a provider's answer: `Held` (due again at `retry_at`),
        `Superseded` (by the notification `other`), `Suppressed`, or `Merged` (into the
        notification `other`), with its reason."""
        ...


# -- sending -------------------------------------------------------------------------------


class DeliveryFailure(Exception):
    """A send that did not go through; the text never contains the recipient's address."""

    temporary: bool = False


class TemporaryFailure(DeliveryFailure):
    """Try again later: SMTP 4xx, gateway 5xx or 429, timeouts, refused connections.

    `retry_after_s`: the provider said when (Telegram's `retry_after`); the next attempt is not
    made sooner, whatever the backoff would say."""

    temporary = True

    def __init__(self, message: str = "", retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PermanentFailure(DeliveryFailure):
    """Retrying cannot help: SMTP 5xx, gateway 4xx, an address no configured server can take."""

    temporary = False


class OutcomeUnknown(TemporaryFailure):
    """The whole message was handed over and then the answer never came (a timeout or a dropped
    connection waiting for the reply to the end of an e-mail's data, or for the SMS gateway's
    response): the provider may have accepted it. The dispatcher records that and resends under
    the same id, so a copy that did arrive is a recognisable, counted duplicate."""


@dataclass(frozen=True)
class SendReceipt:
    provider_message_id: str = ""


@dataclass(frozen=True)
class SocialPost:
    """One reply to post on a social network: where, what, and the id that makes a resend
    recognisable (the notification id)."""

    destination: SocialDestination
    text: str
    notification_id: str


class SocialConnector(Protocol):
    """One social network's API (adapters/senders/telegram.py, vk.py): posts `post` as a reply
    where it points, or raises a `DeliveryFailure` (never naming the token)."""

    async def post(self, post: SocialPost) -> SendReceipt: ...

    async def close(self) -> None: ...


class Outlet(Protocol):
    """One channel's provider: raises a `DeliveryFailure` when the message did not go out."""

    async def send(self, delivery: Delivery) -> SendReceipt: ...


# Parks a record on the dead-letter topic; True once Kafka acknowledged it, False if the
# publisher was closed first (shutdown).
DeadLetter = Callable[[SourceRecord, str], Awaitable[bool]]
ParkRecord = Callable[[Any, Exception], Awaitable[bool]]


class ParkingClosed(Exception):
    """The dead-letter publisher was closed before the record was parked (shutdown)."""


# -- state ---------------------------------------------------------------------------------


class DeliveryStates(Protocol):
    """Notify's durable state: offsets, case cards, deliveries and the journal outbox."""

    def stored_offsets(self, topic: str) -> dict[int, int]: ...

    def card(self, case_id: str) -> CaseCard | None: ...

    def commit_batch(self, batch: ConsumedBatch) -> list[Delivery]: ...

    def record(self, verdicts: Sequence[Verdict]) -> None: ...

    def pending(self) -> list[Delivery]: ...

    def deferred(self, case_id: str) -> list[Delivery]:
        """The case's reply notices still in their window (state `deferred`), oldest first."""
        ...

    def release(self, notification_id: str) -> bool:
        """A deferred delivery's window ended: `pending` from now on, committed at once. False
        when it is no longer deferred (a status notice merged it meanwhile): not to be sent."""
        ...
