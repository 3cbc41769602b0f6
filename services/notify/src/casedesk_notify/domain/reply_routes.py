"""Where an answer goes back the way the question came (DESIGN.md "The loop back to the citizen").

A case opened by e-mail is answered in the citizen's own thread: a reply to his message
(`EmailThread`). A case opened from a social network is answered where he wrote, in the network's
own terms (`SocialThread`, the `post_reference` formats of casedesk.common.v1.SocialOrigin): a
private message gets the answer, a public post or comment only an invitation to write privately.

Both come from the case's provenance, which the citizen (or a frontend) wrote: every value is
checked here before it reaches a mail header or an API call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

# The formal reference intake's e-mail ingestion routes a reply on (services/intake, "E-mail").
CASE_REFERENCE = "Обращение в службу поддержки"
# A msg-id's inside (RFC 5322 §3.6.4): dot-atom text on both sides of one "@" (no brackets,
# quotes, spaces or line breaks), bounded so that a header built from it stays a header.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,200}"
_MESSAGE_ID = re.compile(f"{_ATEXT}@{_ATEXT}")
_REPLY_PREFIX = re.compile(r"^\s*((re|fwd?|ответ|отв)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
SUBJECT_CHARS = 150


@dataclass(frozen=True)
class EmailThread:
    """The citizen's first message: his Message-ID (no angle brackets), the mailbox it came
    from, and its subject on one line."""

    message_id: str
    address: str
    subject: str = ""

    @classmethod
    def of(cls, message_id: str, address: str, subject: str) -> EmailThread | None:
        """The thread of an e-mail case; None when its Message-ID is not one a header can carry
        (a gateway's fallback key, or something hostile): the answer then goes unthreaded."""
        inner = message_id.strip().removeprefix("<").removesuffix(">")
        if not _MESSAGE_ID.fullmatch(inner) or not address:
            return None
        return cls(inner, address, " ".join(subject.split())[:SUBJECT_CHARS])

    def holds(self, recipient: str) -> bool:
        """Whether `recipient` is the mailbox the thread lives in (only there do its headers
        mean anything)."""
        return recipient.strip().casefold() == self.address.strip().casefold()

    def reply_subject(self, number: str) -> str:
        """«Re: <his subject> [Обращение в службу поддержки - N]»: the thread's subject for his
        mail client, the formal reference for intake. A subject already naming a formal
        reference (another case's) is left out, so that intake's first candidate is this case."""
        reference = f"{CASE_REFERENCE} - {number}"
        own = _REPLY_PREFIX.sub("", self.subject).strip()
        if not own or CASE_REFERENCE.casefold() in own.casefold():
            return f"Re: {reference}"
        return f"Re: {own} [{reference}]"


class SocialNetwork(StrEnum):
    TELEGRAM = "telegram"
    VK = "vk"


# VK numbers group chats from 2e9; smaller positive peer ids are users (a private dialog).
VK_CHAT_PEER_BASE = 2_000_000_000


@dataclass(frozen=True)
class TelegramMessage:
    """A message in a Telegram chat: `<chat_id>:<message_id>` (chat_id a number, or a public
    channel's @username)."""

    chat_id: int | str
    message_id: int

    @property
    def private(self) -> bool:
        # Private chats are the users' own ids (positive); groups and channels are negative.
        return isinstance(self.chat_id, int) and self.chat_id > 0


@dataclass(frozen=True)
class VkWallPost:
    """A post on a VK wall: `<owner_id>_<post_id>` (owner negative for a community)."""

    owner_id: int
    post_id: int
    private = False


@dataclass(frozen=True)
class VkMessage:
    """A message in a VK conversation: `<peer_id>:<message_id>`."""

    peer_id: int
    message_id: int

    @property
    def private(self) -> bool:
        return 0 < self.peer_id < VK_CHAT_PEER_BASE


SocialDestination = TelegramMessage | VkWallPost | VkMessage

_INT = r"-?\d{1,19}"
_TELEGRAM = re.compile(rf"({_INT}|@[A-Za-z][A-Za-z0-9_]{{3,31}}):(\d{{1,19}})")
_VK_WALL = re.compile(rf"({_INT})_(\d{{1,19}})")
_VK_MESSAGE = re.compile(rf"({_INT}):(\d{{1,19}})")


class UnknownDestination(ValueError):
    """A network or post reference notify cannot answer (the text says which and why, never
    quoting the reference: it may hold a person's id)."""


def destination(network: str, reference: str) -> SocialDestination:
    """The place `reference` names on `network`; `UnknownDestination` otherwise."""
    if network == SocialNetwork.TELEGRAM:
        if found := _TELEGRAM.fullmatch(reference):
            chat = found[1]
            return TelegramMessage(chat if chat.startswith("@") else int(chat), int(found[2]))
        raise UnknownDestination("telegram post_reference is not <chat_id>:<message_id>")
    if network == SocialNetwork.VK:
        if found := _VK_WALL.fullmatch(reference):
            return VkWallPost(int(found[1]), int(found[2]))
        if found := _VK_MESSAGE.fullmatch(reference):
            return VkMessage(int(found[1]), int(found[2]))
        raise UnknownDestination(
            "vk post_reference is neither <owner_id>_<post_id> nor <peer_id>:<message_id>"
        )
    raise UnknownDestination(f"no social network {network!r} (known: telegram, vk)")


@dataclass(frozen=True)
class SocialThread:
    """Where a social case's answers go: a network, a post reference, and whether the citizen
    wrote privately (as his case's provenance says)."""

    network: str
    reference: str
    private_message: bool = False

    @property
    def recipient(self) -> str:
        """The delivery's recipient: `<network>:<post_reference>`."""
        return f"{self.network}:{self.reference}"

    @property
    def private(self) -> bool:
        """Whether an answer may be posted there: the citizen wrote privately *and* the
        reference is a private conversation. Either alone is not enough: a case marked private
        whose reference is a wall post or a group chat would publish personal data."""
        try:
            place = destination(self.network, self.reference)
        except UnknownDestination:
            return False
        return self.private_message and place.private


def parse_recipient(recipient: str) -> tuple[str, SocialDestination]:
    """(network, destination) of a social delivery's recipient; `UnknownDestination` otherwise."""
    network, _, reference = recipient.partition(":")
    return network, destination(network, reference)
